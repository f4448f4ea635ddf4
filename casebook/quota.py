"""The special-review quota (特例单议 cap) of a hospital in its region's settlement period.

A case belongs to the month of its discharge (`YYYY-MM`, `review_case.period`); its quota is counted
over the treatment region's settlement period (`special_review_quota_period`: month, quarter or year,
national default year) that holds that month, cumulatively: ⌊ratio × the hospital's claims of that
scheme discharged in the period so far (claims in the casebook)⌋, the ratio being the region's
`special_review_quota_<scheme>` setting (DRG 5%, DIP 5‰ nationally, 医保办发〔2024〕9号). Counted per
month and floored, a hospital would need 200 DIP cases in one month before one could be reviewed at
5‰; over a year its cases add up. Two things count against the quota: cases of the period put on a
meeting's agenda (`counting="scheduled"`, checked by `meetings.schedule_cases`) and special payments in
force (`counting="special"`, checked by `review.decide_case`). Schemes without a ratio (per-diem,
fee-for-service) have no quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from drgaudit.casebook.models import Claim
from drgaudit.casebook.review_models import MeetingCase, ReviewCase, ReviewDecision
from drgaudit.casebook.reviewconfig import ReviewError, review_settings
from drgaudit.engine.pack import RulePack
from drgaudit.i18n import N_, _

COUNTINGS = {"scheduled": N_("cases scheduled for review"), "special": N_("special payments approved")}


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
        """One line, e.g. `quota H001 2025 DRG: 3 of 7 cases scheduled for review (5.0% of 140 DRG cases
        discharged in 2025 so far)`; the period is the region's settlement period."""
        head = _("quota {hospital} {period} {scheme}").format(
            hospital=self.hospital_id, period=self.period, scheme=self.scheme
        )
        if self.limit is None:
            return _("{head}: none for {scheme} cases").format(head=head, scheme=self.scheme)
        return _(
            "{head}: {used} of {limit} {counting} ({ratio} of {base} {scheme} cases discharged in {period} so far)"
        ).format(
            head=head, used=self.used, limit=self.limit, counting=_(COUNTINGS[self.counting]),
            ratio=f"{self.ratio:.1%}", base=self.base, scheme=self.scheme, period=self.period,
        )  # fmt: skip

    def refusal(self, doing: str) -> str:
        """The message refusing to go over the quota without an override."""
        return _(
            "{quota}; {doing} would make {count}, over the quota — give --override-quota REASON to go over it"
        ).format(quota=self.describe(), doing=doing, count=self.used + 1)

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


@dataclass(frozen=True)
class SettlementPeriod:
    """The settlement period that holds a month: its label, first and next-after-last day and months."""

    label: str
    start: date
    end: date  # the first day after the period
    first_month: str
    last_month: str


def settlement_period(month: str, unit: str) -> SettlementPeriod:
    """The month, quarter (`2025Q1`) or year (`2025`) holding the month `YYYY-MM`."""
    start, _end = period_bounds(month)
    if unit == "month":
        first, count, label = start.month, 1, month
    elif unit == "quarter":
        first, count = 3 * ((start.month - 1) // 3) + 1, 3
        label = f"{start.year}Q{(first - 1) // 3 + 1}"
    elif unit == "year":
        first, count, label = 1, 12, f"{start.year}"
    else:
        raise ReviewError(f"unknown settlement period `{unit}` (month, quarter or year)")
    last = first + count - 1
    begin = date(start.year, first, 1)
    end = date(start.year + last // 12, last % 12 + 1, 1)
    return SettlementPeriod(label, begin, end, f"{start.year}-{first:02d}", f"{start.year}-{last:02d}")


def quota_standing(*, session: Session, case: ReviewCase, pack: RulePack, counting: str) -> QuotaStanding:
    """The quota standing of the case's hospital, settlement period and scheme, for scheduling or for
    special payments."""
    if counting not in COUNTINGS:
        raise ValueError(counting)
    settings = review_settings(pack, case.region)
    ratio = settings.quota_ratio(case.payment_scheme)
    scheme = case.payment_scheme.upper()
    period = settlement_period(case.period, settings.quota_period)
    base = session.execute(
        select(func.count()).where(
            col(Claim.hospital_id) == case.hospital_id,
            col(Claim.payment_scheme) == case.payment_scheme,
            col(Claim.discharge_date) >= period.start,
            col(Claim.discharge_date) < period.end,
        )
    ).scalar_one()
    same = (
        col(ReviewCase.hospital_id) == case.hospital_id,
        col(ReviewCase.period) >= period.first_month,
        col(ReviewCase.period) <= period.last_month,
        col(ReviewCase.payment_scheme) == case.payment_scheme,
        col(ReviewCase.id) != case.id,
    )
    if counting == "scheduled":
        used_query = (
            select(func.count(func.distinct(MeetingCase.case_id)))
            .join(ReviewCase, col(ReviewCase.id) == col(MeetingCase.case_id))
            .where(*same, col(MeetingCase.outcome) != "withdrawn")
        )
    else:
        used_query = (
            select(func.count())
            .select_from(ReviewDecision)
            .join(ReviewCase, col(ReviewCase.id) == col(ReviewDecision.case_id))
            .where(*same, col(ReviewDecision.kind) == "special", col(ReviewDecision.superseded).is_(False))
        )
    used = session.execute(used_query).scalar_one()
    limit = math.floor(ratio * base + 1e-9) if ratio is not None else None
    return QuotaStanding(case.hospital_id, period.label, scheme, counting, ratio, base, limit, used)
