"""`drgaudit findings …`: hospital findings (疑点) — list, confirm the overdue ones, re-review, escalate."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from drgaudit.casebook.findings import STATES, FindingFilter, Rereview
from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import (
    RulesOption,
    UserOption,
    VersionOption,
    casebook,
    money,
    principal,
    rule_pack,
)
from drgaudit.services import findings as finding_service
from drgaudit.services.accounts import cli_actor

app = typer.Typer(
    help="Hospital findings (疑点): every hold/deduct hit, answered by its hospital before a due date.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    state: Annotated[
        list[str] | None, typer.Option("--state", help=f"Only this state (repeatable): {', '.join(STATES)}.")
    ] = None,
    hospital: Annotated[str | None, typer.Option("--hospital", help="Hospital id.")] = None,
    period: Annotated[
        str | None, typer.Option("--period", metavar="YYYY-MM", help="Month of discharge.")
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open findings past their due date.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")] = 50,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="table|json", help="Output form.")] = "table",
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """List findings by due date (those the account may see).

    Examples:

        drgaudit findings list --state open --overdue

        drgaudit findings list --hospital H51010000001 --format json
    """
    unknown = [s for s in state or [] if s not in STATES]
    if unknown:
        raise typer.BadParameter(
            f"unknown state {unknown[0]}; one of {', '.join(STATES)}", param_hint="--state"
        )
    if fmt not in ("table", "json"):
        raise typer.BadParameter("one of table, json", param_hint="--format")
    filters = FindingFilter(
        states=tuple(state) if state else None, hospital_id=hospital, period=period,
        overdue_on=date.today() if overdue else None,
    )  # fmt: skip
    with casebook(db) as session:
        rows, total = finding_service.list_findings(
            session=session, principal=principal(session, user), filters=filters, limit=limit
        )
        records = [
            {"id": f.id, "claim_id": f.claim_id, "hospital_id": f.hospital_id, "rule_id": f.rule_id, "action": f.action,
             "amount": f.amount, "state": f.state, "due_date": f.due_date.isoformat(), "final_amount": f.final_amount}
            for f in rows
        ]  # fmt: skip
    if fmt == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if not records:
        typer.echo("no findings")
        return
    typer.echo(
        f"{'id':>5}  {'claim':<16} {'hospital':<14} {'rule':<12} {'action':<7} {'amount':>11}  {'state':<10} due"
    )
    for r in records:
        typer.echo(
            f"{r['id']:>5}  {r['claim_id']:<16} {r['hospital_id']:<14} {r['rule_id']:<12} {r['action']:<7} "
            f"{money(float(r['amount'] or 0)):>11}  {r['state']:<10} {r['due_date']}"
        )
    typer.echo(f"showing {len(records)} of {total}" if total > len(records) else f"{total} finding(s)")


@app.command("confirm-overdue")
def confirm_overdue(user: UserOption = None, db: DbOption = None) -> None:
    """Confirm every open finding past its due date (unanswered means accepted); run it daily.

    The web service also does this lazily before showing findings, so none is shown open after its
    due date even where nobody schedules this command.

    Example:

        drgaudit findings confirm-overdue --user 王审核
    """
    with casebook(db) as session:
        actor = cli_actor(session=session, user=user, action="finding.confirm")
        done = finding_service.confirm_overdue(session=session, actor=actor)
        for f in done:
            typer.echo(
                f"finding {f.id} ({f.claim_id} {f.rule_id}, {f.hospital_id}) confirmed: due {f.due_date}"
            )
    typer.echo(f"{len(done)} overdue finding(s) confirmed")


@app.command("rereview")
def rereview(
    finding_id: Annotated[int, typer.Argument(metavar="FINDING", help="Finding number.")],
    outcome: Annotated[str, typer.Option("--outcome", help="upheld, overturned or adjusted.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    amount: Annotated[
        float | None, typer.Option("--amount", help="With adjusted: the amount that stands.")
    ] = None,
    expect_version: VersionOption = None,
    rules: RulesOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Re-review a finding its hospital appealed (final; a proposal for a second auditor when you registered
    or promoted the rule-pack version behind it).

    Example:

        drgaudit findings rereview 12 --outcome adjusted --amount 800 --reason "部分检查有医嘱依据" --user 王审核
    """
    with casebook(db) as session:
        done = finding_service.rereview(
            session=session, principal=principal(session, user), finding_id=finding_id,
            decision=Rereview(outcome=outcome, reason=reason, amount=amount), pack=rule_pack(rules),
            expected_version=expect_version,
        )  # fmt: skip
        f = done.finding
        if done.final:
            typer.echo(f"finding {f.id} {f.state}: {money(f.final_amount)} yuan stands, by {f.decided_by}")
        else:
            typer.echo(
                f"finding {f.id}: re-review proposed by {f.proposed_by} ({f.proposed_outcome}); you registered or "
                "promoted the rule-pack version behind it, so a second auditor must confirm it"
            )


@app.command("escalate")
def escalate(
    finding_id: Annotated[int, typer.Argument(metavar="FINDING", help="Finding number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why a meeting should decide it.")],
    rules: RulesOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Send an appealed finding to a review meeting: its claim becomes (or stays) a review case.

    Example:

        drgaudit findings escalate 12 --reason "涉及新技术，需专家评议" --user 王审核
    """
    with casebook(db) as session:
        case = finding_service.escalate(
            session=session,
            principal=principal(session, user),
            finding_id=finding_id,
            reason=reason,
            pack=rule_pack(rules),
        )
        typer.echo(
            f"finding {finding_id} escalated: review case {case.id} ({case.claim_id}); schedule it with `drgaudit meeting add`"
        )
