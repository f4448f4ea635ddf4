"""Safe YAML loading that remembers where every key and value stands in the file."""

from __future__ import annotations

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


class _Builder:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.loader = _LOADER(text)
        self.styles: dict[Position, ScalarStyle] = {}

    def build(self, node: yaml.Node) -> Any:
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
        pos = _position(self.path, node.start_mark)
        self.styles[pos] = ScalarStyle(
            quoted=node.style in ("'", '"'),
            multiline=node.style in ("|", ">") or node.start_mark.line != node.end_mark.line,
        )
        return self.loader.construct_object(node, deep=True)


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


def load_yaml(path: Path | str, *, display_path: str | None = None) -> YamlDocument:
    """Parse one YAML file safely (no tags beyond the safe set), keeping positions.

    Raises RuleFileError with `path:line:col` for syntax errors and duplicate keys.
    """
    shown = display_path or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"cannot read: {exc.strerror}") from exc
    builder = _Builder(shown, text)
    try:
        node = builder.loader.get_single_node()
        data = builder.build(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _position(shown, mark) if mark else Position(shown, 1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise RuleFileError(pos, f"YAML syntax error: {message}") from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(Position(shown, 1, 1), f"YAML error: {exc}") from exc
    finally:
        builder.loader.dispose()
    return YamlDocument(shown, data, builder.styles)
