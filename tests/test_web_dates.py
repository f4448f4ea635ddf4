"""Moments on the pages: the casebook stores them in UTC (SQLite gives them back without their zone,
PostgreSQL with it); the pages show both in the server's local time, the same minute."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from drgaudit.web.templating import ENV


@pytest.fixture
def shanghai() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_stored_moment_is_shown_in_local_time_whichever_database_gave_it(shanghai: None) -> None:
    shown = ENV.filters["date"]
    from_sqlite = dt.datetime(2026, 12, 7, 23, 30)  # UTC, without its zone
    from_postgres = from_sqlite.replace(tzinfo=dt.UTC)
    assert shown(from_sqlite) == shown(from_postgres) == "2026-12-08 07:30"
    assert shown(dt.date(2026, 12, 8)) == "2026-12-08"
    assert shown(None) == "—"
