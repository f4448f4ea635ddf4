"""durable-rules and the Python evaluator agree near the boundary of every active rule.

Each active rule's examples (pinned at every threshold, `rules test --strict`) are nudged by small steps
(tests/boundary_variants.py) until the rule has fired at least MIN_EACH times and not fired at least
MIN_EACH times on claims near its boundaries, hospital-indicator rules included; every variant is
screened on durable-rules and evaluated in Python, and the two must agree on every rule of its region.
A rule that cannot be brought to both sides fails the test.
"""

from __future__ import annotations

import random
from collections import Counter

from drgaudit.engine.boundaries import ExampleBench, thresholds, verdict
from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.evaluate import evaluate
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.rule import Rule
from tests.boundary_variants import variants

MIN_EACH = 50
# Variants tried per rule before giving up on reaching both sides.
BUDGET = 1500
# Near a boundary: within this many steps of a threshold, or this share of the threshold's value.
NEAR_STEPS, NEAR_SHARE = 3, 0.05


def near(rule: Rule, found: list, env) -> bool:
    """Whether the claim of `env` sits near one of the rule's thresholds (always, for rules without any)."""
    if not found:
        return True
    for threshold in found:
        fact, constant = evaluate(threshold.fact_side, env), evaluate(threshold.constant, env)
        if isinstance(fact, (int, float)) and isinstance(constant, (int, float)):
            gap = abs(fact - constant)
            if gap <= max(NEAR_STEPS * threshold.step, NEAR_SHARE * abs(constant)):
                return True
    return False


def test_durable_rules_and_python_agree_near_every_boundary() -> None:
    pack = load_pack(bundled_rules_dir())
    codes = CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))
    bench = ExampleBench(pack, codes)
    rng = random.Random(20251205)
    counts: dict[str, Counter[str]] = {}
    disagreements: list[tuple[str, str, str, bool, bool]] = []
    try:
        for rule in pack.rules:
            if rule.status != "active":
                continue
            found = thresholds(pack, rule)
            tally = counts.setdefault(rule.id, Counter())
            streams = [variants(pack, rule, example, rng) for example in rule.examples]
            tried = 0
            while (tally["fired"] < MIN_EACH or tally["not fired"] < MIN_EACH) and tried < BUDGET:
                example = next(streams[tried % len(streams)])
                tried += 1
                prepared = bench.prepare(example)
                item = bench.env(rule, prepared)
                if item.env is None:
                    continue  # a nudge the data contract refuses (fees over the total, …)
                claim = prepared.case.claim
                hits = {
                    h.rule_id
                    for h in bench.screener.screen_patient(
                        claim["patient_id"], [claim], prepared.case.history
                    )
                    if h.claim_id == claim["claim_id"]
                }
                # Every rule of the claim's region: durable-rules' hits against the Python verdict.
                profile = bench.screener.profile_for(claim["treatment_region"])
                for compiled in profile.compiled.rules:
                    other = compiled.rule
                    env = item.env if other.key == rule.key else bench.env(other, prepared).env
                    if env is None:
                        continue
                    python = verdict(other, env)
                    if python != (other.id in hits):
                        disagreements.append((rule.id, example.name, other.id, other.id in hits, python))
                if near(rule, found, item.env):
                    tally["fired" if rule.id in hits else "not fired"] += 1
    finally:
        bench.close()
    assert not disagreements, disagreements[:10]
    short = {
        rule_id: dict(t)
        for rule_id, t in counts.items()
        if t["fired"] < MIN_EACH or t["not fired"] < MIN_EACH
    }
    assert not short, f"rules not exercised {MIN_EACH} times on each side of their boundaries: {short}"
    assert "UPC-004" in counts  # the hospital-indicator rule is among them
