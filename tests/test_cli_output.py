"""How the CLI's --format json/csv write values (drgaudit.cli.output.plain)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from drgaudit.cli.output import plain


def test_moments_are_written_in_utc_with_their_zone() -> None:
    # SQLite gives a stored moment back without its zone; it is UTC, as PostgreSQL's answer says.
    naive = dt.datetime(2026, 12, 8, 11, 31, 5, 123456)
    aware = naive.replace(tzinfo=dt.UTC)
    shanghai = aware.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert plain(naive) == plain(aware) == plain(shanghai) == "2026-12-08T11:31:05+00:00"
    assert plain({"at": [naive]}) == {"at": ["2026-12-08T11:31:05+00:00"]}


def test_dates_and_decimals() -> None:
    assert plain(dt.date(2025, 5, 31)) == "2025-05-31"
    assert plain(Decimal("12.50")) == 12.5
    assert plain(None) is None
