"""The tree of a parsed rule expression: node classes, and walking, rewriting and printing a tree.

`engine/expr.py` builds these trees from text; the function registry (`engine/functions.py`), the checker,
the evaluator and the compiler read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Node:
    """Base of the expression tree; `offset` is the character offset in the source text."""

    offset: int

    def __getstate__(self) -> dict[str, Any]:
        # The evaluator caches a compiled closure on each node it runs (engine/evaluate.py); closures do
        # not pickle, and a copy is cheap to compile again.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_compiled")}


@dataclass(frozen=True)
class Const(Node):
    """A literal: number, text, true/false."""

    value: object


@dataclass(frozen=True)
class Ref(Node):
    """A name, possibly dotted: `total_cost`, `group.avg_cost`, `params.window_days`, `earlier.hospital_id`."""

    path: tuple[str, ...]

    @cached_property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class ListLit(Node):
    """A literal list such as `["1", "2"]`."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Arith(Node):
    """`left op right` with op one of + - * /."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    """`-x`."""

    operand: Node


@dataclass(frozen=True)
class Cmp(Node):
    """`left op right` with op one of < <= > >= == != in, not in."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class And(Node):
    """All items true."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    """Some item true."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    """Negation."""

    item: Node


@dataclass(frozen=True)
class Call(Node):
    """A call of a function of the registry (`engine/functions.py`)."""

    name: str
    args: tuple[Node, ...] = field(default=())


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children."""
    yield node
    if isinstance(node, (Arith, Cmp)):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Neg):
        yield from walk(node.operand)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, ListLit):
        for item in node.items:
            yield from walk(item)


def map_refs(node: Node, replace: Callable[[Ref], Node]) -> Node:
    """The same tree with every name replaced by `replace(name)` (other nodes rebuilt unchanged)."""
    if isinstance(node, Ref):
        return replace(node)
    if isinstance(node, Arith):
        return Arith(node.offset, node.op, map_refs(node.left, replace), map_refs(node.right, replace))
    if isinstance(node, Cmp):
        return Cmp(node.offset, node.op, map_refs(node.left, replace), map_refs(node.right, replace))
    if isinstance(node, (And, Or)):
        return type(node)(node.offset, tuple(map_refs(i, replace) for i in node.items))
    if isinstance(node, Not):
        return Not(node.offset, map_refs(node.item, replace))
    if isinstance(node, Neg):
        return Neg(node.offset, map_refs(node.operand, replace))
    if isinstance(node, Call):
        return Call(node.offset, node.name, tuple(map_refs(a, replace) for a in node.args))
    if isinstance(node, ListLit):
        return ListLit(node.offset, tuple(map_refs(i, replace) for i in node.items))
    return node


def render(node: Node) -> str:
    """The expression written back as text (normalised spacing), for evidence and explanations."""
    if isinstance(node, Const):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return '"' + node.value.replace('"', '\\"') + '"'
        return repr(node.value)
    if isinstance(node, Ref):
        return node.dotted
    if isinstance(node, ListLit):
        return "[" + ", ".join(render(i) for i in node.items) + "]"
    if isinstance(node, Arith):
        return f"{_paren(node.left, node)} {node.op} {_paren(node.right, node, right=True)}"
    if isinstance(node, Neg):
        return f"-{_paren(node.operand, node)}"
    if isinstance(node, Cmp):
        return f"{render(node.left)} {node.op} {render(node.right)}"
    if isinstance(node, And):
        return " and ".join(_paren(i, node) for i in node.items)
    if isinstance(node, Or):
        return " or ".join(_paren(i, node) for i in node.items)
    if isinstance(node, Not):
        return f"not {_paren(node.item, node)}"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(render(a) for a in node.args) + ")"
    raise TypeError(node)


# How `render_words` writes operators and connectives for people who read Chinese, not rules.
_WORD_CMP = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠", "in": "属于", "not in": "不属于"}
_WORD_ARITH = {"+": "+", "-": "−", "*": "×", "/": "÷"}


def render_words(
    node: Node,
    name: Callable[[str], str],
    function: Callable[[str], str],
    value: Callable[[str, str], str] | None = None,
) -> str:
    """The expression in words: each name by `name(dotted)` (its Chinese label), each function call by
    `function(name)`, a text compared with a name by `value(dotted, text)` (a coded value's Chinese name),
    operators as people write them (≥, ×, 且, 或, 并非), texts in Chinese quotes. For showing a condition to
    people who do not read the rule language; `render` is the rule's own text."""
    return _Words(name, function, value)(node)


class _Words:
    """`render_words`, one method per kind of node."""

    def __init__(
        self,
        name: Callable[[str], str],
        function: Callable[[str], str],
        value: Callable[[str, str], str] | None,
    ) -> None:
        self.name, self.function, self.value = name, function, value

    def __call__(self, node: Node) -> str:
        method: Callable[[Node], str] = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node)

    def _inner(self, child: Node, parent: Node, right: bool = False) -> str:
        text = self(child)
        return f"（{text}）" if _needs_parens(child, parent, right) else text

    def _compared(self, side: Node, other: Node) -> str:
        # A code compared with a field reads as the code's name: discharge_mode == "5" → 离院方式 = “死亡”.
        if self.value is not None and isinstance(other, Ref):
            codes = side.items if isinstance(side, ListLit) else (side,)
            if all(isinstance(c, Const) and isinstance(c.value, str) for c in codes):
                named = [f"“{self.value(other.dotted, str(c.value))}”" for c in codes if isinstance(c, Const)]
                return "［" + "、".join(named) + "］" if isinstance(side, ListLit) else named[0]
        return self(side)

    def _const(self, node: Const) -> str:
        if isinstance(node.value, bool):
            return "是" if node.value else "否"
        if isinstance(node.value, str):
            return f"“{node.value}”"
        return repr(node.value)

    def _ref(self, node: Ref) -> str:
        return self.name(node.dotted)

    def _listlit(self, node: ListLit) -> str:
        return "［" + "、".join(self(i) for i in node.items) + "］"

    def _arith(self, node: Arith) -> str:
        return f"{self._inner(node.left, node)} {_WORD_ARITH[node.op]} {self._inner(node.right, node, right=True)}"

    def _neg(self, node: Neg) -> str:
        return f"−{self._inner(node.operand, node)}"

    def _cmp(self, node: Cmp) -> str:
        op = _WORD_CMP.get(node.op, node.op)
        return f"{self._compared(node.left, node.right)} {op} {self._compared(node.right, node.left)}"

    def _and(self, node: And) -> str:
        return " 且 ".join(self._inner(i, node) for i in node.items)

    def _or(self, node: Or) -> str:
        return " 或 ".join(self._inner(i, node) for i in node.items)

    def _not(self, node: Not) -> str:
        return f"并非{self._inner(node.item, node)}"

    def _call(self, node: Call) -> str:
        return f"{self.function(node.name)}（" + "，".join(self(a) for a in node.args) + "）"


_PRECEDENCE = {Or: 1, And: 2, Not: 3, Cmp: 4, Arith: 5, Neg: 7}


def _prec(node: Node) -> int:
    if isinstance(node, Arith):
        return 5 if node.op in "+-" else 6
    return _PRECEDENCE.get(type(node), 9)


def _needs_parens(child: Node, parent: Node, right: bool = False) -> bool:
    """Whether `child` must be bracketed inside `parent` (the right side of - and /: a - (b - c))."""
    return _prec(child) < _prec(parent) or (
        right and _prec(child) == _prec(parent) and isinstance(parent, Arith)
    )


def _paren(child: Node, parent: Node, right: bool = False) -> str:
    text = render(child)
    return f"({text})" if _needs_parens(child, parent, right) else text
