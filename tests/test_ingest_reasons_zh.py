"""A rejected row's reason in the user's language: Chinese on the pages (and under LANG=zh_CN), English
otherwise, from the same checks. Every kind of reason the row checks give is translated: a reason left in
English would show on the import page of someone who reads no English."""

from __future__ import annotations

import re
from datetime import date

import pytest

from drgaudit.i18n import speaking
from drgaudit.ingest.rows import RowConverter
from drgaudit.ingest.xlsxrows import EXCEL_EPOCH
from tests.conftest import claim_row

# One bad value per kind of reason (field, value).
BAD = [
    ("claim_id", "A'1"), ("claim_id", "A\\1"), ("claim_id", "A 1"), ("claim_id", "A１"), ("claim_id", "A#1"),
    ("claim_id", "1.5E+17"), ("claim_id", 1.5e17), ("claim_id", "x" * 80), ("claim_id", None),
    ("patient_id", "P\x07"), ("patient_id", "P\u202e1"), ("patient_id", True), ("patient_id", date(2025, 1, 1)),
    ("patient_id", [1, 2]), ("age", "3.5"), ("age", "12,000"), ("age", "-1"), ("age", "999"), ("age", 1e300),
    ("total_cost", "12,000.50"), ("total_cost", "￥12000"), ("total_cost", "1_000"), ("total_cost", "abc"),
    ("total_cost", "１２"), ("total_cost", float("nan")), ("admit_date", "2025-02-30"), ("admit_date", "01/02/2025"),
    ("admit_date", "yesterday"), ("admit_date", "1800-01-01"), ("admit_date", 5.0), ("gender", "x"),
    ("insured_region", "5101"), ("principal_dx", "XYZ"), ("secondary_dx", "XYZ|ABC"), ("secondary_dx", "I10.x00|XYZ"),
    ("procedures", "|".join(["00.0100"] * 300)), ("group_code", ""), ("readmit_plan_31d", "maybe"),
]  # fmt: skip
ENGLISH = re.compile(
    r"\b(also|read|formatted|type|is|not|missing|holds|above|below|between|write|items?|codes?|values?|allowed|number)\b"
)


def _reasons(raw: dict) -> list[str]:
    result = RowConverter("claims", "f.xlsx", excel_epoch=EXCEL_EPOCH)(7, raw)
    assert isinstance(result, list), f"accepted: {raw}"
    return [e.reason for e in result]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_every_reason_is_chinese_on_the_pages_and_english_elsewhere(field: str, value: object) -> None:
    raw: dict = dict(claim_row(3))
    raw[field] = value
    if field == "group_code":
        raw["payment_scheme"] = "DRG"
    english = _reasons(raw)
    with speaking("zh_CN"):
        chinese = _reasons(raw)
    assert len(english) == len(chinese) and english != chinese
    for reason in chinese:
        # The value itself may hold Latin letters; what is said about it may not.
        said = re.sub(r"'[^']*'|\"[^\"]*\"|[A-Za-z0-9_.:/*+~\-]+\.\.\.", "", reason)
        assert re.search(r"[\u4e00-\u9fff]", said) and not ENGLISH.search(said), reason


def test_reasons_across_fields_are_translated_too() -> None:
    raw: dict = dict(claim_row(3))
    raw.update(admit_date="2025-03-10", discharge_date="2025-03-01", fee_drug="999999")
    with speaking("zh_CN"):
        reasons = _reasons(raw)
    assert any("早于入院日期" in r for r in reasons) and any("低于各项分类费用之和" in r for r in reasons), (
        reasons
    )
