"""The one Python evaluator of the rule language.

Screening decisions are made by durable-rules; everything else a rule computes in Python comes from
here: the values a person reads (evidence, amounts, messages, `explain`, the verdict `rules test` checks
durable-rules against), constant folding in the compiler, and the derived fields computed once per claim
for durable-rules. An expression tree is compiled once into Python closures; the meaning of every
operator is written once below and of every function once in the registry (`engine/functions.py`).

Names are resolved by one of two bindings:
- over an `Env` (one claim's facts, maybe an earlier claim, params, region settings, named lists), which
  records every fact it reads, for evidence and explanations;
- over one fact dict, for derived fields (the compiler has already put the values of params and region
  settings in the tree).

The rule about gaps is the engine's: a comparison with a missing value is false, arithmetic with a
missing value is missing, and a function's missing arguments give a missing result unless the registry
says the function handles them (`has`, `any_in`, `count_in`). The differential tests check durable-rules
against this evaluator on generated expressions and claims.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from drgaudit.engine.functions import FUNCTIONS, PROPAGATE
from drgaudit.engine.lists import NamedList
from drgaudit.engine.nodes import And, Arith, Call, Cmp, Const, ListLit, Neg, Node, Not, Or, Ref
from drgaudit.engine.vocabulary import EARLIER, LISTS, PARAMS, REGION

E = TypeVar("E")
E_contra = TypeVar("E_contra", contravariant=True)
Compiled = Callable[[E], Any]
FactFunction = Callable[[dict[str, Any]], Any]


class NotConstant(Exception):
    """Raised while folding constants when an expression needs a claim's facts."""


@dataclass
class Env:
    """What names resolve to while evaluating: one claim's facts, maybe an earlier claim, params, settings, lists."""

    fact: dict[str, Any] | None
    earlier: dict[str, Any] | None
    params: dict[str, Any]
    settings: dict[str, Any]
    lists: dict[str, NamedList]
    # When a dict, every fact read is recorded in it by dotted name (the evidence of a condition).
    seen: dict[str, Any] | None = field(default=None)


class _Binding(Protocol, Generic[E_contra]):
    def ref(self, node: Ref) -> Callable[[E_contra], Any]: ...

    def fact(self) -> Callable[[E_contra], Mapping[str, Any] | None]: ...


def _param_value(value: Any) -> Any:
    return value.toordinal() if isinstance(value, dt.date) else value


class _EnvBinding:
    """Names over an Env; a claim's field when the Env has no claim raises NotConstant."""

    def ref(self, node: Ref) -> Callable[[Env], Any]:
        head, dotted = node.path[0], node.dotted
        if head in (PARAMS, REGION, LISTS):
            name = node.path[1]
            if head == PARAMS:
                return lambda env: _param_value(env.params[name])
            if head == REGION:
                return lambda env: env.settings.get(name)
            return lambda env: env.lists[name]
        earlier = head == EARLIER
        key = "__".join(node.path[1:] if earlier else node.path)

        def lookup(env: Env) -> Any:
            source = env.earlier if earlier else env.fact
            if source is None:
                raise NotConstant(dotted)
            value = source.get(key)
            if env.seen is not None:
                env.seen[dotted] = value
            return value

        return lookup

    def fact(self) -> Callable[[Env], Mapping[str, Any] | None]:
        def current(env: Env) -> Mapping[str, Any]:
            if env.fact is None:
                raise NotConstant("a claim's facts")
            return env.fact

        return current


class _FactBinding:
    """Names over one fact dict, with the named lists of the pack."""

    def __init__(self, lists: Mapping[str, NamedList]) -> None:
        self.lists = lists

    def ref(self, node: Ref) -> Callable[[dict[str, Any]], Any]:
        if node.path[0] == LISTS:
            named = self.lists[node.path[1]]
            return lambda f: named
        if node.path[0] in (PARAMS, REGION, EARLIER):
            raise TypeError(f"unbound name {node.dotted} in a fact function")
        key = "__".join(node.path)
        return lambda f: f.get(key)

    def fact(self) -> Callable[[dict[str, Any]], Mapping[str, Any] | None]:
        return lambda f: f


_ENV = _EnvBinding()


def compare(op: str, left: Any, right: Any) -> bool:
    """One comparison under the engine's rule: anything compared with a missing value is false."""
    if left is None or right is None:
        return False
    return bool(_COMPARE[op](left, right))


def _member(value: Any, items: Any) -> bool:
    return bool(items.contains(value) if isinstance(items, NamedList) else value in items)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "in": _member,
    "not in": lambda value, items: not _member(value, items),
}


def _divide(a: Any, b: Any) -> Any:
    return a / b if b else None


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


def _compile(node: Node, binding: _Binding[E]) -> Compiled[E]:
    """Python closures computing `node` over an environment resolved by `binding`."""
    if isinstance(node, Const):
        value = node.value
        return lambda e: value
    if isinstance(node, Ref):
        return binding.ref(node)
    if isinstance(node, ListLit):
        items = [_compile(i, binding) for i in node.items]
        return lambda e: [i(e) for i in items]
    if isinstance(node, Arith):
        return _compile_arith(node, binding)
    if isinstance(node, Neg):
        operand = _compile(node.operand, binding)
        return lambda e: None if (v := operand(e)) is None else -v
    if isinstance(node, Cmp):
        return _compile_cmp(node, binding)
    if isinstance(node, (And, Or)):
        return _compile_and_or(node, binding)
    if isinstance(node, Not):
        item = _compile(node.item, binding)
        return lambda e: not bool(item(e))
    if isinstance(node, Call):
        return _compile_call(node, binding)
    raise TypeError(node)


def _compile_and_or(node: And | Or, binding: _Binding[E]) -> Compiled[E]:
    """`and` stops at the first false part, `or` at the first true one (as `all` and `any` do)."""
    parts = [_compile(i, binding) for i in node.items]
    if isinstance(node, And):

        def all_of(e: E) -> bool:
            for part in parts:
                if not part(e):
                    return False
            return True

        return all_of

    def any_of(e: E) -> bool:
        for part in parts:
            if part(e):
                return True
        return False

    return any_of


def _compile_cmp(node: Cmp, binding: _Binding[E]) -> Compiled[E]:
    """`compare` of both sides, with the operator looked up once (both sides are always evaluated)."""
    left, right = _compile(node.left, binding), _compile(node.right, binding)
    test = _COMPARE[node.op]

    def compare_values(e: E) -> bool:
        a = left(e)
        b = right(e)
        if a is None or b is None:
            return False
        return bool(test(a, b))

    return compare_values


def _unless_missing(first: Compiled[E], second: Compiled[E], op: Callable[[Any, Any], Any]) -> Compiled[E]:
    """`op` of two values, missing when either is."""

    def both(e: E) -> Any:
        a = first(e)
        b = second(e)
        if a is None or b is None:
            return None
        return op(a, b)

    return both


def _compile_arith(node: Arith, binding: _Binding[E]) -> Compiled[E]:
    return _unless_missing(_compile(node.left, binding), _compile(node.right, binding), _ARITH[node.op])


def _compile_call(node: Call, binding: _Binding[E]) -> Compiled[E]:
    function = FUNCTIONS[node.name]
    if not function.reads_fact and all(isinstance(a, Const) for a in node.args):
        # A call on literals only (date("2025-07-01")) is worked out once, here.
        value = function.apply([a.value for a in node.args if isinstance(a, Const)])
        return lambda e: value
    args = [_compile(a, binding) for a in node.args]
    # `Function.apply` without its generic checks: every argument is evaluated (then the fact, for a
    # function that reads it), then a missing argument gives a missing result unless the function
    # handles missing values.
    implementation = function.implementation
    propagate = function.nulls == PROPAGATE
    if function.reads_fact:
        fact = binding.fact()

        def call_on_fact(e: E) -> Any:
            values = [a(e) for a in args]
            current = fact(e)
            if propagate and None in values:
                return None
            return implementation(*values, fact=current)

        return call_on_fact
    if len(args) == 1:
        only = args[0]
        if not propagate:
            return lambda e: implementation(only(e))

        def call_one(e: E) -> Any:
            value = only(e)
            return None if value is None else implementation(value)

        return call_one
    if len(args) == 2:
        first, second = args
        if not propagate:
            return lambda e: implementation(first(e), second(e))
        return _unless_missing(first, second, implementation)
    apply = function.apply
    return lambda e: apply([a(e) for a in args])


def evaluate(node: Node, env: Env) -> Any:
    """The value of an expression; None when it depends on a missing value.

    The closures of a tree are compiled on first use and kept on the node.
    """
    return env_function(node)(env)


def env_function(node: Node) -> Compiled[Env]:
    """`evaluate(node, env)` as a function of the Env: compiled on first use and kept on the node (a
    caller evaluating the same expression many times keeps the function)."""
    compiled: Compiled[Env] | None = node.__dict__.get("_compiled_env")
    if compiled is None:
        compiled = _compile(node, _ENV)
        node.__dict__["_compiled_env"] = compiled
    return compiled


def fold(node: Node, env: Env) -> tuple[bool, Any]:
    """(True, value) when the expression is constant under `env` (params and settings only)."""
    try:
        return True, evaluate(node, env)
    except NotConstant:
        return False, None


def compile_fact_function(node: Node, lists: Mapping[str, NamedList]) -> FactFunction:
    """A Python closure computing an expression over one fact dict (params already folded to constants).

    Used for derived fields, which are computed for every fact of every patient.
    """
    return _compile(node, _FactBinding(lists))
