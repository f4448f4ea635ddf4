"""JSON text exactly as `json.JSONEncoder(...).encode` writes it, without its set-up on every call.

`JSONEncoder.encode` makes a new C encoder (and a Python closure) on each call. A batch screen encodes
several small values per hit in its storing process (the evidence, the output line around it, the
evidence digests' parts), where that set-up was about a sixth of the encoding. `encoder` makes the
C encoder once per thread and calls it: the same text, and the same errors (a circular value, a value
JSON cannot hold without `default`), since it is the encoder `JSONEncoder.encode` itself uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from json import encoder as _json
from typing import Any


def encoder(
    *,
    ensure_ascii: bool = True,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
    default: Callable[[Any], Any] | None = None,
) -> Callable[[Any], str]:
    """`json.JSONEncoder(ensure_ascii=..., sort_keys=..., separators=..., default=...).encode`, faster
    (see the module's docstring); that encode itself where Python has no C encoder."""
    reference = json.JSONEncoder(
        ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=separators, default=default
    )
    make = getattr(_json, "c_make_encoder", None)  # not in the stubs: the C accelerator, None without it
    if make is None:
        return reference.encode
    text = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    # Per thread, the C encoders not in use (each with its own circular-reference markers). One in use is
    # out of the list, so a call from within a call (a `default` that encodes) gets another; one that
    # raised is dropped, with whatever its markers kept.
    local = threading.local()

    def encode(value: Any) -> str:
        if isinstance(value, str):  # as `JSONEncoder.encode` writes a text on its own
            return text(value)
        try:
            free = local.free
        except AttributeError:
            free = local.free = []
        if free:
            made = free.pop()
        else:
            made = make(
                {}, reference.default, text, None, reference.key_separator, reference.item_separator,
                sort_keys, reference.skipkeys, reference.allow_nan,
            )  # fmt: skip
        chunks = made(value, 0)
        free.append(made)
        return "".join(chunks)

    return encode


class _Object(dict[str, Any]):
    """A JSON object as `duplicate_keys` reads it: its members, and the names given more than once."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object(pairs)
    found.repeated = []
    if len(found) != len(pairs):  # rare: only then is it worth finding which
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen and key not in found.repeated:
                found.repeated.append(key)
            seen.add(key)
    return found


_pairs_decoder = json.JSONDecoder(object_pairs_hook=_object)


def duplicate_keys(body: bytes) -> list[str]:
    """Where a JSON text names a member twice in one object, as paths (`claims[0].total_cost`; `kind` at
    the top). Parsers keep one of the values silently (orjson and `json` the last), so a caller who sent
    two would not learn which one counted. [] for a text that is not JSON: its parser says why."""
    try:
        parsed = _pairs_decoder.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    todo: list[tuple[str, Any]] = [("", parsed)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, _Object):
            found.extend(f"{path}.{key}" if path else key for key in value.repeated)
            todo.extend((f"{path}.{key}" if path else key, item) for key, item in value.items())
        elif isinstance(value, list):
            todo.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(found)


def nul_paths(body: bytes) -> list[str]:
    """Where a JSON text holds a NUL character (`\\u0000`) in a name or a string, as paths (`reason`,
    `items[0].item`): PostgreSQL can neither store nor compare such text. [] for a text that is not
    JSON, and at once for one without the escape (JSON has no other way to write a NUL)."""
    if b"\\u0000" not in body:
        return []
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    todo: list[tuple[str, Any]] = [("", parsed)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else key
                if "\x00" in key:
                    found.append(inner)
                todo.append((inner, item))
        elif isinstance(value, list):
            todo.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str) and "\x00" in value:
            found.append(path)
    return sorted(found)
