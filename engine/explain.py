"""Why a claim was or was not hit: every rule of its region, fired or not, with each condition's value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drgaudit import labels
from drgaudit.engine.evaluate import Env, evaluate
from drgaudit.engine.expr import Ref, walk
from drgaudit.engine.facts import patient_facts
from drgaudit.engine.functions import FUNCTIONS
from drgaudit.engine.hits import Hit, condition_trace, display, render_message
from drgaudit.engine.lists import NamedList
from drgaudit.engine.nodes import render_words
from drgaudit.engine.rule import Rule
from drgaudit.engine.screen import Screener
from drgaudit.engine.vocabulary import FACTS, LISTS, PARAMS, REGION, param_labels
from drgaudit.i18n import _


@dataclass
class ConditionValue:
    """One condition of a rule, evaluated on a claim (and an earlier claim for a pair rule), with the
    facts it read and the thresholds (rule parameters, region settings) it compared them with."""

    kind: str  # when | unless
    source: str
    value: bool
    reads: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)


def condition_words(rule: Rule, lists: Mapping[str, NamedList]) -> dict[str, str]:
    """Each `when`/`unless` condition of the rule (by its source text) written in words for people who
    do not read rules: facts by their Chinese labels, parameters by the description the rule file gives,
    named lists by their titles, functions by the words the registry gives them."""
    extra = param_labels(rule)

    def name(dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        if head == LISTS:
            found = lists.get(rest)
            return f"名单“{found.title if found is not None else rest}”"
        return labels.label(dotted, extra)

    def function(called: str) -> str:
        return (FUNCTIONS[called].words or called) if called in FUNCTIONS else called

    return {
        expr.source: render_words(expr.root, name, function, labels.value_label)
        for expr in (*rule.when, *rule.unless)
    }


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
    codes: str = ""  # the code set the claim was judged against (CodeTables.label)


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
            conditions = [
                ConditionValue(c["kind"], c["condition"], c["value"], *_operands(expr, seen, env))
                for c, expr in zip(when + unless, (*rule.when, *rule.unless), strict=True)
            ]
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


def _operands(expr: Any, seen: dict[str, Any], env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    """The facts one condition read (with their values) and the thresholds it used."""
    reads: dict[str, Any] = {}
    thresholds: dict[str, Any] = {}
    for node in walk(expr.root):
        if not isinstance(node, Ref):
            continue
        if node.path[0] == PARAMS and len(node.path) == 2 and node.path[1] in env.params:
            thresholds[node.dotted] = display(env.params[node.path[1]])
        elif node.path[0] == REGION and len(node.path) == 2:
            thresholds[node.dotted] = display(env.settings.get(node.path[1]))
        elif node.dotted in seen:
            reads[node.dotted] = seen[node.dotted]
    return reads, thresholds


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "—"


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if name in labels.VALUE_LABELS or isinstance(value, bool):
        return labels.value_label(name, value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def operand_lines(condition: ConditionValue, extra: dict[str, str], indent: str) -> list[str]:
    """The facts a condition read and the thresholds beside them, with their Chinese names."""
    parts = [f"{labels.label(k, extra)} = {_shown(k, v)}" for k, v in condition.reads.items()]
    limits = [f"{labels.label(k, extra)} = {_shown(k, v)}" for k, v in condition.thresholds.items()]
    if limits:
        parts.append(labels.label("thresholds") + " " + "，".join(limits))
    return [f"{indent}{'；'.join(parts)}"] if parts else []


def _payment_line(facts: dict[str, Any]) -> str:
    """Total cost, the payment estimate and how it was reached, the group standard and the cost ratio."""
    L, V = labels.label, labels.value_label
    line = f"{L('total_cost')} {_money(facts.get('total_cost'))}"
    if facts.get("outside_purchase"):
        line += (
            f" + {L('outside_purchase')} {_money(facts['outside_purchase'])}"
            f" = {L('case_cost')} {_money(facts.get('case_cost'))}"
        )
    line += (
        f"；{L('payment_estimate')} {_money(facts.get('payment_estimate'))}"
        f"（{V('payment_kind', facts.get('payment_kind'))}）"
    )
    if facts.get("case_payment") is not None:
        line += f"；{L('case_payment')} {_money(facts['case_payment'])}"
        level = facts.get("hospital.level")
        if facts.get("is_basic_disease_group"):
            line += f"（{L('is_basic_disease_group')}：是，不乘等级系数，各级医院同价；{L('hospital.level')} {V('hospital.level', level)}）"
        elif level is not None:
            line += f"（{L('hospital.level')} {V('hospital.level', level)}）"
    if facts.get("region_relation") == "cross_province":
        line += f"；{V('region_relation', 'cross_province')}"
    if facts.get("cost_ratio") is not None:
        high = f"{L('high_ratio_limit')} {facts.get('high_ratio_limit')}"
        if facts.get("high_ratio_tier"):
            high += f"（{L('high_ratio_tier')} {facts['high_ratio_tier']}，{L('group.weight')} {facts.get('group.weight')}）"
        limits = "，".join(
            [
                f"{L('low_ratio_limit')} {facts.get('low_ratio_limit')}",
                high,
                f"{L('extreme_ratio_limit')} {facts.get('extreme_ratio_limit')}",
            ]
        )
        line += f"；{L('cost_ratio')} {facts['cost_ratio']:.2f}（{limits}）"
    if facts.get("payment_placeholder"):
        line += f"；{L('payment_placeholder')}：是（就医地未配置支付参数，按全国默认值测算）"
    return line


def render_explanation(
    explanation: ClaimExplanation, settings_labels: dict[str, str] | None = None
) -> list[str]:
    """The explanation as text lines: every rule, fired or not, with each condition's value and the facts
    and thresholds it compared, named in Chinese (drgaudit.labels)."""
    facts = explanation.facts

    def named(name: str) -> str:
        return f"{labels.label(name)} {_shown(name, facts.get(name))}"

    lines = [
        _("claim {claim}").format(claim=explanation.claim_id)
        + ": "
        + "，".join(named(n) for n in ("patient_id", "hospital_id", "insured_region", "treatment_region"))
        + "（"
        + _("rule profile {profile}").format(profile=explanation.profile)
        + "），"
        + f"{named('admit_date')} – {facts.get('discharge_date')}，"
        + f"{labels.value_label('payment_scheme', facts.get('payment_scheme'))} {facts.get('group_code') or ''}".rstrip()
    ]
    if explanation.codes:
        lines.append(_("code tables: {source}").format(source=explanation.codes))
    lines.append(_payment_line(facts))
    fired = sum(r.fired for r in explanation.rules)
    lines.append(_("{fired} of {total} rules fired").format(fired=fired, total=len(explanation.rules)))
    for rule in explanation.rules:
        if rule.fired:
            status = "HIT "
        elif not rule.applies:
            status = "n/a "
        else:
            status = "no  "
        extra = {**(settings_labels or {}), **param_labels(rule.rule)}
        lines.append("")
        lines.append(
            f"{status} {rule.rule_id}  {rule.rule.title}  "
            f"[{labels.value_label('action', rule.rule.action)}，{labels.value_label('severity', rule.rule.severity)}]"
        )
        for reason in rule.not_applicable:
            lines.append("      " + _("not applicable: {reason}").format(reason=reason))
        if rule.earlier_id:
            lines.append("      " + _("earlier claim: {claim}").format(claim=rule.earlier_id))
        for condition in rule.conditions:
            lines.append(
                f"      {condition.kind:<6} {'true ' if condition.value else 'false'}  {condition.source}"
            )
            lines.extend(operand_lines(condition, extra, " " * 20))
        if rule.hit is not None:
            lines.append(f"      {labels.label('message')}: {rule.hit.message}")
            lines.append(f"      {labels.label('amount_at_risk')}: {rule.hit.amount_at_risk:,.2f}")
    return lines
