"""Lint of a parsed rule pack: one registry of validators, each returning located errors and warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from drgaudit.contract import field_map
from drgaudit.engine.checker import check_expression, rule_scope
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import Expression, Ref, walk
from drgaudit.engine.indicators import INDICATOR_KEYS
from drgaudit.engine.pack import RulePack
from drgaudit.engine.references import PRACTICE_WORD, REFERENCES_FILE
from drgaudit.engine.region import merge_problems
from drgaudit.engine.rule import Rule, check_param_bounds, param_value_ok
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.vocabulary import BOOL, EARLIER, NUMBER, PARAMS, REGION
from drgaudit.engine.yamlsource import Position, YMap, number_hint

Issues = tuple[list[RuleFileError], list[RuleFileError]]


def _warning(position: Position, message: str, hint: str | None = None) -> RuleFileError:
    return RuleFileError(position, message, hint, code="lint", severity="warning")


def check_expressions(pack: RulePack) -> Issues:
    """Unknown fields, params, lists and settings; type mismatches in conditions, amounts and messages."""
    errors: list[RuleFileError] = []
    warnings: list[RuleFileError] = []
    for rule in pack.rules:
        scope = rule_scope(pack, rule)
        for expr in rule.when + rule.unless:
            check_expression(expr, scope, errors, want=BOOL)
        check_expression(rule.amount_at_risk, scope, errors, want=NUMBER)
        for placeholder in rule.message.placeholders:
            check_expression(placeholder.expression, scope, errors, want=None)
        used = _params_used(rule)
        for name, param in rule.params.items():
            if name not in used:
                warnings.append(_warning(param.position, f"param `{name}` of {rule.id} is never used"))
        if rule.pair and not _uses_earlier(rule):
            warnings.append(
                _warning(
                    rule.data.value_at("pair"), f"{rule.id} is a pair rule but no condition names `earlier.`"
                )
            )
    return errors, warnings


def _all_expressions(rule: Rule) -> Iterator[Expression]:
    yield from rule.when
    yield from rule.unless
    yield rule.amount_at_risk
    for placeholder in rule.message.placeholders:
        yield placeholder.expression


def _params_used(rule: Rule) -> set[str]:
    used = set()
    for expr in _all_expressions(rule):
        for node in walk(expr.root):
            if isinstance(node, Ref) and node.path[0] == PARAMS and len(node.path) == 2:
                used.add(node.path[1])
    return used


def _uses_earlier(rule: Rule) -> bool:
    return any(
        isinstance(n, Ref) and n.path[0] == EARLIER for e in _all_expressions(rule) for n in walk(e.root)
    )


def check_ids(pack: RulePack) -> Issues:
    """The same id twice with overlapping effective ranges (one id may have successive versions)."""
    errors: list[RuleFileError] = []
    by_id: dict[str, list[Rule]] = {}
    for rule in pack.rules:
        by_id.setdefault(rule.id, []).append(rule)
    for rule_id, versions in by_id.items():
        for i, later in enumerate(versions):
            for earlier in versions[:i]:
                if _overlap(earlier, later):
                    same = (
                        earlier.effective_from == later.effective_from
                        and earlier.effective_to == later.effective_to
                    )
                    what = "duplicate rule id" if same else "overlapping effective ranges for rule id"
                    errors.append(
                        RuleFileError(
                            later.data.value_at("id"),
                            f"{what} `{rule_id}` (also at {earlier.data.value_at('id')})",
                            "give the new rule its own id, or end the old version with `effective.to` before the new `from`",
                            code="lint",
                        )
                    )
    return errors, []


def _overlap(a: Rule, b: Rule) -> bool:
    a_end = a.effective_to or dt.date.max
    b_end = b.effective_to or dt.date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


def check_examples(pack: RulePack) -> Issues:
    """Every active rule carries examples that must and must not hit; example fields exist."""
    errors: list[RuleFileError] = []
    warnings: list[RuleFileError] = []
    kinds: dict[str, Any] = {
        "claim": field_map("claims"),
        "hospital": field_map("hospitals"),
        "group": field_map("groups"),
    }
    example_hospital = {**kinds["hospital"], **dict.fromkeys(INDICATOR_KEYS)}
    for rule in pack.rules:
        expects = {e.expect for e in rule.examples}
        if not rule.examples:
            # Active rules must prove themselves; drafts may be written before their examples.
            severity = "error" if rule.status == "active" else "warning"
            issue = RuleFileError(
                rule.data.value_at("id"),
                f"rule {rule.id} has no examples",
                "add examples: {hit: [...], miss: [...]}",
                code="lint",
                severity=severity,
            )
            (errors if severity == "error" else warnings).append(issue)
        else:
            for missing in sorted({"hit", "miss"} - expects):
                warnings.append(
                    _warning(rule.data.value_at("examples"), f"rule {rule.id} has no `{missing}` example")
                )
        for example in rule.examples:
            records: list[tuple[str, Any, Any]] = [
                ("claim", example.claim, kinds["claim"]), ("hospital", example.hospital, example_hospital), ("group", example.group, kinds["group"]),
            ]  # fmt: skip
            records += [("claim", h, kinds["claim"]) for h in example.history]
            records += [("hospital", h, kinds["hospital"]) for h in example.other_hospitals]
            for kind, record, known in records:
                if not isinstance(record, YMap):
                    continue
                for key in record:
                    if key not in known:
                        errors.append(
                            RuleFileError(
                                record.key_at(key),
                                f"unknown {kind} field `{key}` in an example",
                                did_you_mean(str(key), known),
                                code="lint",
                            )
                        )
    for kind, record in (
        ("claim", pack.example_defaults.claim),
        ("hospital", pack.example_defaults.hospital),
        ("group", pack.example_defaults.group),
        ("claim", pack.example_defaults.history_claim),
    ):
        for key in record:
            if key not in kinds[kind]:
                errors.append(
                    RuleFileError(
                        record.key_at(key) if isinstance(record, YMap) else Position("pack.yaml", 1, 1),
                        f"unknown {kind} field `{key}`",
                        did_you_mean(str(key), kinds[kind]),
                        code="lint",
                    )
                )
    return errors, warnings


def check_region_overrides(pack: RulePack) -> Issues:
    """Region files name existing rules and params, with values of the declared type and bounds."""
    errors: list[RuleFileError] = []
    ids = {r.id: r for r in pack.rules}
    for config in pack.regions.values():
        for rule_id, override in config.overrides.items():
            rule = ids.get(rule_id)
            if rule is None and rule_id in pack.declared_ids:
                continue  # the rule itself failed to parse and is reported there
            if rule is None:
                errors.append(
                    RuleFileError(
                        override.position,
                        f"region {config.code} overrides unknown rule `{rule_id}`",
                        did_you_mean(rule_id, ids),
                        code="lint",
                    )
                )
                continue
            for name, value in override.params.items():
                pos = override.param_positions[name]
                param = rule.params.get(name)
                if param is None:
                    errors.append(
                        RuleFileError(
                            pos,
                            f"rule {rule_id} has no param `{name}`",
                            did_you_mean(name, rule.params),
                            code="lint",
                        )
                    )
                elif not param_value_ok(param.type, value):
                    errors.append(
                        RuleFileError(
                            pos,
                            f"param `{name}` of {rule_id} must be of type {param.type}, got {value!r}",
                            number_hint(value, whole=param.type == "int")
                            if param.type in ("int", "number")
                            else None,
                            code="lint",
                        )
                    )
                else:
                    check_param_bounds(param, value, pos, errors)
    return errors, []


def check_region_settings(pack: RulePack) -> Issues:
    """Each region's settings, merged over the national ones, keep low < high <= extreme."""
    errors: list[RuleFileError] = []
    for code in sorted(pack.regions):
        config = pack.regions[code]
        errors.extend(merge_problems(config, pack.region(code)))
    return errors, []


def check_references(pack: RulePack) -> Issues:
    """Every rule cites documents and articles of references.yaml; a rule resting on common practice alone
    says so in its description."""
    errors: list[RuleFileError] = []
    references = pack.references
    if references is None:
        if (pack.directory / REFERENCES_FILE).is_file():
            return [], []  # the file is there but did not parse: its errors are reported already
        position = Position(str(pack.directory / REFERENCES_FILE), 1, 1)
        return [RuleFileError(position, f"{REFERENCES_FILE} is missing: the documents the rules cite")], []
    for rule in pack.rules:
        problems = [p for p in (references.resolve(c) for c in rule.citations) if p is not None]
        errors.extend(problems)
        kinds = {
            references.documents[c.document].kind
            for c in rule.citations
            if c.document in references.documents
        }
        if not problems and kinds == {"practice"} and PRACTICE_WORD not in rule.description:
            errors.append(
                RuleFileError(
                    rule.data.value_at("reference"),
                    f"{rule.id} rests on common practice alone (no notice contains its obligation): "
                    f"say so in its description",
                    f"write {PRACTICE_WORD} in the description, e.g. 审核口径为{PRACTICE_WORD}",
                    code="lint",
                )
            )
    return errors, []


def check_compiles(pack: RulePack) -> Issues:
    """Every rule compiles to durable-rules for the national profile and each region with a file, and
    the C engine creates every compiled ruleset (it refuses some deeply nested and/or, error 113).

    A region's profile differs from the national one only in the rules whose parameters the region
    overrides or whose expressions read a region setting the region sets differently: only those are
    compiled again for it (the rest compile exactly as nationally; compiling 6 profiles in full was
    most of the time `rules check` took).
    """
    from drgaudit.engine.compiler import compile_profile
    from drgaudit.engine.enginestate import refused_rules

    statuses = ("active", "draft")
    errors: list[RuleFileError] = []
    seen: set[tuple[str, str]] = set()
    national = {b.rule.key: b.params for b in pack.bound_rules(None, statuses=statuses)}
    national_settings = pack.region(pack.profile_key(None)).settings
    reads = {rule.key: _settings_read(rule) for rule in pack.rules} if pack.regions else {}
    for code in [None, *sorted(pack.regions)]:
        only = None
        if code is not None:
            settings = pack.region(pack.profile_key(code)).settings

            def only(bound: Any, settings: dict[str, Any] = settings) -> bool:
                return national.get(bound.rule.key) != bound.params or any(
                    settings.get(name) != national_settings.get(name) for name in reads[bound.rule.key]
                )

        profile = compile_profile(pack, code, statuses=statuses, only=only)
        issues = list(profile.problems)
        if not issues:
            issues = [_refused(compiled.rule, error) for compiled, error in refused_rules(profile)]
        for issue in issues:
            key = (str(issue.position), issue.message)
            if key not in seen:
                seen.add(key)
                errors.append(issue)
    return errors, []


def _refused(rule: Rule, error: str) -> RuleFileError:
    return RuleFileError(
        rule.position,
        f"rule {rule.id}: durable-rules refuses to create its compiled condition ({error})",
        "nest and/or less deeply, or split the rule in two",
        code="compile",
    )


def _settings_read(rule: Rule) -> set[str]:
    """The region settings (`region.<name>`) a rule's conditions, amount and message read."""
    expressions = [
        *(item.condition for item in rule.applicability),
        *rule.when,
        *rule.unless,
        rule.amount_at_risk,
        *(p.expression for p in rule.message.placeholders),
    ]
    return {
        node.path[1]
        for expr in expressions
        for node in walk(expr.root)
        if isinstance(node, Ref) and len(node.path) == 2 and node.path[0] == REGION
    }


# The registry of validators, run in this order; compilation only runs on a pack that typed cleanly.
VALIDATORS: dict[str, Callable[[RulePack], Issues]] = {
    "ids": check_ids,
    "expressions": check_expressions,
    "examples": check_examples,
    "region_overrides": check_region_overrides,
    "region_settings": check_region_settings,
    "references": check_references,
}


def lint_pack(pack: RulePack) -> Issues:
    """Run every validator; return (errors, warnings)."""
    errors: list[RuleFileError] = []
    warnings: list[RuleFileError] = []
    for validator in VALIDATORS.values():
        found_errors, found_warnings = validator(pack)
        errors.extend(found_errors)
        warnings.extend(found_warnings)
    if not errors:
        found_errors, _ = check_compiles(pack)
        errors.extend(found_errors)
    return errors, warnings
