"""Reporting periods: see `drgaudit.periods` (one period syntax for every command)."""

from __future__ import annotations

from drgaudit.periods import Period, PeriodError, parse_period, year

__all__ = ["Period", "PeriodError", "parse_period", "year"]
