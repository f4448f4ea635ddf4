"""Thresholds of the rules and the examples that pin them at the boundary.

A **threshold** is an ordering comparison (`<`, `<=`, `>`, `>=`) in a rule's `when` or `unless` between
something read from the claim (a fact, an expression of facts, `admissions_within(...)`) and something
that is constant for the claim (a number, a `params.x`, a region setting, arithmetic of those). Its
**step** is what "just past" means: the step of the param it uses (`step:` in the param, else 1 for int
and date params, 0.01 for number params), else 1 for a whole number or a date, 0.01 for a decimal.

An example **pins** a threshold when it decides on it (the rule's verdict on the example flips when
that comparison alone is taken the other way) and its fact side is exactly at the threshold, or within
one step of it on the side where the comparison turns (below for `>=` and `<`, above for `>` and `<=`).
A threshold without both an example at the boundary and one just past it is reported by `rules check`
(a warning) and fails `rules test --strict`: moving the threshold by one step, or writing `>` for
`>=`, would otherwise go unnoticed by the examples (`rules mutate` measures exactly that).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from drgaudit.engine.codes import CodeTables
from drgaudit.engine.compiler import CompiledRule
from drgaudit.engine.evaluate import Env, evaluate, fold
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import Expression
from drgaudit.engine.facts import ReferenceData, patient_facts
from drgaudit.engine.nodes import Call, Cmp, Const, Node, Ref, render, walk
from drgaudit.engine.pack import RulePack
from drgaudit.engine.rule import Example, Rule
from drgaudit.engine.ruletest import STATUSES_TESTED, ExampleCase, build_example
from drgaudit.engine.screen import Screener
from drgaudit.engine.vocabulary import PARAMS, REGION
from drgaudit.engine.yamlsource import Position

ORDER_OPS = ("<", "<=", ">", ">=")
MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
# Where the comparison (fact on the left) turns, seen from the boundary: below (-1) or above (+1).
TURNS = {">=": -1, "<": -1, ">": 1, "<=": 1}
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Threshold:
    """One ordering comparison of a fact with a constant in a rule's conditions."""

    rule: Rule
    kind: str  # when | unless
    index: int  # which condition of that list
    node: Cmp
    fact_side: Node
    constant: Node
    op: str  # with the fact on the left
    step: float
    position: Position

    @property
    def text(self) -> str:
        return render(self.node)

    @property
    def turns(self) -> int:
        return TURNS[self.op]


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def national_env(pack: RulePack, rule: Rule) -> Env:
    """Names a threshold may fold: the rule's default params and the national settings, no claim."""
    params = {name: p.default for name, p in rule.params.items()}
    return Env(None, None, params, pack.national.settings, pack.lists)


def step_of(rule: Rule, constant: Node) -> float:
    """The step of a constant side: its first numeric param's, else its literals' (see the module docstring)."""
    literal_steps: list[float] = []
    for node in walk(constant):
        if isinstance(node, Ref) and node.path[0] == PARAMS and node.path[1] in rule.params:
            param = rule.params[node.path[1]]
            if param.type in ("int", "number", "date"):
                return float(param.unit)
        elif isinstance(node, Ref) and node.path[0] == REGION:
            literal_steps.append(0.01)
        elif isinstance(node, Call) and node.name == "date":
            literal_steps.append(1.0)
        elif isinstance(node, Const) and _numeric(node.value):
            literal_steps.append(1.0 if isinstance(node.value, int) else 0.01)
    return min(literal_steps) if literal_steps else 1.0


def thresholds(pack: RulePack, rule: Rule) -> list[Threshold]:
    """Every threshold of a rule's `when` and `unless` conditions, in the order written."""
    env = national_env(pack, rule)
    found: list[Threshold] = []
    for kind in ("when", "unless"):
        expressions: tuple[Expression, ...] = getattr(rule, kind)
        for index, expr in enumerate(expressions):
            for node in walk(expr.root):
                if not isinstance(node, Cmp) or node.op not in ORDER_OPS:
                    continue
                left_const, left = fold(node.left, env)
                right_const, right = fold(node.right, env)
                if right_const and not left_const and _numeric(right):
                    fact_side, constant, op = node.left, node.right, node.op
                elif left_const and not right_const and _numeric(left):
                    fact_side, constant, op = node.right, node.left, MIRRORED[node.op]
                else:
                    continue
                found.append(
                    Threshold(rule, kind, index, node, fact_side, constant, op, step_of(rule, constant),
                              expr.position_of(node))
                )  # fmt: skip
    return found


def replace_node(root: Node, target: Node, replacement: Node) -> Node:
    """The tree with the node `target` (by identity) replaced; other nodes shared, parents rebuilt."""
    if root is target:
        return replacement
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(root):
        value = getattr(root, item.name)
        if isinstance(value, Node):
            new = replace_node(value, target, replacement)
            if new is not value:
                changes[item.name] = new
        elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
            new_items = tuple(
                replace_node(v, target, replacement) if isinstance(v, Node) else v for v in value
            )
            if any(a is not b for a, b in zip(new_items, value, strict=True)):
                changes[item.name] = new_items
    return dataclasses.replace(root, **changes) if changes else root


def verdict(rule: Rule, env: Env, forced: tuple[Node, bool] | None = None) -> bool:
    """Whether the rule fires on the env's claim; `forced` takes one comparison as true or false."""

    def value(expr: Expression) -> bool:
        root = expr.root
        if forced is not None:
            root = replace_node(root, forced[0], Const(forced[0].offset, forced[1]))
        return bool(evaluate(root, env))

    if not all(bool(evaluate(item.condition.root, env)) for item in rule.applicability):
        return False
    return all(value(e) for e in rule.when) and not any(value(e) for e in rule.unless)


@dataclass
class ExampleEnv:
    """One example of a rule ready to evaluate: the names its conditions read, and what went wrong."""

    example: Example
    env: Env | None
    compiled: CompiledRule | None = None
    errors: list[RuleFileError] = dataclasses.field(default_factory=list)


@dataclass
class PreparedExample:
    """An example's claim, history and reference data, and the facts derived from them."""

    example: Example
    case: ExampleCase
    reference: ReferenceData | None = None
    facts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fact: dict[str, Any] | None = None


class ExampleBench:
    """Turns a pack's examples into evaluation environments (one Screener for all, as `rules test` does)."""

    def __init__(self, pack: RulePack, codes: CodeTables) -> None:
        self.pack = pack
        self.codes = codes
        self.screener = Screener(pack, ReferenceData({}, {}, codes, pack), statuses=STATUSES_TESTED)

    def close(self) -> None:
        self.screener.close()

    def envs(self, rule: Rule) -> Iterator[ExampleEnv]:
        for example in rule.examples:
            yield self.env(rule, example)

    def prepare(self, example: Example) -> PreparedExample:
        """Build an example's claim and derive its facts; the screener's reference data becomes the example's."""
        case = build_example(self.pack, example)
        prepared = PreparedExample(example, case)
        if case.errors or case.claim is None:
            return prepared
        reference = ReferenceData(case.hospitals, case.groups, self.codes, self.pack, case.indicators)
        self.screener.reference = reference
        claim_id = case.claim["claim_id"]
        prepared.reference = reference
        prepared.facts = patient_facts(
            [case.claim, *case.history], {claim_id}, reference, self.screener.windows
        )
        prepared.fact = next(f for f in prepared.facts if f["claim_id"] == claim_id)
        return prepared

    def env(self, rule: Rule, example: Example | PreparedExample) -> ExampleEnv:
        """The environment of one rule on one example (prepared already, or prepared here)."""
        prepared = example if isinstance(example, PreparedExample) else self.prepare(example)
        fact, case = prepared.fact, prepared.case
        if fact is None or case.claim is None:
            return ExampleEnv(prepared.example, None, None, case.errors)
        profile = self.screener.profile_for(case.claim["treatment_region"])
        compiled = next((c for c in profile.compiled.rules if c.rule.key == rule.key), None)
        if compiled is None:  # switched off in the example's region
            return ExampleEnv(prepared.example, None)
        settings, lists = profile.compiled.settings, self.pack.lists
        candidates = [f for f in prepared.facts if f["seq"] < fact["seq"]] if rule.pair else [None]
        chosen = None
        for earlier in reversed(candidates):
            env = Env(fact, earlier, compiled.bound.params, settings, lists)
            if chosen is None:
                chosen = env
            if verdict(rule, env):
                chosen = env
                break
        return ExampleEnv(prepared.example, chosen, compiled)


@dataclass
class Pinning:
    """How a threshold is pinned by a rule's examples."""

    threshold: Threshold
    at: list[str]  # names of the examples exactly at the boundary
    past: list[str]  # names of the examples just past it where it turns
    boundary: float | None  # the constant under the national defaults

    @property
    def pinned(self) -> bool:
        return bool(self.at and self.past)


def pinning(threshold: Threshold, envs: list[ExampleEnv], boundary: float | None) -> Pinning:
    """Which examples pin a threshold (see the module docstring)."""
    result = Pinning(threshold, [], [], boundary)
    for item in envs:
        env = item.env
        if env is None:
            continue
        fact_value = evaluate(threshold.fact_side, env)
        constant = evaluate(threshold.constant, env)
        if not (_numeric(fact_value) and _numeric(constant)):
            continue
        decides = verdict(threshold.rule, env, (threshold.node, True)) != verdict(
            threshold.rule, env, (threshold.node, False)
        )
        if not decides:
            continue
        gap = fact_value - constant
        tolerance = TOLERANCE * max(1.0, abs(constant))
        if abs(gap) <= tolerance:
            result.at.append(item.example.name)
        elif gap * threshold.turns > 0 and abs(gap) <= threshold.step + tolerance:
            result.past.append(item.example.name)
    return result


def _show(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def describe(pin: Pinning) -> RuleFileError:
    """The warning for a threshold that its examples do not pin."""
    t = pin.threshold
    fact = render(t.fact_side)
    side = "below" if t.turns < 0 else "above"
    wanted = []
    if not pin.at:
        wanted.append(f"one exactly at it ({fact} = {_show(pin.boundary)})")
    if not pin.past:
        just = None if pin.boundary is None else pin.boundary + t.turns * t.step
        wanted.append(f"one just {side} it ({fact} = {_show(just)})")
    message = f"{t.rule.id}: the boundary of `{t.text}` ({t.kind}) is not pinned by an example"
    hint = (
        "add examples that decide on this condition: " + " and ".join(wanted)
        + f"; just past means within one step ({_show(t.step)})"
    )  # fmt: skip
    return RuleFileError(t.position, message, hint, code="boundary", severity="warning")


def boundary_report(pack: RulePack, codes: CodeTables, *, rule_ids: set[str] | None = None) -> list[Pinning]:
    """How every threshold of the active and draft rules is pinned by the rules' examples."""
    bench = ExampleBench(pack, codes)
    try:
        report = []
        for rule in pack.rules:
            if rule.status not in STATUSES_TESTED or (rule_ids and rule.id not in rule_ids):
                continue
            found = thresholds(pack, rule)
            if not found:
                continue
            envs = list(bench.envs(rule))
            env = national_env(pack, rule)
            for threshold in found:
                constant_ok, boundary = fold(threshold.constant, env)
                report.append(pinning(threshold, envs, boundary if constant_ok else None))
        return report
    finally:
        bench.close()


def boundary_warnings(
    pack: RulePack, codes: CodeTables, *, rule_ids: set[str] | None = None
) -> list[RuleFileError]:
    """A warning for every threshold its examples do not pin (`rules check`; `rules test --strict` fails)."""
    return [describe(pin) for pin in boundary_report(pack, codes, rule_ids=rule_ids) if not pin.pinned]
