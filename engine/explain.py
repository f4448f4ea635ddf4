"""Why a claim was or was not hit: every rule of its region, fired or not, with each condition's value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from drgaudit.engine.evaluate import Env, evaluate
from drgaudit.engine.facts import patient_facts
from drgaudit.engine.hits import Hit, condition_trace, display, render_message
from drgaudit.engine.rule import Rule
from drgaudit.engine.screen import Screener
from drgaudit.engine.vocabulary import FACTS


@dataclass
class ConditionValue:
    """One condition of a rule, evaluated on a claim (and an earlier claim for a pair rule)."""

    kind: str  # when | unless
    source: str
    value: bool


@dataclass
class RuleExplanation:
    """One rule on one claim: does it apply, did it fire, and the value of each condition."""

    rule: Rule
    fired: bool
    applies: bool
    not_applicable: list[str]
    conditions: list[ConditionValue]
    values: dict[str, Any]
    earlier_id: str | None = None
    candidates: int = 0
    hit: Hit | None = None

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def python_verdict(self) -> bool:
        """What the conditions say, evaluated in Python: applies, every `when` true, no `unless` true."""
        if not self.applies:
            return False
        whens = [c.value for c in self.conditions if c.kind == "when"]
        unless = [c.value for c in self.conditions if c.kind == "unless"]
        return all(whens) and not any(unless)


@dataclass
class ClaimExplanation:
    """Every rule of a claim's treatment-region profile, fired or not."""

    claim_id: str
    region: str
    profile: str
    facts: dict[str, Any]
    rules: list[RuleExplanation] = field(default_factory=list)


def _applicability(env: Env, rule: Rule) -> list[str]:
    """Why the rule does not apply to the claim (its scope, schemes, dates), from the rule's own conditions."""
    reasons: list[str] = []
    for item in rule.applicability:
        if not evaluate(item.condition.root, env):
            reason = render_message(item.reason, env, {})
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def explain_claim(
    screener: Screener, claim_id: str, batch: list[dict[str, Any]], history: Sequence[dict[str, Any]] = ()
) -> ClaimExplanation:
    """Explain one claim of a patient's batch: screen the patient, then evaluate every rule on the claim."""
    claims = {c["claim_id"]: c for c in history}
    claims.update({c["claim_id"]: c for c in batch})
    if claim_id not in claims:
        raise KeyError(claim_id)
    target = claims[claim_id]
    patient_id = target["patient_id"]
    hits = [
        h
        for h in screener.screen_patient(
            patient_id, [target], [c for c in claims.values() if c["claim_id"] != claim_id]
        )
        if h.claim_id == claim_id
    ]
    facts = patient_facts(list(claims.values()), {claim_id}, screener.reference, screener.windows)
    by_id = {f["claim_id"]: f for f in facts}
    fact = by_id[claim_id]
    profile = screener.profile_for(target["treatment_region"])
    hits_by_rule = {h.rule_id: h for h in hits}
    shown = {
        name: display(fact.get(f.key), f.type)
        for name, f in FACTS.items()
        if f.type != "list" or fact.get(f.key)
    }
    result = ClaimExplanation(claim_id, target["treatment_region"], profile.compiled.profile, shown)
    for compiled in sorted(profile.compiled.rules, key=lambda c: c.order):
        rule = compiled.rule
        reasons = _applicability(
            Env(fact, None, compiled.bound.params, profile.compiled.settings, screener.pack.lists), rule
        )
        earlier_candidates = [f for f in facts if f["seq"] < fact["seq"]] if rule.pair else [None]
        best = None
        for earlier in reversed(earlier_candidates):
            env = Env(fact, earlier, compiled.bound.params, profile.compiled.settings, screener.pack.lists)
            when, seen = condition_trace(rule.when, env, "when")
            unless, seen_unless = condition_trace(rule.unless, env, "unless")
            seen.update(seen_unless)
            conditions = [ConditionValue(c["kind"], c["condition"], c["value"]) for c in when + unless]
            explanation = RuleExplanation(
                rule,
                rule.id in hits_by_rule,
                not reasons,
                reasons,
                conditions,
                seen,
                earlier["claim_id"] if earlier else None,
                len(earlier_candidates) if rule.pair else 0,
                hits_by_rule.get(rule.id),
            )
            if best is None or explanation.python_verdict:
                best = explanation
            if explanation.python_verdict:
                break
        if best is None:  # a pair rule and no earlier claim at all
            best = RuleExplanation(
                rule,
                rule.id in hits_by_rule,
                not reasons,
                reasons,
                [],
                {},
                None,
                0,
                hits_by_rule.get(rule.id),
            )
            best.not_applicable = reasons + ["参保人没有更早的住院记录可与本次配对"]
            best.applies = False
        result.rules.append(best)
    return result


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "unknown"


def _payment_line(facts: dict[str, Any]) -> str:
    """Total cost, the payment estimate and how it was reached, the group standard and the cost ratio."""
    line = f"total cost {_money(facts.get('total_cost'))}"
    if facts.get("outside_purchase"):
        line += f" + outside purchases {_money(facts['outside_purchase'])} = case cost {_money(facts.get('case_cost'))}"
    line += f"; payment estimate {_money(facts.get('payment_estimate'))} ({facts.get('payment_kind')})"
    if facts.get("case_payment") is not None:
        line += f"; group standard {_money(facts['case_payment'])}"
        level = facts.get("hospital.level")
        if facts.get("is_basic_disease_group"):
            line += f" (basic-disease group 基层病种: no level coefficient, the same at every level; hospital level {level})"
        elif level is not None:
            line += f" (hospital level {level})"
    if facts.get("region_relation") == "cross_province":
        line += "; cross-province claim (跨省异地)"
    if facts.get("cost_ratio") is not None:
        line += f"; cost ratio {facts['cost_ratio']:.2f} (low ≤ {facts['low_ratio_limit']}, high ≥ {facts['high_ratio_limit']}"
        if facts.get("high_ratio_tier"):
            line += (
                f" by the weight tier {facts['high_ratio_tier']} (group weight {facts.get('group.weight')})"
            )
        line += f", extreme > {facts['extreme_ratio_limit']})"
    if facts.get("payment_placeholder"):
        line += (
            "; PLACEHOLDER rates: the treatment region has no configuration, priced on the national defaults"
        )
    return line


def render_explanation(explanation: ClaimExplanation) -> list[str]:
    """The explanation as text lines: every rule, fired or not, with each condition's value."""
    facts = explanation.facts
    lines = [
        f"claim {explanation.claim_id}: patient {facts.get('patient_id')}, hospital {facts.get('hospital_id')}, "
        f"treatment region {explanation.region} (rule profile: {explanation.profile}), "
        f"{facts.get('admit_date')} – {facts.get('discharge_date')}, {facts.get('payment_scheme')} {facts.get('group_code') or ''}".rstrip()
    ]
    lines.append(_payment_line(facts))
    fired = sum(r.fired for r in explanation.rules)
    lines.append(f"{fired} of {len(explanation.rules)} rules fired")
    for rule in explanation.rules:
        if rule.fired:
            status = "HIT "
        elif not rule.applies:
            status = "n/a "
        else:
            status = "no  "
        lines.append("")
        lines.append(
            f"{status} {rule.rule_id}  {rule.rule.title}  [{rule.rule.action}, {rule.rule.severity}]"
        )
        for reason in rule.not_applicable:
            lines.append(f"      not applicable: {reason}")
        if rule.earlier_id:
            lines.append(f"      earlier claim: {rule.earlier_id}")
        for condition in rule.conditions:
            lines.append(
                f"      {condition.kind:<6} {'true ' if condition.value else 'false'}  {condition.source}"
            )
        if rule.values:
            lines.append("      values: " + ", ".join(f"{k}={v}" for k, v in rule.values.items()))
        if rule.hit is not None:
            lines.append(f"      message: {rule.hit.message}")
            lines.append(f"      amount at risk: {rule.hit.amount_at_risk:,.2f}")
    return lines
