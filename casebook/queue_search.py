"""Searching the review queue a page at a time: filters, sort order, paging, and the rows as the queue
page and its XLSX export show them (the case, its hospital's name, its findings' states).

Everything is one indexed query plus a count; a page never loads more than its rows, so the page stays
fast with tens of thousands of cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from drgaudit.casebook.findings import Finding
from drgaudit.casebook.models import Hospital, bindable
from drgaudit.casebook.review_models import OPEN_STATUSES, ReviewCase, ReviewCaseHit
from drgaudit.periods import parse_period

SORTS = {
    "priority": col(ReviewCase.priority),
    "amount": col(ReviewCase.amount_at_risk),
    "due": col(ReviewCase.due_date),
    "discharge": col(ReviewCase.discharge_date),
    "cost": col(ReviewCase.total_cost),
    "id": col(ReviewCase.id),
}


@dataclass
class CaseQuery:
    """What to show: filters (None: any), sort key and direction, page (from 1) and its size."""

    statuses: tuple[str, ...] | None = OPEN_STATUSES
    region: str | None = None
    insured_region: str | None = None
    hospital_id: str | None = None
    family: str | None = None
    rule_id: str | None = None
    period: str | None = None
    assignee: str | None = None
    claim_id: str | None = None
    min_priority: float | None = None
    due_before: date | None = None
    sort: str = "priority"
    descending: bool = True
    page: int = 1
    page_size: int = 50

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.statuses:
            found.append(col(ReviewCase.status).in_(self.statuses))
        for column, value in (
            (col(ReviewCase.region), self.region),
            (col(ReviewCase.insured_region), self.insured_region),
            (col(ReviewCase.hospital_id), self.hospital_id),
            (col(ReviewCase.assignee), self.assignee),
        ):
            if value:
                found.append(column == value)
        if self.period:  # the one period syntax (2025, 2025Q3, 2025-07, a date range), as the CLI reads it
            span = parse_period(self.period)
            if span.unit == "range":
                found += [
                    col(ReviewCase.discharge_date) >= span.start,
                    col(ReviewCase.discharge_date) <= span.end,
                ]
            else:
                found += [
                    col(ReviewCase.period) >= f"{span.start:%Y-%m}",
                    col(ReviewCase.period) <= f"{span.end:%Y-%m}",
                ]
        if self.claim_id:
            found.append(col(ReviewCase.claim_id).startswith(self.claim_id, autoescape=True))
        if self.min_priority is not None:
            found.append(col(ReviewCase.priority) >= self.min_priority)
        if self.due_before is not None:
            found.append(col(ReviewCase.due_date) <= self.due_before)
        hit_filters = []
        if self.family:
            hit_filters.append(col(ReviewCaseHit.family) == self.family)
        if self.rule_id:
            hit_filters.append(col(ReviewCaseHit.rule_id) == self.rule_id)
        if hit_filters:
            hits = select(col(ReviewCaseHit.case_id)).where(
                col(ReviewCaseHit.present).is_(True), *hit_filters
            )
            found.append(col(ReviewCase.id).in_(hits))
        return found


@dataclass
class QueueRow:
    """One case of a page with its hospital's name and its claim's findings by state."""

    case: ReviewCase
    hospital_name: str
    findings: dict[str, int] = field(default_factory=dict)


@dataclass
class CasePage:
    """One page of the queue and how many cases match in all."""

    rows: list[QueueRow]
    total: int
    page: int
    page_size: int
    amount: float = 0.0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def search_cases(*, session: Session, query: CaseQuery, where: Any = None) -> CasePage:
    """One page of the cases matching `query` (and `where`, the searcher's access scope)."""
    conditions = query.conditions()
    if where is not None:
        conditions.append(where)
    total, amount = session.execute(
        select(func.count(), func.coalesce(func.sum(col(ReviewCase.amount_at_risk)), 0))
        .select_from(ReviewCase)
        .where(*conditions)
    ).one()
    column = SORTS.get(query.sort, col(ReviewCase.priority))
    # Ties go by case number in the same direction, so that an index on (key, id) gives the order.
    order: list[Any] = (
        [column.desc(), col(ReviewCase.id).desc()]
        if query.descending
        else [column.asc(), col(ReviewCase.id).asc()]
    )
    page = max(1, query.page)
    # The page's ids first (from an index, without reading any case), then only those cases' rows:
    # sorting every matching case's whole row took a second with 50,000 open cases.
    ids = (
        select(col(ReviewCase.id))
        .where(*conditions)
        .order_by(*order)
        .offset(bindable((page - 1) * query.page_size))
        .limit(bindable(query.page_size))
    )
    rows = session.execute(
        select(ReviewCase, col(Hospital.name))
        .outerjoin(Hospital, col(Hospital.hospital_id) == col(ReviewCase.hospital_id))
        .where(col(ReviewCase.id).in_(ids))
        .order_by(*order)
    ).all()
    found = [QueueRow(case, name or case.hospital_id) for case, name in rows]
    _add_findings(session, found)
    return CasePage(found, int(total), page, query.page_size, round(float(amount or 0), 2))


def iter_cases(
    *, session: Session, query: CaseQuery, where: Any = None, chunk: int = 2000
) -> Iterator[QueueRow]:
    """Every case matching `query` in its order, a chunk at a time (the XLSX export)."""
    page = 1
    while True:
        result = search_cases(
            session=session, where=where,
            query=CaseQuery(**{**query.__dict__, "page": page, "page_size": chunk}),
        )  # fmt: skip
        yield from result.rows
        if page >= result.pages:
            return
        page += 1


def _add_findings(session: Session, rows: list[QueueRow]) -> None:
    by_claim = {row.case.claim_id: row for row in rows}
    if not by_claim:
        return
    counts = session.execute(
        select(col(Finding.claim_id), col(Finding.state), func.count())
        .where(col(Finding.claim_id).in_(list(by_claim)))
        .group_by(col(Finding.claim_id), col(Finding.state))
    )
    for claim_id, state, n in counts:
        by_claim[claim_id].findings[state] = int(n)
