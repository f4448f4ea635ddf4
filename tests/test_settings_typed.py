"""Typed settings attacked with arbitrary values: every bad value is refused at its `path:line:col`."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.region import region_from_document
from drgaudit.engine.regionsettings import NATIONAL_ONLY, RegionPatch, RegionSettings
from drgaudit.engine.yamlsource import load_yaml, number_hint

SETTINGS = sorted(name for name in RegionSettings.model_fields if name not in NATIONAL_ONLY)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.integers(0, 5), st.text(max_size=6)), inner, max_size=3),
    ),
    max_leaves=6,
)


def _region_file(tmp: Path, name: str, value: object) -> Path:
    path = tmp / "510100.yaml"
    text = yaml.safe_dump({"region": "510100", "settings": {name: value}}, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(SETTINGS), value=values)
def test_any_value_of_any_setting_loads_or_is_refused_where_it_stands(
    tmp_path: Path, name: str, value: object
) -> None:
    path = _region_file(tmp_path, name, value)
    errors: list[RuleFileError] = []
    try:
        document = load_yaml(path)
    except RuleFileError as refused:  # what the YAML loader refuses (control characters, …), where it stands
        document, errors = None, [refused]
    config = region_from_document(document, errors) if document is not None else None
    if config is None:
        assert errors
        for error in errors:
            assert error.position.path == str(path) and error.position.line >= 1
            assert error.render().startswith(f"{path}:{error.position.line}:{error.position.col}: ")
    else:
        assert not errors
        # What was accepted is what the declared type allows: re-validating the plain values agrees.
        RegionPatch.model_validate(config.settings)
        for number in _numbers(config.settings):
            assert math.isfinite(number)


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def test_rates_coefficients_and_ratios_must_be_positive_and_finite(tmp_path: Path) -> None:
    for name in (
        "drg_rate",
        "dip_point_value",
        "cross_region_coefficient",
        "drg_high_ratio",
        "per_diem_rate",
    ):
        for bad in (0, -1, float("inf"), float("nan")):
            errors: list[RuleFileError] = []
            assert region_from_document(load_yaml(_region_file(tmp_path, name, bad)), errors) is None
            assert len(errors) == 1 and f"`settings.{name}`" in errors[0].message, errors


def test_every_setting_has_a_chinese_description() -> None:
    for name, info in RegionSettings.model_fields.items():
        assert info.description and any("\u4e00" <= ch <= "\u9fff" for ch in info.description), name


exponent_texts = st.builds(
    lambda sign, digits, point, fraction, letter, exp_sign, exponent: (
        f"{sign}{digits}{point}{fraction}{letter}{exp_sign}{exponent}"
    ),
    st.sampled_from(["", "-", "+"]),
    st.from_regex(r"[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["", "."]),
    st.from_regex(r"[0-9]{0,4}", fullmatch=True),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "-", "+"]),
    st.from_regex(r"[0-9]{1,3}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(text=exponent_texts, whole=st.booleans())
def test_a_number_yaml_reads_as_text_gets_a_hint_that_yaml_reads_as_that_number(
    text: str, whole: bool
) -> None:
    """`1e5` is text to YAML 1.1: the hint's form is a number to it, the same number (or the whole one)."""
    read = yaml.safe_load(f"v: {text}")["v"]
    hint = number_hint(read, whole=whole)
    if not isinstance(read, str):
        assert hint is None  # YAML read a number: nothing to say
        return
    if whole and (not float(text).is_integer() or abs(float(text)) > 2**53):
        assert hint is None  # no whole number to suggest
        return
    assert hint is not None and hint.startswith(f"YAML reads {text} as text; write ")
    suggested = hint.removeprefix(f"YAML reads {text} as text; write ").removeprefix("the whole number ")
    suggested = suggested.split(",")[0]
    value = yaml.safe_load(f"v: {suggested}")["v"]
    assert not isinstance(value, str) and not isinstance(value, bool)
    assert value == float(text) or (math.isinf(value) and math.isinf(float(text)))
    assert isinstance(value, int) if whole else isinstance(value, float)


def test_a_quoted_number_gets_the_hint_to_unquote_it_where_it_fits() -> None:
    assert number_hint(" 15 ", whole=True) == "a quoted value is text: write 15 without quotes"
    assert number_hint("15.5") == "a quoted value is text: write 15.5 without quotes"
    assert number_hint("15.5", whole=True) is None  # unquoted, it would still not be a whole number


@pytest.mark.parametrize("text", ["abc", "1e", "e5", "1.2.3", "0x10", "1_000", "", "--1"])
def test_text_that_is_no_number_gets_no_number_hint(text: str) -> None:
    assert number_hint(text) is None and number_hint(text, whole=True) is None
