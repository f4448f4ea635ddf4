"""What the yearly clearing (结算清算) between treatment and insured regions needs from the casebook: the
cross-region claims of a period and what the audit made of them, per pair of regions.

A claim belongs to a period by its discharge date, and to the pair (treatment region, insured region)
it was settled between; only claims whose two regions differ count (in-province cross-region, and
cross-province where the casebook holds such claims). For each pair, one pass each over:

- the claims: how many, their total cost and what the insured region's fund paid (`fund_paid`);
- the review cases (特例单议, withdrawn ones left out): how many, how many are still open and their
  amount at risk, and the decisions in force (as `review.rollup` counts them: a case decided or closed,
  its decision not superseded) with their amounts;
- the hospital findings (疑点, withdrawn and escalated ones left out: an escalated finding is decided
  by its review case): deductions and holds, open (open, appealed) at their amount, final at the
  amount that stands (`final_amount`: overturned ones stand at 0);
- the investigation requests (协查) about those claims, open or answered, by result.

Every function is keyword-only and takes `session`; nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from drgaudit.casebook.bulk import LOOKUP_KEYS
from drgaudit.casebook.findings import FINAL_STATES, OPEN_STATES, Finding
from drgaudit.casebook.models import Claim, table_of
from drgaudit.casebook.review import add_decisions
from drgaudit.casebook.review_models import AssistRequest, ReviewCase, ReviewDecision
from drgaudit.casebook.states import OPEN_STATUSES

_claim = table_of(Claim).c
Pair = tuple[str, str]  # (treatment region, insured region)


@dataclass
class PairTotals:
    """One pair of regions in one period: claims, review cases, findings and investigation requests."""

    treatment_region: str
    insured_region: str
    claims: int = 0
    total_cost: float = 0.0
    fund_paid: float = 0.0
    cases: int = 0
    cases_open: int = 0
    open_at_risk: float = 0.0
    decided: int = 0
    standard: int = 0
    special: int = 0
    special_amount: float = 0.0
    deducted: int = 0
    deducted_amount: float = 0.0
    referred: int = 0
    referred_amount: float = 0.0
    findings_open: dict[str, int] = field(default_factory=dict)  # action → open findings
    findings_open_amount: dict[str, float] = field(default_factory=dict)
    findings_final: dict[str, int] = field(default_factory=dict)  # action → final findings
    findings_standing: dict[str, float] = field(default_factory=dict)  # action → amount that stands
    assists: int = 0
    assists_open: int = 0
    assist_results: dict[str, int] = field(default_factory=dict)

    @property
    def pair(self) -> Pair:
        return (self.treatment_region, self.insured_region)

    def add(self, other: PairTotals) -> None:
        """Add another pair's counts and amounts to these (a total row; the region codes stay)."""
        for name in (f.name for f in fields(self)):
            value = getattr(other, name)
            if isinstance(value, dict):
                mine = getattr(self, name)
                for key, part in value.items():
                    mine[key] = _plus(mine.get(key, 0), part)
            elif not isinstance(value, str):
                setattr(self, name, _plus(getattr(self, name), value))


@dataclass
class ClaimOutcome:
    """One cross-region claim with something the audit did to it: its review case, findings and requests."""

    claim_id: str
    treatment_region: str
    insured_region: str
    hospital_id: str
    patient_id: str
    discharge_date: date
    group_code: str | None
    total_cost: float
    fund_paid: float | None
    case_status: str | None = None
    case_at_risk: float = 0.0
    decision: str | None = None
    decision_amount: float | None = None
    findings: list[tuple[str, str, float, float | None]] = field(
        default_factory=list
    )  # action, state, amount, final
    assists: list[tuple[str, str | None]] = field(default_factory=list)  # status, result


def _span(column: Any, first: date, last: date) -> list[Any]:
    return [column >= first, column <= last]


def _pairs_filter(treatment: Any, insured: Any, region: str | None, insured_region: str | None) -> list[Any]:
    conditions = [treatment != insured]
    if region is not None:
        conditions.append(treatment == region)
    if insured_region is not None:
        conditions.append(insured == insured_region)
    return conditions


def pair_totals(
    *, session: Session, first: date, last: date, region: str | None = None, insured_region: str | None = None
) -> list[PairTotals]:
    """Per pair of regions, the claims discharged from `first` to `last` (inclusive) and the audit's
    outcomes on them (see the module docstring); pairs in code order. `region` keeps one treatment
    region, `insured_region` one insured region."""
    rows: dict[Pair, PairTotals] = {}

    def row(treatment: str, insured: str) -> PairTotals:
        return rows.setdefault((treatment, insured), PairTotals(treatment, insured))

    claims = session.execute(
        select(_claim.treatment_region, _claim.insured_region, func.count(), func.sum(_claim.total_cost),
               func.sum(_claim.fund_paid))
        .where(*_span(_claim.discharge_date, first, last),
               *_pairs_filter(_claim.treatment_region, _claim.insured_region, region, insured_region))
        .group_by(_claim.treatment_region, _claim.insured_region)
    )  # fmt: skip
    for treatment, insured, n, cost, paid in claims:
        target = row(treatment, insured)
        target.claims, target.total_cost, target.fund_paid = int(n), _money(cost), _money(paid)
    _add_cases(session, first, last, region, insured_region, row)
    _add_findings(session, first, last, region, insured_region, row)
    _add_assists(session, first, last, region, insured_region, row)
    return [rows[key] for key in sorted(rows)]


def _case_filters(first: date, last: date, region: str | None, insured_region: str | None) -> list[Any]:
    return [
        *_span(col(ReviewCase.discharge_date), first, last),
        *_pairs_filter(col(ReviewCase.region), col(ReviewCase.insured_region), region, insured_region),
        col(ReviewCase.status) != "withdrawn",
    ]


def _add_cases(
    session: Session, first: date, last: date, region: str | None, insured_region: str | None, row: Any
) -> None:
    filters = _case_filters(first, last, region, insured_region)
    counts = session.execute(
        select(col(ReviewCase.region), col(ReviewCase.insured_region), col(ReviewCase.status), func.count(),
               func.sum(col(ReviewCase.amount_at_risk)))
        .where(*filters)
        .group_by(col(ReviewCase.region), col(ReviewCase.insured_region), col(ReviewCase.status))
    )  # fmt: skip
    for treatment, insured, status, n, at_risk in counts:
        target = row(treatment, insured)
        target.cases += int(n)
        if status in OPEN_STATUSES:
            target.cases_open += int(n)
            target.open_at_risk = _money(target.open_at_risk + _money(at_risk))
    decided = session.execute(
        select(col(ReviewCase.region), col(ReviewCase.insured_region), col(ReviewDecision.kind), func.count(),
               func.sum(col(ReviewDecision.amount)))
        .join(ReviewDecision, col(ReviewDecision.case_id) == col(ReviewCase.id))
        .where(*filters, col(ReviewDecision.superseded).is_(False),
               col(ReviewCase.status).in_(("decided", "closed")))
        .group_by(col(ReviewCase.region), col(ReviewCase.insured_region), col(ReviewDecision.kind))
    )  # fmt: skip
    for treatment, insured, kind, n, total in decided:
        add_decisions(row(treatment, insured), kind, int(n), total)


def _add_findings(
    session: Session, first: date, last: date, region: str | None, insured_region: str | None, row: Any
) -> None:
    query = (
        select(col(Finding.treatment_region), col(Finding.insured_region), col(Finding.action), col(Finding.state),
               func.count(), func.sum(col(Finding.amount)), func.sum(col(Finding.final_amount)))
        .join(Claim, col(Claim.claim_id) == col(Finding.claim_id))
        .where(*_span(col(Claim.discharge_date), first, last),
               *_pairs_filter(col(Finding.treatment_region), col(Finding.insured_region), region, insured_region),
               col(Finding.state).in_((*OPEN_STATES, *FINAL_STATES)))
        .group_by(col(Finding.treatment_region), col(Finding.insured_region), col(Finding.action), col(Finding.state))
    )  # fmt: skip
    for treatment, insured, action, state, n, amount, standing in session.execute(query):
        target = row(treatment, insured)
        if state in OPEN_STATES:
            _count(target.findings_open, action, int(n))
            _add(target.findings_open_amount, action, _money(amount))
        else:
            _count(target.findings_final, action, int(n))
            _add(target.findings_standing, action, _money(standing))


def _add_assists(
    session: Session, first: date, last: date, region: str | None, insured_region: str | None, row: Any
) -> None:
    query = (
        select(col(AssistRequest.treatment_region), col(AssistRequest.insured_region), col(AssistRequest.status),
               col(AssistRequest.result), func.count())
        .join(Claim, col(Claim.claim_id) == col(AssistRequest.claim_id))
        .where(*_span(col(Claim.discharge_date), first, last),
               *_pairs_filter(col(AssistRequest.treatment_region), col(AssistRequest.insured_region), region,
                              insured_region))
        .group_by(col(AssistRequest.treatment_region), col(AssistRequest.insured_region), col(AssistRequest.status),
                  col(AssistRequest.result))
    )  # fmt: skip
    for treatment, insured, status, result, n in session.execute(query):
        target = row(treatment, insured)
        target.assists += int(n)
        if status == "open":
            target.assists_open += int(n)
        elif result:
            _count(target.assist_results, result, int(n))


def claim_outcomes(
    *, session: Session, first: date, last: date, region: str | None = None, insured_region: str | None = None
) -> list[ClaimOutcome]:
    """The cross-region claims discharged from `first` to `last` that have a review case, a finding or an
    investigation request (the same ones `pair_totals` counts), by pair, discharge date and claim."""
    outcomes: dict[str, dict[str, Any]] = defaultdict(dict)
    decisions = and_(
        col(ReviewDecision.case_id) == col(ReviewCase.id), col(ReviewDecision.superseded).is_(False)
    )
    cases = session.execute(
        select(col(ReviewCase.claim_id), col(ReviewCase.status), col(ReviewCase.amount_at_risk),
               col(ReviewDecision.kind), col(ReviewDecision.amount))
        .outerjoin(ReviewDecision, decisions)
        .where(*_case_filters(first, last, region, insured_region))
        .order_by(col(ReviewCase.id), col(ReviewDecision.id))
    )  # fmt: skip
    for claim_id, status, at_risk, kind, amount in cases:
        found = outcomes[claim_id]
        found.update(case_status=status, case_at_risk=_money(at_risk))
        if kind is not None and status in ("decided", "closed"):
            found.update(decision=kind, decision_amount=_money(amount))
    findings = session.execute(
        select(col(Finding.claim_id), col(Finding.action), col(Finding.state), col(Finding.amount),
               col(Finding.final_amount))
        .join(Claim, col(Claim.claim_id) == col(Finding.claim_id))
        .where(*_span(col(Claim.discharge_date), first, last),
               *_pairs_filter(col(Finding.treatment_region), col(Finding.insured_region), region, insured_region),
               col(Finding.state).in_((*OPEN_STATES, *FINAL_STATES)))
        .order_by(col(Finding.claim_id), col(Finding.rule_id))
    )  # fmt: skip
    for claim_id, action, state, amount, final in findings:
        outcomes[claim_id].setdefault("findings", []).append(
            (action, state, _money(amount), None if final is None else _money(final))
        )
    assists = session.execute(
        select(col(AssistRequest.claim_id), col(AssistRequest.status), col(AssistRequest.result))
        .join(Claim, col(Claim.claim_id) == col(AssistRequest.claim_id))
        .where(*_span(col(Claim.discharge_date), first, last),
               *_pairs_filter(col(AssistRequest.treatment_region), col(AssistRequest.insured_region), region,
                              insured_region))
        .order_by(col(AssistRequest.id))
    )  # fmt: skip
    for claim_id, status, result in assists:
        outcomes[claim_id].setdefault("assists", []).append((status, result))
    result_rows = [
        ClaimOutcome(**_claim_fields(claim), **outcomes[claim["claim_id"]])
        for claim in _claims(session, outcomes)
    ]
    result_rows.sort(key=lambda o: (o.treatment_region, o.insured_region, o.discharge_date, o.claim_id))
    return result_rows


_OUTCOME_FIELDS = (
    "claim_id", "treatment_region", "insured_region", "hospital_id", "patient_id", "discharge_date",
    "group_code", "total_cost", "fund_paid",
)  # fmt: skip


def _claims(session: Session, claim_ids: Iterable[str]) -> list[dict[str, Any]]:
    wanted = sorted(claim_ids)
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        query = select(*(_claim[name] for name in _OUTCOME_FIELDS)).where(_claim.claim_id.in_(part))
        found.extend(dict(r._mapping) for r in session.execute(query))
    return found


def _claim_fields(claim: dict[str, Any]) -> dict[str, Any]:
    paid = claim["fund_paid"]
    return claim | {
        "total_cost": _money(claim["total_cost"]),
        "fund_paid": None if paid is None else _money(paid),
    }


def _money(value: Any) -> float:
    return round(float(value or 0.0), 2)


def _plus(a: Any, b: Any) -> Any:
    """A count plus a count, or an amount plus an amount (in cents)."""
    return round(a + b, 2) if isinstance(a, float) or isinstance(b, float) else a + b


def _count(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _add(amounts: dict[str, float], key: str, amount: float) -> None:
    amounts[key] = _money(amounts.get(key, 0.0) + amount)
