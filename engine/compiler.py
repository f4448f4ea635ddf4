"""Compiles the rules of one treatment-region profile into durable-rules ruleset definitions.

Each rule becomes one durable-rules rule over `claim` facts: a single pattern, or for a pair rule an
`earlier` pattern followed by the current claim's pattern, which may refer to the earlier claim's fields.
Parameters and region settings are folded in as constants, so each region with overrides gets its own
compiled profile.

What durable-rules cannot express directly is computed once per fact in Python as a *synthetic* field:
membership in a named list, function calls, and comparisons whose sides cannot be rearranged into
`field op expression`. Missing values never reach durable-rules (an expression over an absent field
gives wrong answers or crashes the engine): an optional field travels with a placeholder value and a
`_h_<field>` flag, and every comparison that reads it is guarded by the flag.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drgaudit.engine.checker import Checker, rule_scope
from drgaudit.engine.evaluate import Env, fold
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import (
    And,
    Arith,
    Call,
    Cmp,
    Const,
    Expression,
    ListLit,
    Neg,
    Node,
    Not,
    Or,
    Ref,
    map_refs,
    render,
    walk,
)
from drgaudit.engine.functions import FUNCTIONS
from drgaudit.engine.pack import BoundRule, RulePack
from drgaudit.engine.rule import Rule
from drgaudit.engine.vocabulary import BOOL, DATE, EARLIER, FACTS, LIST, NUMBER, TEXT

CUR, EARLY = "m", "earlier"
# A durable-rules test as the compiler builds it (JSON-like); True/False stand for constant tests.
Test = dict[str, Any]
# durable-rules fails (error 303) with ~500 rules testing one first property or >64 rules matching one
# fact; the compiler never puts more than this many rules in one ruleset. Small rulesets are cheaper
# since the pre-filter routes each claim only into the rulesets where a rule could fire on it
# (`Runtime.run`): a patient's session holds fewer rules and its facts fewer keys. On the bundled pack
# (50k demo, CPU of durable-rules per claim) 32 rules: 14.5 us, 16: 9.8, 8: 8.4, 4: 7.9; without the
# pre-filter every claim goes into every ruleset, and 8 costs 22% more there than 32.
MAX_RULES_PER_RULESET = 8

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "==", "in": "not in", "not in": "in"}
_DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}
_PLACEHOLDER = {NUMBER: 0, DATE: 0, TEXT: "", BOOL: False}
TRUE_TEST: Test = {"_t": True}


class CompileError(Exception):
    """A condition that cannot be turned into durable-rules tests (carries its node)."""

    def __init__(self, node: Node, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Synthetic:
    """A value computed in Python for every fact: `expr` is written from the fact's own point of view."""

    key: str
    expr: Node
    kind: str  # "bool" or "value"
    type: str
    identity: tuple[str, ...] = field(compare=False, repr=False, default=())


@dataclass
class CompiledRule:
    """One rule in one profile: its durable-rules name, ruleset index, bound parameters, expression types."""

    bound: BoundRule
    name: str
    ruleset: int
    definitions: dict[
        str, dict[str, Any]
    ]  # durable-rules rule name -> definition (pair rules may have several)
    order: int
    types: dict[int, str | None] = field(default_factory=dict, repr=False)
    # The params and settings its expressions read, as a hit's evidence shows them (worked out once).
    thresholds: dict[str, Any] | None = field(default=None, repr=False)
    # (the pack, the rule part of a hit's evidence under it): made once, held by every hit of the rule.
    evidence_rule: tuple[RulePack, dict[str, Any]] | None = field(default=None, repr=False)
    # Its message as a function of a hit's Env (`hits.message_renderer`): made once, on its first hit.
    message_renderer: Callable[[Env], str] | None = field(default=None, repr=False)

    @property
    def rule(self) -> Rule:
        return self.bound.rule


@dataclass
class CompiledProfile:
    """The durable-rules form of every rule that screens one treatment region."""

    pack: RulePack
    profile: str
    settings: dict[str, Any]
    rules: list[CompiledRule] = field(default_factory=list)
    rulesets: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    fact_keys: dict[str, str] = field(default_factory=dict)  # key -> type
    guarded_keys: set[str] = field(default_factory=set)
    synthetics: dict[str, Synthetic] = field(default_factory=dict)
    windows: set[int] = field(default_factory=set)
    problems: list[RuleFileError] = field(default_factory=list)

    def by_name(self) -> dict[str, CompiledRule]:
        """Each durable-rules rule name -> the compiled rule it belongs to."""
        return {name: c for c in self.rules for name in c.definitions}


def _role(ref: Ref) -> str:
    return EARLY if ref.path[0] == EARLIER else CUR


def _fact_name(ref: Ref) -> str:
    return ".".join(ref.path[1:] if ref.path[0] == EARLIER else ref.path)


def _roles(node: Node) -> set[str]:
    """Which claims `node` reads. A call that reads the claim's own facts (`admissions_within(30)`: its
    history) names no field, and is evaluated on the current claim, as the Python evaluator does."""
    roles: set[str] = set()
    for n in walk(node):
        if isinstance(n, Ref) and _is_fact_ref(n):
            roles.add(_role(n))
        elif isinstance(n, Call) and FUNCTIONS[n.name].reads_fact:
            roles.add(CUR)
    return roles


def _is_fact_ref(ref: Ref) -> bool:
    return ref.path[0] not in ("params", "region", "lists")


def strip_role(node: Node) -> Node:
    """The same expression with `earlier.` removed, to evaluate it on a fact of its own."""
    return map_refs(node, lambda ref: Ref(ref.offset, ref.path[1:]) if ref.path[0] == EARLIER else ref)


class _RuleCompiler:
    def __init__(self, profile: CompiledProfile, bound: BoundRule) -> None:
        self.profile = profile
        self.bound = bound
        self.env = Env(None, None, bound.params, profile.settings, profile.pack.lists)
        self.types: dict[int, str | None] = {}
        self.used: list[tuple[str, str]] = []

    # ---- typing and folding -------------------------------------------------------------------
    def typecheck(self, expression: Expression) -> None:
        errors: list[RuleFileError] = []
        checker = Checker(expression, rule_scope(self.profile.pack, self.bound.rule), errors)
        checker.check()
        self.types.update(checker.types)
        if errors:
            raise CompileError(expression.root, errors[0].message, errors[0].hint)

    def type_of(self, node: Node) -> str | None:
        return self.types.get(id(node))

    def constant(self, node: Node) -> tuple[bool, Any]:
        """(True, value) when the node reads no claim: params, settings and literals only."""
        if any(
            (isinstance(n, Ref) and _is_fact_ref(n)) or (isinstance(n, Call) and FUNCTIONS[n.name].reads_fact)
            for n in walk(node)
        ):
            return False, None
        return fold(node, self.env)

    def note_windows(self, node: Node) -> None:
        """The history windows that the calls in `node` need counted for every claim (admissions_within)."""
        for n in walk(node):
            if isinstance(n, Call) and FUNCTIONS[n.name].history_windows is not None:
                folded = [self.constant(a) for a in n.args]
                if all(ok and value is not None for ok, value in folded):
                    windows = FUNCTIONS[n.name].history_windows
                    assert windows is not None
                    self.profile.windows.update(windows(*(value for _, value in folded)))

    # ---- synthetic fields ---------------------------------------------------------------------
    def bind(self, node: Node) -> Node:
        """The expression with params and region settings replaced by this profile's values."""

        def constant(ref: Ref) -> Node:
            if ref.path[0] in ("params", "region"):
                ok, value = fold(ref, self.env)
                if ok:
                    return Const(ref.offset, value)
            return ref

        return map_refs(node, constant)

    def synthetic(self, node: Node, kind: str) -> str:
        """The key of a Python-computed field for `node` (shared by every rule of the profile)."""
        self.note_windows(node)
        expr = self.bind(strip_role(node))
        type_ = BOOL if kind == "bool" else (self.type_of(node) or NUMBER)
        identity = (kind, render(expr))
        for syn in self.profile.synthetics.values():
            if syn.identity == identity:
                return syn.key
        key = f"_s{len(self.profile.synthetics)}"
        self.profile.synthetics[key] = Synthetic(key, expr, kind, type_, identity)
        if kind == "value":
            self.profile.guarded_keys.add(key)
        return key

    # ---- tests ----------------------------------------------------------------------------
    def test(self, node: Node, role: str, negated: bool = False) -> Test | bool:
        """A durable-rules test for a boolean node in the pattern of `role`; True/False when constant."""
        ok, value = self.constant(node)
        if ok:
            return (not bool(value)) if negated else bool(value)
        if isinstance(node, Not):
            return self.test(node.item, role, not negated)
        if isinstance(node, (And, Or)):
            conjunction = isinstance(node, And) != negated
            parts = [self.test(i, role, negated) for i in node.items]
            return _combine(parts, conjunction)
        if isinstance(node, Ref):
            return self.compare("==", node, Const(node.offset, True), role, negated)
        if isinstance(node, Cmp):
            return self.compare(node.op, node.left, node.right, role, negated)
        if isinstance(node, Call):
            lowering = FUNCTIONS[node.name].durable
            if lowering is not None:
                lowered = lowering(_Lowering(self, role), node.args, negated)
                if lowered is not None:
                    return lowered
            return self.synthetic_test(node, role, negated)
        raise CompileError(node, "not a true/false condition")

    def present(self, node: Node, role: str, negated: bool) -> Test | bool | None:
        """The native test that a fact that may be missing has a value: its `_h_` flag."""
        if not (isinstance(node, Ref) and _is_fact_ref(node)):
            return None
        fact = FACTS.get(_fact_name(node))
        if fact is None:
            return None
        if fact.type == LIST or not fact.optional:
            return None  # never missing: left to the derived field, so that `not has(x)` stays a condition
        key = self.field_key(node)
        flag = f"_h_{key}"
        if _role(node) == role:
            return {flag: not negated}
        test = {"_t": {EARLY: flag}}
        return {"$neq": test} if negated else test

    def synthetic_test(self, node: Node, role: str, negated: bool) -> Test:
        roles = _roles(node)
        if len(roles) > 1:
            raise CompileError(
                node,
                "this condition mixes the current and the earlier claim in a way the engine cannot evaluate",
                "compare plain fields of the two claims, e.g. earlier.hospital_id == hospital_id",
            )
        key = self.synthetic(node, "bool")
        owner = next(iter(roles)) if roles else role
        if owner == role:
            return {key: not negated}
        test = {"_t": {EARLY: key}}
        return {"$neq": test} if negated else test

    def compare(self, op: str, left: Node, right: Node, role: str, negated: bool) -> Test | bool:
        if op in ("in", "not in"):
            return self.membership(op, left, right, role, negated)
        if self.type_of(left) == LIST or self.type_of(right) == LIST:
            return self.synthetic_test(Cmp(left.offset, op, left, right), role, negated)
        roles = _roles(left) | _roles(right)
        if role == EARLY and CUR in roles:
            raise CompileError(
                left, "internal: a condition on the current claim was placed on the earlier claim"
            )
        try:
            field_node, cmp_op, value_node = self.isolate(op, left, right, role)
            assert isinstance(field_node, Ref)  # isolate() ends on a plain field
            key = self.field_key(field_node)
        except CompileError:
            if len(roles) <= 1:
                return self.synthetic_test(Cmp(left.offset, op, left, right), role, negated)
            key, cmp_op, value_node = self.synthesize_side(op, left, right, role)
        self.used = [(key, role)]
        value = self.value(value_node, role)
        guards = self.guards(role)
        final_op = _NEGATE[cmp_op] if negated else cmp_op
        raw = {key: value} if final_op == "==" else {_DURABLE_OP[final_op]: {key: value}}
        if not guards:
            return raw
        if negated:
            return _combine([_negate_guard(g) for g in guards] + [raw], conjunction=False)
        return _combine(guards + [raw], conjunction=True)

    def membership(self, op: str, left: Node, right: Node, role: str, negated: bool) -> Test | bool:
        ok, items = self.constant(right)
        if ok and isinstance(items, list) and items and isinstance(right, ListLit):
            # `x in [a, b]` is `x == a or x == b`; `x not in [a, b]` is `x != a and x != b`. A negation
            # goes onto each comparison, which keeps the rule about gaps: `not (x in [a])` holds when x
            # is missing (the comparison is false), `x not in [a]` does not (it is a comparison).
            item_op = "==" if op == "in" else "!="
            tests = [self.compare(item_op, left, Const(right.offset, v), role, negated) for v in items]
            return _combine(tests, conjunction=(op == "in") == negated)
        return self.synthetic_test(Cmp(left.offset, op, left, right), role, negated)

    def isolate(self, op: str, left: Node, right: Node, role: str) -> tuple[Node, str, Node]:
        """Rearrange `left op right` into `plain field of this role  op  expression`."""
        for _ in range(8):
            if self._plain(left, role):
                return left, op, right
            if self._plain(right, role):
                return right, _FLIP[op], left
            if isinstance(left, Arith) and self._has_own(left, role):
                left, op, right = self._move(left, op, right, role)
            elif isinstance(right, Arith) and self._has_own(right, role):
                right, flipped, left = self._move(right, _FLIP[op], left, role)
                op = _FLIP[flipped]
            else:
                break
        raise CompileError(left, "cannot rearrange")

    def _plain(self, node: Node, role: str) -> bool:
        return (
            isinstance(node, Ref)
            and _is_fact_ref(node)
            and _role(node) == role
            and self.type_of(node) != LIST
        )

    def _has_own(self, node: Node, role: str) -> bool:
        return role in _roles(node)

    def _move(self, side: Arith, op: str, other: Node, role: str) -> tuple[Node, str, Node]:
        a, b = side.left, side.right
        off = side.offset
        if side.op == "+":
            if self._has_own(a, role):
                return a, op, self._typed(Arith(off, "-", other, b), other, b)
            return b, op, self._typed(Arith(off, "-", other, a), other, a)
        if side.op == "-":
            if self._has_own(a, role):
                return a, op, self._typed(Arith(off, "+", other, b), other, b)
            # other = a - b  =>  b = a - other, with the comparison turned around
            return b, _FLIP[op], self._typed(Arith(off, "-", a, other), a, other)
        ok_b, const_b = self.constant(b)
        ok_a, const_a = self.constant(a)
        if side.op == "*":
            if ok_b and isinstance(const_b, (int, float)) and const_b != 0 and self._has_own(a, role):
                return (
                    a,
                    (op if const_b > 0 else _FLIP[op]),
                    self._typed(Arith(off, "/", other, Const(off, const_b)), other, None),
                )
            if ok_a and isinstance(const_a, (int, float)) and const_a != 0 and self._has_own(b, role):
                return (
                    b,
                    (op if const_a > 0 else _FLIP[op]),
                    self._typed(Arith(off, "/", other, Const(off, const_a)), other, None),
                )
        if (
            side.op == "/"
            and ok_b
            and isinstance(const_b, (int, float))
            and const_b != 0
            and self._has_own(a, role)
        ):
            return (
                a,
                (op if const_b > 0 else _FLIP[op]),
                self._typed(Arith(off, "*", other, Const(off, const_b)), other, None),
            )
        raise CompileError(side, "cannot rearrange")

    def _typed(self, node: Arith, left: Node, right: Node | None) -> Arith:
        lt = self.type_of(left)
        rt = self.type_of(right) if right is not None else NUMBER
        if node.op == "-" and lt == DATE and rt == DATE:
            kind = NUMBER
        elif DATE in (lt, rt):
            kind = DATE
        else:
            kind = NUMBER
        self.types[id(node)] = kind
        self.types[id(node.right)] = self.types.get(id(node.right), rt)
        return node

    def synthesize_side(self, op: str, left: Node, right: Node, role: str) -> tuple[str, str, Node]:
        """Turn one side that only reads this role's fields into a synthetic value field."""
        for side, other, cmp_op in ((left, right, op), (right, left, _FLIP[op])):
            if _roles(side) == {role} and self._value_ok(other, role):
                return self.synthetic(side, "value"), cmp_op, other
        raise CompileError(
            left,
            "this comparison reads computed values of both claims on each side",
            "put one plain field alone on one side, e.g. admit_date - earlier.discharge_date <= params.window_days",
        )

    def _value_ok(self, node: Node, role: str) -> bool:
        saved = list(self.used)
        try:
            self.value(node, role)
        except CompileError:
            return False
        finally:
            self.used = saved
        return True

    def field_key(self, ref: Ref) -> str:
        name = _fact_name(ref)
        fact = FACTS[name]
        self.profile.fact_keys[fact.key] = fact.type
        if fact.optional:
            self.profile.guarded_keys.add(fact.key)
        return fact.key

    def value(self, node: Node, role: str) -> Any:
        """A durable-rules value expression: a literal, a field of either claim, or arithmetic of them."""
        ok, constant = self.constant(node)
        if ok:
            if constant is None:
                raise CompileError(node, "this value is always missing")
            if isinstance(constant, dt.date):
                return constant.toordinal()
            return constant
        if isinstance(node, Ref) and _is_fact_ref(node):
            if self.type_of(node) == LIST:
                raise CompileError(node, "a list field cannot be used as a value")
            key = self.field_key(node)
            self.used.append((key, _role(node)))
            return {"$m": key} if _role(node) == role else {EARLY: key}
        if isinstance(node, Arith) and not self._divides_by_claim(node):
            return {_ARITH[node.op]: {"$l": self.value(node.left, role), "$r": self.value(node.right, role)}}
        if isinstance(node, Neg):
            return {"$mul": {"$l": -1, "$r": self.value(node.operand, role)}}
        roles = _roles(node)
        if isinstance(node, Arith) and len(roles) > 1:
            raise CompileError(
                node,
                "a division by a value of the claims cannot mix the current and the earlier claim",
                "divide by a number or a param, or compare the two claims' fields without dividing",
            )
        if len(roles) == 1:
            key = self.synthetic(node, "value")
            owner = next(iter(roles))
            self.used.append((key, owner))
            return {"$m": key} if owner == role else {EARLY: key}
        raise CompileError(node, "this value mixes the current and the earlier claim inside a function")

    def _divides_by_claim(self, node: Arith) -> bool:
        """A division by anything but a non-zero constant. durable-rules divides in C: a zero divisor
        kills the whole process (SIGFPE), where the language says the value is missing; such a value is
        computed in Python as a derived field instead."""
        if node.op != "/":
            return False
        ok, divisor = self.constant(node.right)
        return not (
            ok and isinstance(divisor, (int, float)) and not isinstance(divisor, bool) and divisor != 0
        )

    def guards(self, role: str) -> list[Test]:
        """Existence tests for every optional field the last comparison read, in either claim."""
        result = []
        seen = set()
        for key, owner in self.used:
            if key not in self.profile.guarded_keys or (key, owner) in seen:
                continue
            seen.add((key, owner))
            flag = f"_h_{key}"
            result.append({flag: True} if owner == role else {"_t": {EARLY: flag}})
        return result


class _Lowering:
    """The compiler as a function's native lowering sees it (`functions.LoweringContext`)."""

    def __init__(self, compiler: _RuleCompiler, role: str) -> None:
        self.compiler = compiler
        self.role = role

    def present(self, node: Node, negated: bool) -> Test | bool | None:
        return self.compiler.present(node, self.role, negated)

    def test(self, node: Node, negated: bool) -> Test | bool:
        return self.compiler.test(node, self.role, negated)


def _negate_guard(guard: Test) -> Test:
    return {"$neq": guard}


def _combine(parts: Sequence[Test | bool], conjunction: bool) -> Test | bool:
    tests = []
    for part in parts:
        if part is True:
            if not conjunction:
                return True
            continue
        if part is False:
            if conjunction:
                return False
            continue
        tests.append(part)
    if not tests:
        return conjunction
    if len(tests) == 1:
        return tests[0]
    return {"$and" if conjunction else "$or": tests}


def compile_profile(
    pack: RulePack,
    region: str | None,
    *,
    statuses: tuple[str, ...] = ("active",),
    only: Callable[[BoundRule], bool] | None = None,
) -> CompiledProfile:
    """Compile every rule in force for a treatment region (None: the national profile); with `only`,
    just the rules it accepts (`rules check` skips what compiles as nationally)."""
    profile_key = pack.profile_key(region)
    config = pack.region(profile_key)
    profile = CompiledProfile(pack=pack, profile=profile_key, settings=config.settings)
    for key, kind in (
        ("is_cross_region", BOOL),
        ("is_cross_province", BOOL),
        ("region_relation", TEXT),
        ("payment_scheme", TEXT),
        ("discharge_date", DATE),
    ):
        profile.fact_keys[key] = kind
    order = {rule.key: i for i, rule in enumerate(pack.rules)}
    compiled: list[tuple[BoundRule, list[Test], dict[int, str | None]]] = []
    for bound in pack.bound_rules(profile_key if profile_key in pack.regions else None, statuses=statuses):
        if only is not None and not only(bound):
            continue
        result = _compile_rule(profile, bound)
        if result is not None:
            compiled.append((bound, *result))
    ruleset, count = 0, 0
    for index, (bound, variants, types) in enumerate(compiled):
        if count and count + len(variants) > MAX_RULES_PER_RULESET:
            ruleset, count = ruleset + 1, 0
        while len(profile.rulesets) <= ruleset:
            profile.rulesets.append({})
        name = f"r{index}"
        definitions = {f"{name}v{i}": variant for i, variant in enumerate(variants)}
        profile.rulesets[ruleset].update(definitions)
        count += len(variants)
        profile.rules.append(CompiledRule(bound, name, ruleset, definitions, order[bound.rule.key], types))
    return profile


def _compile_rule(
    profile: CompiledProfile, bound: BoundRule
) -> tuple[list[Test], dict[int, str | None]] | None:
    rule = bound.rule
    compiler = _RuleCompiler(profile, bound)
    cur_tests: list[Test | bool] = [{"kind": "claim"}, {"target": True}]
    early_tests: list[Test | bool] = [{"kind": "claim"}]
    try:
        for item in rule.applicability:
            compiler.typecheck(item.condition)
            cur_tests.append(compiler.test(item.condition.root, CUR))
        if rule.pair:
            cur_tests.append({"$gt": {"seq": {EARLY: "seq"}}})
        for expression, negated in [(e, False) for e in rule.when] + [(e, True) for e in rule.unless]:
            compiler.typecheck(expression)
            try:
                roles = _roles(expression.root)
                target_role = EARLY if rule.pair and roles == {EARLY} else CUR
                test = compiler.test(expression.root, target_role, negated)
            except CompileError as exc:
                raise _located(expression, exc) from None
            (early_tests if target_role == EARLY else cur_tests).append(test)
        for expression in (rule.amount_at_risk, *(p.expression for p in rule.message.placeholders)):
            compiler.typecheck(expression)
            compiler.note_windows(expression.root)
    except _Located as located:
        profile.problems.append(located.error)
        return None
    except CompileError as exc:
        profile.problems.append(RuleFileError(rule.position, exc.message, exc.hint, code="compile"))
        return None
    cur = _combine(cur_tests, conjunction=True)
    if cur is False:
        profile.problems.append(
            RuleFileError(
                rule.when[0].position if rule.when else rule.position,
                f"rule {rule.id} can never fire with these parameters",
                code="compile",
            )
        )
        return None
    if rule.pair:
        early = _combine(early_tests, conjunction=True)
        if early is False:
            profile.problems.append(
                RuleFileError(
                    rule.position,
                    f"rule {rule.id} can never fire: no earlier claim can match",
                    code="compile",
                )
            )
            return None
        try:
            assert isinstance(cur, dict)  # the pattern tests `kind`, so it is never constant-true
            variants = pair_variants(cur)
        except CompileError as exc:
            profile.problems.append(RuleFileError(rule.position, exc.message, exc.hint, code="compile"))
            return None
        return [{"all": [{EARLY: early}, {CUR: variant}]} for variant in variants], compiler.types
    return [{"all": [{CUR: cur}]}], compiler.types


# Pair rules and durable-rules' beta expressions. The tests of the current claim's pattern that read the
# earlier claim are evaluated by `reduceExpressionSequence` (events.c), which (2.0.28) returns from a
# level as soon as it meets the end marker of a nested $and/$or group, skipping every later test, and
# which on a short-circuit skips the entry right after the failing test, running past the end of the
# sequence when that entry is the end marker. Both were seen here as wrong hits and crashes. So the
# current pattern of a pair rule is laid out as: the tests that read the earlier claim, flat; then an
# always-true test that reads the earlier claim (a landing place for the short-circuit scan); then the
# tests on the current claim alone, nested as they like. Alternatives (`or`) over tests that read the
# earlier claim are expanded into separate durable-rules rules whose hits are merged.
SENTINEL: Test = {"_t": {EARLY: "_t"}}
MAX_PAIR_VARIANTS = 16
# durable-rules keeps at most 32 entries (tests and group markers) in one beta expression sequence.
MAX_BETA_SEQUENCE = 30


def _reads_earlier(test: Any) -> bool:
    if isinstance(test, dict):
        return EARLY in test or any(_reads_earlier(v) for v in test.values())
    if isinstance(test, list):
        return any(_reads_earlier(v) for v in test)
    return False


def _dnf(test: Test) -> list[tuple[list[Test], list[Test]]]:
    """Alternatives of (tests reading the earlier claim, tests on the current claim alone)."""
    if not _reads_earlier(test):
        return [([], [test])]
    if "$and" in test:
        terms: list[tuple[list[Test], list[Test]]] = [([], [])]
        for part in test["$and"]:
            terms = [(b1 + b2, a1 + a2) for b1, a1 in terms for b2, a2 in _dnf(part)]
            if len(terms) > MAX_PAIR_VARIANTS:
                raise CompileError(
                    Const(0, None),
                    "too many alternatives between the two claims of a pair rule",
                    f"at most {MAX_PAIR_VARIANTS}: simplify the `or` conditions that read `earlier.`",
                )
        return terms
    if "$or" in test:
        terms = []
        for part in test["$or"]:
            terms.extend(_dnf(part))
        if len(terms) > MAX_PAIR_VARIANTS:
            raise CompileError(
                Const(0, None),
                "too many alternatives between the two claims of a pair rule",
                f"at most {MAX_PAIR_VARIANTS}: simplify the `or` conditions that read `earlier.`",
            )
        return terms
    return [([test], [])]


def _sequence_length(test: Any) -> int:
    if isinstance(test, dict) and ("$and" in test or "$or" in test):
        group: list[Any] = test.get("$and") or test.get("$or") or []
        return 2 + sum(_sequence_length(t) for t in group)
    return 1 if _reads_earlier(test) else 0


def pair_variants(cur: Test) -> list[Test]:
    """The current-claim pattern of a pair rule as flat, sentinel-terminated alternatives.

    Alternatives that read the earlier claim alike (the same tests before the sentinel) are one variant
    whose tests on the current claim alone are an `or` of theirs (after the tests they share): durable-rules
    then keeps one rule, not several, and a patient's facts go through fewer beta nodes. A merge that would
    make the expression sequence too long is not made."""
    groups: dict[str, tuple[list[Test], list[list[Test]]]] = {}
    for beta, alpha in _dnf(cur):
        groups.setdefault(json.dumps(beta, sort_keys=True), (beta, []))[1].append(alpha)
    variants = []
    for beta, alphas in groups.values():
        merged = {"$and": [*beta, SENTINEL, *_alpha_or(alphas)]}
        if len(alphas) > 1 and _sequence_length(merged) <= MAX_BETA_SEQUENCE:
            variants.append(merged)
            continue
        for alpha in alphas:
            variant = {"$and": [*beta, SENTINEL, *alpha]}
            if _sequence_length(variant) > MAX_BETA_SEQUENCE:
                raise CompileError(
                    Const(0, None),
                    "a pair rule has too many conditions between the two claims for durable-rules",
                    "move conditions on one claim alone into separate simple conditions",
                )
            variants.append(variant)
    return variants


def _alpha_or(alphas: list[list[Test]]) -> list[Test]:
    """Tests on the current claim alone equal to `or` over `alphas` (each a conjunction): the tests they
    all start with, then one `or` of what is left of each (nothing left in one of them: always true)."""
    shared: list[Test] = []
    while all(len(a) > len(shared) for a in alphas) and all(
        a[len(shared)] == alphas[0][len(shared)] for a in alphas
    ):
        shared.append(alphas[0][len(shared)])
    rests = list({json.dumps(a[len(shared) :], sort_keys=True): a[len(shared) :] for a in alphas}.values())
    if len(rests) == 1:
        return [*shared, *rests[0]]
    if any(not rest for rest in rests):
        return shared
    return [*shared, {"$or": [rest[0] if len(rest) == 1 else {"$and": rest} for rest in rests]}]


class _Located(Exception):
    def __init__(self, error: RuleFileError) -> None:
        self.error = error


def _located(expression: Expression, exc: CompileError) -> _Located:
    return _Located(
        RuleFileError(
            expression.position_of(exc.node), f"cannot compile: {exc.message}", exc.hint, code="compile"
        )
    )
