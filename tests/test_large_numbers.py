"""Numbers no casebook column can hold (past 2**31 - 1, PostgreSQL's INTEGER), given where a user gives a
number: in a URL of the review service or the API, in a form, on the command line. Each is bad input
that names no row: a clear error (404, 400/422, exit 1 or 2), never a crash. PostgreSQL refuses to
compare 2**31 with an INTEGER column and the SQLite driver to send 2**63 at all (OverflowError), so
these tests fail on either backend when a way in lets such a number through.

Every test runs on SQLite and, when configured, PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook import meetings
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.models import MAX_STORED_INT, ImportBatch, bindable, get_by_id, row_number
from drgaudit.casebook.review_models import ReviewMeetingCreate
from drgaudit.cli.root import app as cli
from drgaudit.services import accounts as account_service
from drgaudit.services import apikeys
from tests.review_support import bundled_pack, claim, hit, import_claims, screen
from tests.test_web_routes import app_routes
from tests.web_support import Browser, make_accounts, web_app

TOO_LARGE = (str(MAX_STORED_INT + 1), str(2**63), "9" * 23)
ROLES = {"sec": "secretary", "aud": "auditor", "hos": "hospital:H001", "exp": "expert"}


def test_row_number_names_only_an_id_a_row_can_have() -> None:
    assert row_number("12") == 12
    assert row_number(" 12 ") == 12
    assert row_number(str(MAX_STORED_INT)) == MAX_STORED_INT
    for text in (*TOO_LARGE, "²", "١٢", "-1", "+1", "1.0", "", "12a"):
        assert row_number(text) is None, text  # "²" and "١٢" are digits to str.isdigit


def test_lookups_and_paging_stay_in_the_stored_range(session: Session) -> None:
    assert get_by_id(session, ImportBatch, MAX_STORED_INT) is None  # a query: no such row
    assert get_by_id(session, ImportBatch, MAX_STORED_INT + 1) is None  # no query
    assert get_by_id(session, ImportBatch, -(MAX_STORED_INT + 2)) is None
    assert bindable(10**30) == MAX_STORED_INT
    assert bindable(7) == 7


@pytest.fixture
def casebook(db_url: str, session: Session, tmp_path: Path, fast_passwords: None) -> str:
    """Claims with two review cases, hospital findings, an open meeting 1 with case 1 on its agenda (so
    that a path's other ids name real rows), and an account of each role."""
    batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 6)])
    hits = [hit("C000001", "LOS-001", severity="high"), hit("C000002", "COST-001", action="deduct")]
    screen(session, batch, hits, bundled_pack())
    data = ReviewMeetingCreate(region="510100", held_on=date(2026, 12, 1), title="特例单议会议", capacity=5)
    meeting_id = meetings.create_meeting(session=session, meeting=data, actor="秘书").id
    meetings.schedule_cases(
        session=session,
        meeting_id=meeting_id,
        pack=bundled_pack(),
        actor="秘书",
        refs=[1],
        quota_override="测试",
    )
    make_accounts(session, *ROLES.items())
    return db_url


# Signing out, in or changing one's password would end the walk's session.
SESSION_ROUTES = ("/logout", "/login", "/password")


def _fills(path: str, number: str) -> list[str]:
    """The path with every id 1 (rows of the fixture), and with each id in turn `number`, the others 1."""
    path = re.sub(r"\{kind\}", "minutes", re.sub(r"\{fmt\}", "pdf", path))
    ids = re.findall(r"\{\w*_id\}", path)
    filled = [path.replace(name, number, 1) for name in ids] + [path]
    return [re.sub(r"\{\w+\}", "x", re.sub(r"\{\w*_id\}", "1", each)) for each in filled]


def test_every_page_and_form_of_the_service_refuses_them(casebook: str) -> None:
    app = web_app(casebook, api=True)
    routes = [(method, path) for method, path in app_routes(app) if path not in SESSION_ROUTES]
    assert sum("_id}" in path for _, path in routes) >= 20  # the walk sees the routes with ids
    crashed, answered = [], 0
    for who in ("admin", *ROLES):
        browser = Browser(app)
        browser.client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
        assert browser.login(who).status_code == 303, who
        for number in TOO_LARGE:
            query = "?" + "&".join(
                f"{name}={number}" for name in ("page", "item", "offset", "limit", "batch")
            )
            form = {
                "csrf_token": browser.token or "", "version": number, "expected_version": number, "capacity": number,
                "cases": [number, "²"], "case_id": number, "meeting_id": number,
            }  # fmt: skip
            for method, path in routes:
                for url in (each + query for each in _fills(path, number)):
                    if method == "GET":
                        response = browser.client.get(url)
                    else:
                        response = browser.client.post(url, data=form)
                    answered += 1
                    if response.status_code >= 500:
                        crashed.append((who, method, url.split("?")[0], response.status_code))
    assert answered > 500
    assert crashed == []


def test_the_api_refuses_them_with_its_error_codes(casebook: str) -> None:
    engine = make_engine(casebook)
    with Session(engine) as session:
        admin = account_service.cli_principal(session=session, user="admin")
        key = apikeys.add_key(session=session, principal=admin, username="aud", name="test").text
    engine.dispose()
    client = TestClient(web_app(casebook, api=True), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {key}"}
    for number in TOO_LARGE:
        answer = client.get(f"/api/v1/cases/{number}", headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_request")
        answer = client.get(f"/api/v1/cases?offset={number}", headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_request")
    answer = client.get(f"/api/v1/cases?offset={MAX_STORED_INT}", headers=headers)
    assert answer.status_code == 200
    assert (answer.json()["cases"], answer.json()["offset"]) == ([], MAX_STORED_INT)


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "show", "N"],
        ["queue", "assign", "N", "--to", "李四"],
        ["queue", "decide", "N", "--kind", "standard", "--reason", "x"],
        ["queue", "list", "--limit", "N"],
        ["findings", "list", "--limit", "N"],
        ["findings", "rereview", "N", "--outcome", "upheld", "--reason", "x"],
        ["findings", "escalate", "N", "--reason", "x"],
        ["meeting", "show", "N"],
        ["meeting", "add", "N", "--fill"],
        ["meeting", "close", "N"],
        ["meeting", "create", "--region", "510100", "--date", "2025-04-01", "--capacity", "N"],
        ["assist", "respond", "N", "--answer", "x", "--result", "confirmed"],
        ["screen", "--batch", "N", "--output", "-"],
        ["casebook", "verify", "--tail", "N"],
        ["report", "summary", "--batch", "N", "--out", "OUT"],
        ["report", "packet", "--meeting", "N", "--out", "OUT"],
    ],
    ids=lambda args: " ".join(a for a in args[:2]),
)
def test_the_cli_refuses_them_with_a_message(casebook: str, tmp_path: Path, args: list[str]) -> None:
    for number in TOO_LARGE:
        filled = [number if a == "N" else str(tmp_path / "out.html") if a == "OUT" else a for a in args]
        result = CliRunner().invoke(cli, [*filled, "--db", casebook], env={"DRGAUDIT_USER": "sec"})
        assert "unexpected" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        if args[:2] in (["queue", "list"], ["findings", "list"], ["casebook", "verify"]):
            assert result.exit_code == 0, result.output  # more than there are: all of them
        else:
            assert result.exit_code in (1, 2), result.output
