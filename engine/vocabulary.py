"""Every fact a rule can name: the claim's own fields and the facts derived once per claim.

The table is the single source for the rule checker (unknown names, types, "did you mean"), the fact
builder (which keys to fill) and the documentation (`drgaudit rules facts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drgaudit import labels
from drgaudit.contract import CLAIM_FIELDS

# Value types of the rule language.
NUMBER, TEXT, DATE, BOOL, LIST = "number", "text", "date", "bool", "list"
# The type of `lists.<name>`: a named list of `rules/lists/`, usable with `in`, any_in() and count_in().
NAMED_LIST = "named list"

_CONTRACT_TYPES = {
    "id": TEXT,
    "text": TEXT,
    "region": TEXT,
    "dx": TEXT,
    "px": TEXT,
    "enum": TEXT,
    "int": NUMBER,
    "decimal": NUMBER,
    "date": DATE,
    "bool": BOOL,
    "list": LIST,
}


@dataclass(frozen=True)
class FactDef:
    """One fact: its dotted name in rules, type, whether it can be missing, and its Chinese label and
    note from the one vocabulary (`drgaudit.labels`; a test checks that every fact has one)."""

    name: str
    type: str
    optional: bool
    note_override: str = ""
    key: str = field(init=False)

    def __post_init__(self) -> None:
        # The flat key of the fact in the dicts given to durable-rules ("group.avg_cost" -> "group__avg_cost").
        object.__setattr__(self, "key", self.name.replace(".", "__"))

    @property
    def label(self) -> str:
        return labels.label(self.name)

    @property
    def note(self) -> str:
        return self.note_override or labels.note(self.name)


# Optional amounts and hours that are taken as 0 when a claim leaves them out, so that arithmetic on
# them never meets a gap; the other optional numbers (age in days, birth weight) stay missing.
ZERO_WHEN_MISSING: tuple[str, ...] = tuple(
    f.name for f in CLAIM_FIELDS if not f.required and f.type == "decimal"
)


def _claim_facts() -> list[FactDef]:
    facts = []
    for f in CLAIM_FIELDS:
        kind = _CONTRACT_TYPES[f.type]
        optional = not f.required and kind != LIST and f.name not in ZERO_WHEN_MISSING
        facts.append(FactDef(f.name, kind, optional, "结算清单字段"))
    return facts


_DERIVED: list[FactDef] = [
    FactDef("los_days", NUMBER, False),
    FactDef("is_cross_region", BOOL, False),
    FactDef("is_cross_province", BOOL, False),
    FactDef("region_relation", TEXT, False),
    FactDef("dx_category", TEXT, False),
    FactDef("adrg", TEXT, True),
    FactDef("group_severity", TEXT, True),
    FactDef("is_ungroupable", BOOL, False),
    FactDef("secondary_dx_count", NUMBER, False),
    FactDef("procedure_count", NUMBER, False),
    FactDef("mcc_codes", LIST, False),
    FactDef("cc_codes", LIST, False),
    FactDef("mcc_count", NUMBER, False),
    FactDef("cc_count", NUMBER, False),
    FactDef("excluded_cc_codes", LIST, False),
    FactDef("unknown_codes", LIST, False),
    FactDef("unknown_code_count", NUMBER, False),
    FactDef("fee_total", NUMBER, False),
    FactDef("case_cost", NUMBER, False),
    FactDef("self_share", NUMBER, True),
    FactDef("lab_exam_share", NUMBER, True),
    FactDef("drug_share", NUMBER, True),
    FactDef("material_share", NUMBER, True),
    FactDef("cost_ratio", NUMBER, True),
    FactDef("los_ratio", NUMBER, True),
    FactDef("case_payment", NUMBER, True),
    FactDef("payment_estimate", NUMBER, True),
    FactDef("payment_kind", TEXT, False),
    FactDef("high_ratio_limit", NUMBER, True),
    FactDef("high_ratio_tier", TEXT, True),
    FactDef("is_basic_disease_group", BOOL, False),
    FactDef("payment_placeholder", BOOL, False),
    FactDef("low_ratio_limit", NUMBER, True),
    FactDef("extreme_ratio_limit", NUMBER, True),
    FactDef("group_type", TEXT, True),
    FactDef("days_since_designation", NUMBER, True),
    FactDef("hospital.known", BOOL, False),
    FactDef("hospital.name", TEXT, True),
    FactDef("hospital.region", TEXT, True),
    FactDef("hospital.level", NUMBER, True),
    FactDef("hospital.designated_on", DATE, True),
    FactDef("hospital.regional_center", BOOL, False),
    FactDef("hospital.coaching_until", DATE, True),
    FactDef("hospital.cross_drg_cases", NUMBER, False),
    FactDef("hospital.cross_cc_mcc_share", NUMBER, True),
    FactDef("hospital.cross_cc_mcc_share_rank", NUMBER, True),
    FactDef("hospital.peer_cc_mcc_share_median", NUMBER, True),
    FactDef("hospital.cc_mcc_share_excess", NUMBER, True),
    FactDef("group.known", BOOL, False),
    FactDef("group.name", TEXT, True),
    FactDef("group.weight", NUMBER, True),
    FactDef("group.avg_cost", NUMBER, True),
    FactDef("group.avg_los", NUMBER, True),
    FactDef("group.siblings", LIST, False),
    FactDef("group.base_weight", NUMBER, True),
    FactDef("group.cc_weight", NUMBER, True),
    FactDef("prev_claim_id", TEXT, True),
    FactDef("prev_hospital_id", TEXT, True),
    FactDef("prev_dx_category", TEXT, True),
    FactDef("days_since_prev_discharge", NUMBER, True),
    FactDef("prev_same_hospital_claim_id", TEXT, True),
    FactDef("days_since_prev_discharge_same_hospital", NUMBER, True),
    FactDef("admissions_90d", NUMBER, False),
    FactDef("admissions_365d", NUMBER, False),
]

FACTS: dict[str, FactDef] = {f.name: f for f in _claim_facts() + _DERIVED}

# Namespaces of dotted names that are not facts.
PARAMS, REGION, LISTS, EARLIER = "params", "region", "lists", "earlier"
NAMESPACES = (PARAMS, REGION, LISTS, EARLIER, "hospital", "group")

# Keys every fact dict carries for the engine's own bookkeeping.
INTERNAL_KEYS = ("kind", "claim_id", "seq", "target", "_t")


def param_labels(rule: Any) -> dict[str, str]:
    """Chinese labels of a rule's parameters (`params.x`: the description its file gives), for
    `drgaudit.labels.label(name, extra=...)`."""
    return {
        f"{PARAMS}.{name}": param.description or labels.label(f"{PARAMS}.{name}")
        for name, param in getattr(rule, "params", {}).items()
    }
