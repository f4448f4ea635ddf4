"""The pre-settlement API (/api/v1): keys, roles and regions, every error code, size and rate limits,
request ids, idempotent storing, cases and decisions with the version guard, OpenAPI and docs.

Every test runs on SQLite and, when configured, PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.api.app import create_app
from drgaudit.casebook import apikeys as apikey_data
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.meetings import create_meeting, schedule_cases
from drgaudit.casebook.models import TABLES, ImportBatch
from drgaudit.casebook.review_models import ReviewCase, ReviewMeetingCreate
from drgaudit.casebook.screening import ScreenHit, ScreenRun
from drgaudit.cli.root import app as cli
from drgaudit.demo.generator import generate
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.services import accounts as account_service
from drgaudit.services import apikeys
from drgaudit.services.packs import PromoteRequest, promote_pack, register_pack
from drgaudit.web.settings import WebSettings
from tests.web_support import CSRF_RE, PASSWORD, SECRET, make_accounts

ROLES = {
    "settle": "integration:510100",
    "settle7": "integration:510700",
    "auditor": "auditor",
    "secretary": "secretary",
    "hospital": "hospital:H51010000001",
}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("province")
    generate(root, claims=1000, seed=11)
    return root


@pytest.fixture(scope="module")
def rows(province: Path) -> list[dict[str, str]]:
    with open(province / "claims.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def planted(province: Path, rows: list[dict[str, str]], rule: str, region: str = "510100") -> dict[str, str]:
    """The claim of a planted case of a rule treated in a region."""
    with open(province / "truth.csv", encoding="utf-8", newline="") as f:
        ids = {t["claim_id"] for t in csv.DictReader(f) if t["kind"] == "planted" and t["rule_id"] == rule}
    return next(r for r in rows if r["claim_id"] in ids and r["treatment_region"] == region)


class Api:
    """A TestClient on the service with one API key per account of ROLES."""

    def __init__(self, client: TestClient, keys: dict[str, str], url: str) -> None:
        self.client = client
        self.keys = keys
        self.url = url

    def __call__(self, method: str, path: str, who: str | None = "settle", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys[who]}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def screen(self, claim: Any, who: str = "settle", store: bool = False, **kwargs: Any) -> Any:
        body = {"claims": claim} if isinstance(claim, list) else {"claim": claim}
        return self("POST", f"/api/v1/screen?store={'true' if store else 'false'}", who, json=body, **kwargs)

    def counts(self) -> dict[str, int]:
        """Rows of every table a screen could write."""
        engine = make_engine(self.url)
        try:
            with Session(engine) as session:
                tables = [*TABLES.values(), ImportBatch.__table__, ScreenRun.__table__, ScreenHit.__table__,
                          ReviewCase.__table__, AuditEntry.__table__]  # fmt: skip
                return {
                    t.name: session.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
                }
        finally:
            engine.dispose()


def _api(db_url: str, province: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Api:
    for name, value in env.items():
        monkeypatch.setenv(f"DRGAUDIT_API_{name.upper()}", value)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            import_file(province / "hospitals.csv", kind="hospitals", session=session)
            import_file(province / "groups.csv", kind="groups", session=session, version="demo")
            make_accounts(session, *ROLES.items())
            admin = account_service.cli_principal(session=session, user="admin")
            keys = {
                name: apikeys.add_key(session=session, principal=admin, username=name, name="test").text
                for name in ROLES
            }
    finally:
        engine.dispose()
    return Api(TestClient(create_app(WebSettings(database_url=db_url, secret_key=SECRET))), keys, db_url)


@pytest.fixture
def api(db_url: str, province: Path, monkeypatch: pytest.MonkeyPatch, fast_passwords: None) -> Api:
    return _api(db_url, province, monkeypatch, max_body_kb="64", max_claims="5", check_seconds="0")


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and not body["error"]["message"].isascii()  # Chinese for people
    assert body["request_id"] == response.headers["x-request-id"]
    return body["error"]


# -- screening -----------------------------------------------------------------------------------------


def test_a_claim_is_screened_with_verdict_hits_version_and_request_id(
    api: Api, province: Path, rows: list
) -> None:
    claim = planted(province, rows, "LOS-001")
    response = api.screen(claim, headers={"X-Request-ID": "settle-20250601-0001"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"] == "settle-20250601-0001"
    assert response.headers["server-timing"].startswith("app;dur=")
    (answer,) = body["claims"]
    assert answer["claim_id"] == claim["claim_id"] and answer["verdict"] == "special_review"
    hit = next(h for h in answer["hits"] if h["rule_id"] == "LOS-001")
    assert set(hit) == {"claim_id", "rule_id", "family", "severity", "action", "amount_at_risk", "message",
                        "evidence", "rule_version", "code_set"}  # fmt: skip
    assert hit["code_set"].startswith("CHS-DRG 1.1 (bundled) (")  # the tables screen --batch uses too
    assert answer["rules_version"] == load_pack(bundled_rules_dir()).version == body["rules_versions"][0]
    assert body["stored"] is None and answer["review_case"] is None
    # A background claim (no planted case, no look-alike) passes; a bad caller id is replaced.
    with open(province / "truth.csv", encoding="utf-8", newline="") as f:
        listed = {t["claim_id"] for t in csv.DictReader(f)}
    clean = next(r for r in rows if r["treatment_region"] == "510100" and r["claim_id"] not in listed)
    response = api.screen(clean, headers={"X-Request-ID": "bad id with spaces"})
    assert response.json()["claims"][0]["verdict"] in ("pass", "note")
    assert len(response.headers["x-request-id"]) == 32


def test_store_is_idempotent_and_logged_with_account_role_and_channel(
    api: Api, province: Path, rows: list
) -> None:
    claim = planted(province, rows, "OUT-HIGH-001")
    first = api.screen(claim, store=True)
    assert first.status_code == 200, first.text
    stored = first.json()["stored"]
    assert stored["already_stored"] is False and stored["claims"] == {"new": 1, "unchanged": 0, "revised": 0}
    case = first.json()["claims"][0]["review_case"]
    assert case and case["status"] == "new"
    before = api.counts()
    again = api.screen(claim, store=True)
    assert again.json()["stored"]["already_stored"] is True
    assert again.json()["claims"][0]["hits"] == first.json()["claims"][0]["hits"]
    assert api.counts() == before  # the same request twice changes nothing
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            entries = (
                session.exec(select(AuditEntry).where(AuditEntry.entity == "review_case")).scalars().all()
            )
            assert [(e.actor, e.role, e.channel) for e in entries] == [
                ("settle", "integration:510100", "api")
            ]
            batch = session.get(ImportBatch, stored["batch_ids"][0])
            assert batch.file_name.startswith("api:") and batch.imported_by == "settle"
    finally:
        engine.dispose()


def test_a_claim_of_another_region_is_forbidden_and_nothing_is_stored(
    api: Api, province: Path, rows: list
) -> None:
    mine = planted(province, rows, "LOS-001")
    other = next(r for r in rows if r["treatment_region"] == "510700")
    before = api.counts()
    error = _error(api.screen([mine, other], store=True), 403, "region_forbidden")
    assert "510700" in error["message"] and "510100" in error["message"]
    assert "第 2 份" in error["message"]  # claims[1]: people count from 1 ("第 1 份" read as the first)
    assert _error(api.screen(mine, who="hospital"), 403, "forbidden")["detail"].endswith("claim.screen")
    assert api.screen(other, who="settle7").status_code == 200
    assert api.screen(other, who="auditor").status_code == 200  # an unscoped auditor may screen any region
    assert api.counts() == before


def test_a_claim_stored_by_another_region_cannot_be_taken_over(api: Api, rows: list) -> None:
    """510100's account stored a claim id 510700 had stored, relabelled as treated in 510100: the claim
    was revised (cost ×4) and moved to 510100, and 510700's own account no longer found it."""
    other = next(r for r in rows if r["treatment_region"] == "510700")
    assert api.screen(other, who="settle7", store=True).status_code == 200
    before = api.counts()
    taken = dict(other, treatment_region="510100", total_cost=str(float(other["total_cost"]) * 4))
    mine = next(r for r in rows if r["treatment_region"] == "510100")
    error = _error(api.screen([mine, taken], store=True), 403, "claim_of_other_scope")
    assert "第 2 份" in error["message"] and other["claim_id"] in error["message"]
    assert error["detail"].startswith(f"claims[1].claim_id: {other['claim_id']} is stored as a claim outside")
    assert api.counts() == before
    explained = api("GET", f"/api/v1/claims/{other['claim_id']}/explain", "settle7")
    assert explained.status_code == 200 and explained.json()["treatment_region"] == "510700"
    # Screening it without storing changes nothing and is answered; an unscoped auditor may store it.
    assert api.screen(taken).status_code == 200
    assert api.screen(taken, who="auditor", store=True).status_code == 200


def test_a_takeover_is_refused_also_when_the_other_region_stored_it_meanwhile(
    api: Api, rows: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scope of a stored claim id was checked before screening only: a claim 510700 stored while
    510100's request was being screened (the check saw no such claim) was revised by it all the same.
    The store checks again under its locks. Here the first check is made to see nothing."""
    from drgaudit.casebook import queries

    other = next(r for r in rows if r["treatment_region"] == "510700")
    assert api.screen(other, who="settle7", store=True).status_code == 200
    before = api.counts()
    monkeypatch.setattr(queries, "places_of_claims", lambda **_: {})  # as before 510700's store committed
    taken = dict(other, treatment_region="510100", total_cost=str(float(other["total_cost"]) * 4))
    _error(api.screen(taken, store=True), 403, "claim_of_other_scope")
    assert api.counts() == before


def test_bad_input_gets_its_code_and_leaves_nothing_stored(api: Api, province: Path, rows: list) -> None:
    claim = planted(province, rows, "LOS-001")
    before = api.counts()
    # Bad JSON, a body that is not JSON, the wrong media type.
    _error(api("POST", "/api/v1/screen?store=true", content=b'{"claim": ', headers={"content-type": "application/json"}),
           422, "invalid_json")  # fmt: skip
    _error(api("POST", "/api/v1/screen?store=true", content="\xff".encode("latin-1"),
               headers={"content-type": "application/json"}), 422, "invalid_json")  # fmt: skip
    _error(api("POST", "/api/v1/screen?store=true", content=b"claim_id=1", headers={"content-type": "text/plain"}),
           415, "unsupported_media_type")  # fmt: skip
    # Wrong types and unknown fields, each named.
    bad = dict(claim, age="sixty", total_cost={"amount": 5}, colour="red")
    error = _error(api.screen([claim, bad], store=True), 422, "invalid_claims")
    assert error["problems"] == [
        "claims[1].age: 'sixty' is not a whole number",
        "claims[1].colour: unknown field",
        "claims[1].total_cost: {'amount': 5} is not a number",
    ]
    assert "共 3 处" in error["message"]
    _error(api("POST", "/api/v1/screen", json={"claims": [claim], "extra": 1}), 422, "invalid_claims")
    # A bad query parameter.
    _error(api("POST", "/api/v1/screen?store=maybe", json={"claim": claim}), 422, "invalid_request")
    _error(api("GET", "/api/v1/cases?limit=0"), 422, "invalid_request")
    # Too many claims, too large a body (declared, and streamed without a length).
    _error(api.screen([dict(claim, claim_id=f"X{n}") for n in range(6)], store=True), 413, "too_many_claims")
    huge = json.dumps({"claim": dict(claim, dept_code="x" * 70_000)}).encode()
    error = _error(api("POST", "/api/v1/screen?store=true", content=huge, headers={"content-type": "application/json"}),
                   413, "body_too_large")  # fmt: skip
    assert "65536" in error["message"]

    def chunks():
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    _error(api("POST", "/api/v1/screen?store=true", content=chunks(), headers={"content-type": "application/json"}),
           413, "body_too_large")  # fmt: skip
    assert api.counts() == before


def test_a_field_named_twice_is_refused_never_one_value_kept(api: Api, province: Path, rows: list) -> None:
    """JSON parsers keep the last of two values silently: a claim with total_cost twice was screened (and
    stored) with whichever came last; a decision with kind twice recorded the last kind."""
    claim = planted(province, rows, "LOS-001")
    before = api.counts()
    text = json.dumps({"claims": [claim, dict(claim, claim_id="X2")]})
    twice = text[: -len("}]}")] + ', "total_cost": "999999"}]}'
    response = api(
        "POST",
        "/api/v1/screen?store=true",
        content=twice.encode(),
        headers={"content-type": "application/json"},
    )
    error = _error(response, 422, "invalid_json")
    assert error["problems"] == ["claims[1].total_cost: given more than once in one object; send it once"]
    top = b'{"claim": %s, "claim": %s}' % (
        json.dumps(claim).encode(),
        json.dumps(dict(claim, age="1")).encode(),
    )
    error = _error(api("POST", "/api/v1/screen", content=top, headers={"content-type": "application/json"}),
                   422, "invalid_json")  # fmt: skip
    assert error["problems"] == ["claim: given more than once in one object; send it once"]
    decision = b'{"kind": "deduct", "kind": "refer", "reason": "x", "amount": 1, "expected_version": 1}'
    error = _error(api("POST", "/api/v1/cases/1/decisions", "secretary", content=decision,
                       headers={"content-type": "application/json"}), 422, "invalid_json")  # fmt: skip
    assert error["problems"] == ["kind: given more than once in one object; send it once"]
    assert api.counts() == before
    # The same names in different objects are no problem.
    assert api.screen([claim, dict(claim, claim_id="X2")]).status_code == 200


def test_an_unknown_or_repeated_query_parameter_is_refused(api: Api, province: Path, rows: list) -> None:
    """A query parameter was ignored: a misspelt `?stroe=true` answered 200 and stored nothing, and
    `/cases?hospital=` (for hospital_id) listed every hospital's cases as if filtered."""
    claim = planted(province, rows, "LOS-001")
    before = api.counts()
    error = _error(api("POST", "/api/v1/screen?stroe=true", json={"claim": claim}), 422, "invalid_request")
    assert error["problems"] == ["query.stroe: unknown parameter; this address takes store"]
    error = _error(
        api("POST", "/api/v1/screen?store=true&store=false", json={"claim": claim}), 422, "invalid_request"
    )
    assert error["problems"] == ["query.store: given 2 times; give it once"]
    assert api.counts() == before
    error = _error(api("GET", "/api/v1/cases?hospital=H51010000001"), 422, "invalid_request")
    assert error["problems"] == [
        "query.hospital: unknown parameter; this address takes claim_id, hospital_id, limit, offset, period, "
        "region, status"
    ]
    _error(api("GET", "/api/v1/cases/1?verbose=1"), 422, "invalid_request")
    _error(api("GET", "/api/v1/rule-packs/active?region=510100&region=510700"), 422, "invalid_request")
    # A parameter that takes several values may come several times.
    assert api("GET", "/api/v1/cases?status=new&status=decided").status_code == 200


def test_a_region_with_no_active_pack(
    api: Api, province: Path, rows: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            version = register_pack(session=session, directory=None, actor="auditor").version.version
            promote_pack(session=session, request=PromoteRequest(version, "510700", dt.date.today()),
                         actor="auditor")  # fmt: skip
    finally:
        engine.dispose()
    before = api.counts()
    error = _error(api.screen(planted(province, rows, "LOS-001"), store=True), 422, "no_active_pack")
    assert "510100" in error["message"]
    assert api.counts() == before
    other = next(r for r in rows if r["treatment_region"] == "510700")
    assert api.screen(other, who="settle7").json()["claims"][0]["rules_version"] == version
    packs = api("GET", "/api/v1/rule-packs/active", "auditor").json()
    assert {p["region"]: p["source"] for p in packs["packs"]}["510700"] == "casebook"
    assert "510100" in packs["regions_without_pack"]


# -- keys ------------------------------------------------------------------------------------------------


def test_missing_wrong_revoked_and_disabled_keys_are_401(api: Api, province: Path, rows: list) -> None:
    claim = planted(province, rows, "LOS-001")
    before = api.counts()
    _error(api.screen(claim, who=None, store=True), 401, "unauthenticated")
    _error(api("POST", "/api/v1/screen", None, json={"claim": claim}, headers={"Authorization": "Basic abc"}),
           401, "unauthenticated")  # fmt: skip
    wrong = api.keys["settle"][:-4] + "AAAA"
    _error(
        api("GET", "/api/v1/cases", None, headers={"Authorization": f"Bearer {wrong}"}),
        401,
        "invalid_api_key",
    )
    _error(
        api("GET", "/api/v1/cases", None, headers={"Authorization": "Bearer nonsense"}),
        401,
        "invalid_api_key",
    )
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            admin = account_service.cli_principal(session=session, user="admin")
            apikeys.revoke_key(
                session=session, principal=admin, prefix=apikey_data.prefix_of(api.keys["settle"])
            )
            account_service.disable_user(session=session, principal=admin, username="settle7")
    finally:
        engine.dispose()
    assert api.counts()["audit_log"] == before["audit_log"] + 2  # the revocation and the disabling
    before = api.counts()
    _error(api.screen(claim, store=True), 401, "api_key_revoked")
    _error(api("GET", "/api/v1/cases", "settle7"), 401, "account_disabled")
    assert api.counts() == before


def _key_ends(url: str, prefix: str, when: datetime | None) -> None:
    """Set a stored key's end (None: a key made before keys expired)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            key = (
                session.exec(select(apikey_data.ApiKey).where(apikey_data.ApiKey.prefix == prefix))
                .scalars()
                .one()
            )
            assert key.expires_at is not None or when is not None  # made by add_key: a year
            key.expires_at = when
            session.add(key)
            session.commit()
    finally:
        engine.dispose()


def test_an_expired_key_is_401_and_keys_made_before_expiry_existed_keep_working(
    api: Api, province: Path, rows: list
) -> None:
    """A key works until its expires_at: at and after it, 401 api_key_expired and nothing done; a key
    with none (made before keys expired) works."""
    claim = planted(province, rows, "LOS-001")
    prefix = apikey_data.prefix_of(api.keys["settle"])
    _key_ends(api.url, prefix, None)
    assert api("GET", "/api/v1/rule-packs/active").status_code == 200
    _key_ends(api.url, prefix, datetime.now(UTC) - timedelta(seconds=1))
    before = api.counts()
    _error(api.screen(claim, store=True), 401, "api_key_expired")
    assert api.counts() == before


def test_cli_keys_work_for_the_days_asked_and_say_when_they_end(
    db_url: str, session: Session, fast_passwords: None
) -> None:
    runner = CliRunner()
    make_accounts(session)
    base = ["--user", "admin", "--db", db_url]
    assert (
        runner.invoke(
            cli, ["users", "add", "settle", "--role", "integration:510100", "--api-only", *base]
        ).exit_code
        == 0
    )
    made = runner.invoke(cli, ["users", "add-key", "settle", "--days", "10", *base])
    assert made.exit_code == 0 and "works until" in made.output, made.output
    year = runner.invoke(cli, ["users", "add-key", "settle", *base])
    assert year.exit_code == 0
    for days in ("0", "1096"):
        refused = runner.invoke(cli, ["users", "add-key", "settle", "--days", days, *base])
        assert refused.exit_code == 2 and "--days" in refused.output, refused.output
    listing = runner.invoke(cli, ["users", "keys", "--format", "json", *base])
    # Moments carry their zone on either database (SQLite gives them back without it).
    assert all(
        k[key].endswith("+00:00") for k in json.loads(listing.stdout) for key in ("created_at", "expires_at")
    ), listing.stdout
    ends = [
        datetime.fromisoformat(k["expires_at"]) - datetime.fromisoformat(k["created_at"])
        for k in json.loads(listing.stdout)
    ]
    assert [e.days for e in ends] == [10, 365]
    # The key that ends within 30 days is named on stderr, with what to do.
    # The moment, and the days it is within: "in 9 day(s)" of a key just made for 10 misled.
    assert "stops working on " in listing.stderr and "UTC, in less than 10 day(s)" in listing.stderr
    assert "add-key settle" in listing.stderr
    assert "works until" in runner.invoke(cli, ["users", "keys", *base]).stdout


def test_cli_makes_lists_and_revokes_keys_and_keeps_only_a_hash(db_url: str, fast_passwords: None) -> None:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, [*args, "--db", db_url])
        assert result.exit_code == code, result.output
        return result.output

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            make_accounts(session)
    finally:
        engine.dispose()
    run("users", "add", "settle", "--role", "integration:510100", "--api-only", "--user", "admin")
    assert "must be bound" in run(
        "users", "add", "x", "--role", "integration", "--api-only", "--user", "admin", code=1
    )
    output = run("users", "add-key", "settle", "--name", "医保结算系统", "--user", "admin")
    key = output.strip().splitlines()[-1]
    assert key.startswith("dga_") and len(key) == 60
    prefix = apikey_data.prefix_of(key)
    listing = json.loads(run("users", "keys", "--format", "json", "--user", "admin"))
    assert [(k["prefix"], k["account"], k["name"], k["revoked_at"]) for k in listing] == [
        (prefix, "settle", "医保结算系统", None)
    ]
    assert key not in json.dumps(listing)
    run("users", "add-key", "settle", "--user", "settle", code=1)  # only administrators
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            (stored,) = session.exec(select(apikey_data.ApiKey)).scalars().all()
            assert stored.key_hash != key and key not in stored.key_hash and len(stored.key_hash) == 64
            entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "api_key")).scalars().all()
            assert [e.action for e in entries] == ["created"] and key not in (entries[0].after or "")
    finally:
        engine.dispose()
    assert f"API key {prefix} revoked" in run("users", "revoke-key", prefix, "--user", "admin")
    assert "already revoked" in run("users", "revoke-key", key, "--user", "admin", code=1)
    assert (
        json.loads(run("users", "keys", "settle", "--format", "json", "--user", "admin"))[0]["revoked_by"]
        == "admin"
    )


def test_rate_limit_per_key(
    db_url: str, province: Path, monkeypatch: pytest.MonkeyPatch, fast_passwords: None
) -> None:
    api = _api(db_url, province, monkeypatch, rate_per_minute="1", rate_burst="3")
    for _ in range(3):
        assert api("GET", "/api/v1/rule-packs/active").status_code == 200
    response = api("GET", "/api/v1/rule-packs/active")
    _error(response, 429, "rate_limited")
    assert 50 <= int(response.headers["retry-after"]) <= 60  # one request a minute
    assert (
        api("GET", "/api/v1/rule-packs/active", "auditor").status_code == 200
    )  # another key, its own bucket


# -- reading: explain, cases, packs; deciding with the version guard -------------------------------------


def test_explain_cases_and_decisions_with_the_version_guard(api: Api, province: Path, rows: list) -> None:
    claim = planted(province, rows, "LOS-001")
    stored = api.screen(claim, store=True).json()["claims"][0]
    case_id = stored["review_case"]["id"]
    explained = api("GET", f"/api/v1/claims/{claim['claim_id']}/explain")
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["verdict"] == "special_review"
    los = next(r for r in body["rules"] if r["rule_id"] == "LOS-001")
    assert los["fired"] and los["conditions"] and los["hit"]["rule_id"] == "LOS-001"
    assert {"name": "treatment_region", "label": "就医地", "value": "510100"} in body["facts"]
    _error(api("GET", "/api/v1/claims/NO-SUCH/explain"), 404, "not_found")
    # Another region's integration account sees neither the claim nor its case: the same 404 as none.
    _error(api("GET", f"/api/v1/claims/{claim['claim_id']}/explain", "settle7"), 404, "not_found")
    _error(api("GET", f"/api/v1/cases/{case_id}", "settle7"), 404, "not_found")
    _error(api("GET", "/api/v1/cases/999999"), 404, "not_found")
    _error(api("GET", "/api/v1/no-such-thing"), 404, "not_found")
    _error(api("DELETE", "/api/v1/screen"), 405, "method_not_allowed")
    listing = api("GET", "/api/v1/cases?limit=10").json()
    assert listing["total"] == 1 and [c["id"] for c in listing["cases"]] == [case_id]
    assert api("GET", "/api/v1/cases", "settle7").json()["total"] == 0
    assert (
        api("GET", f"/api/v1/cases?claim_id={claim['claim_id']}&status=new", "auditor").json()["total"] == 1
    )
    detail = api("GET", f"/api/v1/cases/{case_id}").json()
    assert detail["case"]["version"] == 1 and detail["hits"][0]["rule_id"] and detail["decisions"] == []
    # Put the case on a meeting's agenda (the secretary's work), then decide through the API.
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            meeting = create_meeting(
                session=session, meeting=ReviewMeetingCreate(region="510100", held_on=dt.date.today(), title="评议会", capacity=5),
                actor="secretary",
            )  # fmt: skip
            schedule_cases(session=session, meeting_id=meeting.id, pack=load_pack(bundled_rules_dir()),
                           actor="secretary", refs=[case_id], quota_override="测试：本院本月病例少")  # fmt: skip
    finally:
        engine.dispose()
    version = api("GET", f"/api/v1/cases/{case_id}", "secretary").json()["case"]["version"]
    decision = {
        "kind": "deduct",
        "amount": 100.0,
        "reason": "超长住院未说明理由",
        "expected_version": version,
    }
    _error(api("POST", f"/api/v1/cases/{case_id}/decisions", "settle", json=decision), 403, "forbidden")
    stale = dict(decision, expected_version=version - 1)
    error = _error(
        api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary", json=stale), 409, "conflict"
    )
    assert "changed since you read it" in error["detail"]
    _error(api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary", json=dict(decision, colour=1)),
           422, "invalid_request")  # fmt: skip
    made = api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary", json=decision)
    assert made.status_code == 201, made.text
    assert made.json()["case"]["status"] == "decided" and made.json()["decision"]["decided_by"] == "secretary"
    _error(api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary", json=decision), 409, "conflict")
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            last = session.exec(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
            assert (last.actor, last.role, last.channel, last.action) == (
                "secretary",
                "secretary",
                "api",
                "decided",
            )
    finally:
        engine.dispose()


def _scheduled_case(api: Api, claim: dict[str, str]) -> tuple[int, int]:
    """The case of a stored claim, put on an open meeting's agenda: (case id, its version)."""
    case_id = api.screen(claim, store=True).json()["claims"][0]["review_case"]["id"]
    engine = make_engine(api.url)
    try:
        with Session(engine) as session:
            meeting = create_meeting(
                session=session, meeting=ReviewMeetingCreate(region="510100", held_on=dt.date.today(), title="评议会", capacity=5),
                actor="secretary",
            )  # fmt: skip
            schedule_cases(session=session, meeting_id=meeting.id, pack=load_pack(bundled_rules_dir()),
                           actor="secretary", refs=[case_id], quota_override="测试：本院本月病例少")  # fmt: skip
    finally:
        engine.dispose()
    return case_id, api("GET", f"/api/v1/cases/{case_id}", "secretary").json()["case"]["version"]


def test_a_merged_claim_or_items_with_another_kind_are_refused(api: Api, province: Path, rows: list) -> None:
    """merged_with given with a deduction, or items with a standard payment, were dropped silently: the
    decision was recorded without them while the secretary believed them recorded."""
    case_id, version = _scheduled_case(api, planted(province, rows, "LOS-001"))
    before = api.counts()
    path = f"/api/v1/cases/{case_id}/decisions"
    deduct = {"kind": "deduct", "amount": 100, "reason": "重复收费", "expected_version": version}
    error = _error(api("POST", path, "secretary", json=dict(deduct, merged_with="JS1")), 422, "refused")
    assert error["detail"] == "--merge-with applies only to merging; leave it out for other decisions"
    standard = {"kind": "standard", "reason": "按病组付费", "expected_version": version,
                "items": [{"item": "ECMO", "amount": 10}]}  # fmt: skip
    error = _error(api("POST", path, "secretary", json=standard), 422, "refused")
    assert error["detail"].startswith("--item applies only to approving a special payment")
    assert api.counts() == before
    assert api("POST", path, "secretary", json=deduct).status_code == 201


def test_a_decision_body_is_checked_as_a_screening_body_is(api: Api, province: Path, rows: list) -> None:
    """A decision sent as text/plain, as bad JSON or with NaN was answered invalid_request ('body: Input
    should be a valid dictionary', 'body.9: JSON decode error'): not the 415 / invalid_json the README
    lists, nor a word about what to change. It gets the codes /screen gives now."""
    case_id, version = _scheduled_case(api, planted(province, rows, "LOS-001"))
    path = f"/api/v1/cases/{case_id}/decisions"
    decision = json.dumps(
        {"kind": "deduct", "amount": 100, "reason": "重复收费", "expected_version": version}
    )
    before = api.counts()
    _error(api("POST", path, "secretary", content=decision.encode(), headers={"content-type": "text/plain"}),
           415, "unsupported_media_type")  # fmt: skip
    _error(api("POST", path, "secretary", content=decision.encode()[:-1], headers={"content-type": "application/json"}),
           422, "invalid_json")  # fmt: skip
    nan = decision.replace('"amount": 100', '"amount": NaN').encode()
    _error(
        api("POST", path, "secretary", content=nan, headers={"content-type": "application/json"}),
        422,
        "invalid_json",
    )
    assert api.counts() == before
    made = api(
        "POST",
        path,
        "secretary",
        content=decision.encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert made.status_code == 201, made.text


def test_a_nul_character_is_refused_never_a_server_error(api: Api, province: Path, rows: list) -> None:
    """A NUL (U+0000) in an address, a query parameter or a decision was a 500 on PostgreSQL (which can
    neither store nor compare such text) and, on SQLite, a decision stored with a character nobody sees."""
    for path, where in [
        ("/api/v1/claims/A%00B/explain", "path.claim_id"),
        ("/api/v1/cases?hospital_id=H%00", "query.hospital_id"),
        ("/api/v1/cases?claim_id=%00", "query.claim_id"),
    ]:
        error = _error(api("GET", path), 422, "invalid_request")
        assert error["problems"] == [f"{where}: holds a NUL character (U+0000); remove it"]
    case_id, version = _scheduled_case(api, planted(province, rows, "LOS-001"))
    before = api.counts()
    for body, where in [
        ({"kind": "refer", "reason": "核实\x00", "expected_version": version}, "body.reason"),
        ({"kind": "merge", "merged_with": "JS1\x00", "reason": "x", "expected_version": version}, "body.merged_with"),
        ({"kind": "special", "items": [{"item": "ECMO\x00", "amount": 5}], "reason": "x", "expected_version": version},
         "body.items[0].item"),
    ]:  # fmt: skip
        error = _error(
            api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary", json=body), 422, "invalid_request"
        )
        assert error["problems"] == [f"{where}: holds a NUL character (U+0000); remove it"]
    assert api.counts() == before
    # The text of a backslash and u0000 is no NUL.
    made = api("POST", f"/api/v1/cases/{case_id}/decisions", "secretary",
               json={"kind": "refer", "reason": "见附件 \\u0000", "expected_version": version})  # fmt: skip
    assert made.status_code == 201, made.text


def test_a_claim_id_with_a_slash_is_explained(api: Api, province: Path, rows: list) -> None:
    """The data contract's ids may hold "/" (JS/2025/001): such a claim was screened and stored, but
    /claims/{id}/explain answered 404 not_found for it, encoded (%2F) or not."""
    claim = dict(planted(province, rows, "LOS-001"), claim_id="JS/2025/001")
    assert api.screen(claim, store=True).status_code == 200
    for path in ("/api/v1/claims/JS%2F2025%2F001/explain", "/api/v1/claims/JS/2025/001/explain"):
        response = api("GET", path)
        assert response.status_code == 200, response.text
        assert response.json()["claim_id"] == "JS/2025/001" and response.json()["verdict"] == "special_review"
    _error(api("GET", "/api/v1/claims/JS/2025/001/explain", "settle7"), 404, "not_found")
    _error(api("GET", "/api/v1/claims/JS/2025/002/explain"), 404, "not_found")


def test_cases_by_year_quarter_or_month(api: Api, province: Path, rows: list) -> None:
    """GET /cases?period= took YYYY-MM only, while a bad period was answered 'use 2025 (year), 2025Q3
    (quarter) or 2025-07 (month)': following that advice gave a pattern error."""
    claim = planted(province, rows, "LOS-001")
    assert api.screen(claim, store=True).status_code == 200
    year, month = claim["discharge_date"][:4], int(claim["discharge_date"][5:7])
    for period in (year, f"{year}Q{(month - 1) // 3 + 1}", f"{year}-{month:02d}"):
        listing = api("GET", f"/api/v1/cases?period={period}")
        assert listing.status_code == 200 and listing.json()["total"] == 1, (period, listing.text)
    assert api("GET", f"/api/v1/cases?period={int(year) + 1}").json()["total"] == 0
    error = _error(api("GET", "/api/v1/cases?period=2025-13"), 422, "refused")
    assert "2025Q3 (quarter)" in error["detail"]


def test_openapi_and_docs_need_a_caller(api: Api) -> None:
    """Deny by default: the schema and the docs page need an API key or a signed-in account; Swagger UI's
    own script and style files are static files."""
    _error(api("GET", "/api/v1/openapi.json", None), 401, "unauthenticated")
    _error(
        api("GET", "/api/v1/openapi.json", None, headers={"Authorization": "Bearer nope"}),
        401,
        "invalid_api_key",
    )
    page = api("GET", "/api/v1/docs", None, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    for who in ("settle", "secretary"):
        assert api("GET", "/api/v1/openapi.json", who).status_code == 200
        assert api("GET", "/api/v1/docs", who).status_code == 200
    # A signed-in account of the pages reads them too (the docs page in the browser).
    token = CSRF_RE.search(api.client.get("/login").text).group(1)
    signed_in = api.client.post(
        "/login",
        data={"username": "secretary", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert api("GET", "/api/v1/docs", None).status_code == 200
    assert api("GET", "/api/v1/openapi.json", None).status_code == 200


def test_openapi_and_docs_without_a_cdn_or_inline_script(api: Api) -> None:
    schema = api("GET", "/api/v1/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/v1/screen", "/api/v1/claims/{claim_id}/explain", "/api/v1/cases", "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/decisions", "/api/v1/rule-packs/active",
    }  # fmt: skip
    claim = schema["paths"]["/api/v1/screen"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "total_cost" in claim["oneOf"][0]["properties"]["claim"]["properties"]
    assert "422" in schema["paths"]["/api/v1/screen"]["post"]["responses"]
    page = api("GET", "/api/v1/docs")
    assert (
        page.status_code == 200 and "<script>" not in page.text and "http" not in page.text.split("<body>")[1]
    )
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "start.js"):
        assert api("GET", f"/api/v1/docs/{asset}", None).status_code == 200


def test_the_server_log_has_the_request_id_and_the_caller(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="drgaudit.api"):
        response = api("GET", "/api/v1/rule-packs/active", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 200
    line = next(r.getMessage() for r in caplog.records if "trace-42" in r.getMessage())
    assert "status=200" in line and "account=settle" in line and "path=/api/v1/rule-packs/active" in line
    # A path cannot forge log lines: a decoded %0A was written as it is, starting a line of the caller's.
    forged = "x%0A2026-12-07 08:00:00,000 INFO drgaudit.api request_id=f status=200 account=admin"
    with caplog.at_level(logging.INFO, logger="drgaudit.api"):
        api("GET", f"/api/v1/claims/{forged}/explain", None, headers={"X-Request-ID": "trace-43"})
    (line,) = [r.getMessage() for r in caplog.records if "trace-43" in r.getMessage()]
    assert "\n" not in line and "path=/api/v1/claims/x\\n2026-12-07 08:00:00,000 INFO" in line, line
