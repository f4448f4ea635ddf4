"""Validate YAML read with positions (engine.yamlsource) against a declared pydantic model.

Settings files (region settings, pack metadata, report settings) are declared once as pydantic models,
with types, ranges and Chinese descriptions; this module runs the validation and turns every pydantic
error into a `RuleFileError` at the `path:line:col` of the offending key or value, with a message a
person can act on (and a "did you mean" for a misspelt key or choice).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.yamlsource import Position, YList, YMap, number_hint

M = TypeVar("M", bound=BaseModel)

# How each pydantic error type reads (the constraint values come from the error's context).
_PHRASES: dict[str, str] = {
    "missing": "is missing",
    "finite_number": "must be a finite number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date written YYYY-MM-DD",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_pattern_mismatch": "does not have the required form",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}
_KEY = "[key]"
# Errors where a number was expected: a number YAML read as text gets a hint on how to write it.
_NUMBER_KINDS = frozenset(("float_type", "float_parsing", "int_type", "int_parsing"))


def _position(data: Any, loc: tuple[Any, ...], root: Position, *, key_last: bool = False) -> Position:
    """Where `loc` points in the YAML data: a value, or a key when the error is about the key itself."""
    node = data
    position = data.position if isinstance(data, (YMap, YList)) else root
    for index, part in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if isinstance(node, YMap) and not isinstance(part, list) and part in node:
            on_key = following == _KEY or (key_last and following is None)
            position = node.key_at(part) if on_key else node.value_at(part)
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            position = node.item_at(part)
            node = node[part]
        elif part == _KEY:
            break
        # otherwise a union tag or a missing key: stay on the enclosing mapping or list
    return position


def _names(loc: tuple[Any, ...], data: Any, *, missing: bool = False) -> list[str]:
    """The dotted path of a location, without union tags and key markers."""
    names: list[str] = []
    node = data
    for index, part in enumerate(loc):
        if part == _KEY:
            break
        if isinstance(node, YMap) and part in node:
            names.append(str(part))
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int):
            names.append(str(part))
            node = node[part] if 0 <= part < len(node) else None
        elif missing and index == len(loc) - 1 and isinstance(part, str):
            names.append(part)  # the missing key (other names not in the data are union tags)
    return names


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation (X, X | None, list[X], dict[K, X]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def field_info(model: type[BaseModel], names: list[str]) -> FieldInfo | None:
    """The declared field a dotted path ends on (list indexes and mapping keys are stepped over)."""
    current: type[BaseModel] | None = model
    info = None
    for name in names:
        if current is not None and name in current.model_fields:
            info = current.model_fields[name]
            current = _model_of(info.annotation)
        # a list index or a free mapping's key: stay on the same field
    return info


def _choices(expected: str) -> list[str]:
    return [part.strip().strip("'") for part in expected.replace(" or ", ", ").split(",") if part.strip()]


def describe_error(model: type[BaseModel], error: Any, data: Any) -> tuple[str, str | None]:
    """(message, hint) for one pydantic error."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    names = _names(loc, data, missing=kind in ("missing", "extra_forbidden"))
    dotted = ".".join(names) or "the file"
    value = error.get("input")
    on_key = _KEY in loc
    if kind == "extra_forbidden":
        parent = field_info(model, names[:-1])
        inner = _model_of(parent.annotation) if parent is not None else model
        known = list((inner or model).model_fields)
        return f"unknown key `{loc[-1]}`", did_you_mean(str(loc[-1]), known)
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error") or error["msg"]).removeprefix("Value error, ")
        return f"`{dotted}`: {message}", None
    phrase = _PHRASES.get(kind)
    if phrase is None:
        text = f"`{dotted}`: {error['msg']}"
    else:
        text = f"`{dotted}` {phrase.format(**{k: _plain(v) for k, v in ctx.items()})}"
    if on_key:
        dotted = ".".join(names[:-1]) or "the file"
        text = f"key `{value}` of `{dotted}` {phrase.format(**ctx) if phrase else error['msg']}"
    hint = None
    if kind in ("literal_error", "enum") and isinstance(value, str):
        hint = did_you_mean(value, _choices(str(ctx.get("expected", ""))))
    elif kind in _NUMBER_KINDS and not on_key:
        hint = number_hint(value, whole=kind.startswith("int"))
    info = field_info(model, names)
    if info is not None and info.description and not on_key:
        text += f" ({info.description})"
    if kind != "missing" and not on_key and not isinstance(value, (dict, list)):
        text += f", got {value!r}"
    return text, hint


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validate(
    model: type[M],
    data: Any,
    *,
    root: Position,
    errors: list[RuleFileError],
    prefix: str = "",
    skip: Callable[[dict[str, Any]], RuleFileError | None] | None = None,
) -> M | None:
    """Validate `data` (a YMap from yamlsource) against `model`; on failure append located errors, return None.

    `prefix` is put before every message (e.g. "setting "); `skip` may turn one raw pydantic error into
    a more specific RuleFileError of the caller's own (returning None keeps the generic message).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            special = skip(dict(error)) if skip is not None else None
            if special is not None:
                errors.append(special)
                continue
            message, hint = describe_error(model, error, data)
            position = _position(data, tuple(error["loc"]), root, key_last=error["type"] == "extra_forbidden")
            errors.append(RuleFileError(position, prefix + message, hint))
        return None
