"""A sound pre-filter compiled from the rule files: which claims could possibly hit, worked out with NumPy.

durable-rules decides every hit, but each claim's trip through it (project, encode, assert into every
ruleset, run actions, delete the session) costs far more than the rules themselves. The pre-filter
lowers each active rule's conditions to NumPy operations over columns of the facts of a chunk of
patients (one array per fact key, built once per chunk), and only the claims that some rule could
fire on go to durable-rules; the others are screened with no hit. The rules' masks are or-ed by the
durable-rules ruleset that holds each rule, so a kept claim goes only into the rulesets where some rule
could fire on it (a patient whose claims could fire in one ruleset skips every other's session).

Soundness: every boolean condition is lowered to two masks, an upper bound (true wherever the rule
language could make it true) and a lower bound (true only where it certainly is), so `not` and
`unless` swap them. What the lowering cannot express is (upper true, lower false): the claim is kept.
Comparisons whose sides went through arithmetic or rounding get a small relative tolerance, because
durable-rules evaluates rearranged forms (`a / b <= c` as `a <= c * b`) that round differently at an
exact boundary. Pair rules are evaluated over every (earlier, current) pair of a patient's facts with
the earlier claim first, as durable-rules pairs them; a claim is kept when any pair could fire.

NumPy over columns rather than DuckDB or Polars: the facts are already derived in Python per patient
(history facts, payment estimate, hospital indicators), so the columns are built straight from those
dicts with no copy into another engine and no SQL text to generate; a chunk holds a few hundred claims,
where an embedded database's per-query overhead would cost more than the filtering.

How each function of the rule language lowers is one more part of its declaration in the function
registry (`Function.prefilter`, see `drgaudit.engine.functions`); the built-in lowerings are here, in
`BUILTIN_LOWERINGS`. A function without a lowering keeps every claim where it decides.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any, Protocol

import numpy as np

from drgaudit.engine.compiler import CompiledProfile, CompiledRule
from drgaudit.engine.evaluate import Env, fold
from drgaudit.engine.expr import And, Arith, Call, Cmp, ListLit, Neg, Node, Not, Or, Ref, walk
from drgaudit.engine.functions import FUNCTIONS
from drgaudit.engine.lists import NamedList
from drgaudit.engine.vocabulary import BOOL, DATE, EARLIER, FACTS, LIST, LISTS, NUMBER, PARAMS, REGION, TEXT

CUR = "m"
# Relative tolerance of comparisons whose sides went through arithmetic (see the module docstring).
TOLERANCE = 1e-9
NUMERIC = (NUMBER, DATE, BOOL)


class Unsupported(Exception):
    """A value the pre-filter cannot compute: the condition reading it keeps every claim."""


@dataclass
class Col:
    """A column of values: `values` (float, bool or object array, or a Python scalar for a constant),
    `valid` (where the value is not missing), its type, and whether it is exact (no arithmetic)."""

    values: Any
    valid: Any
    kind: str
    exact: bool = True
    # What `distinct_items` works out of the values, kept with the column: a chunk's base column is read
    # by many rules (each list membership, each named list).
    items: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)


class FactSource(Protocol):
    """Where a frame's columns come from: `n` claims, and one column of facts by key and type (raising
    Unsupported for a fact it cannot give)."""

    n: int

    def column(self, key: str, kind: str) -> Col: ...


class DictSource:
    """Columns built from the claims' fact dicts (`engine.facts`), one list pass per column."""

    def __init__(self, facts: Sequence[dict[str, Any]]) -> None:
        self.facts = facts
        self.n = len(facts)

    def column(self, key: str, kind: str) -> Col:
        return build_column(_values(self.facts, key), kind)


class Frame:
    """The facts of some claims as columns, built on demand; `index` views another frame's rows.

    The base frame of a chunk reads its columns from a source: the claims' fact dicts (a list of them
    is taken as a `DictSource`) or the chunk's columns read straight from the casebook
    (`engine.columns.ColumnFacts`). Columns, and values derived from one column (list membership,
    prefixes), are computed once on the base frame and gathered for the views (a profile's targets,
    the sides of claim pairs)."""

    def __init__(
        self,
        source: FactSource | Sequence[dict[str, Any]],
        parent: Frame | None = None,
        index: np.ndarray | None = None,
    ) -> None:
        # A list of fact dicts is the common case (the row path, the tests); anything else is a source.
        self.source: FactSource = DictSource(source) if isinstance(source, (list, tuple)) else source  # type: ignore[assignment]
        self.parent = parent
        self.index = index
        self.n = len(index) if index is not None else self.source.n
        self._columns: dict[tuple[str, str], Col] = {}
        self._derived: dict[tuple[Any, ...], np.ndarray] = {}
        self._per_fact: dict[tuple[Any, ...], list[Any]] = {}
        # Bounds of comparisons of one of this frame's facts with a constant, which many rules share
        # (their dates of effect, schemes): (op, sides) -> (upper, lower); never written into.
        self.masks: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}

    def column(self, key: str, kind: str) -> Col:
        cached = self._columns.get((key, kind))
        if cached is None:
            if self.parent is not None:
                base = self.parent.column(key, kind)
                cached = Col(
                    _rows(base.values, (self.parent.n,))[self.index],
                    _rows(base.valid, (self.parent.n,))[self.index],
                    base.kind,
                    base.exact,
                )
            else:
                cached = self.source.column(key, kind)
            self._columns[(key, kind)] = cached
        return cached

    def per_fact(self, tag: tuple[Any, ...], compute: Callable[[dict[str, Any]], Any]) -> list[Any]:
        """`compute(fact)` of every claim, worked out once on the base frame (`tag` names the computation)."""
        key = ("@per_fact", *tag)
        cached = self._per_fact.get(key)
        if cached is None:
            if self.parent is not None and self.index is not None:
                base = self.parent.per_fact(tag, compute)
                cached = [base[i] for i in self.index]
            else:
                facts = getattr(self.source, "facts", None)
                if facts is None:  # columns read from the casebook: no fact dicts to compute from
                    raise Unsupported("a per-claim computation over columns")
                cached = [compute(f) for f in facts]
            self._per_fact[key] = cached
        return cached

    def derived(
        self, key: str, kind: str, tag: tuple[Any, ...], compute: Callable[[Col, int], np.ndarray]
    ) -> np.ndarray:
        """`compute(column, n)` of a column, worked out once on the base frame (`tag` names the computation)."""
        cached = self._derived.get((key, kind, tag))
        if cached is None:
            if self.parent is not None:
                cached = self.parent.derived(key, kind, tag, compute)[self.index]
            else:
                cached = compute(self.column(key, kind), self.n)
            self._derived[(key, kind, tag)] = cached
        return cached


def _rows(values: Any, shape: tuple[int]) -> Any:
    """`values` over `shape` rows: the array itself when it already has them (most columns and masks do),
    else broadcast (a constant, a scalar mask). Callers never write into the result."""
    if type(values) is np.ndarray and values.shape == shape:
        return values
    return np.broadcast_to(values, shape)


def _values(facts: Sequence[dict[str, Any]], key: str) -> list[Any]:
    if key[0] == "@":  # computed keys: `@admissions:N` is admissions_within(N)
        days = int(key.split(":", 1)[1])
        return [(f.get("_admissions") or {}).get(days) for f in facts]
    try:  # every fact dict carries every vocabulary key (claim_facts fills them all)
        return list(map(operator.itemgetter(key), facts))
    except KeyError:
        return [f.get(key) for f in facts]


def build_column(values: list[Any], kind: str) -> Col:
    """A column of the rule language's type `kind` from Python values (None is missing)."""
    n = len(values)
    if kind in (NUMBER, DATE):
        # None becomes NaN in one C pass; only then is the exact mask of missing values worked out (a real
        # NaN stays NaN, which compares as Python compares it).
        array = np.array(values, dtype=np.float64)
        if not np.isnan(array).any():
            return Col(array, np.ones(n, dtype=bool), kind)
        valid = _not_none(values)
        array[~valid] = 0.0
        return Col(array, valid, kind)
    valid = _not_none(values)
    if kind == BOOL:
        array = np.fromiter(map(bool, values), dtype=bool, count=n)
    elif kind == LIST:
        array = np.empty(n, dtype=object)
        array[:] = values if valid.all() else [v if v is not None else [] for v in values]
    else:
        array = np.empty(n, dtype=object)
        array[:] = values if valid.all() else ["" if v is None else v for v in values]
    return Col(array, valid, kind)


def _not_none(values: list[Any]) -> np.ndarray:
    """Where the values are not None (mapped in C: these run over every claim of a chunk)."""
    return np.fromiter(map(operator.is_not, values, repeat(None)), dtype=bool, count=len(values))


def _const(value: Any, kind: str | None = None) -> Col:
    if value is None:
        return Col(0.0, False, kind or NUMBER)
    if isinstance(value, NamedList):
        return Col(value, True, "named_list")
    if isinstance(value, bool):
        return Col(value, True, BOOL)
    if isinstance(value, (int, float)):
        return Col(float(value), True, NUMBER)
    if isinstance(value, dt.date):
        return Col(float(value.toordinal()), True, DATE)
    if isinstance(value, list):
        return Col(value, True, "literal_list")
    return Col(value, True, TEXT)


LISTS_OF_ITEMS, SINGLE_ITEMS, MIXED_ITEMS = "lists", "single", "mixed"


def distinct_items(col: Col, n: int) -> tuple[Any, ...]:
    """The valid rows of a column, and its items factorised, worked out once per column (`Col.items`):
    (shape, rows, distinct items, each item's position among them, each item's row among `rows`) where
    shape is LISTS_OF_ITEMS (every valid value a list: its items flattened), SINGLE_ITEMS (every valid
    value hashable and not a list: each value one item) or MIXED_ITEMS (neither: only the rows).
    """
    cached = col.items
    if cached is not None and cached[0] == n:
        return cached[1:]
    values = _rows(np.asarray(col.values, dtype=object), (n,))
    rows = np.flatnonzero(_rows(col.valid, (n,)))
    present = values[rows].tolist()  # the same objects, as a list: no numpy indexing per row
    types = set(map(type, present))
    found: tuple[Any, ...]
    if present and types == {list}:
        lengths = np.fromiter(map(len, present), dtype=np.intp, count=len(present))
        flat = list(chain.from_iterable(present))
        position = {item: k for k, item in enumerate(dict.fromkeys(flat))}
        where = np.fromiter(map(position.__getitem__, flat), dtype=np.intp, count=len(flat))
        owner = np.repeat(np.arange(len(present)), lengths)
        found = (LISTS_OF_ITEMS, rows, list(position), where, owner)
    elif present and list not in types and all(t.__hash__ is not None for t in types):
        position = {item: k for k, item in enumerate(dict.fromkeys(present))}
        where = np.fromiter(map(position.__getitem__, present), dtype=np.intp, count=len(present))
        found = (SINGLE_ITEMS, rows, list(position), where, None)
    else:
        found = (MIXED_ITEMS, rows, present, None, None)
    col.items = (n, *found)
    return found


def _map_unique(col: Col, function: Callable[[Any], bool], n: int) -> np.ndarray:
    """`function` of every valid value, computed once per distinct value (codes repeat a lot)."""
    shape, rows, distinct, where, _ = distinct_items(col, n)
    result = np.zeros(n, dtype=bool)
    if shape == SINGLE_ITEMS:  # the column's distinct values, shared by every lookup in it
        answers = np.fromiter((bool(function(value)) for value in distinct), dtype=bool, count=len(distinct))
        result[rows] = answers[where]
        return result
    present = _rows(np.asarray(col.values, dtype=object), (n,))[rows].tolist()
    memo = dict.fromkeys(present)
    for value in memo:
        memo[value] = bool(function(value))
    result[rows] = np.fromiter(map(memo.__getitem__, present), dtype=bool, count=len(present))
    return result


def _list_counts(col: Col, named: NamedList, n: int) -> np.ndarray:
    """How many items of each row's list (or single code) are in a named list."""
    contains = named.contains
    shape, rows, distinct, where, owner = distinct_items(col, n)
    counts = np.zeros(n, dtype=np.float64)
    if shape != MIXED_ITEMS:
        # Each distinct item looked up once; for lists, the found items summed per row (no Python call per
        # row). The factorisation is the column's, shared by every named list it is looked up in.
        found = np.fromiter(map(contains, distinct), dtype=np.float64, count=len(distinct))[where]
        if shape == LISTS_OF_ITEMS:
            counts[rows] = np.bincount(owner, weights=found, minlength=len(rows))
        else:
            counts[rows] = found
        return counts
    present = distinct
    memo: dict[Any, bool] = {}
    # Rows often share one list object (columns read from the casebook split each distinct text once).
    by_list: dict[int, int] = {}

    def count(value: Any) -> int:
        if not isinstance(value, list):
            found = memo.get(value)
            if found is None:
                found = memo[value] = contains(value)
            return int(found)
        total = by_list.get(id(value))
        if total is None:
            total = 0
            for item in value:
                found = memo.get(item)
                if found is None:
                    found = memo[item] = contains(item)
                total += found
            by_list[id(value)] = total  # `present` keeps every list alive: ids are not reused
        return total

    counts[rows] = np.fromiter(map(count, present), dtype=np.float64, count=len(present))
    return counts


Lowering = Callable[["Lowerer", Call], Col]


def _lower_any_in(lowerer: Lowerer, node: Call) -> Col:
    values, named = lowerer.value(node.args[0]), lowerer.value(node.args[1])
    if not isinstance(named.values, NamedList) or values.kind not in (LIST, TEXT):
        raise Unsupported(node.name)
    target = named.values
    counts = lowerer.derived(
        node.args[0], values, ("count", id(target)), lambda col, n: _list_counts(col, target, n)
    )
    if node.name == "any_in":
        return Col(counts > 0, np.ones(lowerer.n, dtype=bool), BOOL)
    return Col(counts, np.ones(lowerer.n, dtype=bool), NUMBER)


def _lower_len(lowerer: Lowerer, node: Call) -> Col:
    values = lowerer.value(node.args[0])
    if values.kind != LIST:
        raise Unsupported("len")
    array = _rows(np.asarray(values.values, dtype=object), (lowerer.n,))
    lengths = np.fromiter(map(len, array), dtype=np.float64, count=lowerer.n)
    return Col(lengths, values.valid, NUMBER)


def _lower_min_max(lowerer: Lowerer, node: Call) -> Col:
    args = [lowerer.numeric(a) for a in node.args]
    combine = np.minimum if node.name == "min" else np.maximum
    values = args[0].values
    valid = args[0].valid
    for arg in args[1:]:
        values = combine(values, arg.values)
        valid = valid & arg.valid
    return Col(values, valid, args[0].kind, all(a.exact for a in args))


def _lower_abs(lowerer: Lowerer, node: Call) -> Col:
    arg = lowerer.numeric(node.args[0])
    return Col(np.abs(arg.values), arg.valid, arg.kind, arg.exact)


def _lower_round(lowerer: Lowerer, node: Call) -> Col:
    arg = lowerer.numeric(node.args[0])
    digits = 0
    if len(node.args) > 1:
        ok, value = lowerer.constant(node.args[1])
        if not ok or value is None:
            raise Unsupported("round")
        digits = int(value)
    # Python rounds the decimal repr, NumPy scales: equal up to the tolerance, so not exact.
    return Col(np.round(arg.values, digits), arg.valid, NUMBER, False)


def _lower_starts_with(lowerer: Lowerer, node: Call) -> Col:
    text, prefix = lowerer.value(node.args[0]), lowerer.value(node.args[1])
    if prefix.kind != TEXT or not isinstance(prefix.values, str) or text.kind not in (TEXT, NUMBER):
        raise Unsupported("starts_with")
    start = prefix.values
    found = lowerer.derived(
        node.args[0],
        text,
        ("prefix", start),
        lambda col, n: _map_unique(col, lambda v: str(v).startswith(start), n),
    )
    return Col(found, _rows(text.valid, (lowerer.n,)), BOOL)


def _lower_has(lowerer: Lowerer, node: Call) -> Col:
    arg = lowerer.value(node.args[0])
    return Col(_rows(arg.valid, (lowerer.n,)).copy(), np.ones(lowerer.n, dtype=bool), BOOL)


def _lower_admissions_within(lowerer: Lowerer, node: Call) -> Col:
    ok, days = lowerer.constant(node.args[0])
    if not ok or days is None or lowerer.roles_of(node) - {CUR}:
        raise Unsupported("admissions_within")
    return lowerer.frames[CUR].column(f"@admissions:{int(days)}", NUMBER)


def _lower_episodes_within(lowerer: Lowerer, node: Call) -> Col:
    # Computed per claim with the function's own implementation (a short loop over the patient's stays).
    folded = [lowerer.constant(a) for a in node.args]
    if any(not ok or value is None for ok, value in folded) or lowerer.roles_of(node) - {CUR}:
        raise Unsupported("episodes_within")
    values = [value for _, value in folded]
    count = FUNCTIONS["episodes_within"].implementation
    tag = ("episodes", *(v.name if isinstance(v, NamedList) else v for v in values))
    counts = lowerer.frames[CUR].per_fact(
        tag, lambda fact: count(*values, fact=fact) if "_stays" in fact else None
    )
    return build_column(counts, NUMBER)


def _most_episodes_within(lowerer: Lowerer, node: Call) -> Col:
    # Every stay episodes_within() looks at is an admission in the same window (`@admissions:<days>`),
    # none left out: their number is the most episodes there can be.
    ok, days = lowerer.constant(node.args[0]) if node.args else (False, None)
    if (
        not ok
        or isinstance(days, bool)
        or not isinstance(days, (int, float))
        or lowerer.roles_of(node) - {CUR}
    ):
        raise Unsupported("episodes_within")
    frame = lowerer.frames.get(CUR)
    if frame is None:
        raise Unsupported("episodes_within")
    # ceil: a window of 30.5 days reaches back as far as one of 31 whole days.
    return frame.column(f"@admissions:{math.ceil(days)}", NUMBER)


def _lower_add_months(lowerer: Lowerer, node: Call) -> Col:
    day = lowerer.numeric(node.args[0])
    ok, months = lowerer.constant(node.args[1])
    if not ok or months is None or day.kind != DATE:
        raise Unsupported("add_months")
    add = FUNCTIONS["add_months"].implementation
    values = _rows(np.asarray(day.values, dtype=np.float64), (lowerer.n,))
    valid = _rows(day.valid, (lowerer.n,))
    # Once per distinct day (a chunk's claims share a few hundred dates).
    days, where = np.unique(values[valid], return_inverse=True)
    moved = np.array([add(int(v), months) for v in days.tolist()], dtype=np.float64).reshape(-1)
    shifted = np.zeros(lowerer.n, dtype=np.float64)
    shifted[valid] = moved[where.reshape(-1)]
    return Col(shifted, valid.copy(), DATE, day.exact)


# How each built-in function of the rule language is computed over columns; the registry
# (`drgaudit.engine.functions`, `Function.prefilter`) names these, and a function registered with its
# own `prefilter` lowering is computed by that (`date` is always folded to a constant).
BUILTIN_LOWERINGS: dict[str, Lowering] = {
    "any_in": _lower_any_in,
    "count_in": _lower_any_in,
    "len": _lower_len,
    "min": _lower_min_max,
    "max": _lower_min_max,
    "abs": _lower_abs,
    "round": _lower_round,
    "starts_with": _lower_starts_with,
    "has": _lower_has,
    "admissions_within": _lower_admissions_within,
    "episodes_within": _lower_episodes_within,
    "add_months": _lower_add_months,
}

# The most a count can be, over columns where the count itself cannot be computed (it is never below
# 0); the registry (`Function.prefilter_count_bound`) names these.
BUILTIN_COUNT_BOUNDS: dict[str, Lowering] = {
    "episodes_within": _most_episodes_within,
}


def _counted(node: Node) -> bool:
    """A call of a function that declares a bound of its count."""
    if not isinstance(node, Call):
        return False
    function = FUNCTIONS.get(node.name)
    return function is not None and function.prefilter_count_bound is not None


def _fold_constant(node: Node, env: Env) -> tuple[bool, Any]:
    for item in walk(node):
        if isinstance(item, Ref) and item.path[0] not in (PARAMS, REGION, LISTS):
            return False, None
        if isinstance(item, Call) and FUNCTIONS[item.name].reads_fact:
            return False, None
    return fold(node, env)


def _tolerance(left: Any, right: Any) -> Any:
    return TOLERANCE * (np.abs(left) + np.abs(right)) + 1e-12


@dataclass
class Lowerer:
    """Lowers the expressions of one rule (its params and region settings folded in) over frames."""

    env: Env
    frames: dict[str, Frame]
    n: int
    constants: dict[int, tuple[bool, Any]] = field(default_factory=dict)
    # (form, id(node)) -> the node's compiled closure (`compiled_form`); they depend only on the rule and
    # its folded constants, so a rule's filter keeps them across chunks.
    closures: dict[tuple[str, int], Callable[[Lowerer], Any]] = field(default_factory=dict)
    # Set when a lowering looked at its rows all at once (a condition used as a value must be certain on
    # every row): the result then depends on which rows were lowered together (see `select_together`).
    whole_rows: bool = False

    def constant(self, node: Node) -> tuple[bool, Any]:
        """(True, value) for a node that reads no fact (params, settings, lists, literals); memoised."""
        known = self.constants.get(id(node))
        if known is None:
            known = self.constants[id(node)] = _fold_constant(node, self.env)
        return known

    def roles_of(self, node: Node) -> set[str]:
        return {
            EARLIER if n.path[0] == EARLIER else CUR
            for n in walk(node)
            if isinstance(n, Ref) and n.path[0] not in (PARAMS, REGION, LISTS)
        }

    def derived(
        self, node: Node, col: Col, tag: tuple[Any, ...], compute: Callable[[Col, int], np.ndarray]
    ) -> np.ndarray:
        """`compute(col, n)`; for a plain fact name worked out once per chunk on its base frame."""
        if isinstance(node, Ref) and node.path[0] not in (PARAMS, REGION, LISTS):
            role = EARLIER if node.path[0] == EARLIER else CUR
            fact = FACTS.get(".".join(node.path[1:] if role == EARLIER else node.path))
            frame = self.frames.get(role)
            if fact is not None and frame is not None:
                return frame.derived(fact.key, fact.type, tag, compute)
        return compute(col, self.n)

    # ---- values and conditions: each node compiled once per rule into a closure (below) ---------------
    def value(self, node: Node) -> Col:
        """The node's values over the rows (`Unsupported` where the lowering cannot compute them)."""
        values: Col = self.compiled_form("value", node, _compile_value)(self)
        return values

    def numeric(self, node: Node) -> Col:
        """`value` for a node used as a number (a boolean counts 0/1)."""
        values: Col = self.compiled_form("numeric", node, _compile_numeric)(self)
        return values

    def bounds(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """(upper, lower): where the condition may be true, and where it certainly is."""
        found: tuple[np.ndarray, np.ndarray] = self.compiled_form("bounds", node, _compile_bounds)(self)
        return found

    def compiled_form(
        self, form: str, node: Node, compile: Callable[[Lowerer, Node], Callable[[Lowerer], Any]]
    ) -> Callable[[Lowerer], Any]:
        """`compile(self, node)`, made once per rule (in `closures`, kept like `constants`)."""
        key = (form, id(node))
        found = self.closures.get(key)
        if found is None:
            found = self.closures[key] = compile(self, node)
        return found

    def truth(self, col: Col) -> tuple[np.ndarray, np.ndarray]:
        """`bool(value)` as the evaluator takes it (a missing value is false)."""
        valid = _rows(col.valid, (self.n,))
        if col.kind == BOOL:
            mask = valid & _rows(np.asarray(col.values, dtype=bool), (self.n,))
            return mask, mask
        if col.kind in (NUMBER, DATE):
            values = _rows(col.values, (self.n,))
            if col.exact:
                mask = valid & (values != 0)
                return mask, mask
            return valid.copy(), valid & (np.abs(values) > _tolerance(values, 0))
        if col.kind == TEXT:
            mask = valid & (_rows(np.asarray(col.values, dtype=object), (self.n,)) != "")
            return mask, mask
        if col.kind == LIST:
            mask = valid & np.fromiter(map(bool, _rows(col.values, (self.n,))), dtype=bool, count=self.n)
            return mask, mask
        raise Unsupported(col.kind)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


# ---- the lowering of a rule compiled into closures ----------------------------------------------------
# What a node is (a folded constant, which kind of node, which fact, which function) is the same answer on
# every chunk for one rule's filter (its params and settings are fixed). Each node is compiled once into
# a closure that keeps those answers and does only the NumPy work per chunk; this is the one form of the
# lowering: `Lowerer.value`/`numeric`/`bounds` (what function lowerings call) run these closures, cached
# per rule. Compiling reads only the rule's constants, never the frames, so a closure serves every chunk.
Bounds = Callable[[Lowerer], tuple[np.ndarray, np.ndarray]]
Value = Callable[[Lowerer], Col]


def _compile_bounds(lowerer: Lowerer, node: Node) -> Bounds:
    """A condition's (upper, lower) bounds as a closure over a Lowerer of the same rule (its constants
    folded now); what the lowering cannot express is (upper true, lower false)."""
    ok, constant = lowerer.constant(node)
    if ok:
        truth = bool(constant)

        def constant_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
            mask = np.full(lw.n, truth)
            return mask, mask

        return constant_bounds
    if isinstance(node, Not):
        item = _compile_bounds(lowerer, node.item)

        def not_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
            upper, lower = item(lw)
            return ~lower, ~upper

        return not_bounds
    if isinstance(node, (And, Or)):
        first, *rest = [_compile_bounds(lowerer, item) for item in node.items]
        combine = np.logical_and if isinstance(node, And) else np.logical_or

        def combined_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
            upper, lower = first(lw)
            for part in rest:
                part_upper, part_lower = part(lw)
                upper, lower = combine(upper, part_upper), combine(lower, part_lower)
            return upper, lower

        return combined_bounds
    body: Bounds
    if isinstance(node, Cmp):
        body = _compile_compare(lowerer, node)
    else:
        value = _compile_value(lowerer, node)

        def body(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
            return lw.truth(value(lw))

    def guarded_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
        try:
            return body(lw)
        except Unsupported:
            return np.ones(lw.n, dtype=bool), np.zeros(lw.n, dtype=bool)

    return guarded_bounds


def _compile_compare(lowerer: Lowerer, node: Cmp) -> Bounds:
    """A comparison's bounds as a closure, shared by the rules of a frame when it compares one fact of
    the current claim with a constant."""
    body = _compile_plain_compare(lowerer, node)
    key = _shared_key(lowerer, node)
    if key is None:
        return body

    def shared_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
        # The same comparison in several rules is worked out once per frame.
        frame = lw.frames.get(CUR)
        if frame is None:
            return body(lw)
        found = frame.masks.get(key)
        if found is None:
            found = frame.masks[key] = body(lw)
        return found

    return shared_bounds


def _shared_key(lowerer: Lowerer, node: Cmp) -> tuple[Any, ...] | None:
    """What a comparison of a fact of the current claim with a constant depends on besides that fact's
    column (the op, the fact, the constant's value); None for any other comparison."""
    if _counted(node.left) or _counted(node.right):
        return None
    sides: list[tuple[Any, ...]] = []
    for side in (node.left, node.right):
        ok, constant = lowerer.constant(side)
        if ok:
            sides.append(("constant", _value_key(constant)))
            continue
        if not isinstance(side, Ref) or side.path[0] in (EARLIER, PARAMS, REGION, LISTS):
            return None
        fact = FACTS.get(".".join(side.path))
        if fact is None:
            return None
        sides.append(("fact", fact.key, fact.type))
    if sum(side[0] == "fact" for side in sides) != 1:
        return None
    return (node.op, *sides)


def _compile_plain_compare(lowerer: Lowerer, node: Cmp) -> Bounds:
    """A comparison (not shared across rules): membership, a count with a bound, or values compared."""
    if node.op in ("in", "not in"):
        return _compile_membership(lowerer, node)
    compared = _compile_values_compared(lowerer, node)
    if _counted(node.left) or _counted(node.right):
        return _compile_count_bounds(lowerer, node, compared)
    return compared


def _compile_values_compared(lowerer: Lowerer, node: Cmp) -> Bounds:
    """Both sides' values compared row by row, with a tolerance where a side is not exact."""
    left_value, right_value = _compile_value(lowerer, node.left), _compile_value(lowerer, node.right)
    op = node.op
    compare = _COMPARE[op]

    def compare_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
        left, right = left_value(lw), right_value(lw)
        numeric = left.kind in NUMERIC and right.kind in NUMERIC
        if not numeric and not (left.kind == TEXT and right.kind == TEXT):
            raise Unsupported("comparison of values of different kinds")
        n = lw.n
        valid = _rows(left.valid & right.valid, (n,))
        a, b = left.values, right.values
        if numeric:
            a = np.asarray(a, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
        if not numeric or (left.exact and right.exact):
            mask = valid & _rows(compare(a, b), (n,))
            return mask, mask.copy()
        tol = _tolerance(a, b)
        if op in ("<", "<="):
            upper, lower = compare(a, b + tol), compare(a, b - tol)
        elif op in (">", ">="):
            upper, lower = compare(a, b - tol), compare(a, b + tol)
        elif op == "==":
            upper, lower = np.abs(a - b) <= tol, np.zeros(n, dtype=bool)
        else:
            upper, lower = np.ones(n, dtype=bool), np.abs(a - b) > tol
        return valid & _rows(upper, (n,)), valid & _rows(lower, (n,))

    return compare_bounds


_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _compile_count_bounds(lowerer: Lowerer, node: Cmp, compared: Bounds) -> Bounds:
    """`count(…) <op> constant` for a function the registry declares a count with a bound
    (`Function.prefilter_count_bound`): where the count itself cannot be computed (columns read from the
    casebook have no stays) it lies between 0 and the bound, which bounds where the comparison may be
    true; it is never certainly true. Compared the ordinary way (`compared`) when the count can be
    computed (fact dicts), when the other side is not a constant number, or when the bound cannot be."""
    if _counted(node.left):
        call, other, op = node.left, node.right, node.op
    else:
        call, other, op = node.right, node.left, _MIRRORED[node.op]
    assert isinstance(call, Call)
    ok, limit = lowerer.constant(other)
    if not ok or isinstance(limit, bool) or not isinstance(limit, (int, float)):
        return compared
    count = _compile_value(lowerer, call)
    compare = _COMPARE[op]

    def count_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
        try:
            count(lw)
        except Unsupported:
            pass
        else:
            return compared(lw)  # counted exactly
        bound = FUNCTIONS[call.name].prefilter_count_bound
        assert bound is not None
        try:
            most: Col = bound(lw, call)
        except Unsupported:
            return compared(lw)
        n = lw.n
        high = _rows(np.asarray(most.values, dtype=np.float64), (n,))
        known = _rows(most.valid, (n,))
        if op in (">", ">="):
            possible = compare(high, limit)
        elif op == "==":
            possible = (limit >= 0) & (high >= limit)
        else:  # <, <=, !=: the count may be 0
            possible = np.full(n, bool(compare(0, limit)) or op == "!=")
        upper = np.where(known, possible, True)
        return upper, np.zeros(n, dtype=bool)

    return count_bounds


def _compile_membership(lowerer: Lowerer, node: Cmp) -> Bounds:
    """`value in [constants]` or `text in lists.name` (and `not in`): certain on every row."""
    left_value = _compile_value(lowerer, node.left)
    op = node.op
    if isinstance(node.right, ListLit):
        ok, items = lowerer.constant(node.right)
        listed = ok and not any(item is None for item in items)

        def listed_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
            left = left_value(lw)
            if not listed:
                raise Unsupported("a list of values that are not constants")
            if left.kind not in (TEXT, NUMBER, DATE, BOOL):
                raise Unsupported("membership of a list")
            return _member(lw, node.left, left, ("items", repr(items)), items.__contains__, op)

        return listed_bounds
    right_value = _compile_value(lowerer, node.right)

    def named_bounds(lw: Lowerer) -> tuple[np.ndarray, np.ndarray]:
        left, right = left_value(lw), right_value(lw)
        if not isinstance(right.values, NamedList) or left.kind != TEXT:
            raise Unsupported("membership")
        named = right.values
        return _member(lw, node.left, left, ("named", id(named)), named.contains, op)

    return named_bounds


def _member(
    lw: Lowerer, left_node: Node, left: Col, tag: tuple[Any, ...], contains: Callable[[Any], bool], op: str
) -> tuple[np.ndarray, np.ndarray]:
    found = lw.derived(left_node, left, tag, lambda col, n: _map_unique(col, contains, n))
    valid = _rows(left.valid, (lw.n,))
    mask = valid & (found if op == "in" else ~found)
    return mask, mask.copy()


def _compile_value(lowerer: Lowerer, node: Node) -> Value:
    """A node's values as a closure over a Lowerer of the same rule (its constants folded now)."""
    ok, constant = lowerer.constant(node)
    if ok:
        return lambda lw: _const(constant)
    if isinstance(node, Ref):
        role = EARLIER if node.path[0] == EARLIER else CUR
        fact = FACTS.get(".".join(node.path[1:] if role == EARLIER else node.path))
        dotted = node.dotted
        if fact is None:
            return _unsupported(dotted)
        key, kind = fact.key, fact.type

        def fact_value(lw: Lowerer) -> Col:
            frame = lw.frames.get(role)
            if frame is None:
                raise Unsupported(dotted)
            return frame.column(key, kind)

        return fact_value
    if isinstance(node, Arith):
        return _compile_arith(lowerer, node)
    if isinstance(node, Neg):
        operand_value = _compile_numeric(lowerer, node.operand)

        def negated(lw: Lowerer) -> Col:
            operand = operand_value(lw)
            return Col(np.negative(operand.values), operand.valid, operand.kind, operand.exact)

        return negated
    if isinstance(node, Call):

        def called(lw: Lowerer) -> Col:
            function = FUNCTIONS.get(node.name)
            if function is None or function.prefilter is None:
                raise Unsupported(node.name)
            lowered: Col = function.prefilter(lw, node)
            return lowered

        return called
    if isinstance(node, (Cmp, And, Or, Not)):
        condition = _compile_bounds(lowerer, node)

        def certain(lw: Lowerer) -> Col:
            upper, lower = condition(lw)
            lw.whole_rows = True
            if not np.array_equal(upper, lower):
                raise Unsupported("an uncertain condition used as a value")
            return Col(upper, np.ones(lw.n, dtype=bool), BOOL)

        return certain
    return _unsupported(type(node).__name__)


def _unsupported(what: str) -> Value:
    def unsupported(lw: Lowerer) -> Col:
        raise Unsupported(what)

    return unsupported


def _compile_numeric(lowerer: Lowerer, node: Node) -> Value:
    """A node's values used as a number (a boolean as 0/1) as a closure."""
    value = _compile_value(lowerer, node)

    def numeric(lw: Lowerer) -> Col:
        col = value(lw)
        if col.kind not in NUMERIC or isinstance(col.values, str):
            raise Unsupported("arithmetic on a value that is not a number")
        if col.kind == BOOL:
            return Col(np.asarray(col.values, dtype=np.float64), col.valid, NUMBER, col.exact)
        return col

    return numeric


def _compile_arith(lowerer: Lowerer, node: Arith) -> Value:
    """Arithmetic on two numbers as a closure (never exact: rearranged forms round differently)."""
    left_value, right_value = _compile_numeric(lowerer, node.left), _compile_numeric(lowerer, node.right)
    op = node.op

    def arith(lw: Lowerer) -> Col:
        left, right = left_value(lw), right_value(lw)
        valid = left.valid & right.valid
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if op == "+":
                values = np.add(left.values, right.values)
            elif op == "-":
                values = np.subtract(left.values, right.values)
            elif op == "*":
                values = np.multiply(left.values, right.values)
            else:
                nonzero = np.asarray(right.values) != 0
                valid = valid & nonzero
                values = np.divide(left.values, np.where(nonzero, right.values, 1.0))
        kind = NUMBER if (op == "-" and left.kind == DATE and right.kind == DATE) else left.kind
        return Col(values, valid, kind if kind in NUMERIC else NUMBER, False)

    return arith


@dataclass
class RuleFilter:
    """One compiled rule's pre-filter: its applicability and conditions, over the current (and earlier) claim."""

    compiled: CompiledRule
    env: Env
    # id(node) -> folded constant; the rule's expression trees live as long as the pack.
    constants: dict[int, tuple[bool, Any]] = field(default_factory=dict)
    # (form, id(node)) -> compiled closure (`Lowerer.compiled_form`), made when a chunk first reaches it.
    closures: dict[tuple[str, int], Callable[[Lowerer], Any]] = field(default_factory=dict)

    @property
    def pair(self) -> bool:
        return bool(self.compiled.bound.rule.pair)

    def upper(self, frames: dict[str, Frame], n: int) -> np.ndarray:
        """Where the rule could fire (the rule's `when` all true, no `unless` certainly true)."""
        return self.upper_rows(frames, n)[0]

    def upper_rows(self, frames: dict[str, Frame], n: int) -> tuple[np.ndarray, bool]:
        """`upper`, and whether it looked at the rows all at once (`Lowerer.whole_rows`): when not, each
        row's result depends on that row alone."""
        lowerer = Lowerer(self.env, frames, n, self.constants, self.closures)
        mask = np.ones(n, dtype=bool)
        # Its scope, schemes and dates (`Rule.applicability`, conditions of the language), then `when`,
        # then `unless`; each condition compiled when first reached.
        for root, certain in self.roots:
            # count_nonzero: a few times cheaper than `any` (or `sum`) on a chunk's bool masks
            if not np.count_nonzero(mask):
                return mask, lowerer.whole_rows
            if certain:
                mask &= ~lowerer.bounds(root)[1]
            else:
                mask &= lowerer.bounds(root)[0]
        return mask, lowerer.whole_rows

    @functools.cached_property
    def roots(self) -> list[tuple[Node, bool]]:
        """The rule's conditions in the order they are lowered: (root, whether it is an `unless`)."""
        rule = self.compiled.bound.rule
        found = [(item.condition.root, False) for item in rule.applicability]
        found += [(expression.root, False) for expression in rule.when]
        found += [(expression.root, True) for expression in rule.unless]
        return found

    @functools.cached_property
    def lowering_key(self) -> tuple[Any, ...]:
        """What this rule's lowering depends on besides the facts: the rule itself and the value of every
        node of its conditions that reads no fact (its params, region settings and lists folded in). Two
        profiles' filters of a rule with equal keys compute the same masks, row by row."""
        lowerer = Lowerer(self.env, {}, 0, self.constants)  # folds into (and keeps alive) `constants`
        rule = self.compiled.bound.rule
        folded: list[Any] = []
        for expression in (*(item.condition for item in rule.applicability), *rule.when, *rule.unless):
            for node in walk(expression.root):
                ok, value = lowerer.constant(node)
                folded.append(_value_key(value) if ok else None)
        return (id(rule), tuple(folded))


def _value_key(value: Any) -> tuple[Any, ...]:
    """A folded constant as a comparable key: plain values by type and repr, lists item by item, anything
    else (a named list) by identity (it lives as long as the pack)."""
    if value is None or isinstance(value, (bool, int, float, str, dt.date)):
        return (type(value).__name__, repr(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_value_key(item) for item in value))
    return (type(value).__name__, id(value))


@dataclass
class PrefilterStats:
    """How many target claims the pre-filter saw and kept, and how many each rule kept."""

    seen: int = 0
    kept: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)

    def add(self, other: PrefilterStats) -> None:
        self.seen += other.seen
        self.kept += other.kept
        for rule, count in other.by_rule.items():
            self.by_rule[rule] = self.by_rule.get(rule, 0) + count

    @property
    def share_kept(self) -> float:
        return self.kept / self.seen if self.seen else 0.0


class Prefilter:
    """The pre-filter of one compiled profile: every rule's upper bound, or-ed by the durable-rules
    ruleset that holds the rule (`CompiledRule.ruleset`), so that a claim goes only into the rulesets
    where some rule could fire on it."""

    def __init__(self, profile: CompiledProfile) -> None:
        pack = profile.pack
        self.rules = [
            RuleFilter(c, Env(None, None, c.bound.params, profile.settings, pack.lists))
            for c in profile.rules
        ]
        self.rulesets = len(profile.rulesets)
        self.has_pairs = any(r.pair for r in self.rules)
        self.stats = PrefilterStats()

    def fields(self) -> set[str]:
        """The claim fields the facts its conditions read are computed from (`engine.columns`)."""
        from drgaudit.engine.columns import fields_for

        found: set[str] = set()
        for rule in self.rules:
            r = rule.compiled.bound.rule
            for expression in (*(item.condition for item in r.applicability), *r.when, *r.unless):
                for node in walk(expression.root):
                    if isinstance(node, Ref) and node.path[0] not in (PARAMS, REGION, LISTS):
                        path = node.path[1:] if node.path[0] == EARLIER else node.path
                        fact = FACTS.get(".".join(path))
                        if fact is not None:
                            found.update(fields_for(fact.key))
                    elif isinstance(node, Call) and node.name == "admissions_within":
                        found.update(fields_for("@admissions:0"))
        return found

    def select(
        self, base: Frame, targets: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """Which target rows of `base` some rule of each ruleset could fire on: a (rulesets, targets)
        mask; a target is kept when its column has any true (`.any(axis=0)`).

        `pairs` = (position in `targets` of the current claim, row of `base` of the earlier claim): every
        claim a pair rule may pair with each target (the same patient's claims with a lower `seq`).
        """
        n = len(targets)
        frame = Frame(base.source, base, targets)
        routes = np.zeros((self.rulesets, n), dtype=bool)
        pair_frames: dict[str, Frame] | None = None
        owner = pairs[0] if pairs is not None else np.zeros(0, dtype=np.intp)
        for rule in self.rules:
            if rule.pair:
                if not len(owner):
                    continue
                if pair_frames is None:
                    assert pairs is not None
                    pair_frames = {
                        CUR: Frame(base.source, base, targets[owner]),
                        EARLIER: Frame(base.source, base, pairs[1]),
                    }
                fires = rule.upper(pair_frames, len(owner))
                mask = np.bincount(owner[fires], minlength=n) > 0
            else:
                mask = rule.upper({CUR: frame}, n)
            count = int(np.count_nonzero(mask))
            if count:
                name = rule.compiled.bound.rule.id
                self.stats.by_rule[name] = self.stats.by_rule.get(name, 0) + count
            routes[rule.compiled.ruleset] |= mask
        self.stats.seen += n
        self.stats.kept += int(routes.any(axis=0).sum())
        return routes


Pairs = tuple[np.ndarray, np.ndarray]


def select_together(
    base: Frame,
    parts: Sequence[tuple[Prefilter, np.ndarray]],
    pairs_of: Callable[[np.ndarray], Pairs],
) -> list[np.ndarray]:
    """For each (pre-filter, target rows of `base`) of a chunk, which targets some rule of each ruleset
    could fire on: what `Prefilter.select` gives for each (a (rulesets, targets) mask), with its
    statistics, but a rule that several profiles lower the same way (`RuleFilter.lowering_key`: the
    same rule, the same folded params and settings) is lowered once over all their targets together.
    The masks are the same, row by row (the lowerings work row by row); a rule whose lowering looked at
    all its rows at once is lowered again for each profile alone. `pairs_of(targets)` gives the
    (position in targets, earlier row) pairs of some targets (see `Prefilter.select`)."""
    return _Together(base, parts, pairs_of).select()


class _Together:
    """The work of `select_together` on one chunk."""

    def __init__(
        self,
        base: Frame,
        parts: Sequence[tuple[Prefilter, np.ndarray]],
        pairs_of: Callable[[np.ndarray], Pairs],
    ) -> None:
        self.base = base
        self.parts = parts
        self.pairs_of = pairs_of
        self.keeps = [
            np.zeros((prefilter.rulesets, len(targets)), dtype=bool) for prefilter, targets in parts
        ]
        # (members, pair rule) -> frames over the members' targets together, the pairs' owners, target count
        self.frames: dict[tuple[tuple[int, ...], bool], tuple[dict[str, Frame], np.ndarray, int]] = {}
        # members -> whether their targets together are every row of the base, each once (the common case:
        # a chunk with no context claims, a rule every profile lowers the same way)
        self.whole: dict[tuple[int, ...], bool] = {}

    def select(self) -> list[np.ndarray]:
        groups: dict[tuple[Any, ...], list[tuple[int, RuleFilter]]] = {}
        for k, (prefilter, _) in enumerate(self.parts):
            for rule in prefilter.rules:
                groups.setdefault(rule.lowering_key, []).append((k, rule))
        for group in groups.values():
            members = tuple(k for k, _ in group)
            if not group[0][1].pair and self.covers(members):
                # Lowered on the base frame itself (its rows in their own order: no column gathered for a
                # view), then each profile's targets picked out of the mask.
                mask, whole = group[0][1].upper_rows({CUR: self.base}, self.base.n)
                if len(group) == 1 or not whole:
                    for k, rule in group:
                        self.count(k, rule, mask[self.parts[k][1]])
                    continue
            else:
                mask, whole = self.lower(group[0][1], members)
            if len(group) > 1 and whole:
                for k, rule in group:  # depends on the rows lowered together: each profile alone
                    self.count(k, rule, self.lower(rule, (k,))[0])
                continue
            start = 0
            for k, rule in group:
                size = len(self.parts[k][1])
                self.count(k, rule, mask[start : start + size])
                start += size
        for (prefilter, targets), keep in zip(self.parts, self.keeps, strict=True):
            prefilter.stats.seen += len(targets)
            prefilter.stats.kept += int(keep.any(axis=0).sum())
        return self.keeps

    def covers(self, members: tuple[int, ...]) -> bool:
        """Whether the members' targets together are every row of the base frame, each once."""
        found = self.whole.get(members)
        if found is None:
            n = self.base.n
            sizes = sum(len(self.parts[k][1]) for k in members)
            found = sizes == n
            if found and n:
                seen = np.zeros(n, dtype=bool)
                for k in members:
                    seen[self.parts[k][1]] = True
                found = bool(seen.all())
            self.whole[members] = found
        return found

    def frames_of(self, members: tuple[int, ...], pair: bool) -> tuple[dict[str, Frame], np.ndarray, int]:
        found = self.frames.get((members, pair))
        if found is None:
            base = self.base
            targets = np.concatenate([self.parts[k][1] for k in members])
            if pair:
                owner, earlier = self.pairs_of(targets)
                views = {
                    CUR: Frame(base.source, base, targets[owner]),
                    EARLIER: Frame(base.source, base, earlier),
                }
            else:
                owner = np.zeros(0, dtype=np.intp)
                views = {CUR: Frame(base.source, base, targets)}
            found = self.frames[(members, pair)] = (views, owner, len(targets))
        return found

    def lower(self, rule: RuleFilter, members: tuple[int, ...]) -> tuple[np.ndarray, bool]:
        """The rule's upper bound over the members' targets together, and whether it looked at them at once."""
        views, owner, n = self.frames_of(members, rule.pair)
        if not rule.pair:
            return rule.upper_rows(views, n)
        if not len(owner):
            return np.zeros(n, dtype=bool), False
        fires, whole = rule.upper_rows(views, len(owner))
        return np.bincount(owner[fires], minlength=n) > 0, whole

    def count(self, k: int, rule: RuleFilter, mask: np.ndarray) -> None:
        self.keeps[k][rule.compiled.ruleset] |= mask
        found = int(np.count_nonzero(mask))
        if found:
            stats = self.parts[k][0].stats
            name = rule.compiled.bound.rule.id
            stats.by_rule[name] = stats.by_rule.get(name, 0) + found
