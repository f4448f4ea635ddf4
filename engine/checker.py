"""Name resolution and type checking of rule expressions, with `path:line:col` errors and hints."""

from __future__ import annotations

from dataclasses import dataclass, field

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import And, Arith, Call, Cmp, Const, Expression, ListLit, Neg, Node, Not, Or, Ref
from drgaudit.engine.functions import CONSTANT, FIELD, FUNCTIONS, LITERAL, SAME, Arg
from drgaudit.engine.lists import NamedList
from drgaudit.engine.pack import RulePack
from drgaudit.engine.rule import Param, Rule
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.vocabulary import (
    BOOL,
    DATE,
    EARLIER,
    FACTS,
    LIST,
    LISTS,
    NAMED_LIST,
    NUMBER,
    PARAMS,
    REGION,
    TEXT,
)

LISTREF = NAMED_LIST
_PARAM_TYPES = {"int": NUMBER, "number": NUMBER, "text": TEXT, "date": DATE, "bool": BOOL}


@dataclass
class Scope:
    """What names an expression of one rule may use."""

    params: dict[str, Param]
    pair: bool
    lists: dict[str, NamedList]
    region_settings: frozenset[str]


@dataclass
class Checker:
    """Infers the type of every node of one expression, appending located errors."""

    expression: Expression
    scope: Scope
    errors: list[RuleFileError]
    types: dict[int, str | None] = field(default_factory=dict)

    def fail(self, node: Node, message: str, hint: str | None = None) -> None:
        self.errors.append(RuleFileError(self.expression.position_of(node), message, hint, code="type"))

    def check(self, node: Node | None = None) -> str | None:
        node = node or self.expression.root
        result = self._infer(node)
        self.types[id(node)] = result
        return result

    def _infer(self, node: Node) -> str | None:
        if isinstance(node, Const):
            return _literal_type(node.value)
        if isinstance(node, Ref):
            return self._ref(node)
        if isinstance(node, ListLit):
            return self._list_literal(node)
        if isinstance(node, Arith):
            return self._arith(node)
        if isinstance(node, Neg):
            kind = self.check(node.operand)
            if kind not in (NUMBER, None):
                self.fail(node, f"cannot negate a {kind}")
            return NUMBER
        if isinstance(node, Cmp):
            return self._compare(node)
        if isinstance(node, (And, Or, Not)):
            for item in node.items if isinstance(node, (And, Or)) else (node.item,):
                self._want_bool(item)
            return BOOL
        if isinstance(node, Call):
            return self._call(node)
        raise TypeError(node)

    def _list_literal(self, node: ListLit) -> str:
        kinds = {self.check(i) for i in node.items}
        for item in node.items:
            if not isinstance(item, Const):
                self.fail(item, "a list literal may only hold literal values")
        if len(kinds - {None}) > 1:
            self.fail(node, "a list literal must hold values of one type")
        return "list of " + (next(iter(kinds)) or TEXT) if kinds else "list of text"

    def _want_bool(self, node: Node) -> None:
        kind = self.check(node)
        if kind not in (BOOL, None):
            self.fail(node, f"expected a true/false condition, found a {kind}", "compare it, e.g. x > 0")

    def _ref(self, node: Ref) -> str | None:
        head = node.path[0]
        if head == PARAMS:
            if len(node.path) != 2:
                self.fail(node, "write params.<name>")
                return None
            param = self.scope.params.get(node.path[1])
            if param is None:
                self.fail(
                    node,
                    f"unknown param `{node.path[1]}`",
                    did_you_mean(node.path[1], self.scope.params) or "declare it under `params:`",
                )
                return None
            return _PARAM_TYPES[param.type]
        if head == REGION:
            if len(node.path) != 2 or node.path[1] not in self.scope.region_settings:
                name = ".".join(node.path[1:])
                self.fail(
                    node, f"unknown region setting `{name}`", did_you_mean(name, self.scope.region_settings)
                )
                return None
            return NUMBER
        if head == LISTS:
            if len(node.path) != 2 or node.path[1] not in self.scope.lists:
                name = ".".join(node.path[1:])
                self.fail(
                    node,
                    f"unknown list `{name}`",
                    did_you_mean(name, self.scope.lists) or "lists live in rules/lists/<name>.yaml",
                )
                return None
            return LISTREF
        path = node.path
        if head == EARLIER:
            if not self.scope.pair:
                self.fail(
                    node,
                    "`earlier.` names an earlier claim and is only available in a pair rule",
                    "add `pair: true` to the rule",
                )
                return None
            path = path[1:]
            if not path:
                self.fail(node, "write earlier.<field>")
                return None
        name = ".".join(path)
        fact = FACTS.get(name)
        if fact is None:
            hint = did_you_mean(name, FACTS) or "see `drgaudit rules facts` for every field"
            self.fail(node, f"unknown field `{name}`", hint)
            return None
        return fact.type

    def _arith(self, node: Arith) -> str | None:
        left, right = self.check(node.left), self.check(node.right)
        if left is None or right is None:
            return None
        if left == NUMBER and right == NUMBER:
            return NUMBER
        if node.op == "-" and left == DATE and right == DATE:
            return NUMBER
        if node.op in "+-" and left == DATE and right == NUMBER:
            return DATE
        if node.op == "+" and left == NUMBER and right == DATE:
            return DATE
        self.fail(
            node,
            f"cannot compute {left} {node.op} {right}",
            "dates subtract to days; days add to dates; other arithmetic needs numbers",
        )
        return None

    def _compare(self, node: Cmp) -> str:
        left, right = self.check(node.left), self.check(node.right)
        if left is None or right is None:
            return BOOL
        if node.op in ("in", "not in"):
            if right == LISTREF:
                if left == LIST:
                    self.fail(
                        node,
                        "a list field cannot be `in` a list",
                        f"use any_in({_name(node.left)}, {_name(node.right)})",
                    )
                elif left != TEXT:
                    self.fail(node, f"only codes or text can be looked up in a named list, found a {left}")
            elif right == LIST:
                if left != TEXT:
                    self.fail(node, f"only a code can be looked up in a list field, found a {left}")
            elif right.startswith("list of "):
                item = right[len("list of ") :]
                if item != left:
                    self.fail(
                        node,
                        f"cannot look up a {left} in a list of {item}",
                        _quote_hint(node.left, left, item),
                    )
            else:
                self.fail(
                    node.right,
                    f"`{node.op}` needs a list on its right, found a {right}",
                    'e.g. lists.chemo_radiotherapy or ["1", "2"]',
                )
            return BOOL
        if LISTREF in (left, right):
            self.fail(node, "a named list can only be used with `in`, any_in() or count_in()")
            return BOOL
        if left != right:
            self.fail(
                node,
                f"cannot compare a {left} with a {right}",
                _quote_hint(node.left if left == TEXT else node.right, TEXT, NUMBER)
                if {left, right} == {TEXT, NUMBER}
                else None,
            )
            return BOOL
        if node.op not in ("==", "!=") and left in (BOOL, LIST):
            self.fail(node, f"`{node.op}` does not order {left} values")
        if left == LIST and node.op in ("==", "!="):
            self.fail(
                node, "list fields cannot be compared with == or !=", "use len(), any_in() or count_in()"
            )
        return BOOL

    def _call(self, node: Call) -> str | None:
        """Arguments against the function's signature in the registry; the result type."""
        function = FUNCTIONS[node.name]
        kinds = [self.check(a) for a in node.args]
        same: set[str] = set()
        for index, (arg, kind) in enumerate(zip(node.args, kinds, strict=True)):
            spec = function.arg_for(index)
            problem = (spec.problem or _generic_problem(function.name, spec)).format(
                name=function.name, kind=kind
            )
            if not _form_ok(spec, arg):
                self.fail(arg, problem)
            elif kind is not None and kind not in spec.types:
                self.fail(arg, problem)
            elif kind is not None and spec.same:
                same.add(kind)
        if len(same) > 1:
            self.fail(
                node, f"{function.name}() needs arguments of one type, found {' and '.join(sorted(same))}"
            )
            return None
        if function.returns == SAME:
            return next(iter(same)) if same else None
        return function.returns


def _literal_type(value: object) -> str:
    if isinstance(value, bool):
        return BOOL
    return NUMBER if isinstance(value, (int, float)) else TEXT


def _name(node: Node) -> str:
    return node.dotted if isinstance(node, Ref) else "…"


def _quote_hint(node: Node, found: str, other: str) -> str | None:
    if isinstance(node, Ref) and found == TEXT and other == NUMBER:
        return f'`{node.dotted}` is text: compare it with a quoted value such as "1"'
    return None


def _is_constant(node: Node) -> bool:
    return isinstance(node, Const) or (isinstance(node, Ref) and node.path[0] in (PARAMS, REGION))


def _form_ok(spec: Arg, node: Node) -> bool:
    if spec.form == LITERAL:
        return isinstance(node, Const) and (spec.accepts is None or spec.accepts(node.value))
    if spec.form == CONSTANT:
        return _is_constant(node)
    if spec.form == FIELD:
        return isinstance(node, Ref) and node.path[0] not in (PARAMS, REGION, LISTS)
    return True


def _generic_problem(name: str, spec: Arg) -> str:
    what = " or ".join(spec.types)
    if spec.form == LITERAL:
        what = f"a literal {what}"
    elif spec.form == CONSTANT:
        what = f"a {what} known before screening (a literal or params.<name>)"
    elif spec.form == FIELD:
        what = "a field name"
    return f"`{spec.name}` of {name}() must be {what}, not a {{kind}}"


def rule_scope(pack: RulePack, rule: Rule) -> Scope:
    """The names one rule's expressions may use: its params, the pack's lists, every region setting."""
    settings = {k for k, v in pack.national.settings.items() if isinstance(v, (int, float))}
    for config in pack.regions.values():
        settings.update(k for k, v in config.settings.items() if isinstance(v, (int, float)))
    return Scope(params=rule.params, pair=rule.pair, lists=pack.lists, region_settings=frozenset(settings))


def check_expression(
    expression: Expression, scope: Scope, errors: list[RuleFileError], *, want: str | None
) -> str | None:
    """Type-check one expression; `want` (bool/number) is the type its place requires."""
    checker = Checker(expression, scope, errors)
    before = len(errors)
    kind = checker.check()
    if want and kind is not None and kind != want and len(errors) == before:
        what = "a true/false condition" if want == BOOL else f"a {want}"
        errors.append(RuleFileError(expression.position, f"expected {what}, found a {kind}", code="type"))
    return kind
