"""Pre-settlement screening (drgaudit.services.presettlement): checked like an import, screened with the
stored history exactly as `screen --batch` screens, stored idempotently."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import TABLES, Claim, ClaimRevision
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screening import ScreenHit
from drgaudit.demo.generator import generate
from drgaudit.demo.run import run_demo
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.services.packs import PromoteRequest, promote_pack, register_pack
from drgaudit.services.presettlement import (
    ClaimInputError,
    TooManyClaimsError,
    parse_claims,
    screen_request,
    verdict_of,
)
from drgaudit.services.warm import NoActivePackError, WarmEngine
from tests.presettlement_support import batch_hits, example_worlds, load_world, typed_json

DEMO_CLAIMS = 1000


def _hits_json(verdict: Any) -> list[dict[str, Any]]:
    return json.loads(json.dumps([hit.to_dict() for hit in verdict.hits], ensure_ascii=False, default=str))


def _post(session: Session, engine: WarmEngine, claim: dict[str, Any], **options: Any) -> Any:
    records = parse_claims({"claim": claim}, max_claims=1)
    return screen_request(
        session=session, engine=engine, claims=records, actor="test", request_id="t", **options
    )


# -- checking the claims -------------------------------------------------------------------------------


def test_a_claim_is_checked_like_an_import(make_claim: Any) -> None:
    row = make_claim(1)
    (record,) = parse_claims({"claims": [typed_json(row)]}, max_claims=5)
    (same,) = parse_claims({"claim": row}, max_claims=5)
    assert record == same
    assert (
        record["total_cost"] == float(row["total_cost"])
        and record["admit_date"].isoformat() == row["admit_date"]
    )


def test_every_bad_field_is_named_and_nothing_passes(make_claim: Any) -> None:
    good = make_claim(1)
    bad = dict(make_claim(2), age="abc", admit_date="03/01/2025", principal_dx="K2", colour="red")
    bad.pop("gender")
    later = dict(
        make_claim(3), total_cost=[1, 2], discharge_date="2020-01-01", secondary_dx=["I10.x05", "??"]
    )
    with pytest.raises(ClaimInputError) as caught:
        parse_claims({"claims": [good, bad, later, "text", dict(good)]}, max_claims=10)
    assert caught.value.problems == [
        "claims[1].admit_date: '03/01/2025' is not a date: day and month may be either way round; "
        "write YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日",
        "claims[1].age: 'abc' is not a whole number",
        "claims[1].colour: unknown field",
        "claims[1].gender: missing (required)",
        "claims[1].principal_dx: 'K2' is not an ICD-10 code",
        "claims[2].discharge_date: 2020-01-01 is before admit_date 2025-01-04",
        "claims[2].secondary_dx: item 2 '??' is not an ICD-10 code",
        "claims[2].total_cost: [1, 2] is not a number",
        "claims[3]: expected a JSON object with the claim's fields",
        "claims[4].claim_id: duplicate of claims[0]",
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], 'body: expected a JSON object {"claims": [...]} or {"claim": {...}}'),
        ({}, 'body: give either "claims" (a list) or "claim" (one claim)'),
        ({"claims": []}, "claims: the list is empty"),
        ({"claims": {"claim_id": "x"}}, "claims: expected a list of claims"),
        ({"claim": 5}, "claim: expected a JSON object with the claim's fields"),
        ({"claim": {"claim_id": True}}, "claim.age: missing (required)"),
    ],
)
def test_malformed_bodies(body: Any, problem: str) -> None:
    with pytest.raises(ClaimInputError) as caught:
        parse_claims(body, max_claims=3)
    assert problem in caught.value.problems


def test_unknown_body_keys_and_too_many_claims(make_claim: Any) -> None:
    with pytest.raises(ClaimInputError) as caught:
        parse_claims({"claim": make_claim(1), "store": True}, max_claims=3)
    assert caught.value.problems == ["store: unknown field (expected claims or claim)"]
    with pytest.raises(TooManyClaimsError, match="4 claims in one request; at most 3"):
        parse_claims({"claims": [make_claim(n) for n in range(4)]}, max_claims=3)


def test_the_verdict_is_the_strongest_action() -> None:
    class H:
        def __init__(self, action: str) -> None:
            self.action = action

    assert verdict_of([]) == "pass"
    assert verdict_of([H("note"), H("hold")]) == "hold"
    assert verdict_of([H("special_review"), H("deduct"), H("note")]) == "special_review"
    assert verdict_of([H("deduct"), H("hold")]) == "deduct"


# -- the same hits as `screen --batch` -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small generated demo province, imported and screened into a SQLite casebook."""
    root = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{root / 'casebook.sqlite'}"
    result = run_demo(root / "province", claims=DEMO_CLAIMS, seed=11, db_url=url)
    # A copy of the bundled pack whose hospital-indicator peers need only 3 cases and 3 hospitals, so that
    # UPC-004 (the hospital's CC/MCC share against its peers) fires on a province this small too.
    peers = root / "rules-small-peers"
    shutil.copytree(bundled_rules_dir(), peers)
    national = peers / "regions" / "national.yaml"
    text = national.read_text(encoding="utf-8")
    text = text.replace("indicator_peer_min_cases: 30", "indicator_peer_min_cases: 3")
    text = text.replace("indicator_min_peers: 5 ", "indicator_min_peers: 3 ")
    national.write_text(text, encoding="utf-8")
    with open(root / "province" / "claims.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"url": url, "batch": result.claims_batch_id, "rows": rows, "peers": peers}


@pytest.mark.parametrize("pack", ["bundled", "small-peers"])
def test_every_demo_claim_posted_alone_gets_the_hits_of_screen_batch(demo: dict[str, Any], pack: str) -> None:
    rules_dir = demo["peers"] if pack == "small-peers" else None
    engine = make_engine(demo["url"])
    try:
        with Session(engine) as session:
            expected = batch_hits(session, demo["batch"], rules_dir)
            warm = WarmEngine(rules_dir=rules_dir)
            got: dict[str, list[dict[str, Any]]] = {}
            related_unsent = 0
            for n, row in enumerate(demo["rows"]):
                claim = typed_json(row) if n % 2 else row  # JSON types and plain strings alike
                (verdict,) = _post(session, warm, claim).claims
                hits = _hits_json(verdict)
                if hits:
                    got[row["claim_id"]] = hits
                    related_unsent += sum(1 for hit in hits if hit["evidence"]["related_claims"])
                assert verdict.verdict == verdict_of(verdict.hits)
    finally:
        engine.dispose()
    assert got == expected
    assert warm.compiles == 1
    # Pair rules (split stays, overlapping stays) saw earlier claims that only the casebook held.
    assert related_unsent >= 10
    fired = {hit["rule_id"] for hits in got.values() for hit in hits}
    planted = {
        "SPLIT-001",
        "SPLIT-002",
        "SPLIT-003",
        "FREQ-001",
        "FREQ-002",
        "UPC-001",
        "OUT-HIGH-001",
        "DQ-005",
    }
    assert planted <= fired
    if pack == "small-peers":
        assert "UPC-004" in fired


def test_every_rule_example_posted_alone_gets_the_hits_of_screen_batch(tmp_path: Path) -> None:
    pack = load_pack(bundled_rules_dir())
    worlds = example_worlds(pack)
    assert sum(len(w.claims) for w in worlds) >= 80
    fired: set[str] = set()
    for n, world in enumerate(worlds):
        engine = make_engine(f"sqlite:///{tmp_path / f'world{n}.sqlite'}")
        try:
            with Session(engine) as session:
                batch_id = load_world(session, tmp_path / f"world{n}", world)
                expected = batch_hits(session, batch_id)
                warm = WarmEngine()
                got = {}
                for claim in world.claims:
                    sent = {
                        k: v.isoformat() if hasattr(v, "isoformat") else v
                        for k, v in claim.items()
                        if v is not None
                    }
                    (verdict,) = _post(session, warm, sent).claims
                    if verdict.hits:
                        got[claim["claim_id"]] = _hits_json(verdict)
        finally:
            engine.dispose()
        assert got == expected
        fired |= {hit["rule_id"] for hits in got.values() for hit in hits}
    assert len(fired) >= 20  # most rules' hit examples fire here too


# -- storing -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("province")
    generate(root, claims=DEMO_CLAIMS, seed=11)
    return root


def _reference(session: Session, province: Path) -> None:
    import_file(province / "hospitals.csv", kind="hospitals", session=session, version=None)
    import_file(province / "groups.csv", kind="groups", session=session, version="demo")


def _counts(session: Session) -> dict[str, int]:
    from drgaudit.casebook.auditlog import AuditEntry
    from drgaudit.casebook.models import ImportBatch
    from drgaudit.casebook.review_models import ReviewCaseHit
    from drgaudit.casebook.screening import ScreenRun

    tables = [*TABLES.values(), ImportBatch.__table__, ScreenRun.__table__, ScreenHit.__table__,
              ReviewCase.__table__, ReviewCaseHit.__table__, ClaimRevision.__table__, AuditEntry.__table__]  # fmt: skip
    return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def _planted(province: Path, rule: str) -> list[dict[str, str]]:
    """The claims of the first planted case of a rule, in file order (earlier stays first)."""
    with open(province / "truth.csv", encoding="utf-8", newline="") as f:
        truth = [t for t in csv.DictReader(f) if t["kind"] == "planted" and t["rule_id"] == rule]
    with open(province / "claims.csv", encoding="utf-8", newline="") as f:
        rows = {r["claim_id"]: r for r in csv.DictReader(f)}
    target = rows[truth[0]["claim_id"]]
    return [r for r in rows.values() if r["patient_id"] == target["patient_id"]]


def test_store_keeps_claims_hits_and_cases_idempotently(session: Session, province: Path) -> None:
    _reference(session, province)
    warm = WarmEngine()
    stays = _planted(province, "SPLIT-001")
    *earlier, last = sorted(stays, key=lambda r: r["admit_date"])
    first = screen_request(
        session=session, engine=warm, claims=parse_claims({"claims": earlier}, max_claims=50),
        store=True, actor="settlement", request_id="r1",
    )  # fmt: skip
    assert first.to_dict()["stored"]["already_stored"] is False
    # The readmission alone: the split stay is found with the earlier stay from the casebook.
    outcome = _post(session, warm, last, store=True)
    (verdict,) = outcome.claims
    assert "SPLIT-001" in {hit.rule_id for hit in verdict.hits}
    split = next(hit for hit in verdict.hits if hit.rule_id == "SPLIT-001")
    assert set(split.related_claims) <= {r["claim_id"] for r in earlier} and split.related_claims
    assert verdict.verdict == "special_review" and verdict.review_case is not None
    stored = outcome.to_dict()["stored"]
    assert stored["claims"] == {"new": 1, "unchanged": 0, "revised": 0}
    assert stored["review_cases"]["created"] == 1
    assert outcome.to_dict()["claims"][0]["review_case"]["status"] == "new"
    stored_hits = session.exec(select(ScreenHit.rule_id).where(ScreenHit.claim_id == last["claim_id"])).all()
    assert {r[0] for r in stored_hits} == {hit.rule_id for hit in verdict.hits}

    before = _counts(session)
    again = _post(session, warm, last, store=True)
    assert again.to_dict()["stored"]["already_stored"] is True
    assert again.to_dict()["stored"]["batch_ids"] == stored["batch_ids"]
    assert _hits_json(again.claims[0]) == _hits_json(verdict)
    assert _counts(session) == before  # the same request twice changes nothing

    # The same claim with other content is a revision; its hits and case follow the new content.
    changed = dict(last, total_cost=str(float(last["total_cost"]) + 100), fee_other="100")
    revised = _post(session, warm, changed, store=True).to_dict()["stored"]
    assert revised["claims"] == {"new": 0, "unchanged": 0, "revised": 1}
    assert session.exec(select(func.count()).select_from(ClaimRevision)).one()[0] == 1

    # Corrected back to what was sent first: stored again (a revision back), not answered "already
    # stored" from the first batch while the casebook kept the correction and its hits.
    back = _post(session, warm, last, store=True).to_dict()
    assert back["stored"]["already_stored"] is False, back["stored"]
    assert back["stored"]["claims"] == {"new": 0, "unchanged": 0, "revised": 1}
    (cost,) = session.exec(select(Claim.total_cost).where(Claim.claim_id == last["claim_id"])).one()
    assert cost == float(last["total_cost"])
    (batch,) = back["stored"]["batch_ids"]
    stored_hits = session.exec(select(ScreenHit.rule_id).where(ScreenHit.batch_id == batch)).all()
    assert {r[0] for r in stored_hits} == {hit["rule_id"] for hit in back["claims"][0]["hits"]}
    before = _counts(session)
    assert _post(session, warm, last, store=True).to_dict()["stored"]["already_stored"] is True
    assert _counts(session) == before


def test_a_region_without_an_active_pack_is_refused_and_nothing_is_stored(
    session: Session, province: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    _reference(session, province)
    now = [0.0]
    warm = WarmEngine(check_seconds=5, clock=lambda: now[0])
    stay = _planted(province, "LOS-001")[-1]
    # Nothing promoted anywhere: the bundled pack screens every region, as the CLI does.
    bundled = load_pack(bundled_rules_dir()).version
    assert _post(session, warm, dict(stay, treatment_region="510100")).claims[0].rules_version == bundled
    # Once versions are promoted (here a copy with LOS-001 at 70 days, for 510700 only), a region without
    # its own promotion and without a national one has no pack.
    rules = tmp_path / "rules70"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    text = (rules / "long_stay.yaml").read_text(encoding="utf-8")
    (rules / "long_stay.yaml").write_text(text.replace("default: 60,", "default: 70,", 1), encoding="utf-8")
    v70 = register_pack(session=session, directory=rules, actor="alice").version
    request = PromoteRequest(v70.version, "510700", dt.date.today())
    assert promote_pack(session=session, request=request, actor="alice").state == "in_force"
    now[0] += 10
    before = _counts(session)
    with pytest.raises(NoActivePackError, match="no rule pack is active for treatment region 510100"):
        _post(session, warm, dict(stay, treatment_region="510100"), store=True)
    assert _counts(session) == before
    (verdict,) = _post(session, warm, dict(stay, treatment_region="510700")).claims
    assert verdict.rules_version == v70.version
    assert all(hit.to_dict()["rule_version"] for hit in verdict.hits)
    # A national promotion covers every region without its own.
    national = PromoteRequest(register_pack(session=session, directory=None, actor="bob").version.version,
                              "national", dt.date.today())  # fmt: skip
    promote_pack(session=session, request=national, actor="bob")
    now[0] += 10
    assert _post(session, warm, dict(stay, treatment_region="510100")).claims[0].rules_version == bundled
    assert warm.compiles == 2


def test_the_warm_engine_compiles_once_and_again_only_for_a_new_version(
    tmp_path: Path, session: Session, province: Path
) -> None:
    _reference(session, province)
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    now = [0.0]
    warm = WarmEngine(rules_dir=rules, check_seconds=5, clock=lambda: now[0])
    stay = max(_planted(province, "LOS-001"), key=lambda r: (r["discharge_date"], r["admit_date"]))

    def rules_hit() -> set[str]:
        return {hit.rule_id for hit in _post(session, warm, stay).claims[0].hits}

    assert "LOS-001" in rules_hit()
    version = warm.pack_for(session=session, region="510100").version
    for _ in range(3):
        now[0] += 10
        rules_hit()
    assert warm.compiles == 1
    # Touching a file without changing it recompiles nothing.
    (rules / "long_stay.yaml").touch()
    now[0] += 10
    rules_hit()
    assert warm.compiles == 1
    # A new threshold is a new version, compiled once (after the check interval).
    text = (rules / "long_stay.yaml").read_text(encoding="utf-8")
    (rules / "long_stay.yaml").write_text(text.replace("default: 60", "default: 600", 1), encoding="utf-8")
    assert "LOS-001" in rules_hit()  # within the interval the old version still screens
    now[0] += 10
    assert "LOS-001" not in rules_hit()
    assert warm.compiles == 2 and warm.pack_for(session=session, region="510100").version != version
    # A broken edit is not loaded: the last good version keeps screening.
    (rules / "long_stay.yaml").write_text("rules: [", encoding="utf-8")
    now[0] += 10
    assert "LOS-001" not in rules_hit() and warm.compiles == 2


# -- concurrency: threads and processes get the answers of a serial screen -------------------------

_shared: dict[str, Any] = {}


def _answers(url: str, warm: WarmEngine, rows: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {row["claim_id"]: _hits_json(_post(session, warm, row).claims[0]) for row in rows}
    finally:
        engine.dispose()


def _in_process(rows: list[dict[str, str]]) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    import os

    return os.getpid(), _answers(_shared["url"], _shared["warm"], rows)


def test_concurrent_threads_and_processes_get_the_serial_answers(demo: dict[str, Any]) -> None:
    import multiprocessing
    import random
    import sys
    from concurrent.futures import ThreadPoolExecutor

    rows = demo["rows"][:400]
    serial = _answers(demo["url"], WarmEngine(), rows)
    assert sum(1 for hits in serial.values() if hits) >= 20
    # One engine shared by 6 threads, each posting the claims in its own order.
    shared = WarmEngine()
    orders = [random.Random(seed).sample(rows, len(rows)) for seed in range(6)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that unguarded engine calls would interleave
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            for answers in pool.map(lambda order: _answers(demo["url"], shared, order), orders):
                assert answers == serial
    finally:
        sys.setswitchinterval(interval)
    assert shared.compiles == 1
    # Forked processes, each inheriting the warm engine of the parent (it starts afresh in the child).
    _shared.update(url=demo["url"], warm=shared)
    context = multiprocessing.get_context("fork")
    with context.Pool(3) as pool:
        results = pool.map(_in_process, [rows[i::3] for i in range(3)] + [rows[::-1]])
    merged: dict[str, list[dict[str, Any]]] = {}
    for _pid, answers in results:
        merged.update(answers)
    assert merged == serial
    assert len({pid for pid, _ in results}) >= 2


def test_stored_claims_are_also_screened_by_their_regions_shadow_version(
    session: Session, province: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drgaudit.casebook.shadow import ShadowHit

    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    _reference(session, province)
    rules = tmp_path / "rules-shorter"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    text = (rules / "long_stay.yaml").read_text(encoding="utf-8")
    # The version in shadow flags stays from 15 days on (LOS-001), the live one from 60.
    (rules / "long_stay.yaml").write_text(text.replace("default: 60,", "default: 15,", 1), encoding="utf-8")
    shorter = register_pack(session=session, directory=rules, actor="alice").version
    promote_pack(
        session=session,
        request=PromoteRequest(shorter.version, "national", dt.date(2025, 1, 1), stage="shadow"),
        actor="alice",
    )
    live = register_pack(session=session, directory=None, actor="bob").version.version
    promote_pack(session=session, request=PromoteRequest(live, "national", dt.date(2025, 1, 1)), actor="bob")
    warm = WarmEngine(check_seconds=0)

    def days(claim: dict[str, str]) -> int:
        return (
            dt.date.fromisoformat(claim["discharge_date"]) - dt.date.fromisoformat(claim["admit_date"])
        ).days

    with open(province / "claims.csv", encoding="utf-8", newline="") as f:
        stays = [c for c in csv.DictReader(f) if 20 <= days(c) < 60 and c["payment_scheme"] in ("DRG", "DIP")]
    # A DRG/DIP stay (LOS-001's schemes) of 20 to 59 days that the live version does not hit at all (and not
    # storing leaves no trace).
    stay = next(c for c in stays if not _post(session, warm, c).claims[0].hits)
    assert session.exec(select(func.count()).select_from(ShadowHit)).one()[0] == 0

    outcome = _post(session, warm, stay, store=True)
    (stored,) = outcome.stored
    shadow_hits = session.exec(
        select(ShadowHit.rule_id, ShadowHit.pack_version, ShadowHit.claim_id).where(
            ShadowHit.batch_id == stored.batch_id
        )
    ).all()
    assert shadow_hits == [("LOS-001", shorter.version, stay["claim_id"])]
    # Only live hits open cases: the shadow hit does not.
    assert outcome.claims[0].verdict == "pass" and outcome.claims[0].review_case is None
    # Stored again: nothing changes, in shadow either.
    assert _post(session, warm, stay, store=True).stored[0].already_stored
    assert session.exec(select(func.count()).select_from(ShadowHit)).one()[0] == 1


def test_concurrent_corrections_of_the_same_claims_are_all_stored(
    db_backend: str, db_url: str, province: Path
) -> None:
    """Requests storing the same claims with different content at once (a correction sent while the first
    is being stored): on PostgreSQL they revised the claims' codes together and collided on their keys —
    a raw driver error no retry caught, answered 500. Each is stored now, one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    if db_backend == "sqlite":
        pytest.skip(
            "SQLite's write lock serialises the stores (and a shared in-memory test database has none)"
        )

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            _reference(session, province)
        rows = _planted(province, "LOS-001")[:1] + _planted(province, "OUT-HIGH-001")[:2]
        versions = [
            [dict(row, claim_id=f"RACE-{k}", total_cost=str(float(row["total_cost"]) + n)) for k, row in enumerate(rows)]
            for n in range(8)
        ]  # fmt: skip
        warm = WarmEngine()

        def store(claims: list[dict[str, str]]) -> dict[str, Any]:
            with Session(engine) as session:
                records = parse_claims({"claims": claims}, max_claims=10)
                outcome = screen_request(
                    session=session, engine=warm, claims=records, store=True, actor="t", request_id="race"
                )
                return outcome.to_dict()["stored"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            stored = list(pool.map(store, versions))
        assert all(s["already_stored"] is False for s in stored)
        with Session(engine) as session:
            costs = session.exec(select(Claim.total_cost).where(col(Claim.claim_id) == "RACE-0")).all()
            assert len(costs) == 1 and costs[0][0] in {float(v[0]["total_cost"]) for v in versions}
            assert session.exec(select(func.count()).select_from(ClaimRevision)).one()[0] == 7 * len(rows)
    finally:
        engine.dispose()
