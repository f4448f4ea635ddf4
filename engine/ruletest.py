"""Runs every rule's examples through the real engine: claims that must hit, and claims that must not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drgaudit.engine.codes import CodeTables
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.explain import RuleExplanation, explain_claim, operand_lines
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.indicators import INDICATOR_KEYS, NO_INDICATORS
from drgaudit.engine.pack import RulePack
from drgaudit.engine.rule import Example, Rule
from drgaudit.engine.screen import Screener
from drgaudit.engine.vocabulary import param_labels
from drgaudit.engine.yamlsource import YMap
from drgaudit.i18n import _
from drgaudit.ingest.rows import RowConverter

STATUSES_TESTED = ("active", "draft")


@dataclass
class ExampleResult:
    """The outcome of one example: did the rule fire as the example expects, and why."""

    rule: Rule
    example: Example
    fired: bool
    explanation: RuleExplanation | None = None
    errors: list[RuleFileError] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and self.fired == (self.example.expect == "hit")

    @property
    def engines_agree(self) -> bool:
        """durable-rules and the Python evaluation of the conditions reach the same verdict."""
        return self.explanation is None or self.explanation.python_verdict == self.fired


def _merged(*parts: dict[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for part in parts:
        if part:
            result.update(part)
    return result


def _convert(
    kind: str, raw: dict[str, Any], source: YMap | None, example: Example, errors: list[RuleFileError]
) -> dict[str, Any] | None:
    converter = RowConverter(kind, example.position.path)
    result = converter(example.position.line, raw)
    if isinstance(result, dict):
        return result
    for error in result:
        position = (
            source.value_at(error.field)
            if isinstance(source, YMap) and error.field in source
            else example.position
        )
        errors.append(
            RuleFileError(
                position, f"example `{example.name}`: {error.field}: {error.reason}", code="example"
            )
        )
    return None


@dataclass
class ExampleCase:
    """What one example screens: the claim, its history, hospitals, group entries and hospital indicators."""

    claim: dict[str, Any] | None
    history: list[dict[str, Any]]
    hospitals: dict[str, dict[str, Any]]
    groups: dict[tuple[str, str, str], dict[str, Any]]
    indicators: dict[str, dict[str, Any]]
    errors: list[RuleFileError]


def build_example(pack: RulePack, example: Example) -> ExampleCase:
    """The claim, history, hospitals and groups of one example, from the pack defaults and its overrides."""
    defaults = pack.example_defaults
    errors: list[RuleFileError] = []
    region_default = {"treatment_region": example.region} if example.region else {}
    claim_raw = _merged(defaults.claim, region_default, example.claim)
    claim = _convert("claims", claim_raw, example.claim, example, errors)
    history = []
    for item in example.history:
        raw = _merged(defaults.claim, region_default, defaults.history_claim, item)
        converted = _convert("claims", raw, item, example, errors)
        if converted:
            history.append(converted)
    regions = {r["treatment_region"] for r in [claim, *history] if r}
    hospital_raw = _merged(
        defaults.hospital, {"region": example.region} if example.region else {}, example.hospital
    )
    indicators = {f"hospital__{k}": hospital_raw.pop(k) for k in INDICATOR_KEYS if k in hospital_raw}
    hospital = _convert("hospitals", hospital_raw, example.hospital, example, errors)
    hospitals = {hospital["hospital_id"]: hospital} if hospital else {}
    by_hospital = (
        {hospital["hospital_id"]: {**NO_INDICATORS, **indicators}} if hospital and indicators else {}
    )
    for other in example.other_hospitals:
        converted = _convert("hospitals", _merged(defaults.hospital, other), other, example, errors)
        if converted:
            hospitals[converted["hospital_id"]] = converted
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for raw_group, source in (
        (defaults.group, None),
        (_merged(defaults.group, example.group), example.group),
    ):
        for region in sorted(regions):
            group = _convert("groups", {**raw_group, "region": region}, source, example, errors)
            if group:
                groups[(group["region"], group["scheme"], group["group_code"])] = group
    return ExampleCase(claim, history, hospitals, groups, by_hospital, errors)


def run_examples(
    pack: RulePack, codes: CodeTables, *, rule_ids: set[str] | None = None
) -> list[ExampleResult]:
    """Every example of every (selected) rule, screened on durable-rules and explained."""
    screener = Screener(pack, ReferenceData({}, {}, codes, pack), statuses=STATUSES_TESTED)
    results = []
    for rule in pack.rules:
        if rule.status not in STATUSES_TESTED or (rule_ids and rule.id not in rule_ids):
            continue
        for example in rule.examples:
            case = build_example(pack, example)
            if case.errors or case.claim is None:
                results.append(ExampleResult(rule, example, False, None, case.errors))
                continue
            screener.reference = ReferenceData(case.hospitals, case.groups, codes, pack, case.indicators)
            explanation = explain_claim(screener, case.claim["claim_id"], [case.claim], case.history)
            mine = next((r for r in explanation.rules if r.rule is rule), None)
            fired = bool(mine and mine.fired)
            results.append(ExampleResult(rule, example, fired, mine))
    return results


def describe(result: ExampleResult, settings_labels: dict[str, str] | None = None) -> list[str]:
    """Lines explaining an example: expected vs actual, each condition's value, and the facts it read with
    the thresholds beside them, in Chinese (drgaudit.labels); the condition that decided is marked."""
    lines: list[str] = []
    if result.errors:
        lines.extend(f"  {e.render()}" for e in result.errors)
        return lines
    expected = _("hit") if result.example.expect == "hit" else _("no hit")
    actual = _("hit") if result.fired else _("no hit")
    lines.append(
        "  " + _("expected: {expected}    actual: {actual}").format(expected=expected, actual=actual)
    )
    explanation = result.explanation
    if explanation is None:
        return lines
    if not explanation.applies:
        for reason in explanation.not_applicable:
            lines.append("  " + _("not applicable: {reason}").format(reason=reason))
    if explanation.earlier_id:
        lines.append(
            "  "
            + _("paired with earlier claim {claim} (of {candidates})").format(
                claim=explanation.earlier_id, candidates=explanation.candidates
            )
        )
    want_hit = result.example.expect == "hit"
    extra = {**(settings_labels or {}), **param_labels(result.rule)}
    for condition in explanation.conditions:
        # A condition "differs" when it is what keeps the example from its expected outcome.
        blocking = (condition.kind == "when" and not condition.value) or (
            condition.kind == "unless" and condition.value
        )
        mark = "✗" if want_hit and blocking else ("•" if not want_hit and not blocking else " ")
        value = "true " if condition.value else "false"
        lines.append(f"  {mark} {condition.kind:<6} {value}  {condition.source}")
        lines.extend(operand_lines(condition, extra, " " * 17))
    if not want_hit and result.fired:
        lines.append("  " + _("every `when` condition held and no `unless` condition did"))
    if not result.engines_agree:
        lines.append(
            "  "
            + _(
                "ENGINE DISAGREEMENT: durable-rules and the condition values above disagree; please report this rule"
            )
        )
    return lines
