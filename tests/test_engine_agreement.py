"""durable-rules and the Python evaluation of the same conditions must agree on every rule and claim."""

from __future__ import annotations

import pytest

from drgaudit.engine.explain import explain_claim
from drgaudit.engine.screen import Screener, screen_claims
from tests.engine_support import bundled, random_world, reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_durable_rules_agrees_with_condition_values(seed: int) -> None:
    pack, codes = bundled()
    claims, hospitals, groups = random_world(seed, patients=60)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    by_patient: dict[str, list[dict]] = {}
    for c in claims:
        by_patient.setdefault(c["patient_id"], []).append(c)
    checked = fired = 0
    disagreements = []
    for patient_claims in by_patient.values():
        for target in patient_claims:
            history = [c for c in patient_claims if c is not target]
            explanation = explain_claim(screener, target["claim_id"], [target], history)
            for rule in explanation.rules:
                checked += 1
                fired += rule.fired
                if rule.fired != rule.python_verdict:
                    disagreements.append(
                        (
                            target["claim_id"],
                            rule.rule_id,
                            rule.fired,
                            [(c.source, c.value) for c in rule.conditions],
                        )
                    )
    assert not disagreements, disagreements[:5]
    assert checked > 500
    assert fired > 20  # the random world does reach the rules


def test_same_input_same_hits_same_order() -> None:
    pack, codes = bundled()
    claims, hospitals, groups = random_world(7, patients=40)
    first = [
        h.to_dict() for h in screen_claims(Screener(pack, reference(pack, codes, hospitals, groups)), claims)
    ]
    second = [
        h.to_dict()
        for h in screen_claims(
            Screener(pack, reference(pack, codes, hospitals, groups)), list(reversed(claims))
        )
    ]
    assert first == second
    assert first
