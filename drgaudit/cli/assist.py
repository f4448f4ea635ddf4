"""`drgaudit assist …`: cross-region investigation requests (协查) between insured and treatment regions."""

from __future__ import annotations

from typing import Annotated

import typer

from drgaudit.casebook import assist
from drgaudit.casebook.review_models import ASSIST_RESULTS, AssistRequest
from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import UserOption, VersionOption, casebook, parse_date, principal
from drgaudit.services import assist as assist_service

app = typer.Typer(
    help="Cross-region investigation requests (协查): request, respond, list.", no_args_is_help=True
)


def _line(r: AssistRequest) -> str:
    due = f" due {r.due_date}" if r.due_date else ""
    head = f"{r.id:>4}  {r.claim_id:<16} {r.insured_region} → {r.treatment_region}  {r.hospital_id:<14} {r.status:<6}{due}"
    if r.status == "open":
        return f"{head}  asked by {r.requested_by}: {r.question}"
    return f"{head}  {r.result} ({r.answered_by}): {r.answer}"


@app.command("request")
def request(
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM", help="The claim to investigate.")],
    question: Annotated[str, typer.Option("--question", help="What the treatment region should check.")],
    due: Annotated[str | None, typer.Option("--due", metavar="YYYY-MM-DD", help="Answer wanted by.")] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Ask the claim's treatment region to investigate it (on behalf of the insured region).

    Example:

        drgaudit assist request JS0000000123 --question "请核实该患者住院期间是否在院（疑似挂床）" --due 2026-12-31
    """
    due_date = parse_date(due, "--due")
    with casebook(db) as session:
        r = assist_service.ask(
            session=session, principal=principal(session, user), claim_id=claim_id, question=question,
            due_date=due_date,
        )  # fmt: skip
        typer.echo(
            f"request {r.id} opened: {r.insured_region} asks {r.treatment_region} about {r.claim_id} ({r.hospital_id})"
        )


@app.command("respond")
def respond(
    request_id: Annotated[int, typer.Argument(metavar="REQUEST", help="Request number.")],
    answer: Annotated[str, typer.Option("--answer", help="What the check found.")],
    result: Annotated[str, typer.Option("--result", help=f"One of {', '.join(ASSIST_RESULTS)}.")],
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Answer a request with what was found and a result; this closes it.

    Example:

        drgaudit assist respond 3 --result confirmed --answer "经现场核查，患者住院期间多日不在院，已追回费用"
    """
    with casebook(db) as session:
        r = assist_service.answer(
            session=session, principal=principal(session, user), request_id=request_id, answer=answer,
            result=result, expected_version=expect_version,
        )  # fmt: skip
        typer.echo(f"request {r.id} closed: {r.result}, answered by {r.answered_by}")


@app.command("list")
def list_(
    region: Annotated[
        str | None, typer.Option("--region", help="A region code: its requests, asked or to answer.")
    ] = None,
    side: Annotated[
        str | None,
        typer.Option("--side", help="With --region: insured (asked by it) or treatment (to answer)."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Closed requests too.")] = False,
    db: DbOption = None,
) -> None:
    """List open investigation requests (oldest first), of one region and side if given.

    Examples:

        drgaudit assist list --region 510100 --side treatment

        drgaudit assist list --all
    """
    if side is not None and region is None:
        raise typer.BadParameter("--side goes with --region", param_hint="--side")
    with casebook(db) as session:
        rows = assist.list_requests(
            session=session, region=region, side=side, status=None if all_ else "open"
        )
        if not rows:
            typer.echo("no investigation requests" + ("" if all_ else " open"))
        for r in rows:
            typer.echo(_line(r))
