"""Hypothesis strategies for the rule language, generated from the function registry's signatures.

- `expressions(kind, ns)`: typed expression trees (number, date, text, bool) over the vocabulary's facts,
  the rule's params, the region settings, the named lists and every function of the registry
  (`engine/functions.py`): a function added to the registry is generated with no change here. Every
  expression type-checks; conditions (`conditions(ns)`) always read the claim.
- `rules(...)` / `rule_packs()`: whole rules and packs (`GeneratedPack.write(folder)`) that pass
  `drgaudit rules check`: params, region overrides, pair rules, messages and amounts included.
- `patient_facts(windows)`: one patient's derived facts as the engine holds them (every fact of the
  vocabulary, optional ones sometimes missing), with values drawn from the same pool as the literals of
  generated expressions and one step either side, so that many land exactly on or just past a threshold.
- `claims(thresholds)`: canonical claims (the DATA-CONTRACT fields) with amounts, hours and stays at,
  just under and just over the given thresholds, and optional fields missing.

Used by the differential tests (durable-rules against the Python evaluator), the generated-pack test
(harden), the pre-filter differential (speed) and the boundary differential (rulechange).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from drgaudit.contract import CLAIM_FIELDS
from drgaudit.engine.functions import CONSTANT, FIELD, FUNCTIONS, LITERAL, SAME, Arg, Function
from drgaudit.engine.loader import bundled_rules_dir
from drgaudit.engine.nodes import And, Arith, Call, Cmp, Const, ListLit, Neg, Node, Not, Or, Ref, render, walk
from drgaudit.engine.pack import RulePack
from drgaudit.engine.vocabulary import BOOL, DATE, FACTS, LIST, NAMED_LIST, NUMBER, TEXT

# The literals of generated expressions and the values of generated facts come from one pool, so that
# comparisons often meet their boundary exactly; facts also take each value ± one step.
NUMBERS: tuple[float, ...] = (0, 1, 2, 3, 5, 7, 10, 30, 0.3, 0.5, 2.5, 100, 1000.5)
STEPS: tuple[float, ...] = (0, 0, 1, -1, 0.01, -0.01)
BASE_DAY = dt.date(2025, 6, 10)
DAY_OFFSETS: tuple[int, ...] = (-365, -30, -7, -1, 0, 1, 7, 30)
TEXTS: tuple[str, ...] = (
    "1", "2", "5", "DRG", "DIP", "J18.900", "Z51.103", "J96.900x001", "A41.900", "I10.x00x002",
    "17.4100", "96.7101", "ES31", "ES35", "H1", "H2", "510100", "510700",
)  # fmt: skip
CODES: tuple[str, ...] = ("J18.900", "Z51.103", "J96.900x001", "A41.900", "R57.900", "17.4100", "96.7101")
ALL_SCHEMES = ["DRG", "DIP", "PER_DIEM", "FFS"]
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
# Named lists and numeric region settings of the bundled pack (generated packs carry its lists/ and
# regions/national.yaml).
LISTS: tuple[str, ...] = tuple(sorted(p.stem for p in (bundled_rules_dir() / "lists").glob("*.yaml")))
SETTINGS: tuple[str, ...] = ("drg_rate", "drg_high_ratio", "drg_low_ratio", "lookback_days")

# Text facts with a closed set of values (the contract's enums) take and are compared with those values.
_CHOICES: dict[str, tuple[str, ...]] = {f.name: f.choices for f in CLAIM_FIELDS if f.choices}


def text_values(name: str) -> tuple[str, ...]:
    """The values a text fact takes in generated facts (and is compared with)."""
    return _CHOICES.get(name) or TEXTS


_FACTS_BY_TYPE: dict[str, tuple[str, ...]] = {
    kind: tuple(sorted(name for name, f in FACTS.items() if f.type == kind))
    for kind in (NUMBER, DATE, TEXT, BOOL, LIST)
}


def _day(offset: int) -> int:
    return (BASE_DAY + dt.timedelta(days=offset)).toordinal()


@dataclass(frozen=True)
class Namespace:
    """What one rule's expressions may name besides facts: its params, and whether `earlier.` exists."""

    params: Mapping[str, float] = field(default_factory=dict)
    pair: bool = False


def reads_claim(node: Node) -> bool:
    """Whether an expression reads a claim (a fact, or a function that reads the claim's facts)."""
    return any(
        (isinstance(n, Ref) and n.path[0] not in ("params", "region", "lists"))
        or (isinstance(n, Call) and FUNCTIONS[n.name].reads_fact)
        for n in walk(node)
    )


# ---- leaves ------------------------------------------------------------------------------------------


def fact_refs(kind: str) -> st.SearchStrategy[Node]:
    """A fact of the vocabulary of one type."""
    return st.sampled_from(_FACTS_BY_TYPE[kind]).map(lambda name: Ref(0, tuple(name.split("."))))


def _literal(kind: str) -> st.SearchStrategy[Node]:
    if kind == NUMBER:
        return st.sampled_from(NUMBERS).map(lambda v: Const(0, v))
    if kind == TEXT:
        return st.sampled_from(TEXTS).map(lambda v: Const(0, v))
    if kind == BOOL:
        return st.booleans().map(lambda v: Const(0, v))
    if kind == DATE:
        return st.sampled_from(DAY_OFFSETS).map(
            lambda off: Call(0, "date", (Const(0, (BASE_DAY + dt.timedelta(days=off)).isoformat()),))
        )
    raise ValueError(kind)


def _constants(kind: str, ns: Namespace) -> st.SearchStrategy[Node]:
    options = [_literal(kind)]
    if kind == NUMBER:
        if ns.params:
            options.append(st.sampled_from(sorted(ns.params)).map(lambda p: Ref(0, ("params", p))))
        options.append(st.sampled_from(SETTINGS).map(lambda s: Ref(0, ("region", s))))
    return st.one_of(options)


# ---- function calls, from the registry's signatures -------------------------------------------------


_LITERAL_POOL: dict[str, tuple[Any, ...]] = {
    NUMBER: (0, 1, 2, 3, 7, 30, 90, 0.5),
    TEXT: (
        *TEXTS,
        "Z51",
        "J9",
        "x001",
        *((BASE_DAY + dt.timedelta(days=o)).isoformat() for o in DAY_OFFSETS),
    ),
    BOOL: (True, False),
}


def _argument(spec: Arg, kind: str, ns: Namespace, depth: int) -> st.SearchStrategy[Node]:
    if spec.form == LITERAL:
        pool = [v for v in _LITERAL_POOL.get(kind, ()) if spec.accepts is None or spec.accepts(v)]
        return st.sampled_from(pool).map(lambda v: Const(0, v)) if pool else st.nothing()
    if spec.form == CONSTANT:
        return _constants(kind, ns) if kind == NUMBER else _literal(kind)
    if spec.form == FIELD:
        return fact_refs(kind)
    if kind == NAMED_LIST:
        return st.sampled_from(LISTS).map(lambda name: Ref(0, ("lists", name)))
    if kind == LIST:
        return fact_refs(LIST)
    return expressions(kind, ns, depth)


def _returns(function: Function, kind: str) -> bool:
    if function.returns == SAME:
        return any(a.same and kind in a.types for a in function.args)
    return function.returns == kind


@st.composite
def calls(draw: st.DrawFn, kind: str, ns: Namespace, depth: int) -> Node:
    """A call of a registry function that returns `kind`, its arguments drawn from its signature."""
    functions = [f for f in FUNCTIONS.values() if _returns(f, kind) and _generatable(f)]
    function = draw(st.sampled_from(functions))
    same_kind = kind if function.returns == SAME else None
    specs = list(function.args)
    if specs and specs[-1].optional and draw(st.booleans()):
        specs = specs[:-1]
    if specs and specs[-1].repeat:
        specs += [specs[-1]] * draw(st.integers(0, 2))
    args = []
    for spec in specs:
        if spec.same and same_kind is None:
            same_kind = draw(st.sampled_from([t for t in spec.types if t in _GENERATED_TYPES]))
        arg_kind = (
            same_kind if spec.same else draw(st.sampled_from([t for t in spec.types if t in _ARG_TYPES]))
        )
        args.append(draw(_argument(spec, arg_kind, ns, depth - 1)))
    return Call(0, function.name, tuple(args))


_GENERATED_TYPES = (NUMBER, DATE, TEXT, BOOL)
_ARG_TYPES = (*_GENERATED_TYPES, LIST, NAMED_LIST)


def _generatable(function: Function) -> bool:
    return all(any(t in _ARG_TYPES for t in a.types) for a in function.args)


# ---- expressions ---------------------------------------------------------------------------------------


def expressions(kind: str, ns: Namespace = Namespace(), depth: int = 2) -> st.SearchStrategy[Node]:
    """A typed expression tree of the language whose value is a `kind` (number, date, text or bool)."""
    if kind == BOOL:
        return conditions(ns, depth)
    leaves: list[st.SearchStrategy[Node]] = [fact_refs(kind), _constants(kind, ns)]
    if depth <= 0:
        return st.one_of(leaves)
    sub = depth - 1
    options = list(leaves)
    if any(_returns(f, kind) for f in FUNCTIONS.values()):
        options.append(calls(kind, ns, depth))
    if kind == NUMBER:
        options.append(
            st.builds(
                lambda op, a, b: Arith(0, op, a, b),
                st.sampled_from("+-*"),
                expressions(NUMBER, ns, sub),
                expressions(NUMBER, ns, sub),
            )
        )
        # Division by a literal, and by anything (a divisor of 0 gives a missing value).
        options.append(
            st.builds(
                lambda a, b: Arith(0, "/", a, Const(0, b)),
                expressions(NUMBER, ns, sub),
                st.sampled_from([n for n in NUMBERS if n > 0]),
            )
        )
        options.append(
            st.builds(
                lambda a, b: Arith(0, "/", a, b),
                expressions(NUMBER, ns, sub),
                expressions(NUMBER, ns, sub).filter(reads_claim),
            )
        )
        options.append(expressions(NUMBER, ns, sub).map(lambda a: Neg(0, a)))
        options.append(
            st.builds(
                lambda a, b: Arith(0, "-", a, b), expressions(DATE, ns, sub), expressions(DATE, ns, sub)
            )
        )
    if kind == DATE:
        options.append(
            st.builds(
                lambda op, a, b: Arith(0, op, a, b),
                st.sampled_from("+-"),
                expressions(DATE, ns, sub),
                expressions(NUMBER, ns, sub),
            )
        )
    return st.one_of(options)


@st.composite
def comparisons(draw: st.DrawFn, ns: Namespace, depth: int) -> Node:
    """`a op b` of one type, at least one side reading the claim."""
    kind = draw(st.sampled_from((NUMBER, NUMBER, DATE, TEXT)))
    ops = COMPARISONS if kind != TEXT else ("==", "!=")
    op = draw(st.sampled_from(ops))
    if kind == TEXT and draw(st.booleans()):
        # A text fact against one of its own values (an enum code), true about as often as not.
        name = draw(st.sampled_from(_FACTS_BY_TYPE[TEXT]))
        value = draw(st.sampled_from(text_values(name)))
        return Cmp(0, op, Ref(0, tuple(name.split("."))), Const(0, value))
    left = draw(expressions(kind, ns, depth).filter(reads_claim))
    right = draw(expressions(kind, ns, depth))
    if draw(st.booleans()):
        left, right = right, left
    return Cmp(0, op, left, right)


@st.composite
def memberships(draw: st.DrawFn, ns: Namespace) -> Node:
    """A text fact `in` / `not in` a literal list or a named list."""
    op = draw(st.sampled_from(("in", "not in")))
    left = draw(fact_refs(TEXT))
    if draw(st.booleans()):
        right: Node = Ref(0, ("lists", draw(st.sampled_from(LISTS))))
    else:
        items = draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3, unique=True))
        right = ListLit(0, tuple(Const(0, v) for v in items))
    return Cmp(0, op, left, right)


# Text facts that are often missing (optional fields and facts derived from them).
OPTIONAL_TEXT_FACTS: tuple[str, ...] = tuple(
    sorted(n for n, f in FACTS.items() if f.type == TEXT and f.optional)
)


@st.composite
def absent_memberships(draw: st.DrawFn) -> Node:
    """`in` / `not in` on a text fact that is often missing, alone or under `not`, the list sometimes
    holding "" (the placeholder durable-rules sees for a missing text): where the engine and the
    evaluator could part when a value is missing (harden's generated-pack test puts them in `unless`)."""
    left = Ref(0, tuple(draw(st.sampled_from(OPTIONAL_TEXT_FACTS)).split(".")))
    items = draw(st.lists(st.sampled_from(("", *TEXTS)), min_size=1, max_size=3, unique=True))
    node: Node = Cmp(
        0, draw(st.sampled_from(("in", "not in"))), left, ListLit(0, tuple(Const(0, v) for v in items))
    )
    return Not(0, node) if draw(st.booleans()) else node


def conditions(ns: Namespace = Namespace(), depth: int = 2) -> st.SearchStrategy[Node]:
    """A true/false expression that reads the claim: comparisons, memberships, functions, and/or/not."""
    leaves: list[st.SearchStrategy[Node]] = [
        comparisons(ns, max(depth - 1, 0)),
        memberships(ns),
        fact_refs(BOOL),
        calls(BOOL, ns, max(depth, 1)).filter(reads_claim),
    ]
    if depth <= 0:
        return st.one_of(leaves)
    sub = conditions(ns, depth - 1)
    return st.one_of(
        *leaves,
        st.lists(sub, min_size=2, max_size=3).map(lambda items: And(0, tuple(items))),
        st.lists(sub, min_size=2, max_size=3).map(lambda items: Or(0, tuple(items))),
        sub.map(lambda item: Not(0, item)),
    )


@st.composite
def pair_conditions(draw: st.DrawFn, ns: Namespace) -> Node:
    """A condition relating the claim to an earlier claim, in the forms the engine compiles."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(("hospital_id", "dx_category", "principal_dx", "treatment_region")))
        op = draw(st.sampled_from(("==", "!=")))
        return Cmp(0, op, Ref(0, ("earlier", name)), Ref(0, (name,)))
    later = draw(st.sampled_from(("admit_date", "discharge_date")))
    earlier = draw(st.sampled_from(("admit_date", "discharge_date")))
    gap = Arith(0, "-", Ref(0, (later,)), Ref(0, ("earlier", earlier)))
    op = draw(st.sampled_from(("<", "<=", ">", ">=")))
    return Cmp(0, op, gap, draw(_constants(NUMBER, ns)))


# ---- rules and packs -------------------------------------------------------------------------------


@st.composite
def rules(
    draw: st.DrawFn,
    rule_id: str = "GEN-001",
    *,
    status: str = "draft",
    max_when: int = 3,
    max_unless: int = 1,
    scopes: Sequence[str] = ("all", "all", "cross_region", "local"),
    pairs: bool = True,
) -> dict[str, Any]:
    """One rule as a rule file holds it (a YAML-ready dict), every expression generated and typed.

    `max_when=1, max_unless=0, scopes=("all",)` gives one-condition rules that apply to every claim:
    each condition is then compared on its own, true about as often as false.
    """
    params = draw(
        st.dictionaries(st.sampled_from(("p1", "p2", "limit")), st.sampled_from(NUMBERS), max_size=2)
    )
    pair = pairs and draw(st.booleans()) and draw(st.booleans())
    ns = Namespace(params=params, pair=pair)
    when = draw(st.lists(conditions(ns), min_size=1, max_size=max_when))
    if pair:
        when.insert(0, draw(pair_conditions(ns)))
    unless = draw(st.lists(conditions(ns, depth=1), max_size=max_unless))
    amount = draw(st.one_of(st.just(Const(0, 0)), expressions(NUMBER, ns, 1)))
    shown = draw(expressions(NUMBER, ns, 1))
    used = {
        n.path[1]
        for e in [*when, *unless, amount, shown]
        for n in walk(e)
        if isinstance(n, Ref) and n.path[0] == "params"
    }
    rule: dict[str, Any] = {
        "id": rule_id,
        "title": f"生成的规则 {rule_id}",
        "family": "data_quality",
        "severity": "low",
        "action": draw(st.sampled_from(("note", "hold", "special_review"))),
        "scope": draw(st.sampled_from(tuple(scopes))),
        "schemes": draw(st.sampled_from((["DRG", "DIP"], ["DRG"], ALL_SCHEMES)))
        if len(scopes) > 1
        else ALL_SCHEMES,
        "stage": "事前",
        "status": status,
        "effective": {"from": dt.date(2025, 1, 1)},
        "reference": "生成的规则（测试）",
        "params": {
            name: {"default": value, "type": "number"} for name, value in params.items() if name in used
        },
        "pair": pair,
        "when": [render(c) for c in when],
        "message": "病例{claim_id}：{" + render(shown) + "}",
        "amount_at_risk": render(amount),
    }
    if unless:
        rule["unless"] = [render(c) for c in unless]
    return rule


@dataclass
class GeneratedPack:
    """A generated rule pack: the bundled pack's pack.yaml, lists and national settings, new rule files."""

    rules: list[dict[str, Any]]
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, directory: Path) -> Path:
        """Write the pack into `directory` (created or refreshed) and return it."""
        bundled = bundled_rules_dir()
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(bundled / "pack.yaml", directory / "pack.yaml")
        if not (directory / "lists").exists():
            shutil.copytree(bundled / "lists", directory / "lists")
        regions = directory / "regions"
        if regions.exists():
            shutil.rmtree(regions)
        regions.mkdir()
        shutil.copy(bundled / "regions" / "national.yaml", regions / "national.yaml")
        for code, document in self.regions.items():
            (regions / f"{code}.yaml").write_text(_yaml(document), encoding="utf-8")
        (directory / "generated.yaml").write_text(_yaml({"rules": self.rules}), encoding="utf-8")
        return directory


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False)


@st.composite
def rule_packs(
    draw: st.DrawFn, *, min_rules: int = 1, max_rules: int = 4, status: str = "draft", **rule_options: Any
) -> GeneratedPack:
    """A whole pack of generated rules (options as for `rules`), sometimes a region overriding params."""
    count = draw(st.integers(min_rules, max_rules))
    generated = [draw(rules(f"GEN-{i:03d}", status=status, **rule_options)) for i in range(1, count + 1)]
    regions: dict[str, dict[str, Any]] = {}
    overridable = [(r["id"], name) for r in generated for name in r["params"]]
    if overridable and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(overridable), min_size=1, max_size=2, unique=True))
        overrides: dict[str, Any] = {}
        for rule_id, name in chosen:
            overrides.setdefault(rule_id, {"params": {}})["params"][name] = draw(st.sampled_from(NUMBERS))
        regions["510700"] = {"region": "510700", "name": "生成的统筹区", "rules": overrides}
    return GeneratedPack(generated, regions)


# ---- facts and claims ------------------------------------------------------------------------------


def near(values: Iterable[float], steps: Sequence[float] = STEPS) -> st.SearchStrategy[float]:
    """A number at one of `values` or one step either side."""
    pool = sorted({round(v + s, 6) for v in values for s in steps})
    return st.sampled_from(pool)


def _fact_value(kind: str, name: str = "") -> st.SearchStrategy[Any]:
    if kind == NUMBER:
        return near(NUMBERS)
    if kind == DATE:
        return st.sampled_from(DAY_OFFSETS).map(_day)
    if kind == TEXT:
        return st.sampled_from(text_values(name))
    if kind == BOOL:
        return st.booleans()
    if kind == LIST:
        return st.lists(st.sampled_from(CODES), max_size=3, unique=True)
    raise ValueError(kind)


@st.composite
def facts(draw: st.DrawFn, claim_id: str = "C1", *, windows: Iterable[int] = ()) -> dict[str, Any]:
    """One claim's derived facts as the engine holds them: every vocabulary key, optional ones maybe missing."""
    fact: dict[str, Any] = {}
    for definition in FACTS.values():
        value = draw(_fact_value(definition.type, definition.name))
        if definition.optional and draw(st.integers(0, 4)) == 0:
            value = None
        fact[definition.key] = value
    fact["claim_id"] = claim_id
    fact["_admissions"] = {int(w): draw(st.sampled_from((1, 2, 3, 5, 6, 7))) for w in windows}
    return fact


@st.composite
def patient_facts(
    draw: st.DrawFn, *, windows: Iterable[int] = (), max_claims: int = 3
) -> list[dict[str, Any]]:
    """One patient's facts in claim order (`seq`), each a target of the screen or context only."""
    count = draw(st.integers(1, max_claims))
    result = []
    for seq in range(count):
        fact = draw(facts(f"C{seq}", windows=windows))
        fact["seq"] = seq
        fact["target"] = seq == count - 1 or draw(st.booleans())
        result.append(fact)
    return result


# Optional fields a claim may leave out (group_code is required of DRG/DIP claims by the importer).
_OPTIONAL_CLAIM_FIELDS = tuple(
    f.name for f in CLAIM_FIELDS if not f.required and f.type != "list" and f.name != "group_code"
)


@st.composite
def claims(
    draw: st.DrawFn,
    thresholds: Iterable[float] = NUMBERS,
    *,
    claim_id: str = "C1",
    patient_id: str = "P1",
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A canonical claim whose amounts, hours and length of stay sit at, under and over `thresholds`.

    `base` is a canonical claim to start from (default: tests.engine_support.claim()); optional fields
    are sometimes missing. Fee items are scaled so that they never exceed the total cost.
    """
    from tests.engine_support import claim as default_claim

    record = dict(base) if base is not None else default_claim()
    limits = sorted({float(t) for t in thresholds if 0 <= float(t) <= 100000})
    total = draw(
        near([t for t in limits if t > 0] or [1000.0], (0, 0.01, -0.01, 1, -1)).filter(lambda v: v > 0)
    )
    shares = draw(st.lists(st.sampled_from((0.0, 0.1, 0.3, 0.5)), min_size=4, max_size=4))
    los = int(
        draw(near([t for t in limits if 0 <= t <= 400] or [7], (0, 1, -1)).filter(lambda v: 0 <= v <= 400))
    )
    admit = BASE_DAY + dt.timedelta(days=draw(st.sampled_from(DAY_OFFSETS)))
    record.update(
        claim_id=claim_id,
        patient_id=patient_id,
        admit_date=admit,
        discharge_date=admit + dt.timedelta(days=los),
        total_cost=round(total, 2),
        fee_lab=round(total * shares[0], 2),
        fee_drug=round(total * shares[1], 2),
        self_expense=round(total * shares[2], 2),
        outside_purchase=round(total * shares[3] / 2, 2),
        fee_exam=0.0,
        fee_material=0.0,
        fee_treatment=0.0,
        fee_nursing=0.0,
        fee_bed=0.0,
        icu_hours=float(
            draw(near([t for t in limits if t <= 1000] or [0], (0, 1, -1)).filter(lambda v: v >= 0))
        ),
        secondary_dx=draw(st.lists(st.sampled_from(CODES[:5]), max_size=3, unique=True)),
        procedures=draw(st.lists(st.sampled_from(CODES[5:]), max_size=2, unique=True)),
    )
    for name in _OPTIONAL_CLAIM_FIELDS:
        if draw(st.integers(0, 5)) == 0:
            record[name] = None
    return record


def pack_thresholds(pack: RulePack) -> list[float]:
    """Every number a pack's rules compare with: params (defaults and region values) and numeric settings."""
    found: set[float] = set()
    for rule in pack.rules:
        found.update(float(p.default) for p in rule.params.values() if _is_number(p.default))
    for config in [pack.national, *pack.regions.values()]:
        found.update(float(v) for v in config.settings.values() if _is_number(v))
        for override in config.overrides.values():
            found.update(float(v) for v in override.params.values() if _is_number(v))
    return sorted(found)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
