"""drgaudit.jsontext: the C encoder made once writes what `json.JSONEncoder(...).encode` writes, and fails
as it fails, in any thread and from within its own `default`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgaudit.jsontext import duplicate_keys, encoder, nul_paths

KEYS = st.text(max_size=6) | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(KEYS, inner, max_size=4)
    ),
    max_leaves=16,
)
OPTIONS = st.fixed_dictionaries(
    {
        "ensure_ascii": st.booleans(),
        "sort_keys": st.booleans(),
        "separators": st.sampled_from([None, (",", ":"), (", ", ": ")]),
        "default": st.sampled_from([None, str]),
    }
)


def both(options: dict[str, Any], value: Any) -> tuple[Any, Any]:
    """What each way gives: the text, or the type and message of its error."""
    results = []
    for encode in (encoder(**options), json.JSONEncoder(**options).encode):
        try:
            results.append(encode(value))
        except (TypeError, ValueError) as exc:
            results.append((type(exc), str(exc)))
    return results[0], results[1]


@settings(max_examples=400, deadline=None)
@given(options=OPTIONS, value=VALUES)
def test_the_same_text_or_the_same_error_as_json(options: dict[str, Any], value: Any) -> None:
    fast, reference = both(options, value)
    assert fast == reference


def test_a_circular_value_fails_as_in_json_and_the_next_call_is_unaffected() -> None:
    encode = encoder(ensure_ascii=False, default=str)
    loop: list[Any] = [1]
    loop.append({"back": loop})
    with pytest.raises(ValueError, match="Circular reference detected"):
        encode(loop)
    # The same list twice is not a cycle, also after a failure that left its markers behind.
    shared = [1, 2]
    assert encode({"a": shared, "b": shared}) == '{"a": [1, 2], "b": [1, 2]}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        encoder()([object()])
    assert encode([dt.date(2025, 1, 2), "中"]) == '["2025-01-02", "中"]'


def test_a_default_that_encodes_gets_an_encoder_of_its_own() -> None:
    class Nested:
        def __str__(self) -> str:
            return encode({"inner": [1, 2]})

    encode = encoder(default=str)
    value = {"outer": [Nested(), Nested()]}
    assert encode(value) == json.JSONEncoder(default=str).encode(value)


def test_threads_encode_at_the_same_time() -> None:
    encode = encoder(ensure_ascii=False, sort_keys=True, default=str)

    class Slow:  # a `default` hands the GIL over mid-value
        def __str__(self) -> str:
            threading.Event().wait(0.0005)
            return "慢"

    values = [{"n": n, "items": [{"k": Slow()}, [n, {"deep": [Slow()]}]]} for n in range(40)]
    expected = [json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) for v in values]
    failures: list[BaseException] = []
    results: dict[int, list[str]] = {}

    def work(index: int) -> None:
        try:
            results[index] = [encode(v) for v in values]
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(result == expected for result in results.values())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_duplicate_keys_and_nul_paths_of_any_json(value: Any) -> None:
    """No repeated name in what json.dumps writes; a name written twice is found where it is; every NUL
    is found, named by the path of its string (or name)."""
    text = json.dumps(value).encode()
    assert duplicate_keys(text) == []
    twice = json.dumps({"wrap": [value]})[: -len("]}")] + '], "wrap": 1}'
    assert duplicate_keys(twice.encode()) == ["wrap"]
    nuls = nul_paths(json.dumps({"a": [value, "x\x00"]}).encode())
    assert "a[1]" in nuls and all(p.startswith("a[") for p in nuls)
    assert bool(nul_paths(text)) == _holds_nul(value)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_holds_nul(v) for v in value)
