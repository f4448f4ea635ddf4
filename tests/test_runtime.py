"""The durable-rules adapter: the engine's known traps stay hidden behind it."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

import orjson
import pytest

from drgaudit.engine.compiler import MAX_RULES_PER_RULESET, SENTINEL, compile_profile, pair_variants
from drgaudit.engine.enginestate import registered
from drgaudit.engine.exceptions import EngineError
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.runtime import _PLAIN_FLOATS, Runtime, _dumps, _plain_numbers
from drgaudit.engine.screen import Screener, screen_claims
from tests.engine_support import bundled, claim, group, hospital, random_world, reference


def test_no_rule_tests_only_an_absence_and_every_pattern_tests_kind() -> None:
    pack, _ = bundled()
    for region in (None, "510100", "510700", "511300"):
        profile = compile_profile(pack, region)
        text = json.dumps(profile.rulesets)
        assert "$nex" not in text
        for ruleset in profile.rulesets:
            for definition in ruleset.values():
                for pattern in definition["all"]:
                    (test,) = pattern.values()
                    assert '"kind": "claim"' in json.dumps(test)


def test_pair_rule_reads_the_earlier_claim_first_and_flat() -> None:
    pack, _ = bundled()
    profile = compile_profile(pack, None)
    split = next(c for c in profile.rules if c.rule.id == "SPLIT-001")
    # same category | same core group; the `unless` tests read no earlier claim and stay in one test each
    assert len(split.definitions) == 2
    for definition in split.definitions.values():
        tests = definition["all"][1]["m"]["$and"]
        reads_earlier = ["earlier" in json.dumps(t) for t in tests]
        boundary = tests.index(SENTINEL)
        assert all(reads_earlier[:boundary]) and not any(reads_earlier[boundary + 1 :])
        assert all("$and" not in t and "$or" not in t for t in tests[:boundary])


def test_many_patients_in_one_runtime_do_not_exhaust_sessions() -> None:
    pack, codes = bundled()
    claims, hospitals, groups = random_world(11, patients=1500)  # > 1,024 live sessions if they were kept
    hits = screen_claims(Screener(pack, reference(pack, codes, hospitals, groups)), claims)
    assert hits


def test_a_profile_can_be_registered_again_under_a_new_name() -> None:
    pack, _ = bundled()
    profile = compile_profile(pack, None)
    first, second = Runtime(profile), Runtime(profile)
    assert first._rulesets[0].name != second._rulesets[0].name


def _cap_pack(tmp_path: Path, count: int) -> RulePack:
    """The bundled pack with `count` more rules CAP-000.. that all fire on a claim costing 40,000 yuan."""
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    body = ["rules:"]
    for i in range(count):
        body += [
            f"  - id: CAP-{i:03d}", f"    title: 费用达到{1000 * (i + 1)}元", "    family: outlier_review", "    severity: info",
            "    action: note", "    scope: all", "    schemes: [DRG, DIP, PER_DIEM, FFS]", "    stage: 事后", "    status: active",
            "    effective: {from: 2025-01-01}", "    reference: [通行做法 极端费用]", "    description: 费用分档测试（通行做法）",
            f"    when: [total_cost >= {1000 * (i + 1)}]", '    message: "{claim_id}费用{total_cost}元"',
            "    amount_at_risk: 0", "    examples:", f"      hit: [{{name: 高, claim: {{total_cost: {1000 * (i + 1)}}}}}]",
        ]  # fmt: skip
    (rules / "caps.yaml").write_text("\n".join(body) + "\n", encoding="utf-8")
    return load_pack(rules)


def test_rules_are_split_into_rulesets_of_bounded_size(tmp_path: Path) -> None:
    pack = _cap_pack(tmp_path, 40)
    profile = compile_profile(pack, None)
    assert len(profile.rulesets) >= 2
    # At most MAX durable-rules rules in a ruleset; a rule is never split, so one whose variants alone
    # are more (SPLIT-003's 12 alternatives) has its ruleset to itself.
    by_name = profile.by_name()
    for ruleset in profile.rulesets:
        assert len(ruleset) <= MAX_RULES_PER_RULESET or len({by_name[n].name for n in ruleset}) == 1
    _, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    hits = screener.screen_patient("P1", [claim(total_cost=40000.0, fee_drug=10000.0)])
    assert sum(h.rule_id.startswith("CAP-") for h in hits) == 40


def test_a_full_ruleset_whose_every_rule_matches_one_fact_fires_them_all(tmp_path: Path) -> None:
    # At the limit: MAX_RULES_PER_RULESET rules in one ruleset, all matching the same fact (durable-rules
    # fails with error 303 when more than 64 alpha nodes wait at once); one more rule opens a second ruleset.
    pack = _cap_pack(tmp_path, MAX_RULES_PER_RULESET + 1)
    _, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    prepared = screener.prepare("P1", [claim(total_cost=40000.0, fee_drug=10000.0)], [])
    (target,) = {f["claim_id"] for f in prepared.facts if f["target"]}
    for count, sizes in (
        (MAX_RULES_PER_RULESET, [MAX_RULES_PER_RULESET]),
        (MAX_RULES_PER_RULESET + 1, [MAX_RULES_PER_RULESET, 1]),
    ):
        caps = {f"CAP-{i:03d}" for i in range(count)}
        profile = compile_profile(pack, None, only=lambda bound, caps=caps: bound.rule.id in caps)
        assert [len(r) for r in profile.rulesets] == sizes
        runtime = Runtime(profile)
        try:
            matches = runtime.run("P1", runtime.project(prepared.facts, {target}))
        finally:
            runtime.close()
        ids = {c.name: c.rule.id for c in profile.rules}
        assert sorted(ids[m.rule] for m in matches) == sorted(caps)


def test_a_failing_patient_is_an_engine_error_and_the_next_one_runs(tmp_path: Path) -> None:
    # The C engine refuses a fact asserted twice in one session; the adapter still runs the closing rule
    # and deletes the session (deleting one in which no action ran crashes the process).
    pack, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    prepared = screener.prepare("P1", [claim(total_cost=40000.0, fee_drug=10000.0)], [])
    ((key, targets),) = prepared.by_profile.items()
    runtime = screener.profile_for(key if key != "national" else "510100").runtime
    expected = runtime.run("P1", runtime.project(prepared.facts, targets))
    assert expected
    twice = runtime.project(prepared.facts, targets)
    with pytest.raises(EngineError, match="asserted twice"):
        runtime.run("P1", [*twice, dict(twice[-1])])
    for _ in range(3):
        assert runtime.run("P1", runtime.project(prepared.facts, targets)) == expected


def test_each_ruleset_gets_only_the_keys_its_rules_read() -> None:
    pack, _ = bundled()
    profile = compile_profile(pack, "510100")
    runtime = Runtime(profile)
    try:
        assert len(runtime._rulesets) >= 2
        for ruleset, definition in zip(runtime._rulesets, profile.rulesets, strict=True):
            text = json.dumps(registered(definition))  # with the closing rule, which reads `_t`
            assert {"kind", "claim_id", "seq", "target", "_t", "sid"} <= set(ruleset.keys)
            assert all(f'"{key}"' in text or key in ("claim_id", "seq", "sid") for key in ruleset.keys)
            assert ruleset.pairs == any(len(rule["all"]) == 2 for rule in definition.values())
        every = set().union(*(ruleset.keys for ruleset in runtime._rulesets))
        assert all(len(ruleset.keys) < len(every) for ruleset in runtime._rulesets)
    finally:
        runtime.close()


def test_orjson_writes_floats_within_the_plain_bounds_as_decimals() -> None:
    # _plain_numbers spares the exponent search on facts whose floats all lie in these bounds.
    low, high = _PLAIN_FLOATS
    rng = random.Random(17)
    samples = [low, high - 1, high - 0.5, 0.0011, 0.00099999, 123456789012345.6]
    samples += [10 ** rng.uniform(-3, 15) for _ in range(20000)]
    for value in samples:
        if low <= value < high:
            assert b"e" not in orjson.dumps(value) and b"e" not in orjson.dumps(-value), value
    assert not _plain_numbers([5e-06]) and not _plain_numbers([1e16]) and not _plain_numbers([float("nan")])
    assert not _plain_numbers([[1]]) and _plain_numbers(["5e-06", 3, True, None, 0.0, 2.5])
    for values in ([5e-06, "x"], [1e16], [0.5, 1.5e-05]):
        fact = {str(i): v for i, v in enumerate(values)}
        assert json.loads(_dumps(fact, plain=_plain_numbers(values))) == fact


def test_a_fact_that_matches_nothing_is_not_an_error() -> None:
    pack, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    assert screener.screen_patient("P1", [claim(payment_scheme="FFS", insured_region="510100")]) == []


def test_numbers_in_exponent_form_reach_durable_rules() -> None:
    # durable-rules refuses `5e-06` (no fraction before the exponent) with "no id defined": a claim whose
    # self-paid share is 0.01 / 2000 once made the whole patient fail. Such numbers go as `5.0e-6`.
    pack, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    tiny = claim(total_cost=2000, fee_drug=2000, outside_purchase=0.01, fund_paid=1600, self_pay=400)
    hits = screener.screen_patient("P1", [tiny])  # self_share = 5e-06
    assert "COST-002" in {h.rule_id for h in hits}  # outside purchases, screened like any claim
    text = _dumps({"a": 5e-06, "b": 1e16, "c": 1.5e-05, "s": "x,5e-06"})
    assert json.loads(text) == {"a": 5e-06, "b": 1e16, "c": 1.5e-05, "s": "x,5e-06"}
    assert '"s":"x,5e-06"' in text and "5.0e" in text and "1.0e" in text


def test_a_claim_not_screened_gets_only_what_pair_rules_read_of_the_earlier_claim() -> None:
    pack, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital(), hospital("H2")], [group("ES35")]))
    earlier = claim(claim_id="C0", hospital_id="H2", discharge_mode="2", discharge_date=dt.date(2025, 6, 1))
    prepared = screener.prepare("P1", [claim()], [earlier])
    runtime = screener.profile_for("510100").runtime
    history, target = runtime.project(prepared.facts, {"C1"})
    assert not history["target"] and target["target"]
    assert set(history) < set(target)
    # every key a pair rule reads of the earlier claim is there
    read = set()
    for definition in runtime.profile.rulesets:
        for rule in definition.values():
            if len(rule["all"]) == 2:
                text = json.dumps(rule["all"])
                read |= {
                    key
                    for key in target
                    if f'"earlier": "{key}"' in text or f'"{key}":' in json.dumps(rule["all"][0])
                }
    assert read and read <= set(history)


def test_pair_alternatives_that_read_the_earlier_claim_alike_are_one_variant() -> None:
    kind, target, a = {"kind": "claim"}, {"target": True}, {"a": {"earlier": "a"}}
    cur = {"$and": [kind, target, {"$or": [a, {"x": 1}]}, {"$or": [a, {"y": 2}]}]}
    # alternatives: (a and a), (a and y), (x and a), (x and y): the two that read only `a` become one
    assert pair_variants(cur) == [
        {"$and": [a, a, SENTINEL, kind, target]},
        {"$and": [a, SENTINEL, kind, target, {"$or": [{"y": 2}, {"x": 1}]}]},
        {"$and": [SENTINEL, kind, target, {"x": 1}, {"y": 2}]},
    ]
    pack, _ = bundled()
    split = next(c for c in compile_profile(pack, None).rules if c.rule.id == "SPLIT-003")
    betas = [
        json.dumps(tests[: tests.index(SENTINEL)])
        for tests in (d["all"][1]["m"]["$and"] for d in split.definitions.values())
    ]
    assert len(set(betas)) == len(betas)


def test_routes_send_a_claim_only_into_its_rulesets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run`'s routes: a ruleset that no screened claim of the patient is routed into gets no session; a
    screened claim routed elsewhere is still the earlier claim of a pair rule; a claim with no route goes
    everywhere (as with no routes at all)."""
    import durable_rules_engine

    pack, codes = bundled()
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    first = claim(claim_id="A1", admit_date=dt.date(2025, 5, 1), discharge_date=dt.date(2025, 5, 8))
    again = claim(claim_id="A2", admit_date=dt.date(2025, 5, 18), discharge_date=dt.date(2025, 5, 25))
    prepared = screener.prepare("P1", [first, again])
    ((key, targets),) = prepared.by_profile.items()
    profile = screener._profile(key)
    runtime, names = profile.runtime, profile.runtime.ruleset_names
    split = names[
        profile.by_name[next(c.name for c in profile.compiled.rules if c.rule.id == "SPLIT-001")].ruleset
    ]
    other = frozenset(names) - {split}
    handles = {ruleset.name: ruleset.handle for ruleset in runtime._rulesets}
    asserted: list[int] = []
    real = durable_rules_engine.assert_fact

    def spy(handle: int, text: str) -> tuple:
        asserted.append(handle)
        return real(handle, text)

    monkeypatch.setattr(durable_rules_engine, "assert_fact", spy)

    def fired(routes: dict[str, frozenset[str]] | None) -> set[tuple[str, str, str | None]]:
        asserted.clear()
        ids = {c.name: c.rule.id for c in profile.compiled.rules}
        matches = runtime.run("P1", runtime.project(prepared.facts, targets), routes)
        return {(ids[m.rule], m.claim_id, m.earlier_id) for m in matches}

    everywhere = fired(None)
    assert ("SPLIT-001", "A2", "A1") in everywhere
    assert set(asserted) == set(handles.values())
    assert fired({}) == everywhere  # no route: every ruleset
    assert set(asserted) == set(handles.values())
    # A2 only into SPLIT-001's ruleset, A1 without a route: A1 still goes into every ruleset.
    assert ("SPLIT-001", "A2", "A1") in fired({"A2": frozenset({split})})
    assert set(asserted) == set(handles.values())
    # A1 screened only in the other rulesets, A2 only in SPLIT-001's: the readmission still pairs.
    routed = fired({"A1": other, "A2": frozenset({split})})
    assert ("SPLIT-001", "A2", "A1") in routed
    # Only A2, only into SPLIT-001's ruleset: the other rulesets open no session at all.
    alone = fired({"A1": frozenset(), "A2": frozenset({split})})
    assert ("SPLIT-001", "A2", "A1") in alone and set(asserted) == {handles[split]}
    # A2 routed away from SPLIT-001's ruleset: the hit is gone (the routes are obeyed).
    assert not any(hit[0] == "SPLIT-001" for hit in fired({"A1": other, "A2": other}))
