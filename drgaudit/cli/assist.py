"""`drgaudit assist …`: cross-region investigation requests (协查) between insured and treatment regions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from drgaudit.casebook.states import ASSIST_RESULTS
from drgaudit.cli.options import DbOption
from drgaudit.cli.output import Column, FormatOption, OutputFormat, emit
from drgaudit.cli.reviewopts import UserOption, VersionOption, casebook, parse_date, principal
from drgaudit.i18n import N_, _
from drgaudit.terminal import coded

app = typer.Typer(
    help="Cross-region investigation requests (协查): request, respond, list.", no_args_is_help=True
)


@app.command("request")
def request(
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM", help="The claim to investigate.")],
    question: Annotated[
        str, typer.Option("--question", metavar="TEXT", help="What the treatment region should check.")
    ],
    due: Annotated[str | None, typer.Option("--due", metavar="YYYY-MM-DD", help="Answer wanted by.")] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Ask the claim's treatment region to investigate it (on behalf of the insured region).

    Example:

        drgaudit assist request JS0000000123 --question "请核实该患者住院期间是否在院（疑似挂床）" --due 2026-12-31
    """
    due_date = parse_date(due, "--due")
    from drgaudit.services import assist as assist_service

    with casebook(db) as session:
        r = assist_service.ask(
            session=session, principal=principal(session, user), claim_id=claim_id, question=question,
            due_date=due_date,
        )  # fmt: skip
        typer.echo(
            _("request {request} opened: {insured} asks {treatment} about {claim} ({hospital})").format(
                request=r.id, insured=r.insured_region, treatment=r.treatment_region, claim=r.claim_id,
                hospital=r.hospital_id,
            )
        )  # fmt: skip


@app.command("respond")
def respond(
    request_id: Annotated[int, typer.Argument(metavar="REQUEST", help="Request number.")],
    answer: Annotated[str, typer.Option("--answer", metavar="TEXT", help="What the check found.")],
    result: Annotated[
        str, typer.Option("--result", metavar="RESULT", help=f"One of {', '.join(ASSIST_RESULTS)}.")
    ],
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Answer a request with what was found and a result; this closes it.

    Example:

        drgaudit assist respond 3 --result confirmed --answer "经现场核查，患者住院期间多日不在院，已追回费用"
    """
    from drgaudit.services import assist as assist_service

    with casebook(db) as session:
        r = assist_service.answer(
            session=session, principal=principal(session, user), request_id=request_id, answer=answer,
            result=result, expected_version=expect_version,
        )  # fmt: skip
        typer.echo(
            _("request {request} closed: {result}, answered by {who}").format(
                request=r.id, result=coded("assist.result", r.result), who=r.answered_by
            )
        )


REQUEST_COLUMNS = [
    Column("id", N_("request"), ">"),
    Column("claim_id", N_("claim")),
    Column("route", N_("regions"), data=False),
    Column("insured_region", N_("asked by"), table=False),
    Column("treatment_region", N_("to answer"), table=False),
    Column("hospital_id", N_("hospital")),
    Column("status", N_("status"), values="assist.status"),
    Column("due_date", N_("due")),
    Column("summary", N_("question / answer"), data=False),
    Column("requested_by", N_("requested by"), table=False),
    Column("question", N_("question"), table=False),
    Column("result", N_("result"), table=False),
    Column("answered_by", N_("answered by"), table=False),
    Column("answer", N_("answer"), table=False),
]


def _request_row(r: Any) -> dict[str, Any]:
    row = {c.key: getattr(r, c.key, None) for c in REQUEST_COLUMNS}
    row["route"] = f"{r.insured_region} → {r.treatment_region}"
    if r.status == "open":
        row["summary"] = _("asked by {who}: {question}").format(who=r.requested_by, question=r.question)
    else:
        row["summary"] = f"{coded('assist.result', r.result)} ({r.answered_by}): {r.answer}"
    return row


@app.command("list")
def list_(
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="CODE",
            help="A region code: its requests, asked or to answer.",
            show_default=False,
        ),
    ] = None,
    side: Annotated[
        str | None,
        typer.Option(
            "--side",
            metavar="insured|treatment",
            help="With --region: insured (asked by it) or treatment (to answer).",
            show_default=False,
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Closed requests too.")] = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """List open investigation requests (oldest first), of one region and side if given.

    Examples:

        drgaudit assist list --region 510100 --side treatment

        drgaudit assist list --all --format csv
    """
    if side is not None and region is None:
        raise typer.BadParameter(_("--side goes with --region"), param_hint="--side")
    from drgaudit.casebook import assist

    with casebook(db) as session:
        found = assist.list_requests(
            session=session, region=region, side=side, status=None if all_ else "open"
        )
        rows = [_request_row(r) for r in found]
    emit(
        rows,
        REQUEST_COLUMNS,
        fmt,
        empty=_("no investigation requests") if all_ else _("no investigation requests open"),
    )
