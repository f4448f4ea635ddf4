"""bench/screen.py's hand-written baselines (bench/bare_durable.py, bench/plain_rules.py) implement every active
rule of the bundled pack with drgaudit's semantics: the speed figures compare the same rules.

Three inputs: every example of every active rule (hit or miss as the rule file declares, at its
boundaries), claims of the demo province, and random claims near every threshold with missing values
(tests/engine_support.random_world, widened to the per-diem, data-quality and hospital-indicator rules).
On the last two the (rule, claim) pairs must equal drgaudit's Screener's. DuckDB is in the `test` and
`bench` extras; without it only its baseline is left out.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from sqlmodel import Session

from bench.bare_durable import IMPLEMENTED, BareRules
from bench.plain_rules import PYTHON_RULES, SQL_RULES, duckdb_rules, python_loop
from bench.screen import unimplemented
from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.demo.generator import generate
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.indicators import NO_INDICATORS, case_mix_of, hospital_indicators, peer_rule
from drgaudit.engine.ruletest import build_example
from drgaudit.engine.screen import Screener, screen_claims
from tests.engine_support import bundled, random_world

try:
    import duckdb  # noqa: F401

    HAVE_DUCKDB = True
except ImportError:  # the optional `bench` extra
    HAVE_DUCKDB = False

# Rules added after the baselines were first written that the demo plants: the sample must hit each
# (LOS-004/005 and the DQ rules it does not plant are reached by the examples and the random claims).
NEW_RULES = ("LOS-002", "LOS-003", "SPLIT-004", "FREQ-003", "SEV-001")
Pairs = set[tuple[str, str]]


@pytest.fixture(autouse=True, scope="module")
def _no_durable_timers_left() -> Iterator[None]:
    """Stop the timer threads of durable-rules' host after this module's tests.

    The bare baseline uses durable-rules' documented host (`durable.lang.get_host`), which re-arms two
    dispatch `threading.Timer`s every 0.5 s for as long as the process lives. Left running, they keep
    every later test of the session in a process with other threads, where the importer never forks
    its worker (`casebook.prepare.worker_available`) and tests/test_ingest_parallel.py fails.
    """
    yield
    from durable import lang

    host = lang._main_host
    if host is None:
        return
    for name in ("_d_timer", "_t_timer"):
        for _attempt in range(500):
            timer = getattr(host, name, None)
            if timer is None:
                break
            timer.cancel()  # a timer cancelled before it starts ends at once when it does
            if timer.ident is None:  # made by the last dispatch, not started yet
                time.sleep(0.01)
                continue
            timer.join(5)
            if getattr(host, name, None) is timer:  # it had not fired, so it armed no successor
                break


def _baselines(
    pack: Any,
    codes: Any,
    hospitals: dict,
    groups: dict,
    indicators: dict,
    patients: list[tuple[str, list[dict]]],
) -> dict[str, Pairs]:
    """The (rule, claim) pairs of each baseline over patients' claims (all of them screened)."""
    bare = BareRules(pack, hospitals, groups, codes, indicators)
    for patient_id, claims in patients:
        bare.screen_patient(patient_id, claims)
    facts = [bare.patient(claims) for _, claims in patients]
    found = {"bare durable-rules": set(bare.hits), "plain Python": python_loop(bare, facts)}
    if HAVE_DUCKDB:
        found["DuckDB"] = duckdb_rules(bare, facts)[0]
    return found


def _by_patient(claims: Iterable[dict]) -> list[tuple[str, list[dict]]]:
    patients: dict[str, list[dict]] = {}
    for claim in claims:
        patients.setdefault(claim["patient_id"], []).append(claim)
    return list(patients.items())


def _differences(ours: Pairs, theirs: Pairs) -> dict[str, str]:
    by_rule: dict[str, list[str]] = {}
    for label, pairs in (("only drgaudit", ours - theirs), ("only the baseline", theirs - ours)):
        for rule_id, claim_id in sorted(pairs):
            by_rule.setdefault(f"{rule_id} {label}", []).append(claim_id)
    return {key: ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "") for key, ids in by_rule.items()}


def test_every_baseline_implements_every_active_rule() -> None:
    pack, codes = bundled()
    assert unimplemented(pack, IMPLEMENTED) == []
    assert unimplemented(pack, PYTHON_RULES) == []
    assert unimplemented(pack, SQL_RULES) == []
    # What the durable-rules baseline declares is what it defines (in some region's profile).
    bare = BareRules(pack, {}, {}, codes, {})
    assert bare.defined == IMPLEMENTED
    # The check itself: a rule the baseline lacks is named.
    assert unimplemented(pack, IMPLEMENTED - {"SEV-001"}) == ["SEV-001"]


def test_the_baselines_decide_every_rule_example_as_the_rule_file_says() -> None:
    pack, codes = bundled()
    bare = BareRules(pack, {}, {}, codes, {})
    facts: list[list[dict]] = []
    expected: Pairs = set()
    bare_hits: Pairs = set()
    checked = 0
    for rule in pack.rules:
        if rule.status != "active":
            continue
        for index, example in enumerate(rule.examples):
            case = build_example(pack, example)
            assert not case.errors and case.claim is not None, (rule.id, example.name)
            # Each example is its own patient (and hospitals, groups and indicators).
            patient = f"{rule.id}#{index}"
            claims = [
                dict(c, patient_id=patient, claim_id=f"{patient}:{c['claim_id']}") for c in case.history
            ]
            target = dict(case.claim, patient_id=patient, claim_id=f"{patient}:{case.claim['claim_id']}")
            claims.append(target)
            bare.hospitals, bare.groups, bare.indicators = case.hospitals, case.groups, case.indicators
            bare.hits.clear()
            bare.screen_patient(patient, [target], claims[:-1])
            bare_hits |= {(r, c) for r, c in bare.hits if r == rule.id}
            facts.append(bare.patient(claims, {target["claim_id"]}))
            if example.expect == "hit":
                expected.add((rule.id, target["claim_id"]))
            checked += 1
    assert checked > 200
    mine = {rule_id for rule_id, _ in expected}
    assert mine == {r.id for r in pack.rules if r.status == "active"}  # every rule has a hit example

    def of_example_rules(pairs: Pairs) -> Pairs:
        return {(r, c) for r, c in pairs if c.startswith(f"{r}#")}

    assert _differences(expected, bare_hits) == {}
    assert _differences(expected, of_example_rules(python_loop(bare, facts))) == {}
    if HAVE_DUCKDB:
        assert _differences(expected, of_example_rules(duckdb_rules(bare, facts)[0])) == {}


@pytest.fixture(scope="module")
def demo_patients(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, dict, dict]:
    """A 3,000-claim demo province imported into a SQLite casebook: its patients, hospitals and groups."""
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=20250101, claims=3000)
    engine = make_engine(f"sqlite:///{out / 'casebook.sqlite'}")
    with Session(engine) as session:
        for kind in ("hospitals", "groups", "claims"):
            import_file(out / f"{kind}.csv", kind=kind, session=session, imported_by="test")
        batch = max(b.id for b in queries.list_batches(session=session) if b.kind == "claims")
        patients = list(queries.iter_batch_patients(session=session, batch_id=batch))
        hospitals = queries.load_hospitals(session=session)
        groups = queries.load_groups(session=session)
    engine.dispose()
    return patients, hospitals, groups


def test_the_baselines_find_drgaudits_hits_on_demo_claims(demo_patients: tuple[list, dict, dict]) -> None:
    patients, hospitals, groups = demo_patients
    pack, codes = bundled()
    levels = {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
    claims = [c for _, cs in patients for c in cs]
    indicators = hospital_indicators(case_mix_of(claims), levels, peers_by=peer_rule(pack))
    screener = Screener(pack, ReferenceData(hospitals, groups, codes, pack, indicators))
    ours = {(h.rule_id, h.claim_id) for h in screener.screen_patients([(p, cs, []) for p, cs in patients])}
    hit_rules = {rule_id for rule_id, _ in ours}
    assert set(NEW_RULES) <= hit_rules, f"the demo sample hits none of {set(NEW_RULES) - hit_rules}"
    for name, theirs in _baselines(pack, codes, hospitals, groups, indicators, patients).items():
        assert _differences(ours, theirs) == {}, name


def _wide_world(seed: int, patients: int) -> tuple[list[dict], list[dict], list[dict], dict[str, dict]]:
    """random_world's claims, hospitals and groups, widened to reach every rule's thresholds: per-diem
    departments and long stays, gender and age against the diagnosis, fee and payment totals off by
    about the tolerance, a treatment region other than the hospital's, patients insured in another
    province, missing optional fields, a prolonged coaching period, and given hospital indicators around
    UPC-004's thresholds."""
    claims, hospitals, groups = random_world(seed, patients)
    rnd = random.Random(seed * 31)
    hospitals[4]["coaching_until"] = dt.date(2025, 12, 31)
    # 511000 tiers its DRG high ratio by group weight and pays ES35 alike at every level: one hospital
    # there, of unknown level (only its basic-disease group has a standard to pay from).
    hospitals[3].update(region="511000", level=None)
    groups += [dict(g, region="511000") for g in groups if g["region"] == "510100"]
    for claim in claims:
        if claim["hospital_id"] == hospitals[3]["hospital_id"]:
            claim["treatment_region"] = "511000"
    regions = sorted({h["region"] for h in hospitals})
    by_id = {h["hospital_id"]: h for h in hospitals}
    for _patient, stays in _by_patient(claims):
        if rnd.random() < 0.3:  # one hospital and scheme for every stay: readmissions, per-diem series
            first = stays[0]
            for stay in stays[1:]:
                stay["hospital_id"], stay["payment_scheme"] = first["hospital_id"], first["payment_scheme"]
                stay["treatment_region"] = by_id[first["hospital_id"]]["region"]
                if rnd.random() < 0.5:
                    stay["principal_dx"] = first["principal_dx"]
        elif rnd.random() < 0.3:  # transfers out to another hospital, the next stay the day after or later
            for stay in stays[:-1]:
                stay["discharge_mode"] = "2"
    for claim in claims:
        claim["dept_code"] = rnd.choice(("A15", "A15.01", "A21", "A24", "A03.09", "精神科", None))
        if claim["payment_scheme"] == "PER_DIEM" or rnd.random() < 0.1:
            days = rnd.choice((29, 59, 60, 89, 90, 179, 180))
            claim["discharge_date"] = claim["admit_date"] + dt.timedelta(days=days)
        if rnd.random() < 0.25:
            claim["principal_dx"] = rnd.choice(
                ("O80.000", "D25.900", "N40.x00", "P59.900", "F20.000", "Z50.900x001")
            )
        if rnd.random() < 0.1:
            claim["secondary_dx"] = [*claim["secondary_dx"], rnd.choice(("O13.x00", "Z33.x00", "N40.x00"))]
        claim["gender"] = rnd.choice(("1", "2"))
        claim["age"] = rnd.choice((0, 0, 1, 11, 12, 30, 55, 56, 60, 70))
        if claim["age"] == 0:
            claim["age_days"] = rnd.choice((None, 5, 28, 29))
            claim["newborn_weight_g"] = rnd.choice((None, 3200))
        if rnd.random() < 0.2:
            claim["total_cost"] = round(claim["total_cost"] + rnd.choice((-500, -1.01, -1, 1, 1.01, 500)), 2)
        if rnd.random() < 0.2:
            claim["fund_paid"] = round(claim["fund_paid"] + rnd.choice((1, 1.01, 1000)), 2)
        if rnd.random() < 0.2:
            claim["ventilator_hours"] = float(rnd.choice((24, 25, 72, 200)))
        if rnd.random() < 0.15:
            claim["discharge_mode"] = "4"
        if rnd.random() < 0.05:
            claim["total_cost"] = round(
                claim["total_cost"] * rnd.choice((1.7, 2.1)), 2
            )  # past 5 x the average
        if rnd.random() < 0.1:
            claim["icu_hours"] = float(rnd.choice((167, 168, 200)))
        if rnd.random() < 0.1:
            claim["procedures"] = [rnd.choice(("17.4100", "35.0500", "96.0400", "00.1700"))]
        if rnd.random() < 0.1:
            claim["treatment_region"] = rnd.choice(regions)
        if rnd.random() < 0.1:
            claim["insured_region"] = "110000"  # another province: paid by items, not a cross-region claim
    indicators = {
        h["hospital_id"]: {
            **NO_INDICATORS,
            "hospital__cross_cc_mcc_share_rank": rnd.choice((None, 79.9, 80, 95)),
            "hospital__cc_mcc_share_excess": rnd.choice((0.19, 0.2, 0.3)),
        }
        for h in hospitals
    }
    return claims, hospitals, groups, indicators


def test_the_baselines_find_drgaudits_hits_near_every_threshold() -> None:
    pack, codes = bundled()
    hit_rules: set[str] = set()
    for seed in (5, 6):
        claims, hospital_list, group_list, indicators = _wide_world(seed, patients=300)
        hospitals = {h["hospital_id"]: h for h in hospital_list}
        groups = {(g["region"], g["scheme"], g["group_code"]): g for g in group_list}
        screener = Screener(pack, ReferenceData(hospitals, groups, codes, pack, indicators))
        ours = {(h.rule_id, h.claim_id) for h in screen_claims(screener, claims)}
        hit_rules |= {rule_id for rule_id, _ in ours}
        for name, theirs in _baselines(
            pack, codes, hospitals, groups, indicators, _by_patient(claims)
        ).items():
            assert _differences(ours, theirs) == {}, (seed, name)
    # Every active rule hits some of these claims, so the comparison above covers it.
    assert {r.id for r in pack.rules if r.status == "active"} - hit_rules == set()
