"""Periods, the one syntax every command and page uses: a year, quarter or month, or a date range.

A claim belongs to a period when its discharge date falls in it (settlement follows discharge).
`2025`, `2025Q3` (or `2025-Q3`), `2025-07`, or `--from`/`--to` dates (both inclusive). The previous
period of a year, quarter or month is the calendar unit before it; of a date range, the range of
the same number of days that ends the day before it starts. The CLI's `--period/--from/--to`
options are declared once in `drgaudit.cli.options` and parsed here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from drgaudit.errors import UsageError
from drgaudit.i18n import _

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodError(UsageError):
    """A period that cannot be read, or --period given together with --from/--to."""


@dataclass(frozen=True)
class Period:
    """A span of discharge dates, both ends inclusive, with its unit (year, quarter, month or range)."""

    start: dt.date
    end: dt.date
    unit: str

    @property
    def label(self) -> str:
        if self.unit == "year":
            return f"{self.start.year}年"
        if self.unit == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.unit == "month":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    @property
    def span(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    @property
    def code(self) -> str:
        """The period as the CLI writes it: 2025, 2025Q3, 2025-07, or 2025-07-01..2025-09-30."""
        if self.unit == "year":
            return str(self.start.year)
        if self.unit == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        if self.unit == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def months(self) -> list[str]:
        """Every month (`YYYY-MM`) the period touches, in order."""
        months, day = [], dt.date(self.start.year, self.start.month, 1)
        while day <= self.end:
            months.append(f"{day.year}-{day.month:02d}")
            day = _add_months(day, 1)
        return months

    def previous(self) -> Period:
        """The period before this one (see the module docstring)."""
        if self.unit == "year":
            return year(self.start.year - 1)
        if self.unit == "quarter":
            first = _add_months(self.start, -3)
            return Period(first, self.start - dt.timedelta(days=1), "quarter")
        if self.unit == "month":
            first = _add_months(self.start, -1)
            return Period(first, self.start - dt.timedelta(days=1), "month")
        days = (self.end - self.start).days + 1
        return Period(self.start - dt.timedelta(days=days), self.start - dt.timedelta(days=1), "range")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def year(value: int) -> Period:
    return Period(dt.date(value, 1, 1), dt.date(value, 12, 31), "year")


def parse_period(text: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> Period:
    """A period from `--period TEXT`, or from `--from`/`--to` dates (exactly one of the two forms)."""
    if text and (start or end):
        raise PeriodError("give --period or --from/--to, not both")
    if not text:
        if not (start and end):
            raise PeriodError("give --period (e.g. 2025Q3, 2025-07, 2025) or both --from and --to")
        if end < start:
            raise PeriodError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
        return Period(start, end, "range")
    text = text.strip()
    if match := _YEAR.match(text):
        return year(int(match[1]))
    if match := _QUARTER.match(text):
        first = dt.date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1)
        return Period(first, _add_months(first, 3) - dt.timedelta(days=1), "quarter")
    if (match := _MONTH.match(text)) and 1 <= int(match[2]) <= 12:
        first = dt.date(int(match[1]), int(match[2]), 1)
        return Period(first, _add_months(first, 1) - dt.timedelta(days=1), "month")
    if match := _RANGE.match(text):
        try:
            first, last = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        except ValueError as exc:
            raise PeriodError(f"`{text}` is not a period: {exc}") from None
        return parse_period(None, first, last)
    raise PeriodError(
        _("`{text}` is not a period: use 2025 (year), 2025Q3 (quarter) or 2025-07 (month)").format(text=text)
    )
