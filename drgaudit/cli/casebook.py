"""`drgaudit casebook …`: checks on the casebook itself."""

from __future__ import annotations

from typing import Annotated

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import casebook as open_casebook

app = typer.Typer(help="Checks on the casebook itself.", no_args_is_help=True)


@app.command("verify")
def verify(
    tail: Annotated[
        int,
        typer.Option(
            "--tail", metavar="N", min=0, help="Also list the newest N entries: who (role, channel), what."
        ),
    ] = 0,
    db: DbOption = None,
) -> None:
    """Walk the hash-chained audit log and name the first edited, deleted or relinked entry (exit code 1).

    Examples:

        drgaudit casebook verify

        drgaudit casebook verify --tail 10
    """
    from drgaudit.casebook import auditlog

    with open_casebook(db) as session:
        report = auditlog.verify_log(session=session)
        newest = auditlog.newest_entries(session=session, count=tail) if tail else []
    if not report.ok:
        typer.echo(f"audit log BROKEN at entry {report.bad_seq}: {report.problem}", err=True)
        typer.echo(f"checked {report.entries} entries before stopping", err=True)
        raise typer.Exit(1)
    for entry in newest:
        typer.echo(
            f"#{entry.seq} {entry.at[:19].replace('T', ' ')} {auditlog.who(entry)} {entry.action} {entry.entity} {entry.entity_id}"
        )
    typer.echo(f"audit log intact: {report.entries} entries, head {report.head_hash[:16]}")
