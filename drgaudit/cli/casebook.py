"""`drgaudit casebook …`: checks on the casebook itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import casebook as open_casebook
from drgaudit.errors import DrgauditError
from drgaudit.i18n import _
from drgaudit.terminal import chinese

if TYPE_CHECKING:
    from drgaudit.casebook.auditlog import Anchor

app = typer.Typer(help="Checks on the casebook itself.", no_args_is_help=True)

AnchorFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--anchor",
        metavar="FILE",
        help="Also check the log against every anchor in FILE (written by `drgaudit casebook anchor --out`).",
        exists=True,
        dir_okay=False,
    ),
]


@app.command("verify")
def verify(
    tail: Annotated[
        int,
        typer.Option(
            "--tail", metavar="N", min=0, help="Also list the newest N entries: who (role, channel), what."
        ),
    ] = 0,
    anchor: AnchorFiles = None,
    db: DbOption = None,
) -> None:
    """Check the audit log and the review tables (exit code 1 on any problem).

    The hash chain names the first edited, deleted or relinked entry; the seals (an HMAC under the audit
    key, DRGAUDIT_AUDIT_KEY or the key file) show a chain rewritten without the key; the current cases,
    decisions, appeals, meetings, attendees, agendas and investigation requests are compared with the
    log's latest state of each, naming every row changed outside the log; --anchor checks that the log
    still holds the head recorded by an earlier `casebook anchor` (a log cut back is caught).

    Examples:

        drgaudit casebook verify --anchor anchors.jsonl

        drgaudit casebook verify --tail 10
    """
    from drgaudit.casebook import auditcheck, auditlog

    anchors = _read_anchors(anchor or [])
    with open_casebook(db) as session:
        try:
            report = auditlog.verify_log(session=session)
            state = auditcheck.check_state(session=session)
            cut = [problem for a in anchors if (problem := auditlog.check_anchor(session=session, anchor=a))]
            newest = auditlog.newest_entries(session=session, count=tail) if tail else []
        except DrgauditError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    failed = False
    if report.ok:
        for entry in newest:
            when = entry.at[:19].replace("T", " ")
            typer.echo(
                f"#{entry.seq} {when} {auditlog.who(entry)} {entry.action} {entry.entity} {entry.entity_id}"
            )
        typer.echo(
            _("audit log intact: {entries} entries, head {head} (sealed, key from {source})").format(
                entries=report.entries, head=report.head_hash[:16], source=report.key_source
            )
        )
    else:
        typer.echo(
            _("audit log BROKEN at entry {entry}: {problem}").format(
                entry=report.bad_seq, problem=report.problem
            ),
            err=True,
        )
        typer.echo(_("checked {entries} entries before stopping").format(entries=report.entries), err=True)
        failed = True
    for problem in cut:
        typer.echo(_("audit log BROKEN: {problem}").format(problem=problem), err=True)
        failed = True
    if anchors and not cut:
        typer.echo(_("anchors: {n} checked, the log still holds each").format(n=len(anchors)))
    checked = _checked(state.checked)
    if state.ok:
        typer.echo(
            _("review tables match the log: {checked}").format(checked=checked or _("nothing to check"))
        )
    else:
        typer.echo(
            _("review tables CHANGED OUTSIDE THE LOG: {n} problem(s) in {checked}").format(
                n=state.problems_total, checked=checked
            ),
            err=True,
        )
        for problem in state.problems:
            typer.echo(f"  {problem}", err=True)
        if state.problems_total > len(state.problems):
            typer.echo(
                "  " + _("… and {n} more").format(n=state.problems_total - len(state.problems)), err=True
            )
        failed = True
    if failed:
        raise typer.Exit(1)


@app.command("anchor")
def anchor(
    db: DbOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Append the anchor to FILE (one JSON line each), e.g. on another machine or write-once storage.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print the audit log's head (entry, hash, seal) and append it to --out FILE, to check the log against later.

    A log cut back to an earlier entry (and its head rewritten) is caught by `casebook verify --anchor
    FILE` against any anchor taken before the cut. Keep the file where the casebook's database users
    cannot change it.

    Example:

        drgaudit casebook anchor --out anchors.jsonl
    """
    from drgaudit.casebook import auditlog

    with open_casebook(db) as session:
        try:
            taken = auditlog.head_anchor(session=session)
        except DrgauditError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(
        _("audit log head: entry {entry}, hash {hash}, seal {seal}, at {at}").format(
            entry=taken.seq, hash=taken.hash, seal=taken.seal[:16], at=taken.at
        )
    )
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "a", encoding="utf-8") as f:
                f.write(taken.line() + "\n")
        except OSError as exc:
            typer.echo(
                "error: "
                + _("cannot append the anchor to {path}: {reason}").format(path=out, reason=exc.strerror),
                err=True,
            )
            raise typer.Exit(1) from exc
        typer.echo(_("appended to {path}").format(path=out))


# What `casebook verify` compared with the log, counted in Chinese (by its kind in `auditcheck`).
_CHECKED_ZH = {
    "case": "件审核案件", "meeting": "次会议", "request": "项协查", "decision": "项决定", "appeal": "项申诉",
    "agenda item": "个议程项", "attendee": "名参会人员",
}  # fmt: skip


def _checked(counts: Mapping[str, int]) -> str:
    """`346 cases, 1 meeting` (in Chinese `346 件审核案件、1 次会议`)."""
    if chinese():
        return "、".join(f"{count} {_CHECKED_ZH.get(what, what)}" for what, count in counts.items())
    return ", ".join(f"{count} {what}{'s' if count != 1 else ''}" for what, count in counts.items())


def _read_anchors(paths: list[Path]) -> list[Anchor]:
    from drgaudit.casebook import auditlog

    anchors = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                anchors.append(auditlog.Anchor.parse(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise typer.BadParameter(
                    _("{path}:{line}: not an anchor line ({reason})").format(
                        path=path, line=number, reason=exc
                    ),
                    param_hint="--anchor",
                ) from exc
    return anchors
