"""Safe YAML loading that remembers where every key and value stands in the file."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drgaudit.engine.exceptions import RuleFileError


@dataclass(frozen=True)
class Position:
    """A place in a file: 1-based line and column."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, columns: int) -> Position:
        """The position `columns` characters further on the same line."""
        return Position(self.path, self.line, self.col + columns)


class YMap(dict[Any, Any]):
    """A mapping from a YAML file that knows the position of itself, each key and each value."""

    position: Position
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]

    def key_at(self, key: Any) -> Position:
        """Where `key` is written (or the mapping itself when the key is absent)."""
        return self.key_positions.get(key, self.position)

    def value_at(self, key: Any) -> Position:
        """Where the value of `key` starts (or the mapping itself when the key is absent)."""
        return self.value_positions.get(key, self.position)


class YList(list[Any]):
    """A sequence from a YAML file that knows the position of itself and of each item."""

    position: Position
    item_positions: list[Position]

    def item_at(self, index: int) -> Position:
        """Where item `index` starts."""
        if 0 <= index < len(self.item_positions):
            return self.item_positions[index]
        return self.position


@dataclass(frozen=True)
class ScalarStyle:
    """How a scalar was written, to map a column inside its text back to the file."""

    quoted: bool
    multiline: bool


# libyaml's parser when PyYAML was built with it (about ten times faster: `drgaudit rules check` reads
# the whole pack at every start); it records the same line and column marks as the Python parser.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _position(path: str, mark: yaml.Mark) -> Position:
    return Position(path, mark.line + 1, mark.column + 1)


# Limits of a rule file (a hostile file must be refused, quickly, not hang or exhaust memory).
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
# Values built from the file: the distinct ones, plus what aliases repeat (a few anchors reused a few
# times each are fine; "billion laughs" nests aliases to repeat a value exponentially).
ALIAS_BUDGET = 10_000
# The largest integer a rule may hold: what a double (durable-rules' numbers) holds exactly.
MAX_EXACT_INT = 2**53
# Characters no value of a rule file may hold (written as escapes in quoted strings): controls other
# than tab and newline, bidirectional overrides and isolates, byte-order marks, unpaired surrogates.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type stubs here
    """The safe loader, refusing nesting deeper than MAX_DEPTH (the composer recurses per level)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        # libyaml stops nesting at 1,000 levels itself (and `build` at MAX_DEPTH); the Python composer
        # recurses without a limit, so it gets the guard.
        self.loader = _Loader(text) if _LOADER is yaml.SafeLoader else _LOADER(text)
        self.styles: dict[Position, ScalarStyle] = {}
        self._distinct: set[int] = set()
        self._built = 0
        self._open: set[int] = set()
        # Collections being built, innermost last, and whether this is their first build (not an alias's).
        self._stack: list[tuple[yaml.Node, bool]] = []

    def build(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self._open:
            raise RuleFileError(
                _position(self.path, node.start_mark),
                "a recursive alias: this value contains itself",
                "an alias (*name) may only repeat a value defined before it, outside it",
            )
        self._built += 1
        first = key not in self._distinct
        self._distinct.add(key)
        if self._built > len(self._distinct) + ALIAS_BUDGET:
            # Name the innermost value written out here (where the aliases are used), not their anchor.
            where = next((n for n, fresh in reversed(self._stack) if fresh), node)
            raise RuleFileError(
                _position(self.path, where.start_mark),
                f"aliases repeat values more than {ALIAS_BUDGET:,} times (an alias bomb?)",
                "write the values out, or repeat fewer of them",
            )
        if not isinstance(node, yaml.ScalarNode):
            if len(self._stack) >= MAX_DEPTH:
                raise _TooDeep(node.start_mark)
            self._open.add(key)
            self._stack.append((node, first))
            try:
                return self._build_collection(node)
            finally:
                self._stack.pop()
                self._open.discard(key)
        return self._build_scalar(node)

    def _build_collection(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            result = YMap()
            result.position = _position(self.path, node.start_mark)
            result.key_positions = {}
            result.value_positions = {}
            self.loader.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self.build(key_node)
                if isinstance(key, (YMap, YList)):
                    raise RuleFileError(
                        _position(self.path, key_node.start_mark), "a key must be a plain value"
                    )
                if key in result:
                    raise RuleFileError(
                        _position(self.path, key_node.start_mark),
                        f"duplicate key `{key}` (first at line {result.key_positions[key].line})",
                    )
                result[key] = self.build(value_node)
                result.key_positions[key] = _position(self.path, key_node.start_mark)
                result.value_positions[key] = _position(self.path, value_node.start_mark)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = YList(self.build(child) for child in node.value)
            items.position = _position(self.path, node.start_mark)
            items.item_positions = [_position(self.path, child.start_mark) for child in node.value]
            return items
        raise RuleFileError(_position(self.path, node.start_mark), f"unexpected YAML node {node.tag}")

    def _build_scalar(self, node: yaml.Node) -> Any:
        pos = _position(self.path, node.start_mark)
        self.styles[pos] = _STYLES[
            node.style in ("'", '"'), node.style in ("|", ">") or node.start_mark.line != node.end_mark.line
        ]
        # Most scalars of a rule pack are strings: taken as they are (what the safe constructor returns
        # for them), without its bookkeeping; every other tag goes through the safe constructor.
        value = node.value if node.tag == _STR_TAG else self.loader.construct_object(node, deep=True)
        _check_scalar(value, pos)
        return value


_STR_TAG = "tag:yaml.org,2002:str"
_STYLES = {(q, m): ScalarStyle(quoted=q, multiline=m) for q in (False, True) for m in (False, True)}


def _check_scalar(value: Any, pos: Position) -> None:
    """Refuse what no rule may hold: invisible control characters, whole numbers the engine cannot hold
    exactly. (Infinite and NaN floats are refused by the typed checks of params and settings, which
    name the setting.)"""
    if isinstance(value, str):
        found = _FORBIDDEN.search(value)
        if found:
            raise RuleFileError(
                pos.shifted(found.start()) if "\n" not in value[: found.start()] else pos,
                f"a control character (U+{ord(found.group()):04X}) in the text",
                "remove it; write the text with visible characters only",
            )
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
        raise RuleFileError(
            pos,
            "a whole number larger than 2^53, which durable-rules cannot hold exactly",
            "write a smaller number",
        )


def number_hint(value: Any, *, whole: bool = False) -> str | None:
    """How to write a number (a `whole` one) that YAML read as text, or None: PyYAML reads YAML 1.1,
    where `1e5` and `1.0e308` (no dot, or an exponent with no sign) are text, and a quoted number too."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _NUMBER_TEXT.fullmatch(text) is None:
        return None
    number = float(text)
    if whole and (not number.is_integer() or abs(number) > 2**53):
        return None  # no whole number to suggest
    if "e" not in text.lower():
        return f"a quoted value is text: write {text} without quotes"
    if whole:
        return f"YAML reads {text} as text; write the whole number {int(number)}"
    mantissa, _, exponent = text.lower().partition("e")
    mantissa = mantissa if "." in mantissa else mantissa + ".0"
    exponent = exponent if exponent[:1] in "+-" else "+" + exponent
    return f"YAML reads {text} as text; write {mantissa}e{exponent}, with a dot and a signed exponent"


# A number as YAML 1.2 or Python would read it (what a person means by `1e5`).
_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass
class YamlDocument:
    """A parsed YAML file: its data with positions, and how each scalar was written."""

    path: str
    data: Any
    styles: dict[Position, ScalarStyle]

    def text_position(self, value_pos: Position, offset: int) -> Position:
        """The file position of character `offset` inside the scalar starting at `value_pos`."""
        style = self.styles.get(value_pos)
        if style is None or style.multiline:
            return value_pos
        return value_pos.shifted(offset + (1 if style.quoted else 0))


def _utf8_prefix(text: str, offset: int) -> str:
    """The characters of `text` before byte `offset` of its UTF-8 form."""
    return text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "ignore")


def read_source(path: Path | str, shown: str) -> bytes:
    """The bytes of a rule file: a regular file of at most MAX_FILE_BYTES, opened without blocking (a
    FIFO, a device or a directory is refused, never waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"cannot read: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(info.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(info.st_mode)
                else "a device or socket"
            )
            raise RuleFileError(
                Position(shown, 1, 1), f"not a regular file ({kind})", "rule files are YAML text files"
            )
        if info.st_size > MAX_FILE_BYTES:
            raise RuleFileError(
                Position(shown, 1, 1), f"{info.st_size:,} bytes; a rule file has at most {MAX_FILE_BYTES:,}"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise RuleFileError(Position(shown, 1, 1), f"more than {MAX_FILE_BYTES:,} bytes")
    return data


def load_yaml(
    path: Path | str, *, display_path: str | None = None, data: bytes | None = None
) -> YamlDocument:
    """Parse one YAML file safely (no tags beyond the safe set), keeping positions.

    `data` is the file's bytes when already read (`read_source`). Raises RuleFileError with
    `path:line:col` for syntax errors, duplicate keys, nesting deeper than MAX_DEPTH, aliases that
    repeat values beyond ALIAS_BUDGET or contain themselves, control characters, and numbers the
    engine cannot hold.
    """
    shown = display_path or str(path)
    if data is None:
        data = read_source(path, shown)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RuleFileError(Position(shown, line, 1), f"not UTF-8 text: {exc.reason}") from exc
    builder: _Builder | None = None
    try:
        builder = _Builder(shown, text)  # the reader checks the characters of the whole text here
        node = builder.loader.get_single_node()
        data_out = builder.build(node) if node is not None else None
    except _TooDeep as exc:
        raise RuleFileError(
            _position(shown, exc.mark), f"nested more than {MAX_DEPTH} levels deep", "flatten the structure"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _position(shown, mark) if mark else Position(shown, 1, 1)
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit (1,000 levels)
            raise RuleFileError(
                pos, f"nested more than {MAX_DEPTH} levels deep", "flatten the structure"
            ) from None
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise RuleFileError(pos, f"YAML syntax error: {message}") from exc
    except yaml.reader.ReaderError as exc:
        # libyaml counts the offset in bytes of UTF-8, the Python reader in characters.
        before = text[: exc.position] if _LOADER is yaml.SafeLoader else _utf8_prefix(text, exc.position)
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise RuleFileError(
            Position(shown, line, col),
            f"a control character (#x{exc.character:04x}) in the file",
            "remove it; rule files hold visible text only",
        ) from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"YAML error: {exc}") from exc
    except RecursionError:
        raise RuleFileError(Position(shown, 1, 1), "nested too deeply", "flatten the structure") from None
    finally:
        if builder is not None:
            builder.loader.dispose()
    return YamlDocument(shown, data_out, builder.styles)
