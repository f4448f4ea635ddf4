"""The special-review quota (特例单议 cap) of a hospital in a period.

The period is the month of discharge (`YYYY-MM`, `review_case.period`). A hospital's quota for a
payment scheme is ⌊ratio × its claims of that scheme discharged in the period⌋ (claims in the
casebook), the ratio being the treatment region's `special_review_quota_<scheme>` setting (DRG 5%,
DIP 5‰ nationally). Two things count against it: cases put on a meeting's agenda (`counting=
"scheduled"`, checked by `meetings.schedule_cases`) and special payments in force (`counting=
"special"`, checked by `review.decide_case`). Schemes without a ratio (per-diem, fee-for-service)
have no quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook.models import Claim
from drgaudit.casebook.review_models import MeetingCase, ReviewCase, ReviewDecision
from drgaudit.casebook.reviewconfig import ReviewError, review_settings
from drgaudit.engine.pack import RulePack

COUNTINGS = {"scheduled": "cases scheduled for review", "special": "special payments approved"}


@dataclass
class QuotaStanding:
    """Where a hospital stands against its quota for a period and scheme, not counting the case at hand."""

    hospital_id: str
    period: str
    scheme: str
    counting: str
    ratio: float | None
    base: int
    limit: int | None
    used: int

    @property
    def exceeded(self) -> bool:
        """Whether one more would go over the quota."""
        return self.limit is not None and self.used + 1 > self.limit

    def describe(self) -> str:
        """One line, e.g. `quota H001 2025-03 DRG: 3 of 7 cases scheduled for review (5% of 140 DRG cases)`."""
        head = f"quota {self.hospital_id} {self.period} {self.scheme}"
        if self.limit is None:
            return f"{head}: none for {self.scheme} cases"
        return (
            f"{head}: {self.used} of {self.limit} {COUNTINGS[self.counting]} "
            f"({self.ratio:.1%} of {self.base} {self.scheme} cases)"
        )

    def refusal(self, doing: str) -> str:
        """The message refusing to go over the quota without an override."""
        return (
            f"{self.describe()}; {doing} would make {self.used + 1}, over the quota — "
            f"give --override-quota REASON to go over it"
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def period_bounds(period: str) -> tuple[date, date]:
    """First day of the month `YYYY-MM` and first day of the next."""
    try:
        year, month = (int(part) for part in period.split("-"))
        start = date(year, month, 1)
    except ValueError:
        raise ReviewError(f"period `{period}` is not a month YYYY-MM") from None
    return start, date(year + month // 12, month % 12 + 1, 1)


def quota_standing(*, session: Session, case: ReviewCase, pack: RulePack, counting: str) -> QuotaStanding:
    """The quota standing of the case's hospital, period and scheme, for scheduling or for special payments."""
    if counting not in COUNTINGS:
        raise ValueError(counting)
    ratio = review_settings(pack, case.region).quota_ratio(case.payment_scheme)
    scheme = case.payment_scheme.upper()
    start, end = period_bounds(case.period)
    base = session.execute(
        select(func.count()).where(
            Claim.hospital_id == case.hospital_id,
            Claim.payment_scheme == case.payment_scheme,
            Claim.discharge_date >= start,
            Claim.discharge_date < end,
        )
    ).scalar_one()
    same = (
        ReviewCase.hospital_id == case.hospital_id,
        ReviewCase.period == case.period,
        ReviewCase.payment_scheme == case.payment_scheme,
        ReviewCase.id != case.id,
    )
    if counting == "scheduled":
        used_query = (
            select(func.count(func.distinct(MeetingCase.case_id)))
            .join(ReviewCase, ReviewCase.id == MeetingCase.case_id)
            .where(*same, MeetingCase.outcome != "withdrawn")
        )
    else:
        used_query = (
            select(func.count())
            .select_from(ReviewDecision)
            .join(ReviewCase, ReviewCase.id == ReviewDecision.case_id)
            .where(*same, ReviewDecision.kind == "special", ReviewDecision.superseded.is_(False))
        )
    used = session.execute(used_query).scalar_one()
    limit = math.floor(ratio * base + 1e-9) if ratio is not None else None
    return QuotaStanding(case.hospital_id, case.period, scheme, counting, ratio, base, limit, used)
