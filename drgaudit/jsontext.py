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
