"""The fixed interchange formats of DATA-CONTRACT.md: field names, types, requirements and code shapes.

Everything that reads or checks claims, hospitals or groups (the importer, the screen-from-files path, the
rule language's field list) takes the field definitions from here, so a field is described once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from drgaudit.labels import CLAIM_LABELS, GROUP_LABELS, HOSPITAL_LABELS

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
    between `minimum` and `maximum`. The Chinese `label` comes from the one vocabulary, `drgaudit.labels`.
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
    Field("claim_id", "id", True, CLAIM_LABELS["claim_id"]),
    Field("patient_id", "id", True, CLAIM_LABELS["patient_id"]),
    Field("gender", "enum", True, CLAIM_LABELS["gender"], ("1", "2")),
    Field("age", "int", True, CLAIM_LABELS["age"], minimum=0, maximum=150),
    Field("age_days", "int", False, CLAIM_LABELS["age_days"], minimum=0, maximum=365),
    Field("newborn_weight_g", "int", False, CLAIM_LABELS["newborn_weight_g"], minimum=0, maximum=10_000),
    Field("insured_region", "region", True, CLAIM_LABELS["insured_region"]),
    Field("treatment_region", "region", True, CLAIM_LABELS["treatment_region"]),
    Field("insurance_type", "enum", True, CLAIM_LABELS["insurance_type"], ("employee", "resident")),
    Field("hospital_id", "id", True, CLAIM_LABELS["hospital_id"]),
    Field("dept_code", "text", False, CLAIM_LABELS["dept_code"]),
    Field("admit_date", "date", True, CLAIM_LABELS["admit_date"]),
    Field("discharge_date", "date", True, CLAIM_LABELS["discharge_date"]),
    Field("admission_route", "enum", False, CLAIM_LABELS["admission_route"], ("1", "2", "3", "9")),
    Field("discharge_mode", "enum", True, CLAIM_LABELS["discharge_mode"], ("1", "2", "3", "4", "5", "9")),
    Field("readmit_plan_31d", "enum", False, CLAIM_LABELS["readmit_plan_31d"], ("1", "2")),
    Field("principal_dx", "dx", True, CLAIM_LABELS["principal_dx"]),
    Field("secondary_dx", "list", False, CLAIM_LABELS["secondary_dx"], item="dx"),
    Field("procedures", "list", False, CLAIM_LABELS["procedures"], item="px"),
    Field("icu_hours", "decimal", False, CLAIM_LABELS["icu_hours"], minimum=0, maximum=MAX_HOURS),
    Field(
        "ventilator_hours", "decimal", False, CLAIM_LABELS["ventilator_hours"], minimum=0, maximum=MAX_HOURS
    ),
    Field("payment_scheme", "enum", True, CLAIM_LABELS["payment_scheme"], ("DRG", "DIP", "PER_DIEM", "FFS")),
    # Required for DRG/DIP claims only; the importer checks that rule.
    Field("group_code", "id", False, CLAIM_LABELS["group_code"]),
    Field("total_cost", "decimal", True, CLAIM_LABELS["total_cost"], minimum=0, maximum=MAX_YUAN),
    Field("fund_paid", "decimal", False, CLAIM_LABELS["fund_paid"], minimum=0, maximum=MAX_YUAN),
    Field("self_pay", "decimal", False, CLAIM_LABELS["self_pay"], minimum=0, maximum=MAX_YUAN),
    Field("self_expense", "decimal", False, CLAIM_LABELS["self_expense"], minimum=0, maximum=MAX_YUAN),
    Field(
        "outside_purchase", "decimal", False, CLAIM_LABELS["outside_purchase"], minimum=0, maximum=MAX_YUAN
    ),
    Field("fee_drug", "decimal", False, CLAIM_LABELS["fee_drug"], minimum=0, maximum=MAX_YUAN),
    Field("fee_material", "decimal", False, CLAIM_LABELS["fee_material"], minimum=0, maximum=MAX_YUAN),
    Field("fee_lab", "decimal", False, CLAIM_LABELS["fee_lab"], minimum=0, maximum=MAX_YUAN),
    Field("fee_exam", "decimal", False, CLAIM_LABELS["fee_exam"], minimum=0, maximum=MAX_YUAN),
    Field("fee_treatment", "decimal", False, CLAIM_LABELS["fee_treatment"], minimum=0, maximum=MAX_YUAN),
    Field("fee_surgery", "decimal", False, CLAIM_LABELS["fee_surgery"], minimum=0, maximum=MAX_YUAN),
    Field("fee_nursing", "decimal", False, CLAIM_LABELS["fee_nursing"], minimum=0, maximum=MAX_YUAN),
    Field("fee_bed", "decimal", False, CLAIM_LABELS["fee_bed"], minimum=0, maximum=MAX_YUAN),
    Field("fee_other", "decimal", False, CLAIM_LABELS["fee_other"], minimum=0, maximum=MAX_YUAN),
)

FEE_FIELDS: tuple[str, ...] = tuple(f.name for f in CLAIM_FIELDS if f.name.startswith("fee_"))
GROUPED_SCHEMES: tuple[str, ...] = ("DRG", "DIP")

HOSPITAL_FIELDS: tuple[Field, ...] = (
    Field("hospital_id", "id", True, HOSPITAL_LABELS["hospital.hospital_id"]),
    Field("name", "text", True, HOSPITAL_LABELS["hospital.name"]),
    Field("region", "region", True, HOSPITAL_LABELS["hospital.region"]),
    Field("level", "enum", True, HOSPITAL_LABELS["hospital.level"], ("1", "2", "3")),
    Field("designated_on", "date", False, HOSPITAL_LABELS["hospital.designated_on"]),
    Field("regional_center", "bool", False, HOSPITAL_LABELS["hospital.regional_center"]),
)

GROUP_FIELDS: tuple[Field, ...] = (
    Field("region", "region", True, GROUP_LABELS["group.region"]),
    Field("scheme", "enum", True, GROUP_LABELS["group.scheme"], ("DRG", "DIP")),
    Field("group_code", "id", True, GROUP_LABELS["group.group_code"]),
    Field("name", "text", False, GROUP_LABELS["group.name"]),
    Field("weight", "decimal", True, GROUP_LABELS["group.weight"], minimum=0, maximum=1_000_000),
    Field("avg_cost", "decimal", True, GROUP_LABELS["group.avg_cost"], minimum=0, maximum=MAX_YUAN),
    Field("avg_los", "decimal", False, GROUP_LABELS["group.avg_los"], minimum=0, maximum=3660),
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
