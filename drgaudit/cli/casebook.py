"""`drgaudit casebook …`: checks on the casebook itself."""

from __future__ import annotations

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import casebook as open_casebook

app = typer.Typer(help="Checks on the casebook itself.", no_args_is_help=True)


@app.command("verify")
def verify(db: DbOption = None) -> None:
    """Walk the hash-chained audit log and name the first edited, deleted or relinked entry (exit code 1).

    Example:

        drgaudit casebook verify
    """
    from drgaudit.casebook import auditlog

    with open_casebook(db) as session:
        report = auditlog.verify_log(session=session)
    if not report.ok:
        typer.echo(f"audit log BROKEN at entry {report.bad_seq}: {report.problem}", err=True)
        typer.echo(f"checked {report.entries} entries before stopping", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {report.entries} entries, head {report.head_hash[:16]}")
