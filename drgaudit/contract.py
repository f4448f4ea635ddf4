"""The fixed interchange formats of DATA-CONTRACT.md: field names, types, requirements and code shapes.

Everything that reads or checks claims, hospitals or groups (the importer, the screen-from-files path, the
rule language's field list) takes the field definitions from here, so a field is described once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# ICD-10 医保版 (e.g. I21.000, A00.100x001, I10.x05, N18.900x012+D63.8*) and ICD-9-CM-3 医保版
# (e.g. 96.0800x005, 60.5x02, 86.700x0013); checked against every code of CHS-DRG 1.1. Digits are
# ASCII only ([0-9], not \d, which also matches full-width and other scripts' digits).
ICD10_RE = re.compile(
    r"^[A-Z][0-9]{2}(\.([0-9]{1,3}|x[0-9]{1,2})(x[0-9]{3,4})?)?(\+[A-Z][0-9]{2}(\.[0-9x])?\*)?$"
)
ICD9_RE = re.compile(r"^[0-9]{2}(\.([0-9]{1,5}|[0-9]{0,3}x[0-9]{1,2}|[0-9]{3}[A-Z][0-9])(x[0-9]{3,4})?)?$")
REGION_RE = re.compile(r"^[0-9]{6}$")
# Ids (claims, patients, hospitals, groups): ASCII letters and digits and a few separators, as settlement
# systems write them; never quotes, backslashes, blanks, control characters or other scripts' digits.
ID_PUNCTUATION = "._:/*+~-"
ID_CHARACTERS = "A-Za-z0-9" + ID_PUNCTUATION
ID_RE = re.compile(f"^[{ID_CHARACTERS}]+$")
# What Excel makes of a long number in a General cell (5.10101E+19): the digits are lost.
SCIENTIFIC_RE = re.compile(r"^[0-9]+(\.[0-9]+)?[Ee][+-][0-9]{1,3}$")

# Separator of list values inside one CSV/XLSX cell.
LIST_SEPARATOR = "|"

# Sane bounds of values (beyond them a value is a typo or garbage, and could overflow the database or
# the engine). Yuan amounts: at most 100 million per stay or group average; Numeric(14, 2) would hold more.
MAX_YUAN = 100_000_000
# Hours of ICU care or ventilation: ten years.
MAX_HOURS = 87_840
# Every date of a claim, hospital or group table.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)
# Longest id and text values, and most codes in one list cell.
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 200
MAX_LIST_ITEMS = 100


@dataclass(frozen=True)
class Field:
    """One column of an interchange file.

    `type` is one of: id (`ID_RE`, at most `MAX_ID_CHARS`), text (no control characters, at most
    `MAX_TEXT_CHARS`), int, decimal, date (`EARLIEST_DATE` to `LATEST_DATE`), bool, list (of codes, at
    most `MAX_LIST_ITEMS`), region (6-digit code), dx (ICD-10 医保版 code), px (ICD-9-CM-3 code), enum
    (one of `choices`). For a list, `item` names the type of each element (dx or px). Numbers lie
    between `minimum` and `maximum`.
    """

    name: str
    type: str
    required: bool
    label: str
    choices: tuple[str, ...] = ()
    item: str | None = None
    minimum: float | None = None
    maximum: float | None = None


CLAIM_FIELDS: tuple[Field, ...] = (
    Field("claim_id", "id", True, "结算清单流水号"),
    Field("patient_id", "id", True, "人员编号"),
    Field("gender", "enum", True, "性别", ("1", "2")),
    Field("age", "int", True, "年龄", minimum=0, maximum=150),
    Field("age_days", "int", False, "年龄（天）", minimum=0, maximum=365),
    Field("newborn_weight_g", "int", False, "新生儿出生体重（克）", minimum=0, maximum=10_000),
    Field("insured_region", "region", True, "参保地"),
    Field("treatment_region", "region", True, "就医地"),
    Field("insurance_type", "enum", True, "险种", ("employee", "resident")),
    Field("hospital_id", "id", True, "定点医疗机构编码"),
    Field("dept_code", "text", False, "出院科别"),
    Field("admit_date", "date", True, "入院日期"),
    Field("discharge_date", "date", True, "出院日期"),
    Field("admission_route", "enum", False, "入院途径", ("1", "2", "3", "9")),
    Field("discharge_mode", "enum", True, "离院方式", ("1", "2", "3", "4", "5", "9")),
    Field("readmit_plan_31d", "enum", False, "出院31天内再住院计划", ("1", "2")),
    Field("principal_dx", "dx", True, "主要诊断"),
    Field("secondary_dx", "list", False, "其他诊断", item="dx"),
    Field("procedures", "list", False, "手术及操作", item="px"),
    Field("icu_hours", "decimal", False, "重症监护时长（小时）", minimum=0, maximum=MAX_HOURS),
    Field("ventilator_hours", "decimal", False, "有创呼吸机使用时长（小时）", minimum=0, maximum=MAX_HOURS),
    Field("payment_scheme", "enum", True, "支付方式", ("DRG", "DIP", "PER_DIEM", "FFS")),
    # Required for DRG/DIP claims only; the importer checks that rule.
    Field("group_code", "id", False, "病组编码"),
    Field("total_cost", "decimal", True, "医疗费总额", minimum=0, maximum=MAX_YUAN),
    Field("fund_paid", "decimal", False, "统筹基金支付", minimum=0, maximum=MAX_YUAN),
    Field("self_pay", "decimal", False, "个人自付", minimum=0, maximum=MAX_YUAN),
    Field("self_expense", "decimal", False, "个人自费", minimum=0, maximum=MAX_YUAN),
    Field("outside_purchase", "decimal", False, "院外购药", minimum=0, maximum=MAX_YUAN),
    Field("fee_drug", "decimal", False, "药品费", minimum=0, maximum=MAX_YUAN),
    Field("fee_material", "decimal", False, "耗材费", minimum=0, maximum=MAX_YUAN),
    Field("fee_lab", "decimal", False, "化验费", minimum=0, maximum=MAX_YUAN),
    Field("fee_exam", "decimal", False, "检查费", minimum=0, maximum=MAX_YUAN),
    Field("fee_treatment", "decimal", False, "治疗费", minimum=0, maximum=MAX_YUAN),
    Field("fee_surgery", "decimal", False, "手术费", minimum=0, maximum=MAX_YUAN),
    Field("fee_nursing", "decimal", False, "护理费", minimum=0, maximum=MAX_YUAN),
    Field("fee_bed", "decimal", False, "床位费", minimum=0, maximum=MAX_YUAN),
    Field("fee_other", "decimal", False, "其他费", minimum=0, maximum=MAX_YUAN),
)

FEE_FIELDS: tuple[str, ...] = tuple(f.name for f in CLAIM_FIELDS if f.name.startswith("fee_"))
GROUPED_SCHEMES: tuple[str, ...] = ("DRG", "DIP")

HOSPITAL_FIELDS: tuple[Field, ...] = (
    Field("hospital_id", "id", True, "定点医疗机构编码"),
    Field("name", "text", True, "机构名称"),
    Field("region", "region", True, "所在统筹区"),
    Field("level", "enum", True, "医院等级", ("1", "2", "3")),
    Field("designated_on", "date", False, "定点日期"),
    Field("regional_center", "bool", False, "区域医疗中心"),
)

GROUP_FIELDS: tuple[Field, ...] = (
    Field("region", "region", True, "发布统筹区"),
    Field("scheme", "enum", True, "付费方式", ("DRG", "DIP")),
    Field("group_code", "id", True, "病组编码"),
    Field("name", "text", False, "病组名称"),
    Field("weight", "decimal", True, "权重/分值", minimum=0, maximum=1_000_000),
    Field("avg_cost", "decimal", True, "次均费用", minimum=0, maximum=MAX_YUAN),
    Field("avg_los", "decimal", False, "平均住院日", minimum=0, maximum=3660),
)

FIELDS_BY_KIND: dict[str, tuple[Field, ...]] = {
    "claims": CLAIM_FIELDS,
    "hospitals": HOSPITAL_FIELDS,
    "groups": GROUP_FIELDS,
}

# The families of DATA-CONTRACT "Screening output"; a rule file may declare more.
FAMILIES: tuple[str, ...] = (
    "split_hospitalization",
    "upcoding",
    "outlier_review",
    "cost_shifting",
    "low_standard_admission",
    "frequent_admission",
    "long_stay",
    "coaching_period",
    "data_quality",
)
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
ACTIONS: tuple[str, ...] = ("note", "hold", "deduct", "special_review")


def field_map(kind: str) -> dict[str, Field]:
    """Fields of one input kind (claims, hospitals, groups) by name."""
    return {f.name: f for f in FIELDS_BY_KIND[kind]}


# How a claim's insured region relates to its treatment region.
LOCAL, CROSS_REGION, CROSS_PROVINCE = "local", "cross_region", "cross_province"


def region_relation(insured_region: str, treatment_region: str) -> str:
    """local (same pooling region), cross_region (another region of the same province: the first two
    digits match) or cross_province (insured in another province)."""
    if insured_region == treatment_region:
        return LOCAL
    if insured_region[:2] == treatment_region[:2]:
        return CROSS_REGION
    return CROSS_PROVINCE


def is_cross_region(insured_region: str, treatment_region: str) -> bool:
    """An in-province cross-region claim (省内异地): the regions differ, the province is the same."""
    return region_relation(insured_region, treatment_region) == CROSS_REGION
