"""`drgaudit queue …`: the special-review queue (特例单议): list, show, assign, decide, appeal, roll-up."""

from __future__ import annotations

from typing import Annotated

import typer

from drgaudit.casebook import auditlog, review
from drgaudit.casebook.models import Hospital
from drgaudit.casebook.review_models import CASE_STATUSES, DECISION_KINDS, OPEN_STATUSES, ReviewCase
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import (
    RulesOption,
    UserOption,
    VersionOption,
    casebook,
    money,
    parse_date,
    principal,
    rule_pack,
)
from drgaudit.services import cases as case_service

app = typer.Typer(
    help="The special-review queue (特例单议): list, show, assign, decide, appeal.", no_args_is_help=True
)

KIND_WORDS = {
    "standard": "pay by the group standard",
    "special": "special payment approved",
    "deduct": "deduction",
    "merge": "merged (split hospitalisation)",
    "refer": "referred for investigation",
}
CaseArg = Annotated[str, typer.Argument(metavar="CASE", help="Case number, or the claim id of the case.")]


def _case_line(case: ReviewCase) -> str:
    return (
        f"{case.id:>6}  {case.claim_id:<16} {case.hospital_id:<14} {case.region:<6}  {case.period}  "
        f"{case.status:<9} {case.severity:<8} {money(case.amount_at_risk):>12} {money(case.priority):>13}  "
        f"{case.assignee or '-':<10} {case.due_date or '-'}"
    )


CASE_HEADER = (
    f"{'case':>6}  {'claim':<16} {'hospital':<14} {'region':<6}  {'period':<7}  {'status':<9} {'severity':<8} "
    f"{'at risk':>12} {'priority':>13}  {'assignee':<10} due"
)


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help=f"Only this status (repeatable): {', '.join(CASE_STATUSES)}, or all."),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Treatment region code.")] = None,
    hospital: Annotated[str | None, typer.Option("--hospital", help="Hospital id.")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Reviewer.")] = None,
    period: Annotated[
        str | None, typer.Option("--period", metavar="YYYY-MM", help="Month of discharge.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many cases.")] = 20,
    db: DbOption = None,
) -> None:
    """List review cases by priority (amount at risk × severity weight), open ones unless --status says otherwise.

    Examples:

        drgaudit queue list

        drgaudit queue list --region 510100 --status decided --status closed --limit 50
    """
    statuses: tuple[str, ...] | None = OPEN_STATUSES
    if status:
        unknown = [s for s in status if s not in (*CASE_STATUSES, "all")]
        if unknown:
            raise typer.BadParameter(
                f"unknown status {unknown[0]}; one of {', '.join(CASE_STATUSES)}, all", param_hint="--status"
            )
        statuses = None if "all" in status else tuple(status)
    with casebook(db) as session:
        cases = review.list_cases(
            session=session,
            statuses=statuses,
            region=region,
            hospital_id=hospital,
            assignee=assignee,
            period=period,
        )
    if not cases:
        typer.echo(
            "no review cases"
            + ("" if status else " open")
            + "; cases come from screening (`drgaudit screen --batch ID`)"
        )
        return
    typer.echo(CASE_HEADER)
    for case in cases[:limit]:
        typer.echo(_case_line(case))
    total = sum(c.amount_at_risk for c in cases)
    shown = f"showing {min(limit, len(cases))} of {len(cases)}" if len(cases) > limit else f"{len(cases)}"
    typer.echo(f"{shown} case{'' if len(cases) == 1 else 's'}, {money(total)} yuan at risk")


@app.command("show")
def show(case_ref: CaseArg, db: DbOption = None) -> None:
    """Show a case: the claim, its hits, decisions, appeals, agenda and its audit-log entries.

    Example:

        drgaudit queue show 12
    """
    with casebook(db) as session:
        case = review.get_case(session=session, ref=case_ref)
        hospital = session.get(Hospital, case.hospital_id)
        hits = review.case_hits(session=session, case_id=case.id)
        decisions = review.case_decisions(session=session, case_id=case.id)
        appeals = review.case_appeals(session=session, case_id=case.id)
        agenda = review.open_agenda(session=session, case_id=case.id)
        log = auditlog.entries_for(session=session, entity=review.CASE, entity_id=case.id)
    name = f" {hospital.name}" if hospital else ""
    echo = typer.echo
    echo(f"case {case.id}  claim {case.claim_id}  {case.status}  version {case.version}")
    echo(
        f"hospital {case.hospital_id}{name}  treatment region {case.region}  insured region {case.insured_region}"
    )
    echo(
        f"{case.payment_scheme} {case.group_code or '-'}  discharged {case.discharge_date} (period {case.period})  "
        f"total cost {money(case.total_cost)}"
    )
    echo(f"at risk {money(case.amount_at_risk)}  severity {case.severity}  priority {money(case.priority)}")
    echo(f"assignee {case.assignee or '-'}  due {case.due_date or '-'}")
    if agenda:
        echo(f"on the agenda of meeting {agenda[1].id} ({agenda[1].held_on}), item {agenda[0].position}")
    if case.reopen_reason:
        echo(f"reopened: {case.reopen_reason}")
    echo("hits:")
    for hit in hits:
        gone = "" if hit.present else "  [no longer found]"
        echo(
            f"  {hit.rule_id:<13} {hit.severity:<8} {hit.action:<14} {money(hit.amount_at_risk):>12}  {hit.message}{gone}"
        )
    if decisions:
        echo("decisions:")
    for d in decisions:
        where = f" in meeting {d.meeting_id}" if d.meeting_id else ""
        state = "  [superseded]" if d.superseded else ""
        extra = f" with {d.merged_with}" if d.merged_with else ""
        echo(
            f"  round {d.round}: {KIND_WORDS[d.kind]}{extra} {money(d.amount)} by {d.decided_by}{where}: {d.reason}{state}"
        )
        for item in d.items or []:
            echo(f"    item {item['item']}: {money(item['amount'])}")
        if d.quota_override:
            echo(f"    over quota, override: {d.quota_override}")
    for a in appeals:
        echo(f"appeal by {a.filed_by} against round {_round(decisions, a.decision_id)}: {a.reason}")
    echo("log:")
    for entry in log:
        echo(f"  #{entry.seq} {entry.at[:19].replace('T', ' ')} {auditlog.who(entry)} {entry.action}")


def _round(decisions: list, decision_id: int) -> int | str:
    return next((d.round for d in decisions if d.id == decision_id), "?")


@app.command("assign")
def assign(
    cases: Annotated[list[str], typer.Argument(metavar="CASE...", help="Case numbers or claim ids.")],
    to: Annotated[str, typer.Option("--to", metavar="REVIEWER", help="The reviewer who takes the case(s).")],
    due: Annotated[
        str | None, typer.Option("--due", metavar="YYYY-MM-DD", help="New due date (default: keep).")
    ] = None,
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Assign cases to a reviewer; a new case becomes triaged.

    Example:

        drgaudit queue assign 12 13 14 --to 王医生 --due 2026-12-15
    """
    due_date = parse_date(due, "--due")
    if expect_version is not None and len(cases) > 1:
        raise typer.BadParameter("--expect-version goes with one case", param_hint="--expect-version")
    with casebook(db) as session:
        who = principal(session, user)
        for ref in cases:
            case = case_service.assign(
                session=session,
                principal=who,
                ref=ref,
                assignee=to,
                due_date=due_date,
                expected_version=expect_version,
            )
            typer.echo(
                f"case {case.id} ({case.claim_id}) {case.status}, assigned to {case.assignee}, due {case.due_date or '-'}"
            )


@app.command("decide")
def decide(
    case_ref: CaseArg,
    kind: Annotated[str, typer.Option("--kind", help=f"The decision: {', '.join(DECISION_KINDS)}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (goes into the minutes).")],
    amount: Annotated[
        float | None,
        typer.Option("--amount", help="Yuan: special payment approved, deducted, or held (refer)."),
    ] = None,
    item: Annotated[
        list[str] | None,
        typer.Option("--item", metavar="NAME=AMOUNT", help="A special payment item (repeatable)."),
    ] = None,
    merge_with: Annotated[
        str | None,
        typer.Option("--merge-with", metavar="CLAIM", help="The other claim of a split hospitalisation."),
    ] = None,
    override_quota: Annotated[
        str | None,
        typer.Option(
            "--override-quota", metavar="REASON", help="Approve over the hospital's quota, for this reason."
        ),
    ] = None,
    expect_version: VersionOption = None,
    rules: RulesOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Record the meeting's decision on a scheduled case (standard, special, deduct, merge, refer).

    A special payment shows the hospital's quota; going over it needs --override-quota REASON. If
    someone else decided the case meanwhile, nothing is saved and the exit code is 3.

    Examples:

        drgaudit queue decide 12 --kind special --item 体外膜肺氧合=18000 --reason "ECMO 抢救，费用合理"

        drgaudit queue decide 13 --kind deduct --amount 2400 --reason "重复收费"

        drgaudit queue decide 14 --kind merge --merge-with JS0000000123 --reason "10天内同院同类再入院，合并为一次住院"
    """
    items = [_item(text) for text in item or []]
    request = review.DecisionRequest(
        kind=kind, reason=reason, amount=amount, items=items or None, merged_with=merge_with
    )
    with casebook(db) as session:
        outcome = case_service.decide(
            session=session, principal=principal(session, user), ref=case_ref, request=request,
            pack=rule_pack(rules), expected_version=expect_version, quota_override=override_quota,
        )  # fmt: skip
        d, case = outcome.decision, outcome.case
        extra = f" with {d.merged_with}" if d.merged_with else ""
        typer.echo(
            f"case {case.id} ({case.claim_id}) decided in meeting {d.meeting_id}, round {d.round}: "
            f"{KIND_WORDS[d.kind]}{extra} {money(d.amount)} yuan, by {d.decided_by}"
        )
        if outcome.quota is not None:
            over = f"; over quota, override: {d.quota_override}" if d.quota_override else ""
            typer.echo(outcome.quota.describe() + over)


def _item(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not NAME=AMOUNT", param_hint="--item") from None


@app.command("appeal")
def appeal(
    case_ref: CaseArg,
    reason: Annotated[str, typer.Option("--reason", help="The hospital's grounds.")],
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """File a hospital's appeal against a decided or closed case; it goes back to be heard in a meeting.

    Example:

        drgaudit queue appeal 12 --reason "补充提供了重症监护记录" --user 医院医保办
    """
    with casebook(db) as session:
        filed = case_service.appeal(
            session=session,
            principal=principal(session, user),
            ref=case_ref,
            reason=reason,
            expected_version=expect_version,
        )
        case = review.get_case(session=session, ref=filed.case_id)
        typer.echo(
            f"case {case.id} ({case.claim_id}) appealed by {filed.filed_by}; schedule it again with `drgaudit meeting add`"
        )


@app.command("rollup")
def rollup(
    period: Annotated[
        str | None, typer.Option("--period", metavar="YYYY-MM", help="Month of discharge.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Treatment region code.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also hospitals and periods with no decision yet.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Decided amounts per hospital and period (month of discharge), decisions in force only.

    Examples:

        drgaudit queue rollup

        drgaudit queue rollup --period 2025-03 --all
    """
    if period is not None:
        try:
            from drgaudit.casebook.quota import period_bounds

            period_bounds(period)
        except ReviewError as exc:
            raise typer.BadParameter(str(exc), param_hint="--period") from None
    with casebook(db) as session:
        every = review.rollup(session=session, period=period, region=region)
    rows = every if all_ else [r for r in every if r.decided]
    if not rows:
        typer.echo("no decided review cases" if every else "no review cases")
        return
    typer.echo(
        f"{'hospital':<14} {'period':<7} {'cases':>5} {'open':>5} {'decided':>7} {'standard':>8} "
        f"{'special':>7} {'special yuan':>13} {'deducted':>8} {'deducted yuan':>13} {'referred':>8} {'held yuan':>12}"
    )
    for r in rows:
        typer.echo(
            f"{r.hospital_id:<14} {r.period:<7} {r.cases:>5} {r.open:>5} {r.decided:>7} {r.standard:>8} "
            f"{r.special:>7} {money(r.special_amount):>13} {r.deducted:>8} {money(r.deducted_amount):>13} "
            f"{r.referred:>8} {money(r.referred_amount):>12}"
        )
    typer.echo(
        f"total: {sum(r.cases for r in every)} cases, {sum(r.open for r in every)} open, {sum(r.decided for r in every)} decided; "
        f"special {money(sum(r.special_amount for r in every))}, deducted {money(sum(r.deducted_amount for r in every))}, "
        f"held {money(sum(r.referred_amount for r in every))} yuan"
    )
