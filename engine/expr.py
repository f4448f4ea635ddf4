"""The condition language of rule files: parsed with Python's `ast` under an allow-list, never evaluated by Python.

A condition such as `total_cost >= params.high_ratio * group.avg_cost` becomes a small tree of the node
classes of `engine/nodes.py`. Only comparisons, `and`/`or`/`not`, `+ - * /`, names with dotted namespaces, literals,
list literals and calls of the functions of the registry (`engine/functions.py`) are accepted; anything else is an ExpressionError
pointing at the offending character.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drgaudit.engine.exceptions import ExpressionError
from drgaudit.engine.functions import FUNCTIONS
from drgaudit.engine.nodes import (
    And,
    Arith,
    Call,
    Cmp,
    Const,
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
from drgaudit.engine.yamlsource import Position

# Maps a character offset in an expression's text to its position in the file.
Locate = Callable[[int], Position]

__all__ = [
    "And", "Arith", "Call", "Cmp", "Const", "Expression", "ListLit", "Neg", "Node", "Not", "Or", "Ref",
    "map_refs", "parse_expression", "render", "walk",
]  # fmt: skip

COMPARE_OPS: dict[type, str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
}
ARITH_OPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

_FRIENDLY: dict[type, str] = {
    ast.Lambda: "lambda",
    ast.Subscript: "indexing with [...]",
    ast.IfExp: "`x if c else y`",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.Starred: "`*`",
    ast.NamedExpr: "`:=`",
    ast.Await: "await",
    ast.FormattedValue: "an f-string",
    ast.JoinedStr: "an f-string",
}


@dataclass(frozen=True)
class Expression:
    """A parsed expression with its source text and the file position of its first character."""

    source: str
    root: Node
    position: Position

    def position_of(self, node: Node) -> Position:
        """The file position of a node inside this expression (same line as the expression start)."""
        return self.position.shifted(node.offset)


def _char_offset(text: str, line_starts: list[int], lineno: int, byte_col: int) -> int:
    line_start = line_starts[lineno - 1]
    line = text[line_start:]
    return line_start + len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


class _Converter:
    def __init__(self, text: str, position: Position, locate: Locate) -> None:
        self.text = text
        self.position = position
        self.locate = locate  # offset -> Position
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def offset(self, node: ast.AST) -> int:
        return _char_offset(
            self.text, self.line_starts, getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        )

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(self.locate(self.offset(node)), message, hint, code="expression")

    def convert(self, node: ast.AST) -> Node:
        """The tree of one allowed Python node; anything outside the language is an ExpressionError."""
        method = self._CONVERTERS.get(type(node))
        if method is None:
            what = _FRIENDLY.get(type(node), type(node).__name__)
            raise self.fail(node, f"{what} is not allowed in a rule expression")
        return method(self, node, self.offset(node))

    def _bool_op(self, node: ast.BoolOp, off: int) -> Node:
        items = tuple(self.convert(v) for v in node.values)
        return And(off, items) if isinstance(node.op, ast.And) else Or(off, items)

    def _unary(self, node: ast.UnaryOp, off: int) -> Node:
        if isinstance(node.op, ast.Not):
            return Not(off, self.convert(node.operand))
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        if not isinstance(node.op, ast.USub):
            raise self.fail(node, "operator not allowed here", "use and / or / not, + - * /")
        inner = self.convert(node.operand)
        if (
            isinstance(inner, Const)
            and isinstance(inner.value, (int, float))
            and not isinstance(inner.value, bool)
        ):
            return Const(off, -inner.value)
        return Neg(off, inner)

    def _bin_op(self, node: ast.BinOp, off: int) -> Node:
        op = ARITH_OPS.get(type(node.op))
        if op is None:
            raise self.fail(node, "operator not allowed", "only + - * / are allowed in arithmetic")
        return Arith(off, op, self.convert(node.left), self.convert(node.right))

    def _compare(self, node: ast.Compare, off: int) -> Node:
        parts: list[Node] = []
        left = self.convert(node.left)
        for op_node, comparator in zip(node.ops, node.comparators, strict=True):
            op = COMPARE_OPS.get(type(op_node))
            if op is None:
                raise self.fail(node, "comparison not allowed", "use < <= > >= == != in, not in (not `is`)")
            right = self.convert(comparator)
            parts.append(Cmp(left.offset, op, left, right))
            left = right
        return parts[0] if len(parts) == 1 else And(off, tuple(parts))

    def _name(self, node: ast.Name, off: int) -> Node:
        if node.id in ("true", "True"):
            return Const(off, True)
        if node.id in ("false", "False"):
            return Const(off, False)
        if node.id in ("null", "None"):
            raise self.fail(node, "null is not a value here", "test a missing value with has(field)")
        return Ref(off, (node.id,))

    def _attribute(self, node: ast.Attribute, off: int) -> Node:
        path: list[str] = [node.attr]
        base = node.value
        while isinstance(base, ast.Attribute):
            path.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name):
            raise self.fail(
                node, "only dotted names are allowed", "e.g. group.avg_cost or params.window_days"
            )
        path.append(base.id)
        return Ref(off, tuple(reversed(path)))

    def _constant(self, node: ast.Constant, off: int) -> Node:
        if node.value is None or isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            raise self.fail(node, f"literal {node.value!r} is not allowed")
        _check_literal(self, node)
        return Const(off, node.value)

    def _list(self, node: ast.List | ast.Tuple, off: int) -> Node:
        return ListLit(off, tuple(self.convert(e) for e in node.elts))

    def _call(self, node: ast.Call, off: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called", _functions_hint())
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node, f"unknown function `{name}`", _functions_hint())
        if node.keywords:
            raise self.fail(node, f"`{name}` takes no keyword arguments")
        function = FUNCTIONS[name]
        low, high = function.min_args, function.max_args
        if len(node.args) < low or (high is not None and len(node.args) > high):
            raise self.fail(
                node,
                f"`{name}` takes {_arity(low, high)} argument(s), got {len(node.args)}",
                function.signature,
            )
        return Call(off, name, tuple(self.convert(a) for a in node.args))

    # The Python nodes of the language, each with its converter; every other node is refused.
    _CONVERTERS: dict[type, Callable[[Any, Any, int], Node]] = {
        ast.BoolOp: _bool_op,
        ast.UnaryOp: _unary,
        ast.BinOp: _bin_op,
        ast.Compare: _compare,
        ast.Name: _name,
        ast.Attribute: _attribute,
        ast.Constant: _constant,
        ast.List: _list,
        ast.Tuple: _list,
        ast.Call: _call,
    }


# Limits of one expression: a rule is a short formula, and the engine must never be asked to hold more.
MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_DEPTH = 40
# Whole numbers beyond this lose digits as doubles, which is what durable-rules holds.
MAX_EXACT_INT = 2**53
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def _check_literal(converter: _Converter, node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, bool):
        return
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        raise converter.fail(node, "a whole number larger than 2^53, which durable-rules cannot hold exactly")
    if isinstance(value, float) and not math.isfinite(value):
        raise converter.fail(node, "a number too large to hold (it overflows to infinity)")
    if isinstance(value, str) and _CONTROL.search(value):
        raise converter.fail(node, "a control character in the text", "write visible characters only")


def _depth(tree: ast.AST) -> int:
    """How deep the tree nests (counted without recursion: the tree may be very deep)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _arity(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    return str(low) if low == high else f"{low} to {high}"


def _functions_hint() -> str:
    return "functions: " + ", ".join(sorted(FUNCTIONS))


def parse_expression(text: str, position: Position, locate: Locate | None = None) -> Expression:
    """Parse one expression; `locate(offset)` maps a character offset to a file position.

    Raises ExpressionError on syntax errors or anything outside the allowed language.
    """
    if locate is None:
        locate = position.shifted
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(position, "empty expression", code="expression")
    source = text.strip()
    lead = len(text) - len(text.lstrip())
    shifted_locate = (lambda off: locate(off + lead)) if lead else locate
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            shifted_locate(0),
            f"the expression is {len(source):,} characters long; at most {MAX_EXPRESSION_CHARS:,}",
            "split it into several conditions",
            code="expression",
        )
    try:
        tree = ast.parse(source, mode="eval")
    except (RecursionError, MemoryError):
        raise ExpressionError(
            shifted_locate(0),
            "the expression nests too deeply",
            "split it into several conditions",
            code="expression",
        ) from None
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        if exc.lineno and exc.lineno > 1:
            col += sum(len(line) + 1 for line in source.split("\n")[: exc.lineno - 1])
        message = exc.msg
        hint = None
        if "=" in source and "==" not in source and "invalid syntax" in message:
            hint = "compare with ==, not ="
        raise ExpressionError(
            shifted_locate(max(col, 0)), f"syntax error: {message}", hint, code="expression"
        ) from exc
    if _depth(tree.body) > MAX_EXPRESSION_DEPTH:
        raise ExpressionError(
            shifted_locate(0),
            f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep",
            "split it into several conditions",
            code="expression",
        )
    converter = _Converter(source, position, shifted_locate)
    root = converter.convert(tree.body)
    return Expression(source=source, root=root, position=shifted_locate(0))
