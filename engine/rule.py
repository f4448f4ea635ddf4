"""Rules as dataclasses, built from the YAML of a rule file by `from_dict`, collecting every error."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from drgaudit.contract import ACTIONS, FAMILIES, SEVERITIES
from drgaudit.engine.exceptions import ExpressionError, RuleFileError
from drgaudit.engine.expr import Expression, parse_expression
from drgaudit.engine.references import Citation, parse_citations
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.template import Template, parse_template
from drgaudit.engine.yamlsource import Position, YamlDocument, YList, YMap, number_hint

SCOPES = ("cross_region", "cross_province", "nonlocal", "local", "all")
SCHEMES = ("DRG", "DIP", "PER_DIEM", "FFS")
STAGES = ("事前", "事中", "事后")
STATUSES = ("draft", "active", "retired")
PARAM_TYPES = ("int", "number", "text", "date", "bool")

RULE_KEYS = (
    "id", "title", "description", "family", "severity", "action", "scope", "schemes", "stage", "status",
    "effective", "params", "pair", "when", "unless", "message", "amount_at_risk", "reference", "examples",
)  # fmt: skip
REQUIRED_KEYS = (
    "id",
    "title",
    "family",
    "severity",
    "action",
    "scope",
    "schemes",
    "stage",
    "status",
    "effective",
    "when",
    "message",
    "amount_at_risk",
    "reference",
)
EXAMPLE_KEYS = ("name", "claim", "history", "hospital", "other_hospitals", "group", "region")


@dataclass(frozen=True)
class Param:
    """A rule parameter with its default; regions may override the value."""

    name: str
    type: str
    default: Any
    description: str
    minimum: float | None
    maximum: float | None
    position: Position
    # The smallest meaningful change of a numeric value: what "just past the threshold" means for boundary
    # examples and how far `rules mutate` moves it. None: 1 for int and date params, 0.01 for number.
    step: float | None = None

    @property
    def unit(self) -> float:
        """The step of the param (declared, else 1 for int/date, 0.01 for number)."""
        if self.step is not None:
            return self.step
        return 0.01 if self.type == "number" else 1


@dataclass(frozen=True)
class Example:
    """A claim (with optional history, hospital, group, region) that must or must not hit its rule."""

    name: str
    expect: str  # "hit" | "miss"
    claim: YMap
    history: tuple[YMap, ...]
    hospital: YMap | None
    group: YMap | None
    region: str | None
    position: Position
    other_hospitals: tuple[YMap, ...] = ()


@dataclass(frozen=True)
class Applicability:
    """A condition a claim must meet before a rule's `when` is looked at (its scope, schemes, dates).

    Written in the rule language, so that the compiler lowers it to durable-rules and `explain` evaluates
    it with the one evaluator; `reason` is the sentence `explain` shows when it does not hold.
    """

    condition: Expression
    reason: Template


@dataclass(frozen=True)
class Rule:
    """One audit rule as the auditor wrote it, with the position of every part for error messages."""

    id: str
    title: str
    description: str
    family: str
    severity: str
    action: str
    scope: str
    schemes: tuple[str, ...]
    stage: str
    status: str
    effective_from: dt.date
    effective_to: dt.date | None
    params: dict[str, Param]
    pair: bool
    when: tuple[Expression, ...]
    unless: tuple[Expression, ...]
    message: Template
    amount_at_risk: Expression
    reference: str  # the citations as written, `document article；…` (engine.references renders them in full)
    examples: tuple[Example, ...]
    path: str
    file_hash: str
    position: Position
    data: YMap = field(repr=False, compare=False)
    citations: tuple[Citation, ...] = ()

    @property
    def key(self) -> str:
        """Unique within a pack: the id, plus the start date when one id has several versions."""
        return f"{self.id}@{self.effective_from.isoformat()}"

    @cached_property
    def applicability(self) -> tuple[Applicability, ...]:
        """The rule's scope, payment schemes and effective dates (by discharge date) as conditions."""
        items: list[tuple[str, str]] = []
        if self.scope == "cross_region":
            items.append(("is_cross_region == true", "只适用于省内异地就医病例（scope: cross_region）"))
        elif self.scope == "cross_province":
            items.append(("is_cross_province == true", "只适用于跨省异地就医病例（scope: cross_province）"))
        elif self.scope == "nonlocal":
            items.append(
                ('region_relation != "local"', "只适用于异地就医病例（省内或跨省，scope: nonlocal）")
            )
        elif self.scope == "local":
            items.append(('region_relation == "local"', "只适用于本地病例（scope: local）"))
        if self.schemes and len(set(self.schemes)) < len(SCHEMES):
            listed = ", ".join(f'"{s}"' for s in self.schemes)
            items.append(
                (
                    f"payment_scheme in [{listed}]",
                    f"支付方式 {{payment_scheme}} 不在 {', '.join(self.schemes)} 中",
                )
            )
        end = self.effective_to.isoformat() if self.effective_to else "…"
        outside = f"出院日期 {{discharge_date}} 不在规则有效期 {self.effective_from.isoformat()}–{end} 内"
        if self.effective_from != dt.date.min:
            items.append((f'discharge_date >= date("{self.effective_from.isoformat()}")', outside))
        if self.effective_to is not None:
            items.append((f'discharge_date <= date("{self.effective_to.isoformat()}")', outside))
        return tuple(
            Applicability(
                parse_expression(condition, self.position),
                parse_template(reason, self.position, self.position.shifted),
            )
            for condition, reason in items
        )

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        doc: YamlDocument,
        file_hash: str,
        families: dict[str, str],
        errors: list[RuleFileError],
    ) -> Rule | None:
        """Build a Rule from one mapping of a rule file; every problem found is appended to `errors`."""
        if not isinstance(data, YMap):
            pos = data.position if isinstance(data, YList) else Position(doc.path, 1, 1)
            errors.append(RuleFileError(pos, "a rule must be a mapping of keys such as id, title, when"))
            return None
        before = len(errors)
        _check_keys(data, RULE_KEYS, "rule", errors)
        for key in REQUIRED_KEYS:
            if key not in data:
                errors.append(RuleFileError(data.position, f"rule is missing `{key}`"))

        rule_id = data.get("id")
        if "id" in data and (not isinstance(rule_id, str) or not rule_id.strip()):
            errors.append(RuleFileError(data.value_at("id"), "`id` must be text such as SPLIT-001"))
        texts = {k: _text(data, k, errors, required=k in REQUIRED_KEYS) for k in ("title", "description")}
        citations = _citations(data, errors)

        known_families = tuple(FAMILIES) + tuple(families)
        family = _choice(
            data,
            "family",
            known_families,
            errors,
            "declare a new family under `families:` at the top of the file",
        )
        severity = _choice(data, "severity", SEVERITIES, errors)
        action = _choice(data, "action", ACTIONS, errors)
        scope = _choice(data, "scope", SCOPES, errors)
        stage = _choice(data, "stage", STAGES, errors)
        status = _choice(data, "status", STATUSES, errors)
        schemes = _schemes(data, errors)
        effective_from, effective_to = _effective(data, errors)
        params = _params(data, errors)
        pair = data.get("pair", False)
        if not isinstance(pair, bool):
            errors.append(RuleFileError(data.value_at("pair"), "`pair` must be true or false"))
        when = _conditions(data, "when", doc, errors, required=True)
        unless = _conditions(data, "unless", doc, errors, required=False)
        message = _message(data, doc, errors)
        amount = _expression_value(data, "amount_at_risk", doc, errors)
        examples = _examples(data, errors)

        if len(errors) > before or not isinstance(rule_id, str) or message is None or amount is None:
            return None
        return cls(
            id=rule_id.strip(),
            title=texts["title"],
            description=texts["description"],
            family=family,
            severity=severity,
            action=action,
            scope=scope,
            schemes=schemes,
            stage=stage,
            status=status,
            effective_from=effective_from,
            effective_to=effective_to,
            params=params,
            pair=pair,
            when=when,
            unless=unless,
            message=message,
            amount_at_risk=amount,
            reference="；".join(c.text for c in citations),
            examples=examples,
            path=doc.path,
            file_hash=file_hash,
            position=data.position,
            data=data,
            citations=citations,
        )


def _citations(data: YMap, errors: list[RuleFileError]) -> tuple[Citation, ...]:
    """The rule's `reference`: `document article` (a document of references.yaml and one of its articles),
    or a list of them; whether they resolve is checked against the pack's references.yaml by the lint."""
    if "reference" not in data:
        return ()
    value = data["reference"]
    items = value.item_positions if isinstance(value, YList) else None
    citations, problems = parse_citations(
        list(value) if isinstance(value, YList) else value, data.value_at("reference"), items
    )
    errors.extend(problems)
    return citations


def _check_keys(data: YMap, allowed: tuple[str, ...], what: str, errors: list[RuleFileError]) -> None:
    for key in data:
        if key not in allowed:
            errors.append(
                RuleFileError(
                    data.key_at(key), f"unknown key `{key}` in a {what}", did_you_mean(str(key), allowed)
                )
            )


def _text(data: YMap, key: str, errors: list[RuleFileError], *, required: bool) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(RuleFileError(data.value_at(key), f"`{key}` must be text"))
        return ""
    if required and not value.strip():
        errors.append(RuleFileError(data.value_at(key), f"`{key}` must not be empty"))
    return value.strip()


def _choice(
    data: YMap, key: str, allowed: tuple[str, ...], errors: list[RuleFileError], extra_hint: str | None = None
) -> str:
    value = data.get(key)
    if key in data and value not in allowed:
        hint = did_you_mean(str(value), allowed) or f"one of: {', '.join(allowed)}"
        if extra_hint:
            hint = f"{hint}; {extra_hint}"
        errors.append(RuleFileError(data.value_at(key), f"unknown {key} `{value}`", hint))
    return value if isinstance(value, str) else ""


def _schemes(data: YMap, errors: list[RuleFileError]) -> tuple[str, ...]:
    value = data.get("schemes")
    if "schemes" not in data:
        return ()
    items = value if isinstance(value, YList) else None
    if items is None or not items:
        errors.append(RuleFileError(data.value_at("schemes"), "`schemes` must be a list such as [DRG, DIP]"))
        return ()
    for i, item in enumerate(items):
        if item not in SCHEMES:
            errors.append(
                RuleFileError(
                    items.item_at(i),
                    f"unknown scheme `{item}`",
                    did_you_mean(str(item), SCHEMES) or f"one of: {', '.join(SCHEMES)}",
                )
            )
    return tuple(items)


def _effective(data: YMap, errors: list[RuleFileError]) -> tuple[dt.date, dt.date | None]:
    value = data.get("effective")
    if "effective" not in data:
        return dt.date.min, None
    if not isinstance(value, YMap) or "from" not in value:
        errors.append(
            RuleFileError(
                data.value_at("effective"),
                "`effective` must be a mapping with `from` (and optionally `to`) dates",
            )
        )
        return dt.date.min, None
    _check_keys(value, ("from", "to"), "effective range", errors)
    start = value.get("from")
    end = value.get("to")
    if not isinstance(start, dt.date):
        errors.append(RuleFileError(value.value_at("from"), "`from` must be a date written YYYY-MM-DD"))
        start = dt.date.min
    if end is not None and not isinstance(end, dt.date):
        errors.append(
            RuleFileError(value.value_at("to"), "`to` must be a date written YYYY-MM-DD (or left out)")
        )
        end = None
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        errors.append(RuleFileError(value.value_at("to"), f"`to` {end} is before `from` {start}"))
    return start, end


def param_value_ok(param_type: str, value: Any) -> bool:
    """Whether a value has the declared parameter type."""
    if param_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if param_type == "number":  # finite: durable-rules and the evaluator hold no infinity or NaN
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if param_type == "text":
        return isinstance(value, str)
    if param_type == "date":
        return isinstance(value, dt.date)
    if param_type == "bool":
        return isinstance(value, bool)
    return False


def check_param_bounds(param: Param, value: Any, position: Position, errors: list[RuleFileError]) -> None:
    """Append an error when a numeric parameter value lies outside the declared min/max."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if param.minimum is not None and value < param.minimum:
        errors.append(
            RuleFileError(position, f"param `{param.name}` = {value} is below its minimum {param.minimum}")
        )
    if param.maximum is not None and value > param.maximum:
        errors.append(
            RuleFileError(position, f"param `{param.name}` = {value} is above its maximum {param.maximum}")
        )


def _params(data: YMap, errors: list[RuleFileError]) -> dict[str, Param]:
    value = data.get("params")
    if value is None:
        return {}
    if not isinstance(value, YMap):
        errors.append(
            RuleFileError(
                data.value_at("params"), "`params` must be a mapping of name: {default: ..., type: ...}"
            )
        )
        return {}
    params: dict[str, Param] = {}
    for name, spec in value.items():
        pos = value.key_at(name)
        if not isinstance(name, str) or not name.isidentifier():
            errors.append(
                RuleFileError(pos, f"param name `{name}` must be a plain identifier such as window_days")
            )
            continue
        if not isinstance(spec, YMap):
            errors.append(
                RuleFileError(
                    value.value_at(name),
                    f"param `{name}` must be a mapping with at least `default`",
                    f"e.g. {name}: {{default: 15, type: int}}",
                )
            )
            continue
        _check_keys(spec, ("default", "type", "description", "min", "max", "step"), "param", errors)
        if "default" not in spec:
            errors.append(
                RuleFileError(
                    pos,
                    f"param `{name}` has no default",
                    "every param needs `default:`; regions may override it",
                    code="lint",
                )
            )
            continue
        default = spec["default"]
        ptype = spec.get("type") or _infer_param_type(default)
        if ptype not in PARAM_TYPES:
            errors.append(
                RuleFileError(
                    spec.value_at("type"),
                    f"unknown param type `{ptype}`",
                    f"one of: {', '.join(PARAM_TYPES)}",
                )
            )
            continue
        if not param_value_ok(ptype, default):
            errors.append(
                RuleFileError(
                    spec.value_at("default"),
                    f"default of `{name}` is not of type {ptype}: {default!r}",
                    number_hint(default, whole=ptype == "int") if ptype in ("int", "number") else None,
                    code="lint",
                )
            )
            continue
        bounds = []
        for key in ("min", "max"):
            bound = spec.get(key)
            if bound is not None and (not isinstance(bound, (int, float)) or isinstance(bound, bool)):
                errors.append(RuleFileError(spec.value_at(key), f"`{key}` must be a number"))
                bound = None
            bounds.append(bound)
        step = spec.get("step")
        if step is not None and (
            not isinstance(step, (int, float))
            or isinstance(step, bool)
            or step <= 0
            or ptype not in ("int", "number")
        ):
            errors.append(
                RuleFileError(
                    spec.value_at("step"), "`step` must be a positive number (int or number params)"
                )
            )
            step = None
        param = Param(
            name, ptype, default, str(spec.get("description") or ""), bounds[0], bounds[1], pos, step
        )
        check_param_bounds(param, default, spec.value_at("default"), errors)
        params[name] = param
    return params


def _infer_param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _expression_at(
    text: Any, pos: Position, doc: YamlDocument, errors: list[RuleFileError]
) -> Expression | None:
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, (int, float)):
        text = str(text)
    if not isinstance(text, str):
        errors.append(RuleFileError(pos, "an expression must be written as text"))
        return None
    try:
        return parse_expression(text, pos, lambda off: doc.text_position(pos, off))
    except ExpressionError as exc:
        errors.append(exc)
        return None


def _conditions(
    data: YMap, key: str, doc: YamlDocument, errors: list[RuleFileError], *, required: bool
) -> tuple[Expression, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        expr = _expression_at(value, data.value_at(key), doc, errors)
        return (expr,) if expr else ()
    if not isinstance(value, YList) or (required and not value):
        errors.append(RuleFileError(data.value_at(key), f"`{key}` must be a list of conditions"))
        return ()
    result = []
    for i, item in enumerate(value):
        expr = _expression_at(item, value.item_at(i), doc, errors)
        if expr:
            result.append(expr)
    return tuple(result)


def _expression_value(
    data: YMap, key: str, doc: YamlDocument, errors: list[RuleFileError]
) -> Expression | None:
    if key not in data:
        return None
    return _expression_at(data[key], data.value_at(key), doc, errors)


def _message(data: YMap, doc: YamlDocument, errors: list[RuleFileError]) -> Template | None:
    value = data.get("message")
    if value is None:
        return None
    pos = data.value_at("message")
    if not isinstance(value, str) or not value.strip():
        errors.append(RuleFileError(pos, "`message` must be a sentence with {placeholders}"))
        return None
    try:
        return parse_template(value, pos, lambda off: doc.text_position(pos, off))
    except RuleFileError as exc:
        errors.append(exc)
        return None


def _examples(data: YMap, errors: list[RuleFileError]) -> tuple[Example, ...]:
    value = data.get("examples")
    if value is None:
        return ()
    if not isinstance(value, YMap):
        errors.append(
            RuleFileError(
                data.value_at("examples"), "`examples` must be a mapping with `hit:` and `miss:` lists"
            )
        )
        return ()
    _check_keys(value, ("hit", "miss"), "examples block", errors)
    result = []
    for expect in ("hit", "miss"):
        items = value.get(expect)
        if items is None:
            continue
        if not isinstance(items, YList):
            errors.append(RuleFileError(value.value_at(expect), f"`{expect}` must be a list of examples"))
            continue
        for i, item in enumerate(items):
            example = _example(item, expect, items.item_at(i), errors)
            if example:
                result.append(example)
    return tuple(result)


def _example(item: Any, expect: str, pos: Position, errors: list[RuleFileError]) -> Example | None:
    if not isinstance(item, YMap):
        errors.append(RuleFileError(pos, "an example must be a mapping with `name` and `claim`"))
        return None
    before = len(errors)
    _check_keys(item, EXAMPLE_KEYS, "example", errors)
    claim = item.get("claim")
    if claim is None:
        claim = YMap()
        claim.position, claim.key_positions, claim.value_positions = item.position, {}, {}
    elif not isinstance(claim, YMap):
        errors.append(
            RuleFileError(
                item.value_at("claim"),
                "`claim` must be a mapping of the fields that differ from the pack's example defaults",
            )
        )
    history = item.get("history") or YList()
    if not isinstance(history, YList) or not all(isinstance(h, YMap) for h in history):
        errors.append(RuleFileError(item.value_at("history"), "`history` must be a list of earlier claims"))
        history = YList()
    other_hospitals = item.get("other_hospitals") or YList()
    if not isinstance(other_hospitals, YList) or not all(isinstance(h, YMap) for h in other_hospitals):
        errors.append(
            RuleFileError(
                item.value_at("other_hospitals"),
                "`other_hospitals` must be a list of hospitals (hospital_id, level, ...)",
            )
        )
        other_hospitals = YList()
    for key in ("hospital", "group"):
        if item.get(key) is not None and not isinstance(item[key], YMap):
            errors.append(RuleFileError(item.value_at(key), f"`{key}` must be a mapping of {key} fields"))
    region = item.get("region")
    if region is not None:
        region = str(region)
    if len(errors) > before:
        return None
    return Example(
        name=str(item.get("name") or f"{expect} example at line {pos.line}"),
        expect=expect,
        claim=claim,
        history=tuple(history),
        hospital=item.get("hospital"),
        group=item.get("group"),
        region=region,
        position=pos,
        other_hospitals=tuple(other_hospitals),
    )
