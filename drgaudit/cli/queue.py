"""`drgaudit queue …`: the special-review queue (特例单议): list, show, assign, decide, appeal, roll-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.casebook.states import CASE_STATUSES, DECISION_KINDS, OPEN_STATUSES
from drgaudit.cli.options import DbOption, FromOption, PeriodOption, ToOption, period_option
from drgaudit.cli.output import Column, FormatOption, OutputFormat, emit, emit_document
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
from drgaudit.i18n import N_, _, ngettext
from drgaudit.terminal import chinese, coded, pad

if TYPE_CHECKING:
    from drgaudit.casebook.findings import FindingTally
    from drgaudit.casebook.review_models import ReviewCase

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


def kind_words(kind: str) -> str:
    """A decision's kind as a person reads it: its Chinese name in Chinese, else the words above."""
    return coded("decision.kind", kind) if chinese() else KIND_WORDS[kind]


def decision_line(d: Any) -> str:
    """One round of a case's decisions: what was decided, the amount, by whom, where and why."""
    extra = _(" with {claims}").format(claims=d.merged_with) if d.merged_with else ""
    where = _(" in meeting {meeting}").format(meeting=d.meeting_id) if d.meeting_id else ""
    state = _("  [superseded]") if d.superseded else ""
    return _("round {round}: {kind}{extra} {amount} by {who}{where}: {reason}{state}").format(
        round=d.round, kind=kind_words(d.kind), extra=extra, amount=money(d.amount), who=d.decided_by,
        where=where, reason=d.reason, state=state,
    )  # fmt: skip


CaseArg = Annotated[str, typer.Argument(metavar="CASE", help="Case number, or the claim id of the case.")]

CASE_COLUMNS = [
    Column("id", N_("case"), ">"),
    Column("claim_id", N_("claim")),
    Column("hospital_id", N_("hospital")),
    Column("region", N_("region")),
    Column("period", N_("period")),
    Column("status", N_("status"), values="case.status"),
    Column("severity", N_("severity"), values="severity"),
    Column("amount_at_risk", N_("at risk"), ">", money),
    Column("priority", N_("priority"), ">", money),
    Column("assignee", N_("assignee")),
    Column("due_date", N_("due")),
]


def case_row(case: ReviewCase) -> dict[str, Any]:
    """A case as one listing row (the keys of CASE_COLUMNS)."""
    return {
        "id": case.id,
        "claim_id": case.claim_id,
        "hospital_id": case.hospital_id,
        "region": case.region,
        "period": case.period,
        "status": case.status,
        "severity": case.severity,
        "amount_at_risk": case.amount_at_risk,
        "priority": case.priority,
        "assignee": case.assignee,
        "due_date": case.due_date,
    }


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help=f"Only this status (repeatable): {', '.join(CASE_STATUSES)}, or all.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", metavar="CODE", help="Treatment region code.")
    ] = None,
    hospital: Annotated[str | None, typer.Option("--hospital", metavar="ID", help="Hospital id.")] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", metavar="NAME", help="Reviewer.", show_default=False)
    ] = None,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most this many cases.")
    ] = 20,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """List review cases by priority (amount at risk × severity weight), open ones unless --status says otherwise.

    Examples:

        drgaudit queue list

        drgaudit queue list --region 510100 --status decided --status closed --period 2025Q3 --limit 50

        drgaudit queue list --format csv --limit 1000
    """
    statuses: tuple[str, ...] | None = OPEN_STATUSES
    if status:
        unknown = [s for s in status if s not in (*CASE_STATUSES, "all")]
        if unknown:
            raise typer.BadParameter(
                f"unknown status {unknown[0]}; one of {', '.join(CASE_STATUSES)}, all", param_hint="--status"
            )
        statuses = None if "all" in status else tuple(status)
    chosen = period_option(period, start, end)
    from drgaudit.casebook import review

    with casebook(db) as session:
        cases = review.list_cases(
            session=session,
            statuses=statuses,
            region=region,
            hospital_id=hospital,
            assignee=assignee,
            period=chosen,
        )
    total = sum(c.amount_at_risk for c in cases)
    cases_text = ngettext("{n} case", "{n} cases", len(cases)).format(n=len(cases))
    shown = (
        _("showing {shown} of {cases}").format(shown=limit, cases=cases_text)
        if len(cases) > limit
        else cases_text
    )
    # With a filter, none found says nothing about the queue: the hint to screen misled (212 cases, and
    # `--hospital H1` answered as if there were none and screening were the remedy).
    given = (("--status", " --status ".join(status or ())), ("--region", region), ("--hospital", hospital),
             ("--assignee", assignee), ("--period", chosen.code if chosen else None))  # fmt: skip
    filters = ", ".join(f"{name} {value}" for name, value in given if value)
    if filters:
        empty = _("no review cases match {filters}") if status else _("no open review cases match {filters}")
        empty = empty.format(filters=filters)
    else:
        empty = (_("no review cases") if status else _("no open review cases")) + "; "
        empty += _("cases come from screening (`drgaudit screen --batch ID`)")
    emit(
        [case_row(c) for c in cases[:limit]],
        CASE_COLUMNS,
        fmt,
        empty=empty,
        footer=_("{shown}, {amount} yuan at risk").format(shown=shown, amount=money(total)),
    )


@app.command("show")
def show(case_ref: CaseArg, fmt: FormatOption = OutputFormat.table, db: DbOption = None) -> None:
    """Show a case: the claim, its hits, decisions, appeals, agenda and its audit-log entries.

    With --format json the whole case as one object; with --format csv its hits, one row each.

    Examples:

        drgaudit queue show 12

        drgaudit queue show 12 --format json
    """
    from drgaudit.casebook import auditlog, review
    from drgaudit.casebook.models import Hospital, stored_id

    with casebook(db) as session:
        case = review.get_case(session=session, ref=case_ref)
        hospital = session.get(Hospital, case.hospital_id)
        hits = review.case_hits(session=session, case_id=stored_id(case))
        decisions = review.case_decisions(session=session, case_id=stored_id(case))
        appeals = review.case_appeals(session=session, case_id=stored_id(case))
        agenda = review.open_agenda(session=session, case_id=stored_id(case))
        log = auditlog.entries_for(session=session, entity=review.CASE, entity_id=stored_id(case))
    rounds = {d.id: d.round for d in decisions}
    document = {
        "case": {
            **case_row(case),
            "hospital_name": hospital.name if hospital else None,
            "insured_region": case.insured_region,
            "payment_scheme": case.payment_scheme,
            "group_code": case.group_code,
            "discharge_date": case.discharge_date,
            "total_cost": case.total_cost,
            "version": case.version,
            "reopen_reason": case.reopen_reason,
        },
        "agenda": {"meeting_id": agenda[1].id, "held_on": agenda[1].held_on, "position": agenda[0].position}
        if agenda
        else None,
        "hits": [
            {
                "rule_id": h.rule_id,
                "family": h.family,
                "severity": h.severity,
                "action": h.action,
                "amount_at_risk": h.amount_at_risk,
                "message": h.message,
                "present": h.present,
            }
            for h in hits
        ],
        "decisions": [
            {
                "round": d.round,
                "kind": d.kind,
                "amount": d.amount,
                "items": d.items or [],
                "merged_with": d.merged_with,
                "reason": d.reason,
                "decided_by": d.decided_by,
                "decided_at": d.decided_at,
                "meeting_id": d.meeting_id,
                "quota_override": d.quota_override,
                "superseded": d.superseded,
            }
            for d in decisions
        ],
        "appeals": [
            {
                "round": rounds.get(a.decision_id),
                "reason": a.reason,
                "filed_by": a.filed_by,
                "filed_at": a.filed_at,
            }
            for a in appeals
        ],
        "log": [{"seq": e.seq, "at": e.at, "actor": auditlog.who(e), "action": e.action} for e in log],
    }
    document["rows"] = document["hits"]

    def table() -> None:
        from drgaudit.services.labels import log_action, log_actor

        name = f" {hospital.name}" if hospital else ""
        echo = typer.echo
        zh = chinese()
        echo(
            _("case {case}  claim {claim}  {status}  version {version}").format(
                case=case.id,
                claim=case.claim_id,
                status=coded("case.status", case.status),
                version=case.version,
            )
        )
        echo(
            _("hospital {hospital}{name}  treatment region {region}  insured region {insured}").format(
                hospital=case.hospital_id, name=name, region=case.region, insured=case.insured_region
            )
        )
        echo(
            _("{scheme} {group}  discharged {day} (period {period})  total cost {cost}").format(
                scheme=coded("payment_scheme", case.payment_scheme), group=case.group_code or "-",
                day=case.discharge_date, period=case.period, cost=money(case.total_cost),
            )
        )  # fmt: skip
        echo(
            _("at risk {amount}  severity {severity}  priority {priority}").format(
                amount=money(case.amount_at_risk), severity=coded("severity", case.severity),
                priority=money(case.priority),
            )
        )  # fmt: skip
        echo(_("assignee {who}  due {day}").format(who=case.assignee or "-", day=case.due_date or "-"))
        if agenda:
            echo(
                _("on the agenda of meeting {meeting} ({day}), item {item}").format(
                    meeting=agenda[1].id, day=agenda[1].held_on, item=agenda[0].position
                )
            )
        if case.reopen_reason:
            echo(_("reopened: {reason}").format(reason=case.reopen_reason))
        echo(_("hits:"))
        for hit in hits:
            gone = "" if hit.present else _("  [no longer found]")
            severity, action = coded("severity", hit.severity), coded("action", hit.action)
            echo(
                f"  {hit.rule_id:<13} {pad(severity, 8)} {pad(action, 14)} {money(hit.amount_at_risk):>12}"
                f"  {hit.message}{gone}"
            )
        if decisions:
            echo(_("decisions:"))
        for d in decisions:
            echo("  " + decision_line(d))
            for item in d.items or []:
                echo(
                    "    "
                    + _("item {item}: {amount}").format(item=item["item"], amount=money(item["amount"]))
                )
            if d.quota_override:
                echo("    " + _("over quota, override: {reason}").format(reason=d.quota_override))
        for a in appeals:
            echo(
                _("appeal by {who} against round {round}: {reason}").format(
                    who=a.filed_by, round=rounds.get(a.decision_id, "?"), reason=a.reason
                )
            )
        echo(_("log:"))
        for entry in log:
            at = entry.at[:19].replace("T", " ")
            who, action = (
                (log_actor(entry), log_action(entry.action)) if zh else (auditlog.who(entry), entry.action)
            )
            echo(f"  #{entry.seq} {at} {who} {action}")

    emit_document(document, fmt, table=table)


@app.command("assign")
def assign(
    cases: Annotated[list[str], typer.Argument(metavar="CASE", help="Case numbers or claim ids.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="REVIEWER",
            help="The reviewer who takes the case(s): on a casebook with accounts, an active auditor's account of the case's region.",
        ),
    ],
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
    from drgaudit.services import cases as case_service

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
    kind: Annotated[
        str, typer.Option("--kind", metavar="KIND", help=f"The decision: {', '.join(DECISION_KINDS)}.")
    ],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (goes into the minutes).")],
    amount: Annotated[
        float | None,
        typer.Option(
            "--amount", metavar="YUAN", help="Yuan: special payment approved, deducted, or held (refer)."
        ),
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
    from drgaudit.casebook import review
    from drgaudit.services import cases as case_service

    request = review.DecisionRequest(
        kind=kind, reason=reason, amount=amount, items=items or None, merged_with=merge_with
    )
    with casebook(db) as session:
        outcome = case_service.decide(
            session=session, principal=principal(session, user), ref=case_ref, request=request,
            pack=rule_pack(rules), expected_version=expect_version, quota_override=override_quota,
        )  # fmt: skip
        d, case = outcome.decision, outcome.case
        extra = _(" with {claims}").format(claims=d.merged_with) if d.merged_with else ""
        typer.echo(
            _("case {case} ({claim}) decided in meeting {meeting}, round {round}: {kind}{extra} {amount} yuan, by {who}").format(
                case=case.id, claim=case.claim_id, meeting=d.meeting_id, round=d.round, kind=kind_words(d.kind),
                extra=extra, amount=money(d.amount), who=d.decided_by,
            )
        )  # fmt: skip
        if outcome.quota is not None:
            over = (
                _("; over quota, override: {reason}").format(reason=d.quota_override)
                if d.quota_override
                else ""
            )
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
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="The hospital's grounds.")],
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """File a hospital's appeal against a decided or closed case; it goes back to be heard in a meeting.

    Example:

        drgaudit queue appeal 12 --reason "补充提供了重症监护记录" --user 医院医保办
    """
    from drgaudit.casebook import review
    from drgaudit.services import cases as case_service

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


ROLLUP_COLUMNS = [
    Column("hospital_id", N_("hospital")),
    Column("period", N_("period")),
    Column("cases", N_("cases"), ">"),
    Column("open", N_("open"), ">"),
    Column("decided", N_("decided"), ">"),
    Column("standard", N_("standard"), ">"),
    Column("special", N_("special"), ">"),
    Column("special_amount", N_("special yuan"), ">", money),
    Column("deducted", N_("deducted"), ">"),
    Column("deducted_amount", N_("deducted yuan"), ">", money),
    Column("referred", N_("referred"), ">"),
    Column("referred_amount", N_("held yuan"), ">", money),
]


@app.command("rollup")
def rollup(
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="CODE", help="Treatment region code.", show_default=False),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also hospitals and periods with no decision yet.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Decided amounts per hospital and month of discharge, decisions in force only.

    Examples:

        drgaudit queue rollup

        drgaudit queue rollup --period 2025Q1 --all --format csv
    """
    chosen = period_option(period, start, end)
    from dataclasses import asdict

    from drgaudit.casebook import findings, review

    with casebook(db) as session:
        every = review.rollup(session=session, period=chosen, region=region)
        tallies = findings.tally(session=session, period=chosen, region=region)
    rows = every if all_ else [r for r in every if r.decided]
    footer = _(
        "total: {cases} cases, {open} open, {decided} decided; special {special}, deducted {deducted}, held {held} yuan"
    ).format(
        cases=sum(r.cases for r in every),
        open=sum(r.open for r in every),
        decided=sum(r.decided for r in every),
        special=money(sum(r.special_amount for r in every)),
        deducted=money(sum(r.deducted_amount for r in every)),
        held=money(sum(r.referred_amount for r in every)),
    )
    emit(
        [asdict(r) for r in rows],
        ROLLUP_COLUMNS,
        fmt,
        empty=_("no decided review cases") if every else _("no review cases"),
        footer=footer,
    )
    if fmt == OutputFormat.table:
        _print_findings(tallies)


def _print_findings(tallies: list[FindingTally]) -> None:
    """Hospital findings (hold/deduct hits) per hospital and period: how many in each state, what stands."""
    from drgaudit.casebook.findings import STATES

    if not tallies:
        return
    typer.echo(_("hospital findings (hold/deduct hits) by state:"))
    for t in tallies:
        # A state by its Chinese name under zh_CN, by its code (as --state takes it) otherwise.
        named = [(coded("finding.state", state), t.states[state]) for state in STATES if state in t.states]
        states = ("，" if chinese() else ", ").join(f"{name} {n}" for name, n in named)
        typer.echo(
            f"  {t.hospital_id:<14} {t.period:<7} "
            + _("{states}; {amount} at risk, {standing} standing").format(
                states=states, amount=money(t.amount), standing=money(t.standing)
            )
        )
