"""Evaluates rule expressions over derived facts in Python, for evidence, amounts, messages and `explain`.

Screening decisions are made by durable-rules; this interpreter gives the values a person reads. Both
follow one rule about gaps: a comparison with a missing value is false, and arithmetic with a missing
value is missing. The agreement of the two is tested on the bundled rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drgaudit.engine.expr import And, Arith, Call, Cmp, Const, ListLit, Neg, Node, Not, Or, Ref
from drgaudit.engine.lists import NamedList
from drgaudit.engine.vocabulary import EARLIER, LISTS, PARAMS, REGION


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
    seen: dict[str, Any] | None = field(default=None)

    def lookup(self, node: Ref) -> Any:
        head = node.path[0]
        if head == PARAMS:
            value = self.params[node.path[1]]
            return value.toordinal() if isinstance(value, dt.date) else value
        if head == REGION:
            return self.settings.get(node.path[1])
        if head == LISTS:
            return self.lists[node.path[1]]
        if head == EARLIER:
            source = self.earlier
            key = "__".join(node.path[1:])
        else:
            source = self.fact
            key = "__".join(node.path)
        if source is None:
            raise NotConstant(node.dotted)
        value = source.get(key)
        if self.seen is not None:
            self.seen[node.dotted] = value
        return value


def evaluate(node: Node, env: Env) -> Any:
    """The value of an expression; None when it depends on a missing value."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Ref):
        return env.lookup(node)
    if isinstance(node, ListLit):
        return [evaluate(i, env) for i in node.items]
    if isinstance(node, Arith):
        left = evaluate(node.left, env)
        right = evaluate(node.right, env)
        if left is None or right is None:
            return None
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return left / right if right else None
    if isinstance(node, Neg):
        value = evaluate(node.operand, env)
        return -value if value is not None else None
    if isinstance(node, Cmp):
        return compare(node.op, evaluate(node.left, env), evaluate(node.right, env))
    if isinstance(node, And):
        return all(bool(evaluate(i, env)) for i in node.items)
    if isinstance(node, Or):
        return any(bool(evaluate(i, env)) for i in node.items)
    if isinstance(node, Not):
        return not bool(evaluate(node.item, env))
    if isinstance(node, Call):
        return _call(node, env)
    raise TypeError(node)


def compare(op: str, left: Any, right: Any) -> bool:
    """One comparison under the engine's rule: anything compared with a missing value is false."""
    if left is None or right is None:
        return False
    if op in ("in", "not in"):
        if isinstance(right, NamedList):
            found = right.contains(left)
        else:
            found = left in right
        return found if op == "in" else not found
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "==":
        return left == right
    return left != right


def _call(node: Call, env: Env) -> Any:
    name = node.name
    if name == "date":
        return dt.date.fromisoformat(node.args[0].value).toordinal()
    if name == "has":
        return evaluate(node.args[0], env) is not None
    args = [evaluate(a, env) for a in node.args]
    if name in ("any_in", "count_in"):
        values, named = args
        if values is None:
            return False if name == "any_in" else 0
        items = values if isinstance(values, list) else [values]
        count = sum(1 for v in items if named.contains(v))
        return count > 0 if name == "any_in" else count
    if name == "len":
        return len(args[0]) if args[0] is not None else None
    if any(a is None for a in args):
        return None
    if name == "min":
        return min(args)
    if name == "max":
        return max(args)
    if name == "abs":
        return abs(args[0])
    if name == "round":
        return round(args[0], int(args[1]) if len(args) > 1 else 0)
    if name == "starts_with":
        return str(args[0]).startswith(str(args[1]))
    if name == "admissions_within":
        if env.fact is None:
            raise NotConstant(name)
        return env.fact.get("_admissions", {}).get(int(args[0]))
    raise TypeError(name)


def fold(node: Node, env: Env) -> tuple[bool, Any]:
    """(True, value) when the expression is constant under `env` (params and settings only)."""
    try:
        return True, evaluate(node, env)
    except NotConstant:
        return False, None


FactFunction = Callable[[dict[str, Any]], Any]


def compile_fact_function(node: Node, lists: dict[str, NamedList]) -> FactFunction:
    """A Python closure computing an expression over one fact dict (params already folded to constants).

    Used for synthetic fields, which are computed for every fact of every patient: building the closure
    tree once is several times faster than walking the expression for each fact. Same rules about gaps
    as `evaluate`.
    """
    if isinstance(node, Const):
        value = node.value
        return lambda f: value
    if isinstance(node, Ref):
        if node.path[0] == LISTS:
            named = lists[node.path[1]]
            return lambda f: named
        if node.path[0] in (PARAMS, REGION, EARLIER):
            raise TypeError(f"unbound name {node.dotted} in a fact function")
        key = "__".join(node.path)
        return lambda f: f.get(key)
    if isinstance(node, ListLit):
        items = [compile_fact_function(i, lists) for i in node.items]
        return lambda f: [i(f) for i in items]
    if isinstance(node, Arith):
        left, right = compile_fact_function(node.left, lists), compile_fact_function(node.right, lists)
        op = _ARITH_FUNCTIONS[node.op]

        def arith(f: dict[str, Any]) -> Any:
            a = left(f)
            b = right(f)
            if a is None or b is None:
                return None
            return op(a, b)

        return arith
    if isinstance(node, Neg):
        operand = compile_fact_function(node.operand, lists)
        return lambda f: None if (v := operand(f)) is None else -v
    if isinstance(node, Cmp):
        left, right = compile_fact_function(node.left, lists), compile_fact_function(node.right, lists)
        op_name = node.op
        return lambda f: compare(op_name, left(f), right(f))
    if isinstance(node, And):
        items = [compile_fact_function(i, lists) for i in node.items]
        return lambda f: all(bool(i(f)) for i in items)
    if isinstance(node, Or):
        items = [compile_fact_function(i, lists) for i in node.items]
        return lambda f: any(bool(i(f)) for i in items)
    if isinstance(node, Not):
        item = compile_fact_function(node.item, lists)
        return lambda f: not bool(item(f))
    if isinstance(node, Call):
        return _compile_call(node, lists)
    raise TypeError(node)


def _divide(a: Any, b: Any) -> Any:
    return a / b if b else None


_ARITH_FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


def _compile_call(node: Call, lists: dict[str, NamedList]) -> FactFunction:
    name = node.name
    if name == "date":
        day = dt.date.fromisoformat(node.args[0].value).toordinal()
        return lambda f: day
    args = [compile_fact_function(a, lists) for a in node.args]
    if name == "has":
        arg = args[0]
        return lambda f: arg(f) is not None
    if name in ("any_in", "count_in"):
        values, named_fn = args
        named = named_fn({})
        contains = named.contains

        def lookup(f: dict[str, Any]) -> Any:
            found = values(f)
            if found is None:
                return False if name == "any_in" else 0
            items = found if isinstance(found, list) else [found]
            count = sum(1 for v in items if contains(v))
            return count > 0 if name == "any_in" else count

        return lookup
    if name == "len":
        arg = args[0]
        return lambda f: None if (v := arg(f)) is None else len(v)
    if name == "admissions_within":
        days = int(args[0]({}))
        return lambda f: f.get("_admissions", {}).get(days)
    functions: dict[str, Callable[..., Any]] = {
        "min": min,
        "max": max,
        "abs": abs,
        "round": lambda x, n=0: round(x, int(n)),
        "starts_with": lambda s, p: str(s).startswith(str(p)),
    }
    function = functions[name]

    def call(f: dict[str, Any]) -> Any:
        values = [a(f) for a in args]
        if any(v is None for v in values):
            return None
        return function(*values)

    return call
