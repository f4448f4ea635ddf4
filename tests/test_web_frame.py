"""What the page frame shows: moments (the casebook stores them in UTC; SQLite gives them back without
their zone, PostgreSQL with it; the pages show both in the server's local time, the same minute) and
who is signed in, with the names of their roles' hospital or region."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.web.templating import ENV
from tests import web_casebook
from tests.web_support import Browser, make_accounts, web_app


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


def test_the_header_names_the_hospital_and_the_region_of_an_accounts_roles(
    db_url: str, session: Session, tmp_path: Path, fast_passwords: None
) -> None:
    # A hospital's staff saw "定点医疗机构（H001）" and a regional auditor "审核员（510100）": codes, where
    # the page can say whose they are.
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    make_accounts(session, ("审核成都", "auditor:510100"), ("审核他处", "auditor:519999"))
    browser = Browser(web_app(db_url))
    assert browser.login("h001").status_code == 303
    assert "定点医疗机构（甲市示例人民医院，H001）" in browser.get("/").text
    browser = Browser(web_app(db_url))
    assert browser.login("审核成都").status_code == 303
    assert "（成都市（示例），510100）" in browser.get("/").text
    # A scope with no name anywhere keeps its code alone.
    browser = Browser(web_app(db_url))
    assert browser.login("审核他处").status_code == 303
    assert "（519999）" in browser.get("/").text
