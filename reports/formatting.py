"""Numbers and dates in the Chinese convention of bureau documents (元, 万元, thousands separators, 年月日)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def yuan(value: float | None, digits: int = 2) -> str:
    """12345.6 -> '12,345.60' (the unit 元 is in the column head); missing -> '—'."""
    if _missing(value):
        return "—"
    return f"{value:,.{digits}f}"


def yuan_unit(value: float | None) -> str:
    """12345.6 -> '12,345.60元'."""
    return "—" if _missing(value) else f"{yuan(value)}元"


def wan_yuan(value: float | None) -> str:
    """Large totals: 3768324.21 -> '376.83万元'; below 10,000 yuan in yuan."""
    if value is None or _missing(value):
        return "—"
    if abs(value) < 10_000:
        return yuan_unit(value)
    return f"{value / 10_000:,.2f}万元"


def count(value: int | float | None) -> str:
    """Whole numbers with thousands separators."""
    return "—" if _missing(value) else f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> '12.3%'."""
    return "—" if value is None or _missing(value) else f"{value * 100:.{digits}f}%"


def growth(value: float | None, digits: int = 1) -> str:
    """A signed change: 0.1234 -> '+12.3%', -0.05 -> '−5.0%'."""
    if value is None or _missing(value):
        return "—"
    text = f"{abs(value) * 100:.{digits}f}%"
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def points(value: float | None, digits: int = 1) -> str:
    """A change of a share in percentage points: 0.034 -> '+3.4个百分点'."""
    if value is None or _missing(value):
        return "—"
    text = f"{abs(value) * 100:.{digits}f}个百分点"
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def decimal(value: float | None, digits: int = 2) -> str:
    """A plain number with `digits` decimals (weights, CMI, ratios)."""
    return "—" if _missing(value) else f"{value:,.{digits}f}"


def cn_date(value: dt.date | dt.datetime | None) -> str:
    """2025-07-01 -> '2025年7月1日'."""
    if value is None:
        return "—"
    return f"{value.year}年{value.month}月{value.day}日"


FILTERS = {
    "yuan": yuan,
    "yuan_unit": yuan_unit,
    "wan_yuan": wan_yuan,
    "count": count,
    "percent": percent,
    "growth": growth,
    "points": points,
    "decimal": decimal,
    "cn_date": cn_date,
}
