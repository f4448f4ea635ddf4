"""The functions of the rule language, each declared once (in the manner of pySigma's registries).

A `Function` holds everything about one function: its signature (the types and forms of its arguments,
its result type), its one Python implementation, what a missing argument does, how it reaches
durable-rules, and examples. Every part of the engine reads this registry and nothing else:

- the parser (`engine/expr.py`): which names may be called, with how many arguments;
- the checker (`engine/checker.py`): argument types and forms, the type of the result;
- the evaluator (`engine/evaluate.py`): the implementation, for evidence, messages, `explain` and the
  derived fields computed for durable-rules;
- the compiler (`engine/compiler.py`): a call in a condition either lowers to native durable-rules tests
  (`durable`), or becomes a derived field, computed once per claim in Python (the default);
- the documentation: `drgaudit rules facts` and the README's function list (`reference_markdown`).

Adding a function is adding one `Function(...)` to `BUILTINS` (or `FUNCTIONS.register(...)`) with its
examples; `tests/test_functions.py` runs every example through `rules check`, durable-rules and the
evaluator, and checks that the README lists it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from drgaudit.engine.vocabulary import BOOL, DATE, LIST, NAMED_LIST, NUMBER, TEXT

if TYPE_CHECKING:
    from drgaudit.engine.lists import NamedList
    from drgaudit.engine.nodes import Node

# The forms an argument may take, besides its type.
ANY = "any"  # any expression of an accepted type
LITERAL = "literal"  # a literal written in the rule (`accepts` may restrict its value)
CONSTANT = "constant"  # a literal, `params.x` or `region.x`: known when the rule is compiled
FIELD = "field"  # the name of a fact (`age_days`, `earlier.group_code`)

# A result type: the one type shared by every argument marked `same` (min and max).
SAME = "same"

# What a missing argument (a gap in the claim) does.
PROPAGATE = "propagate"  # the result is missing too, and the implementation is not called
HANDLED = "handled"  # the implementation receives None and decides

# A durable-rules test as the compiler builds it: a JSON-like dict, or True/False when it is constant.
DurableTest = dict[str, Any] | bool


class LoweringContext(Protocol):
    """What the compiler offers a function that lowers to native durable-rules tests."""

    def present(self, node: Node, negated: bool) -> DurableTest | None:
        """The test that a fact has a value (None when `node` is not a plain fact name)."""

    def test(self, node: Node, negated: bool) -> DurableTest:
        """The native tests of a true/false expression of the language (for a function that rewrites itself)."""


DurableLowering = Callable[[LoweringContext, "tuple[Node, ...]", bool], "DurableTest | None"]

# The pre-filter's lowering of a call: (its `Lowerer`, the `Call` node) -> a column of the call's values
# over a chunk of claims (`drgaudit.engine.prefilter.Col`); raising `prefilter.Unsupported` keeps every claim.
PrefilterLowering = Callable[[Any, Any], Any]


def _prefiltered(name: str, table: str = "BUILTIN_LOWERINGS") -> PrefilterLowering:
    """The built-in pre-filter lowering of `name` in `table` of `drgaudit.engine.prefilter` (NumPy code,
    imported when the pre-filter first runs, so that parsing and checking rules need no NumPy)."""

    def lowering(lowerer: Any, node: Any) -> Any:
        from drgaudit.engine import prefilter

        return getattr(prefilter, table)[name](lowerer, node)

    lowering.__name__ = f"prefilter_{name}"
    return lowering


@dataclass(frozen=True)
class Arg:
    """One parameter of a function: the types it accepts and the form it must be written in."""

    name: str
    types: tuple[str, ...]
    form: str = ANY
    accepts: Callable[[Any], bool] | None = None  # for a literal: which values are allowed
    same: bool = False  # every argument marked `same` has one type (the result type SAME)
    optional: bool = False  # may be left out (trailing parameters only)
    repeat: bool = False  # the last parameter may be given any number of further times
    problem: str = ""  # the error when the argument does not fit (a generic one otherwise)

    def describe(self) -> str:
        """`name: type | type` as the signature shows it."""
        kinds = " | ".join(self.types)
        if self.form == LITERAL:
            kinds = f"literal {kinds}"
        elif self.form == CONSTANT:
            kinds = f"constant {kinds}"
        elif self.form == FIELD:
            kinds = "field"
        text = f"{self.name}: {kinds}"
        if self.optional:
            text = f"[{text}]"
        if self.repeat:
            text += ", …"
        return text


@dataclass(frozen=True)
class FunctionExample:
    """`expression` gives `result` on the pack's example claim with `claim` (and `history`) written over it.

    Fields are written as in a rule's examples (`rules/pack.yaml` `example_defaults`); `result` is a
    number, text, true/false, a `datetime.date`, or None for a missing value.
    """

    expression: str
    result: Any
    claim: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Function:
    """One function of the rule language, declared once."""

    name: str
    args: tuple[Arg, ...]
    returns: str  # a type of the language, or SAME
    implementation: Callable[..., Any]
    summary: str  # one line, what it computes
    label: str  # the same in Chinese, for people who read rules
    nulls: str = PROPAGATE
    # What a condition written out in words calls it (`nodes.render_words`); its name when empty.
    words: str = ""
    # The implementation also takes `fact=` (the claim's derived facts), so a call is never constant.
    reads_fact: bool = False
    # History windows (days) that fact derivation must count for a call, given its constant arguments.
    history_windows: Callable[..., Iterable[int]] | None = None
    # How a call used as a condition lowers to native durable-rules tests; None (or a lowering that
    # returns None) makes it a derived field computed once per claim in Python.
    durable: DurableLowering | None = None
    # How the screening pre-filter computes a call over columns of facts (`drgaudit.engine.prefilter`,
    # `PrefilterLowering`); None: the pre-filter cannot, and a condition calling it keeps every claim.
    prefilter: PrefilterLowering | None = None
    # For a count the pre-filter may not be able to compute (the stays are not in the columns): the
    # most it can be, as a column (`PrefilterLowering`); the count is never below 0. A comparison of
    # the call with a constant then keeps the claims where a count in that range could make it true.
    prefilter_count_bound: PrefilterLowering | None = None
    examples: tuple[FunctionExample, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"function name {self.name!r} is not an identifier")
        seen_optional = False
        for index, arg in enumerate(self.args):
            if arg.repeat and index != len(self.args) - 1:
                raise ValueError(f"{self.name}: only the last parameter may repeat")
            if seen_optional and not arg.optional:
                raise ValueError(f"{self.name}: a required parameter follows an optional one")
            seen_optional = seen_optional or arg.optional
        if self.returns == SAME and not any(a.same for a in self.args):
            raise ValueError(f"{self.name}: returns SAME but no parameter is marked `same`")
        if self.nulls not in (PROPAGATE, HANDLED):
            raise ValueError(f"{self.name}: nulls must be {PROPAGATE!r} or {HANDLED!r}")

    @property
    def min_args(self) -> int:
        return sum(1 for a in self.args if not a.optional)

    @property
    def max_args(self) -> int | None:
        return None if self.args and self.args[-1].repeat else len(self.args)

    def arg_for(self, index: int) -> Arg:
        """The parameter that the argument at `index` fills."""
        return self.args[min(index, len(self.args) - 1)]

    @property
    def signature(self) -> str:
        """`name(arg: type, …) -> type`."""
        result = "type of the arguments" if self.returns == SAME else self.returns
        return f"{self.name}(" + ", ".join(a.describe() for a in self.args) + f") -> {result}"

    @property
    def lowering(self) -> str:
        """How a call reaches durable-rules, in words."""
        return LOWERING_TEXT[self.lowering_kind]

    @property
    def lowering_kind(self) -> str:
        """native, constant or derived (see LOWERING_TEXT)."""
        if self.durable is not None:
            return "native"
        if not self.reads_fact and self.args and all(a.form == LITERAL for a in self.args):
            return "constant"
        return "derived"

    def apply(self, values: Sequence[Any], fact: Mapping[str, Any] | None = None) -> Any:
        """The value of a call on evaluated arguments, under the function's rule about missing values."""
        if self.nulls == PROPAGATE and any(v is None for v in values):
            return None
        if self.reads_fact:
            return self.implementation(*values, fact=fact)
        return self.implementation(*values)


LOWERING_TEXT = {
    "native": "a native durable-rules test where it can, else a derived field",
    "constant": "a constant, worked out when the rule is compiled",
    "derived": "a derived field, computed once per claim in Python",
}


class FunctionRegistry(Mapping[str, Function]):
    """The functions the rule language knows, by name."""

    def __init__(self, functions: Iterable[Function] = ()) -> None:
        self._functions: dict[str, Function] = {}
        for function in functions:
            self.register(function)

    def register(self, function: Function) -> Function:
        """Add a function; a name is declared once."""
        if function.name in self._functions:
            raise ValueError(f"function `{function.name}` is already declared")
        self._functions[function.name] = function
        return function

    def unregister(self, name: str) -> None:
        """Remove a function (tests that add one take it out again)."""
        del self._functions[name]

    def __getitem__(self, name: str) -> Function:
        return self._functions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)


# ---- the built-in functions ------------------------------------------------------------------------


def _any_in(values: list[str] | str | None, named: NamedList) -> bool:
    if values is None:
        return False
    if not isinstance(values, list):
        return named.contains(values)
    contains = named.contains
    for value in values:
        if contains(value):
            return True
    return False


def _count_in(values: list[str] | str | None, named: NamedList) -> int:
    if values is None:
        return 0
    if not isinstance(values, list):
        return 1 if named.contains(values) else 0
    contains = named.contains
    return sum(1 for value in values if contains(value))


def _round(value: float, digits: int = 0) -> float:
    return round(value, int(digits))


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _date(text: str) -> int:
    # Dates travel through the engine as day numbers, so that two subtract to days.
    return dt.date.fromisoformat(text).toordinal()


def _admissions_within(days: float, *, fact: Mapping[str, Any] | None) -> int | None:
    if fact is None:
        return None
    counts: Mapping[int, int] = fact.get("_admissions") or {}
    return counts.get(int(days))


def _episodes_within(
    days: float, chain_days: float, *periodic: NamedList, fact: Mapping[str, Any] | None
) -> int | None:
    if fact is None:
        return None
    stays: Sequence[tuple[int, str, int | None]] = fact.get("_stays") or ()
    admit = fact["admit_date"]
    after = admit - days
    count = 0
    for start, principal, transfer_gap in stays[: fact.get("seq", len(stays) - 1) + 1]:
        if not after < start <= admit:
            continue
        if transfer_gap is not None and transfer_gap <= chain_days:
            continue  # a later leg of one transfer chain: the chain is one episode
        for named in periodic:
            if named.contains(principal):
                break  # a periodic treatment (chemotherapy, radiotherapy, dialysis)
        else:
            count += 1
    return count


def add_calendar_months(start: dt.date, months: int) -> dt.date:
    """The date `months` calendar months after `start`: 2025-08-31 plus 6 is 2026-02-28 (the month's last
    day when it is shorter)."""
    index = start.year * 12 + start.month - 1 + int(months)
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(start.day, last))


def _add_months(day: int, months: float) -> int:
    return add_calendar_months(dt.date.fromordinal(int(day)), int(months)).toordinal()


def _has_durable(ctx: LoweringContext, args: tuple[Node, ...], negated: bool) -> DurableTest | None:
    # The compiler gives every fact that can be missing a `_h_<field>` flag: has() is that flag.
    return ctx.present(args[0], negated)


_CODES = Arg(
    "codes", (TEXT, LIST), problem="`{name}` looks up codes: give a list field or a code, not a {kind}"
)
_NAMED = Arg(
    "named",
    (NAMED_LIST,),
    problem="the second argument of `{name}` must be a named list such as lists.mcc_evidence_lab",
)

BUILTINS: tuple[Function, ...] = (
    Function(
        "any_in",
        (_CODES, _NAMED),
        BOOL,
        _any_in,
        "some code of a list field (or the code) is in the named list",
        "编码（或编码列表中任一编码）在清单中",
        words="任一编码属于",
        nulls=HANDLED,
        prefilter=_prefiltered("any_in"),
        examples=(
            FunctionExample("any_in(procedures, lists.new_technologies)", True, {"procedures": ["17.4100"]}),
            FunctionExample(
                "any_in(principal_dx, lists.chemo_radiotherapy)", True, {"principal_dx": "Z51.103"}
            ),
            FunctionExample("any_in(secondary_dx, lists.mcc_evidence_lab)", False),
        ),
    ),
    Function(
        "count_in",
        (_CODES, _NAMED),
        NUMBER,
        _count_in,
        "how many codes of a list field are in the named list",
        "编码列表中属于清单的编码个数",
        words="属于名单的编码个数",
        nulls=HANDLED,
        prefilter=_prefiltered("count_in"),
        examples=(
            FunctionExample(
                "count_in(secondary_dx, lists.mcc_evidence_life_support)",
                2,
                {"secondary_dx": ["J96.900x001", "R57.900", "I10.x00x002"]},
            ),
        ),
    ),
    Function(
        "len",
        (Arg("codes", (LIST,), problem="len() needs a list field, not a {kind}"),),
        NUMBER,
        len,
        "the number of items of a list field",
        "列表字段的项数",
        words="项数",
        prefilter=_prefiltered("len"),
        examples=(
            FunctionExample("len(secondary_dx)", 2, {"secondary_dx": ["I10.x00x002", "E87.600"]}),
            FunctionExample("len(procedures)", 0),
        ),
    ),
    Function(
        "min",
        (Arg("a", (NUMBER, DATE), same=True), Arg("b", (NUMBER, DATE), same=True, repeat=True)),
        SAME,
        min,
        "the smallest of numbers (or of dates)",
        "最小值",
        words="最小值",
        prefilter=_prefiltered("min"),
        examples=(
            FunctionExample("min(los_days, 30)", 7),
            FunctionExample('min(admit_date, date("2025-06-01"))', dt.date(2025, 6, 1)),
            FunctionExample("min(age_days, 28)", None),
        ),
    ),
    Function(
        "max",
        (Arg("a", (NUMBER, DATE), same=True), Arg("b", (NUMBER, DATE), same=True, repeat=True)),
        SAME,
        max,
        "the largest of numbers (or of dates)",
        "最大值",
        words="最大值",
        prefilter=_prefiltered("max"),
        examples=(
            FunctionExample(
                "max(icu_hours, ventilator_hours, 0)", 48, {"icu_hours": 30, "ventilator_hours": 48}
            ),
        ),
    ),
    Function(
        "abs",
        (Arg("x", (NUMBER,), problem="abs() needs a number"),),
        NUMBER,
        abs,
        "the absolute value",
        "绝对值",
        words="绝对值",
        prefilter=_prefiltered("abs"),
        examples=(FunctionExample("abs(fee_total - total_cost)", 100, {"total_cost": 9100}),),
    ),
    Function(
        "round",
        (
            Arg("x", (NUMBER,), problem="round() needs a number"),
            Arg(
                "digits",
                (NUMBER,),
                form=LITERAL,
                accepts=lambda v: isinstance(v, int) and not isinstance(v, bool),
                optional=True,
                problem="the digits of round() must be a whole number",
            ),
        ),
        NUMBER,
        _round,
        "x rounded to `digits` decimal places (0 when left out)",
        "四舍五入（保留 digits 位小数）",
        words="四舍五入",
        prefilter=_prefiltered("round"),
        examples=(
            FunctionExample("round(self_share, 2)", 0.06),
            FunctionExample("round(total_cost / 7)", 1286),
        ),
    ),
    Function(
        "date",
        (
            Arg(
                "text",
                (TEXT,),
                form=LITERAL,
                accepts=_is_iso_date,
                problem='date() takes a literal date such as date("2025-07-01")',
            ),
        ),
        DATE,
        _date,
        "a date written YYYY-MM-DD; dates subtract to days",
        "日期常量",
        words="日期",
        examples=(FunctionExample('date("2025-07-01") - discharge_date', 14),),
    ),
    Function(
        "starts_with",
        (
            Arg("text", (TEXT,), problem="starts_with() looks at text"),
            Arg(
                "prefix",
                (TEXT,),
                form=LITERAL,
                problem='the prefix of starts_with() must be literal text such as "Z51"',
            ),
        ),
        BOOL,
        lambda text, prefix: str(text).startswith(str(prefix)),
        "the text begins with the prefix",
        "文本以该前缀开头",
        words="开头为",
        prefilter=_prefiltered("starts_with"),
        examples=(
            FunctionExample('starts_with(principal_dx, "Z51")', True, {"principal_dx": "Z51.103"}),
            FunctionExample('starts_with(principal_dx, "Z51")', False),
        ),
    ),
    Function(
        "has",
        (Arg("name", (NUMBER, TEXT, DATE, BOOL, LIST), form=FIELD, problem="has() takes a field name"),),
        BOOL,
        lambda value: value is not None,
        "the field has a value (comparisons with a missing value are false)",
        "字段有值（未填写为否）",
        words="已填写",
        nulls=HANDLED,
        durable=_has_durable,
        prefilter=_prefiltered("has"),
        examples=(
            FunctionExample("has(age_days)", False),
            FunctionExample(
                "has(newborn_weight_g)", True, {"age": 0, "age_days": 12, "newborn_weight_g": 3100}
            ),
        ),
    ),
    Function(
        "admissions_within",
        (
            Arg(
                "days",
                (NUMBER,),
                form=CONSTANT,
                problem="admissions_within() takes a number of days: a literal or params.<name>",
            ),
        ),
        NUMBER,
        _admissions_within,
        "the patient's admissions in the last `days` days up to this one, this one included",
        "近 days 天内（含本次）住院次数",
        words="近若干天住院次数",
        reads_fact=True,
        history_windows=lambda days: (int(days),),
        prefilter=_prefiltered("admissions_within"),
        examples=(
            FunctionExample("admissions_within(30)", 2, history=({},)),
            FunctionExample("admissions_within(10)", 1, history=({},)),
        ),
    ),
    Function(
        "episodes_within",
        (
            Arg(
                "days",
                (NUMBER,),
                form=CONSTANT,
                problem="episodes_within() takes a number of days: a literal or params.<name>",
            ),
            Arg(
                "chain_days",
                (NUMBER,),
                form=CONSTANT,
                problem="the second argument of episodes_within() is the most days between a discharge by "
                "transfer and the next admission for both to be one transfer chain: a literal or params.<name>",
            ),
            Arg(
                "periodic",
                (NAMED_LIST,),
                optional=True,
                repeat=True,
                problem="episodes_within() leaves out stays whose principal diagnosis is in named lists "
                "such as lists.dialysis",
            ),
        ),
        NUMBER,
        _episodes_within,
        "the patient's episodes of care in the last `days` days up to this one, this one included: the "
        "stays of one transfer chain (admitted within `chain_days` days of a discharge by transfer to "
        "another hospital) count once, stays whose principal diagnosis is in a `periodic` list not at all",
        "近 days 天内（含本次）住院次数：一次转院链（医嘱转院离院后 chain_days 天内在他院入院）只计一次，"
        "主要诊断在周期性治疗清单中的住院不计",
        words="近若干天住院次数（转院链计一次）",
        reads_fact=True,
        history_windows=lambda days, *_: (int(days),),
        prefilter=_prefiltered("episodes_within"),
        prefilter_count_bound=_prefiltered("episodes_within", "BUILTIN_COUNT_BOUNDS"),
        examples=(
            FunctionExample("episodes_within(30, 1)", 2, history=({},)),
            FunctionExample(
                "episodes_within(30, 1, lists.dialysis)",
                1,
                history=({"principal_dx": "Z49.101"},),
            ),
            FunctionExample(
                "episodes_within(30, 1)",
                1,
                {"hospital_id": "H-2"},
                history=({"discharge_mode": "2", "discharge_date": dt.date(2025, 6, 10)},),
            ),
        ),
    ),
    Function(
        "add_months",
        (
            Arg("day", (DATE,), problem="add_months() adds calendar months to a date"),
            Arg(
                "months",
                (NUMBER,),
                form=CONSTANT,
                problem="add_months() adds a number of months: a literal or params.<name>",
            ),
        ),
        DATE,
        _add_months,
        "the date `months` calendar months later (the month's last day when it is shorter)",
        "日期加若干个自然月（该月没有同一日时取月末）",
        words="加自然月",
        prefilter=_prefiltered("add_months"),
        examples=(
            FunctionExample("add_months(admit_date, 6)", dt.date(2025, 12, 10)),
            FunctionExample(
                "add_months(admit_date, 6)",
                dt.date(2026, 2, 28),
                {"admit_date": dt.date(2025, 8, 31), "discharge_date": dt.date(2025, 9, 5)},
            ),
        ),
    ),
)

FUNCTIONS = FunctionRegistry(BUILTINS)


# ---- documentation ---------------------------------------------------------------------------------


def literal(value: Any) -> str:
    """A value written in the rule language: true, 1.5, "text", date("2025-07-01")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def describe_example(example: FunctionExample) -> str:
    """`expression` → result, with the claim fields that differ from the example claim."""
    result = "missing" if example.result is None else literal(example.result)
    given = [f"{k} = {literal(v)}" for k, v in example.claim.items()]
    if example.history:
        given.append(f"{len(example.history)} earlier stay" + ("s" if len(example.history) > 1 else ""))
    text = f"`{example.expression}` → `{result}`"
    return text + (f" when {', '.join(given)}" if given else "")


def reference_lines(registry: Mapping[str, Function] = FUNCTIONS) -> list[str]:
    """Every function as plain text lines, for `drgaudit rules facts`."""
    lines = []
    for function in registry.values():
        lines.append(f"{function.signature}")
        lines.append(f"    {function.summary} ({function.label}); durable-rules: {function.lowering}")
        for example in function.examples:
            lines.append("    e.g. " + describe_example(example).replace("`", ""))
    return lines


def reference_markdown(registry: Mapping[str, Function] = FUNCTIONS) -> str:
    """The README's function table (between its `functions` markers), generated from the registry."""
    rows = ["| function | what it gives | on durable-rules | example |", "|---|---|---|---|"]
    for function in registry.values():
        example = describe_example(function.examples[0]) if function.examples else ""
        summary = f"{function.summary} ({function.label})".replace("|", "\\|")
        lowering = {"native": "native test", "constant": "constant", "derived": "derived field"}[
            function.lowering_kind
        ]
        signature = function.signature.replace("|", "\\|")
        rows.append(f"| `{signature}` | {summary} | {lowering} | {example.replace('|', chr(92) + '|')} |")
    return "\n".join(rows) + "\n"
