"""`drgaudit findings …`: hospital findings (疑点) — list, confirm the overdue ones, re-review, escalate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from drgaudit.casebook.states import FINDING_STATES
from drgaudit.cli.options import DbOption, FromOption, PeriodOption, ToOption, period_option
from drgaudit.cli.output import Column, FormatOption, OutputFormat, emit
from drgaudit.cli.reviewopts import (
    RulesOption,
    UserOption,
    VersionOption,
    casebook,
    money,
    principal,
    rule_pack,
)
from drgaudit.i18n import N_, _, ngettext
from drgaudit.terminal import coded

app = typer.Typer(
    help="Hospital findings (疑点): every hold/deduct hit, answered by its hospital before a due date.",
    no_args_is_help=True,
)

FINDING_COLUMNS = [
    Column("id", N_("id"), ">"),
    Column("claim_id", N_("claim")),
    Column("hospital_id", N_("hospital")),
    Column("rule_id", N_("rule")),
    Column("action", N_("action"), values="action"),
    Column("amount", N_("amount"), ">", money),
    Column("state", N_("state"), values="finding.state"),
    Column("due_date", N_("due")),
    Column("final_amount", N_("standing"), ">", lambda v: "" if v is None else money(v)),
]


@app.command("list")
def list_(
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state", metavar="STATE", help=f"Only this state (repeatable): {', '.join(FINDING_STATES)}."
        ),
    ] = None,
    hospital: Annotated[str | None, typer.Option("--hospital", metavar="ID", help="Hospital id.")] = None,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open findings past their due date.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most this many.")
    ] = 50,
    fmt: FormatOption = OutputFormat.table,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """List findings by due date (those the account may see); a period keeps its months of discharge.

    Examples:

        drgaudit findings list --state open --overdue

        drgaudit findings list --hospital H51010000001 --period 2025Q2 --format json
    """
    unknown = [s for s in state or [] if s not in FINDING_STATES]
    if unknown:
        raise typer.BadParameter(
            f"unknown state {unknown[0]}; one of {', '.join(FINDING_STATES)}", param_hint="--state"
        )
    chosen = period_option(period, start, end)
    from drgaudit.casebook.findings import FindingFilter
    from drgaudit.services import findings as finding_service

    filters = FindingFilter(
        states=tuple(state) if state else None, hospital_id=hospital, period=chosen,
        overdue_on=date.today() if overdue else None,
    )  # fmt: skip
    with casebook(db) as session:
        rows, total = finding_service.list_findings(
            session=session, principal=principal(session, user), filters=filters, limit=limit
        )
        records: list[dict[str, Any]] = [
            {"id": f.id, "claim_id": f.claim_id, "hospital_id": f.hospital_id, "rule_id": f.rule_id, "action": f.action,
             "amount": float(f.amount or 0), "state": f.state, "due_date": f.due_date,
             "final_amount": None if f.final_amount is None else float(f.final_amount)}
            for f in rows
        ]  # fmt: skip
    emit(
        records,
        FINDING_COLUMNS,
        fmt,
        empty=_("no findings"),
        footer=(
            _("showing {shown} of {total}").format(shown=len(records), total=total)
            if total > len(records)
            else ngettext("{n} finding", "{n} findings", total).format(n=total)
        ),
    )


@app.command("confirm-overdue")
def confirm_overdue(user: UserOption = None, db: DbOption = None) -> None:
    """Confirm every open finding past its due date (unanswered means accepted); run it daily.

    The web service also does this lazily before showing findings, so none is shown open after its
    due date even where nobody schedules this command.

    Example:

        drgaudit findings confirm-overdue --user 王审核
    """
    from drgaudit.services import findings as finding_service
    from drgaudit.services.accounts import cli_actor

    with casebook(db) as session:
        actor = cli_actor(session=session, user=user, action="finding.confirm")
        done = finding_service.confirm_overdue(session=session, actor=actor)
        for f in done:
            typer.echo(
                _("finding {finding} ({claim} {rule}, {hospital}) confirmed: due {day}").format(
                    finding=f.id, claim=f.claim_id, rule=f.rule_id, hospital=f.hospital_id, day=f.due_date
                )
            )
    typer.echo(_("{n} overdue finding(s) confirmed").format(n=len(done)))


@app.command("rereview")
def rereview(
    finding_id: Annotated[int, typer.Argument(metavar="FINDING", help="Finding number.")],
    outcome: Annotated[
        str, typer.Option("--outcome", metavar="OUTCOME", help="upheld, overturned or adjusted.")
    ],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why.")],
    amount: Annotated[
        float | None,
        typer.Option("--amount", metavar="YUAN", help="With adjusted: the amount that stands."),
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
    from drgaudit.casebook.findings import Rereview
    from drgaudit.services import findings as finding_service

    with casebook(db) as session:
        done = finding_service.rereview(
            session=session, principal=principal(session, user), finding_id=finding_id,
            decision=Rereview(outcome=outcome, reason=reason, amount=amount), pack=rule_pack(rules),
            expected_version=expect_version,
        )  # fmt: skip
        f = done.finding
        if done.final:
            typer.echo(
                _("finding {finding} {state}: {amount} yuan stands, by {who}").format(
                    finding=f.id, state=coded("finding.state", f.state), amount=money(f.final_amount),
                    who=f.decided_by,
                )
            )  # fmt: skip
        else:
            typer.echo(
                _(
                    "finding {finding}: re-review proposed by {who} ({outcome}); you registered or promoted the "
                    "rule-pack version behind it, so a second auditor must confirm it"
                ).format(
                    finding=f.id, who=f.proposed_by, outcome=coded("finding.outcome", f.proposed_outcome)
                )
            )


@app.command("escalate")
def escalate(
    finding_id: Annotated[int, typer.Argument(metavar="FINDING", help="Finding number.")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why a meeting should decide it.")],
    rules: RulesOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Send an appealed finding to a review meeting: its claim becomes (or stays) a review case.

    Example:

        drgaudit findings escalate 12 --reason "涉及新技术，需专家评议" --user 王审核
    """
    from drgaudit.services import findings as finding_service

    with casebook(db) as session:
        case = finding_service.escalate(
            session=session,
            principal=principal(session, user),
            finding_id=finding_id,
            reason=reason,
            pack=rule_pack(rules),
        )
        typer.echo(
            _(
                "finding {finding} escalated: review case {case} ({claim}); schedule it with `drgaudit meeting add`"
            ).format(finding=finding_id, case=case.id, claim=case.claim_id)
        )
