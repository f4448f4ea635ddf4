"""Message templates: a Chinese sentence with `{expression}` or `{expression:format}` placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import Expression, Locate, parse_expression
from drgaudit.engine.yamlsource import Position


@dataclass(frozen=True)
class Placeholder:
    """One `{expression:spec}` of a template."""

    expression: Expression
    spec: str


@dataclass(frozen=True)
class Template:
    """A parsed message: literal text and placeholders, in order."""

    source: str
    parts: tuple[str | Placeholder, ...]
    position: Position

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))


def parse_template(text: str, position: Position, locate: Locate) -> Template:
    """Split a message into text and placeholders; `{{` and `}}` stand for literal braces."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
            continue
        if ch == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
            continue
        if ch == "}":
            raise RuleFileError(locate(i), "a `}` without its `{`", "write }} for a literal brace")
        if ch == "{":
            end, colon = _placeholder_end(text, i + 1)
            if end < 0:
                raise RuleFileError(locate(i), "a `{` without its `}`", "write {{ for a literal brace")
            expr_text = text[i + 1 : colon if colon >= 0 else end]
            spec = text[colon + 1 : end] if colon >= 0 else ""
            start = i + 1
            expression = parse_expression(expr_text, locate(start), _from(locate, start))
            _check_spec(spec, locate(colon + 1 if colon >= 0 else start))
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(expression, spec))
            i = end + 1
            continue
        literal.append(ch)
        i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts), position)


def _from(locate: Locate, start: int) -> Locate:
    """`locate` for offsets counted from `start`."""
    return lambda offset: locate(start + offset)


def _placeholder_end(text: str, start: int) -> tuple[int, int]:
    quote = None
    colon = -1
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == ":" and colon < 0:
            colon = j
        elif ch == "}":
            return j, colon
        elif ch == "{":
            return -1, -1
    return -1, -1


# Widest field and most digits a message may ask for: `{x:999999999}` would build a gigabyte of spaces.
MAX_FORMAT_WIDTH = 100
MAX_FORMAT_PRECISION = 20
# [[fill]align][sign][z][#][0][width][grouping][.precision][type] of Python's format mini-language.
_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?", re.S)


def _check_spec(spec: str, position: Position) -> None:
    if not spec:
        return
    shape = _SPEC.fullmatch(spec)
    if shape is not None:
        width, precision = shape.group("width"), shape.group("precision")
        if width and (len(width) > 3 or int(width) > MAX_FORMAT_WIDTH):
            raise RuleFileError(
                position,
                f"format width {width} is too wide (at most {MAX_FORMAT_WIDTH})",
                "e.g. {total_cost:,.2f}",
            )
        if precision and (len(precision) > 2 or int(precision) > MAX_FORMAT_PRECISION):
            raise RuleFileError(
                position,
                f"format precision {precision} is too long (at most {MAX_FORMAT_PRECISION} digits)",
                "e.g. {self_share:.0%}",
            )
    try:
        format(1.5, spec)
    except ValueError as exc:
        raise RuleFileError(
            position, f"bad number format `{spec}`: {exc}", "e.g. {total_cost:,.2f} or {self_share:.0%}"
        ) from exc
