"""Hits and how they explain themselves: evidence, a Chinese sentence, and the amount at risk."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drgaudit.engine.evaluate import Env, env_function
from drgaudit.engine.expr import Expression, Ref, walk
from drgaudit.engine.pack import BoundRule
from drgaudit.engine.template import Template
from drgaudit.engine.vocabulary import DATE, EARLIER, FACTS, PARAMS, REGION


@dataclass(frozen=True)
class PatientFailure:
    """A patient the engine failed on: its batch claims were not screened, and why."""

    patient_id: str
    claim_ids: tuple[str, ...]
    reason: str


@dataclass
class Hit:
    """One rule fired on one claim, with everything a person needs to check it."""

    claim_id: str
    rule_id: str
    family: str
    severity: str
    action: str
    amount_at_risk: float
    message: str
    evidence: dict[str, Any]
    patient_id: str = ""
    region: str = ""
    rule_file: str = ""
    rule_version: str = ""
    related_claims: list[str] = field(default_factory=list)
    # The version (content hash) of the whole rule pack that produced the hit.
    pack_version: str = ""
    code_set: str = ""  # the code tables the claim was judged against (CodeTables.label)
    # `content_digest()` when the worker that screened the hit worked it out for a stored screen (so the
    # process storing the hits does not), else "".
    digest: str = field(default="", compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The DATA-CONTRACT screening-output object, plus the rule file's version and the code set."""
        return {
            "claim_id": self.claim_id,
            "rule_id": self.rule_id,
            "family": self.family,
            "severity": self.severity,
            "action": self.action,
            "amount_at_risk": self.amount_at_risk,
            "message": self.message,
            "evidence": self.evidence,
            "rule_version": self.rule_version,
            "code_set": self.code_set,
        }

    def content_digest(self) -> str:
        """A digest of everything a person sees in the hit (`to_dict`), to tell an unchanged hit from a
        changed one when a batch is screened again."""
        return hashlib.sha256(_canonical(self.to_dict()).encode()).hexdigest()[:32]


# `json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)`, with the encoder made once.
_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def display(value: Any, kind: str | None = None) -> Any:
    """A fact value as a person (and JSON) should see it: dates as ISO text, money rounded."""
    if value is None or type(value) is str:  # most values of the evidence: a text is shown as it is
        return value
    if kind == DATE and isinstance(value, int):
        return dt.date.fromordinal(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4) if abs(value) < 10 else round(value, 2)
    return value


def _ref_type(ref: Ref) -> str | None:
    path = ref.path[1:] if ref.path[0] == EARLIER else ref.path
    fact = FACTS.get(".".join(path))
    return fact.type if fact else None


def _text(value: Any, spec: str) -> str:
    if value is None:
        return "—"
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text or "0"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "无"
    return str(value)


def render_message(template: Template, env: Env, types: dict[int, str | None]) -> str:
    """The rule's sentence with every placeholder filled from the facts."""
    return message_renderer(template, types)(env)


def message_renderer(template: Template, types: dict[int, str | None]) -> Callable[[Env], str]:
    """`render_message(template, ·, types)`: the sentence as a function of the Env, with what does not
    depend on the claim worked out once (each placeholder's compiled expression, whether its value is a
    date, its format spec), for the hits of one rule."""
    pieces: list[tuple[str, Callable[[Env], Any] | None, bool]] = []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append((part, None, False))
            continue
        root = part.expression.root
        kind = types.get(id(root))
        if kind is None and isinstance(root, Ref):
            kind = _ref_type(root)
        pieces.append((part.spec, env_function(root), kind == DATE))

    def render(env: Env) -> str:
        out = []
        for text, value_of, date in pieces:
            if value_of is None:
                out.append(text)
                continue
            value = value_of(env)
            if date and isinstance(value, int):
                value = dt.date.fromordinal(value).isoformat()
            out.append(_text(value, text))
        return "".join(out)

    return render


# id(expression root) -> (the root, its names in walk order with their types): a hit's evidence lists the
# names its conditions read, the same for every hit of the rule. The root is kept with its entry, so its
# id is not reused while the entry exists; cleared when large (packs loaded one after another).
_REFS: dict[int, tuple[Any, list[tuple[str, str | None]]]] = {}
_REFS_LIMIT = 20_000


def _refs_of(expr: Expression) -> list[tuple[str, str | None]]:
    """The names (`Ref`s) an expression reads, in walk order, each with its fact type."""
    found = _REFS.get(id(expr.root))
    if found is None or found[0] is not expr.root:
        if len(_REFS) >= _REFS_LIMIT:
            _REFS.clear()
        refs = [(node.dotted, _ref_type(node)) for node in walk(expr.root) if isinstance(node, Ref)]
        found = _REFS[id(expr.root)] = (expr.root, refs)
    return found[1]


def condition_trace(
    expressions: tuple[Expression, ...], env: Env, kind: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each condition with its truth value, and the value of every field it read."""
    conditions = []
    seen: dict[str, Any] = {}
    for expr in expressions:
        read = env.seen = {}
        value = bool(env_function(expr.root)(env))
        for dotted, fact_type in _refs_of(expr):
            if dotted in read:
                seen[dotted] = display(read[dotted], fact_type)
        conditions.append({"kind": kind, "condition": expr.source, "value": value})
    env.seen = None
    return conditions, seen


def thresholds_used(bound: BoundRule, settings: dict[str, Any]) -> dict[str, Any]:
    """The parameter and region-setting values the rule's expressions read."""
    rule = bound.rule
    result: dict[str, Any] = {}
    expressions = (
        list(rule.when)
        + list(rule.unless)
        + [rule.amount_at_risk]
        + [p.expression for p in rule.message.placeholders]
    )
    for expr in expressions:
        for node in walk(expr.root):
            if isinstance(node, Ref) and len(node.path) == 2:
                if node.path[0] == PARAMS and node.path[1] in bound.params:
                    result[node.dotted] = display(bound.params[node.path[1]])
                elif node.path[0] == REGION:
                    result[node.dotted] = display(settings.get(node.path[1]))
    return result
