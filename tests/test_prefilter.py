"""The pre-filter keeps every claim a rule could fire on: per rule (a superset of the Python evaluator's
verdicts) and end to end (the same hits with and without it), on the bundled pack and on generated packs."""

from __future__ import annotations

import dataclasses
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drgaudit.contract import CROSS_PROVINCE, CROSS_REGION, LOCAL
from drgaudit.engine.evaluate import Env, evaluate
from drgaudit.engine.expr import Arith, walk
from drgaudit.engine.facts import sort_key
from drgaudit.engine.functions import FUNCTIONS
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.prefilter import CUR, EARLIER, Frame, Lowerer, RuleFilter
from drgaudit.engine.runtime import Runtime
from drgaudit.engine.screen import Prepared, Screener, screen_claims
from drgaudit.engine.vocabulary import BOOL, DATE, FACTS, LIST, NUMBER
from tests.engine_support import bundled, random_world, reference

# Optional claim fields a world may leave out, to reach the missing-value paths of every condition.
OPTIONAL = ("age_days", "newborn_weight_g", "readmit_plan_31d", "admission_route", "group_code", "dept_code")


def _world(seed: int, patients: int) -> tuple[list[dict], list[dict], list[dict]]:
    claims, hospitals, groups = random_world(seed, patients)
    rnd = random.Random(seed * 7919)
    for c in claims:
        if rnd.random() < 0.3:
            c[rnd.choice(OPTIONAL)] = None
        if rnd.random() < 0.2:  # newborns, near the age-in-days threshold
            c.update(age=0, age_days=rnd.choice((0, 27, 28, 29, 40)))
        if rnd.random() < 0.1:
            c["procedures"] = [rnd.choice(("17.4100", "35.0500", "96.0400", "00.1700"))]
    for h in hospitals:
        if rnd.random() < 0.3:
            h["level"] = None
    return claims, hospitals, groups


def _fires(rule: RuleFilter, fact: dict[str, Any], earlier: dict[str, Any] | None) -> bool:
    """The rule's verdict by the Python evaluator (the one durable-rules is tested to agree with)."""
    r = rule.compiled.bound.rule
    env = Env(fact, earlier, rule.env.params, rule.env.settings, rule.env.lists)
    # The scopes as the rule's own conditions state them (engine.rule): COACH-001 is `nonlocal`.
    relation = fact["region_relation"]
    if r.scope in (CROSS_REGION, CROSS_PROVINCE, LOCAL) and relation != r.scope:
        return False
    if r.scope == "nonlocal" and relation == LOCAL:
        return False
    if fact["payment_scheme"] not in r.schemes:
        return False
    day = fact["discharge_date"]
    if day < r.effective_from.toordinal() or (r.effective_to and day > r.effective_to.toordinal()):
        return False
    if not all(bool(evaluate(e.root, env)) for e in r.when):
        return False
    return not any(bool(evaluate(e.root, env)) for e in r.unless)


def _check_superset(pack: RulePack, screener: Screener, claims: list[dict]) -> tuple[int, int, int]:
    """Every (rule, claim) the evaluator fires on is kept by that rule's pre-filter, and every condition's
    bounds hold the evaluator's verdicts; returns (fired, kept, (condition, row)s of conditions with no
    arithmetic left uncertain)."""
    by_patient: dict[str, list[dict]] = {}
    for c in claims:
        by_patient.setdefault(c["patient_id"], []).append(c)
    prepared: list[Prepared] = [screener.prepare(pid, batch) for pid, batch in sorted(by_patient.items())]
    facts = [f for item in prepared for f in item.facts]
    offsets = np.cumsum([0] + [len(item.facts) for item in prepared[:-1]])
    base = Frame(facts)
    rows = np.arange(len(facts))
    current = np.array(
        [
            i
            for item, off in zip(prepared, offsets, strict=True)
            for f in item.facts
            for i in [off + f["seq"]] * f["seq"]
        ],
        dtype=np.intp,
    )
    earlier_rows = np.array(
        [
            e
            for item, off in zip(prepared, offsets, strict=True)
            for f in item.facts
            for e in range(off, off + f["seq"])
        ],
        dtype=np.intp,
    )
    fired = kept = uncertain = 0
    missed = []
    for key in ["national", *sorted(pack.regions)]:
        profile = screener._profile(key)
        for rule in profile.prefilter.rules:
            if rule.pair:
                frames = {CUR: Frame(facts, base, current), EARLIER: Frame(facts, base, earlier_rows)}
                upper = rule.upper(frames, len(current))
                envs = [
                    (facts[c], facts[e]) for c, e in zip(current.tolist(), earlier_rows.tolist(), strict=True)
                ]
            else:
                frames = {CUR: Frame(facts, base, rows)}
                upper = rule.upper(frames, len(rows))
                envs = [(f, None) for f in facts]
            verdicts = [(i, _fires(rule, fact, earlier)) for i, (fact, earlier) in enumerate(envs)]
            uncertain += _check_bounds_hold_the_verdicts(rule, frames, envs)
            kept += int(upper.sum())
            for i, verdict in verdicts:
                fired += verdict
                if verdict and not upper[i]:
                    missed.append((key, rule.compiled.bound.rule.id, i))
    assert not missed, f"pre-filter dropped claims a rule fires on: {missed[:5]}"
    return fired, kept, uncertain


def _check_bounds_hold_the_verdicts(
    rule: RuleFilter, frames: dict[str, Frame], envs: list[tuple[dict[str, Any], dict[str, Any] | None]]
) -> int:
    """Each of the rule's conditions, lowered over `frames` (one row per (fact, earlier) of `envs`), has a
    lower bound only where the evaluator finds it true and an upper bound wherever it does: `not` and
    `unless` take the lower bound, so it must be sound too. Returns the (condition, row)s left uncertain
    (upper and lower differ) among conditions with no arithmetic (whose comparisons need no tolerance)."""
    r = rule.compiled.bound.rule
    lowerer = Lowerer(rule.env, frames, len(envs), rule.constants, rule.closures)
    uncertain = 0
    for root, _unless in rule.roots:
        upper, lower = lowerer.bounds(root)
        verdict = np.array(
            [
                bool(evaluate(root, Env(fact, earlier, rule.env.params, rule.env.settings, rule.env.lists)))
                for fact, earlier in envs
            ],
            dtype=bool,
        )
        assert not (lower & ~verdict).any(), f"{r.id}: lower bound true where the condition is false: {root}"
        assert not (verdict & ~upper).any(), f"{r.id}: upper bound false where the condition is true: {root}"
        if not any(isinstance(node, Arith) for node in walk(root)):
            uncertain += int((upper != lower).sum())
    return uncertain


@pytest.mark.parametrize("seed", [11, 12])
def test_every_active_rule_prefilter_is_a_superset(seed: int) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=80)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    fired, kept, uncertain = _check_superset(pack, screener, claims)
    # The bundled pack's conditions without arithmetic are lowered exactly: upper and lower bounds agree on
    # every row (an `unless` drops claims only where its lower bound is true).
    assert uncertain == 0
    assert fired > 30  # the world reaches the rules
    assert kept >= fired


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_same_hits_with_and_without_the_prefilter(seed: int) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=120)
    with_filter = Screener(pack, reference(pack, codes, hospitals, groups))
    without = Screener(pack, reference(pack, codes, hospitals, groups), prefilter=False)
    hits = [h.to_dict() for h in screen_claims(with_filter, claims)]
    assert hits == [h.to_dict() for h in screen_claims(without, claims)]
    assert hits
    assert [h.to_dict() for h in _one_patient_at_a_time(with_filter, claims)] == hits
    stats = with_filter.prefilter_stats()
    assert stats.seen == len(claims)
    assert 0 < stats.kept < stats.seen  # it did drop claims, and kept some


def test_a_condition_the_prefilter_cannot_express_keeps_every_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = _world(5, patients=20)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    rule = next(
        r for r in screener._profile("national").prefilter.rules if r.compiled.bound.rule.id == "OUT-NEW-001"
    )
    # any_in as a function the pre-filter cannot compute (replaced in place: the registry's order stays).
    monkeypatch.setitem(
        FUNCTIONS._functions, "any_in", dataclasses.replace(FUNCTIONS["any_in"], prefilter=None)
    )
    by_patient: dict[str, list[dict]] = {}
    for c in claims:
        by_patient.setdefault(c["patient_id"], []).append(c)
    facts = [f for pid, batch in sorted(by_patient.items()) for f in screener.prepare(pid, batch).facts]
    upper = rule.upper({CUR: Frame(facts)}, len(facts))
    grouped = np.array([f["payment_scheme"] in ("DRG", "DIP") for f in facts])
    assert (upper == grouped).all()  # only the applicability is left: every grouped claim is kept


# ---- generated packs: the condition language's grammar, random thresholds ------------------------------

_NUMBERS = [f.name for f in FACTS.values() if f.type == NUMBER]
_DATES = [f.name for f in FACTS.values() if f.type == DATE]
_TEXTS = [
    "payment_scheme",
    "discharge_mode",
    "group_severity",
    "payment_kind",
    "admission_route",
    "dx_category",
]
_BOOLS = [f.name for f in FACTS.values() if f.type == BOOL]
_LISTS = [
    f.name for f in FACTS.values() if f.type == LIST and f.name in ("procedures", "secondary_dx", "mcc_codes")
]
_TEXT_VALUES = ["1", "2", "3", "5", "DRG", "DIP", "high_ratio", "standard", "low_ratio", "J18"]


def _number(rnd: random.Random, depth: int) -> str:
    choice = rnd.randrange(9 if depth < 2 else 3)
    if choice == 0:
        return rnd.choice(_NUMBERS)
    if choice == 1:
        return repr(rnd.choice((0, 1, 2, 5, 24, 60, 0.3, 0.6, 2.5, 3000)))
    if choice == 2:
        return rnd.choice(("params.limit", "region.drg_extreme_ratio", "admissions_within(params.days)"))
    if choice == 3:
        return f"{_number(rnd, depth + 1)} {rnd.choice('+-*/')} {_number(rnd, depth + 1)}"
    if choice == 4:
        return f"{rnd.choice(('min', 'max'))}({_number(rnd, depth + 1)}, {_number(rnd, depth + 1)})"
    if choice == 5:
        return (
            f"abs({_number(rnd, depth + 1)})"
            if rnd.random() < 0.5
            else f"round({_number(rnd, depth + 1)}, 1)"
        )
    if choice == 6:
        return f"len({rnd.choice(_LISTS)})"
    if choice == 7:
        return f"count_in({rnd.choice(_LISTS)}, lists.{rnd.choice(('new_technologies', 'mcc_evidence_lab'))})"
    return f"-{rnd.choice(_NUMBERS)}"


def _condition(rnd: random.Random, depth: int = 0) -> str:
    choice = rnd.randrange(11 if depth < 2 else 7)
    op = rnd.choice(("<", "<=", ">", ">=", "==", "!="))
    if choice in (0, 1):
        return f"{_number(rnd, depth)} {op} {_number(rnd, depth)}"
    if choice == 2:
        return f'{rnd.choice(_TEXTS)} {rnd.choice(("==", "!="))} "{rnd.choice(_TEXT_VALUES)}"'
    if choice == 3:
        values = ", ".join(f'"{v}"' for v in rnd.sample(_TEXT_VALUES, 3))
        return f"{rnd.choice(_TEXTS)} {rnd.choice(('in', 'not in'))} [{values}]"
    if choice == 4:
        return rnd.choice((f"has({rnd.choice(_NUMBERS)})", rnd.choice(_BOOLS)))
    if choice == 5:
        return f'{rnd.choice(_DATES)} {op} date("2025-0{rnd.randint(1, 9)}-15")'
    if choice == 6:
        return rnd.choice((
            f'starts_with(principal_dx, "{rnd.choice(("J18", "Z51", "A41"))}")',
            "any_in(procedures, lists.new_technologies)",
            "principal_dx in lists.chemo_radiotherapy",
        ))  # fmt: skip
    if choice == 7:
        return f"not ({_condition(rnd, depth + 1)})"
    joiner = " and " if choice == 8 else " or "
    return "(" + joiner.join(_condition(rnd, depth + 1) for _ in range(rnd.randint(2, 3))) + ")"


def _pair_condition(rnd: random.Random) -> str:
    return rnd.choice((
        "earlier.hospital_id == hospital_id",
        "admit_date - earlier.discharge_date <= params.days",
        "admit_date >= earlier.discharge_date",
        "earlier.dx_category == dx_category or earlier.adrg == adrg",
        'earlier.discharge_mode == "2"',
        "earlier.total_cost > total_cost * 0.5",
    ))  # fmt: skip


def _generated_pack(tmp: Path, seed: int, count: int) -> RulePack:
    """A copy of the bundled pack with `count` generated rules, each in its own file; rules the engine
    refuses (type errors, forms durable-rules cannot take) are dropped."""
    rules = tmp / f"pack{seed}"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    rnd = random.Random(seed)
    for i in range(count):
        pair = rnd.random() < 0.25
        when = [_condition(rnd) for _ in range(rnd.randint(1, 3))]
        if pair:
            when += [_pair_condition(rnd) for _ in range(rnd.randint(1, 2))]
        unless = [_condition(rnd) for _ in range(rnd.randint(0, 1))]
        lines = [
            "rules:", f"  - id: GEN-{i:03d}", "    title: 生成的规则", "    family: outlier_review", "    severity: info",
            "    action: note", f"    scope: {rnd.choice(('all', 'all', 'cross_region', 'local'))}",
            "    schemes: [DRG, DIP, PER_DIEM, FFS]", "    stage: 事后", "    status: active", "    effective: {from: 2025-01-01}",
            "    reference: 医保办函〔2025〕3号 结算清单质控",
            f"    pair: {'true' if pair else 'false'}",
            f"    params: {{limit: {{default: {rnd.choice((1, 2, 3, 10, 0.5))}, type: number}}, days: {{default: {rnd.choice((15, 30, 90))}, type: int}}}}",
            "    when:", *[f"      - {_yaml(c)}" for c in when],
            *(["    unless:", *[f"      - {_yaml(c)}" for c in unless]] if unless else []),
            '    message: "{claim_id}"', "    amount_at_risk: 0", "    examples:", "      hit: [{name: 例, claim: {}}]",
        ]  # fmt: skip
        (rules / f"gen_{i:03d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for _ in range(count + 1):
        try:
            pack = load_pack(rules)
            for key in ["national", *sorted(pack.regions)]:
                from drgaudit.engine.compiler import compile_profile

                profile = compile_profile(pack, None if key == "national" else key)
                if profile.problems:
                    raise _Refused(profile.problems)
            return pack
        except Exception as exc:  # noqa: BLE001 - any refusal names the file to drop
            errors = getattr(exc, "errors", None) or getattr(exc, "problems", None) or []
            paths = {Path(str(getattr(e, "position", e).path)).name for e in errors if hasattr(e, "position")}
            paths = {p for p in paths if p.startswith("gen_")}
            if not paths:
                raise
            for name in paths:
                (rules / name).unlink()
    raise AssertionError("could not build a generated pack")


class _Refused(Exception):
    def __init__(self, problems: list) -> None:
        super().__init__(problems)
        self.problems = problems


def _yaml(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.parametrize("seed", [101, 102])
def test_generated_packs_prefilter_is_sound(tmp_path: Path, seed: int) -> None:
    pack = _generated_pack(tmp_path, seed, count=30)
    generated = [r for r in pack.rules if r.id.startswith("GEN-")]
    assert len(generated) >= 10, "most generated rules must load"
    _, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=60)
    with_filter = Screener(pack, reference(pack, codes, hospitals, groups))
    fired, _, _ = _check_superset(pack, with_filter, claims)
    assert fired > 0
    without = Screener(pack, reference(pack, codes, hospitals, groups), prefilter=False)
    expected = [h.to_dict() for h in screen_claims(without, claims)]
    assert [h.to_dict() for h in screen_claims(with_filter, claims)] == expected
    assert [h.to_dict() for h in _one_patient_at_a_time(with_filter, claims)] == expected


def _one_patient_at_a_time(screener: Screener, claims: list[dict]) -> list:
    """As the API screens: one patient at a time, the pre-filter's claim-by-claim form (`precheck`) first."""
    by_patient: dict[str, list[dict]] = {}
    for claim in claims:
        by_patient.setdefault(claim["patient_id"], []).append(claim)
    return [
        hit
        for patient_id in sorted(by_patient)
        for hit in screener.screen_patient(
            patient_id, sorted(by_patient[patient_id], key=sort_key), precheck=True
        )
    ]


def test_a_pair_rule_keeps_a_readmission_and_drops_a_lone_ordinary_claim() -> None:
    import datetime as dt

    from tests.engine_support import claim, group, hospital

    pack, codes = bundled()
    first = claim(claim_id="A1", admit_date=dt.date(2025, 5, 1), discharge_date=dt.date(2025, 5, 8))
    again = claim(claim_id="A2", admit_date=dt.date(2025, 5, 18), discharge_date=dt.date(2025, 5, 25))
    lone = claim(claim_id="B1", patient_id="P2")
    screener = Screener(pack, reference(pack, codes, [hospital()], [group("ES35")]))
    hits = screen_claims(screener, [first, again, lone])
    assert [(h.claim_id, h.rule_id) for h in hits] == [("A2", "SPLIT-001")]
    stats = screener.prefilter_stats()
    assert (stats.seen, stats.kept) == (3, 1)  # only the readmission went through durable-rules
    assert stats.by_rule == {"SPLIT-001": 1}


# ---- per-ruleset routing: a claim goes only into the rulesets where some rule could fire on it --------


def _by_patient(claims: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for claim in claims:
        found.setdefault(claim["patient_id"], []).append(claim)
    return {pid: sorted(batch, key=sort_key) for pid, batch in sorted(found.items())}


def _check_routes(
    screener: Screener, claims: list[dict], routes: Mapping[str, frozenset[str]]
) -> tuple[int, int]:
    """Every durable-rules match of every batch claim, run (with no pre-filter) through every ruleset of
    its profile, is in a ruleset the claim is routed into (`routes`: claim id -> ruleset names, a
    claim the pre-filter dropped has none). Returns (matches, (kept claim, ruleset) pairs routed away)."""
    matches = away = 0
    missed = []
    for patient_id, batch in _by_patient(claims).items():
        prepared = screener.prepare(patient_id, batch)
        for key, targets in prepared.by_profile.items():
            profile = screener._profile(key)
            names = profile.runtime.ruleset_names
            away += sum(len(names) - len(routes[c]) for c in targets if c in routes)
            for match in profile.runtime.run(patient_id, profile.runtime.project(prepared.facts, targets)):
                matches += 1
                ruleset = names[profile.by_name[match.rule].ruleset]
                if ruleset not in routes.get(match.claim_id, ()):
                    missed.append((key, profile.by_name[match.rule].rule.id, match.claim_id, ruleset))
    assert not missed, f"claims routed away from a ruleset where a rule fires on them: {missed[:5]}"
    return matches, away


def _derived_routes(screener: Screener, claims: list[dict]) -> dict[str, frozenset[str]]:
    """The routes the pre-filter on derived facts (`apply_prefilter`) gives the batch claims."""
    prepared = [screener.prepare(pid, batch) for pid, batch in _by_patient(claims).items()]
    screener.apply_prefilter(prepared)
    routes: dict[str, frozenset[str]] = {}
    for item in prepared:
        kept = {c for ids in item.by_profile.values() for c in ids}
        assert item.routes is not None and kept == set(item.routes)  # every kept claim has its route
        routes.update(item.routes)
    return routes


def _unrouted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every claim the pre-filter kept goes into every ruleset of its profile (routes ignored)."""
    run, project = Runtime.run, Runtime.project
    monkeypatch.setattr(
        Runtime, "run", lambda self, patient, projected, routes=None: run(self, patient, projected)
    )
    monkeypatch.setattr(
        Runtime, "project", lambda self, facts, targets, routes=None: project(self, facts, targets)
    )


@pytest.mark.parametrize("seed", [41, 42])
def test_a_claim_routed_away_from_a_ruleset_has_no_hit_there(seed: int) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=120)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    matches, away = _check_routes(screener, claims, _derived_routes(screener, claims))
    assert matches > 30 and away > 0  # the world reaches the rules, and routing skips rulesets


@pytest.mark.parametrize("seed", [104, 105])
def test_generated_packs_give_the_same_hits_routed_and_not_routed(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Near thresholds, with the grammar of generated rules spread over three or more rulesets: each claim
    routed into its rulesets only gives the same hits as every kept claim in every ruleset, and as no
    pre-filter at all."""
    pack = _generated_pack(tmp_path, seed, count=30)
    _, codes = bundled()
    claims, hospitals, groups = _world(seed, patients=80)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    assert len(screener._profile("national").runtime.ruleset_names) >= 3
    matches, away = _check_routes(screener, claims, _derived_routes(screener, claims))
    assert matches > 0 and away > 0
    routed = [h.to_dict() for h in screen_claims(screener, claims)]
    assert routed == [h.to_dict() for h in _one_patient_at_a_time(screener, claims)]  # routed by `precheck`
    without = Screener(pack, reference(pack, codes, hospitals, groups), prefilter=False)
    assert routed == [h.to_dict() for h in screen_claims(without, claims)]
    with monkeypatch.context() as patched:
        _unrouted(patched)
        assert routed == [h.to_dict() for h in screen_claims(screener, claims)]


def test_a_wrong_route_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above can fail: routes that send each claim into the other ruleset(s) than the
    pre-filter found lose hits, and `_check_routes` names them."""
    pack, codes = bundled()
    claims, hospitals, groups = _world(43, patients=120)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    unrouted = [
        h.to_dict() for h in screen_claims(Screener(pack, reference(pack, codes, hospitals, groups)), claims)
    ]
    routes = Screener._routes

    def rotated(self: Screener, key: str, fired: np.ndarray) -> tuple[np.ndarray, list[frozenset[str]]]:
        return routes(self, key, np.roll(fired, 1, axis=0))  # ruleset i's claims go into ruleset i + 1

    monkeypatch.setattr(Screener, "_routes", rotated)
    with pytest.raises(AssertionError, match="routed away"):
        _check_routes(screener, claims, _derived_routes(screener, claims))
    assert [h.to_dict() for h in screen_claims(screener, claims)] != unrouted
