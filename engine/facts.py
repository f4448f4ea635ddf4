"""Derives, once per claim, every fact of the vocabulary from the claim, its hospital, group and history."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drgaudit.contract import CLAIM_FIELDS, CROSS_PROVINCE, CROSS_REGION, GROUPED_SCHEMES, region_relation
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.exceptions import UnconfiguredRegionError
from drgaudit.engine.indicators import NO_INDICATORS
from drgaudit.engine.pack import RulePack
from drgaudit.engine.payment import (
    UNKNOWN,
    PaymentEstimate,
    RatioLimits,
    fee_for_service_payment,
    group_standard,
    grouped_payment,
    per_diem_payment,
    ratio_limits,
    ungroupable_payment,
)
from drgaudit.engine.regionsettings import RegionSettings
from drgaudit.engine.vocabulary import ZERO_WHEN_MISSING

_EMPTY_CLAIM: dict[str, Any] = {f.name: None for f in CLAIM_FIELDS}
_CLAIM_DATES = tuple(f.name for f in CLAIM_FIELDS if f.type == "date")
_FEE_KEYS = (
    "fee_drug",
    "fee_material",
    "fee_lab",
    "fee_exam",
    "fee_treatment",
    "fee_surgery",
    "fee_nursing",
    "fee_bed",
    "fee_other",
)
UNGROUPABLE = ("0000", "QY")
# 离院方式 2 医嘱转院 (the settlement list's code): the patient left for another hospital.
TRANSFER_OUT = "2"
# The second character of a CHS-DRG ADRG code tells its kind: A-J surgical, K-Q non-OR procedure, R-Z medical.
_SURGICAL, _PROCEDURE = "ABCDEFGHIJ", "KLMNOPQ"
_UNKNOWN_PAYMENT = PaymentEstimate(None, UNKNOWN, None)


@dataclass
class ReferenceData:
    """What facts are derived against: hospitals, group tables, code tables and the rule pack's settings.

    The facts that come from a hospital or a group-table entry are worked out once per hospital and per
    entry and reused for every claim.
    """

    hospitals: dict[str, dict[str, Any]]
    groups: dict[tuple[str, str, str], dict[str, Any]]
    codes: CodeTables
    pack: RulePack
    # hospital id -> its case-mix indicators over the screened batch (engine.indicators)
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    _siblings: dict[tuple[str, str, str], list[tuple[str, float]]] = field(default_factory=dict, repr=False)
    _hospital_facts: dict[str, tuple[dict[str, Any], int | None, dt.date | None]] = field(
        default_factory=dict, repr=False
    )
    _group_facts: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict, repr=False)
    _payments: dict[tuple[Any, ...], float | None] = field(default_factory=dict, repr=False)
    _limits: dict[tuple[str, str, float | None], RatioLimits | None] = field(default_factory=dict, repr=False)
    _pricing: dict[str, tuple[RegionSettings, bool]] = field(default_factory=dict, repr=False)
    # Memos of the pre-filter's column facts (`engine.columns.ColumnFacts.memo`), kept across chunks: values
    # that depend only on a code or a group entry, worked out once per screener.
    column_memo: dict[str, dict[Any, Any]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for (region, scheme, code), group in sorted(self.groups.items()):
            self._siblings.setdefault((region, scheme, code[:3]), []).append((code, float(group["weight"])))

    def siblings(self, region: str, scheme: str, code: str) -> list[tuple[str, float]]:
        """Groups of the same core group (ADRG) in a region's table."""
        return self._siblings.get((region, scheme, code[:3]), [])

    def hospital_facts(self, hospital_id: str) -> tuple[dict[str, Any], int | None, dt.date | None]:
        """The hospital.* facts of a hospital, its level and its designation date."""
        cached = self._hospital_facts.get(hospital_id)
        if cached is None:
            hospital = self.hospitals.get(hospital_id)
            if hospital is None:
                cached = (
                    {**_UNKNOWN_HOSPITAL, **self.indicators.get(hospital_id, NO_INDICATORS)},
                    None,
                    None,
                )
            else:
                level = int(hospital["level"]) if hospital.get("level") is not None else None
                designated = hospital.get("designated_on")
                facts = {
                    "hospital__known": True,
                    "hospital__regional_center": bool(hospital.get("regional_center")),
                    "hospital__name": hospital.get("name"),
                    "hospital__region": hospital.get("region"),
                    "hospital__level": level,
                    "hospital__designated_on": to_ordinal(designated),
                    "hospital__coaching_until": to_ordinal(hospital.get("coaching_until")),
                    **self.indicators.get(hospital_id, NO_INDICATORS),
                }
                cached = (facts, level, designated)
            self._hospital_facts[hospital_id] = cached
        return cached

    def group_facts(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        """The group.* facts of a group-table entry, or None when the region's table lacks it."""
        cached = self._group_facts.get(key)
        if cached is None:
            group = self.groups.get(key)
            if group is None:
                return None
            weight = float(group["weight"])
            avg_los = group.get("avg_los")
            siblings = self.siblings(*key)
            base_weight = min((w for _, w in siblings), default=weight)
            # The ADRG's group "with CC" (severity digit 3), where a claim whose valid complications are
            # CCs only belongs; an ADRG split only into 1/5 sends such a claim to its base group.
            cc_group = key[2][:3] + "3"
            cached = {
                "group__known": True,
                "group__name": group.get("name"),
                "group__weight": weight,
                "group__avg_cost": float(group["avg_cost"]),
                "group__avg_los": float(avg_los) if avg_los is not None else None,
                "group__siblings": [code for code, _ in siblings],
                "group__base_weight": base_weight,
                "group__cc_weight": next((w for code, w in siblings if code == cc_group), base_weight),
            }
            self._group_facts[key] = cached
        return cached

    def pricing(self, region: str, *, strict: bool = True) -> tuple[RegionSettings, bool]:
        """The settings that price a claim treated in `region`, and whether they are placeholders.

        A region without its own file is priced on the national defaults only when the pack allows it
        (`allow_placeholder_rates`); otherwise a claim of the batch (`strict`) stops screening with an
        error naming the region. Context claims (earlier stays) are never refused, only marked.
        """
        cached = self._pricing.get(region)
        if cached is None:
            configured = region in self.pack.regions
            cached = (self.pack.region(region).typed, not configured)
            self._pricing[region] = cached
        if cached[1] and strict and not self.pack.allow_placeholder_rates:
            raise UnconfiguredRegionError([region])
        return cached

    def group_standard(
        self, key: tuple[str, str, str], weight: float, level: int | None, relation: str, basic: bool
    ) -> float | None:
        """The group standard payment in the treatment region (see engine.payment), memoised."""
        memo = (key, level, relation, basic)
        if memo not in self._payments:
            settings, _ = self.pricing(key[0], strict=False)
            self._payments[memo] = group_standard(settings, key[1], weight, level, relation, basic=basic)
        return self._payments[memo]

    def ratio_limits(self, region: str, scheme: str, weight: float | None) -> RatioLimits | None:
        """The region's high/low/extreme cost-ratio thresholds of a scheme (and group weight), memoised."""
        memo = (region, scheme, weight)
        if memo not in self._limits:
            settings, _ = self.pricing(region, strict=False)
            self._limits[memo] = ratio_limits(settings, scheme, weight)
        return self._limits[memo]


_UNKNOWN_HOSPITAL: dict[str, Any] = {
    "hospital__known": False,
    "hospital__regional_center": False,
    "hospital__name": None,
    "hospital__region": None,
    "hospital__level": None,
    "hospital__designated_on": None,
    "hospital__coaching_until": None,
}
_NO_GROUP: dict[str, Any] = {
    "group__known": False,
    "group__name": None,
    "group__weight": None,
    "group__avg_cost": None,
    "group__avg_los": None,
    "group__base_weight": None,
    "group__cc_weight": None,
    "cost_ratio": None,
    "los_ratio": None,
    "case_payment": None,
}
_NO_LIMITS: dict[str, Any] = {
    "high_ratio_limit": None,
    "low_ratio_limit": None,
    "extreme_ratio_limit": None,
    "high_ratio_tier": None,
}


def to_ordinal(value: dt.date | None) -> int | None:
    """Dates travel through the engine as day numbers so that subtracting two gives days."""
    return value.toordinal() if value is not None else None


def sort_key(claim: dict[str, Any]) -> tuple[Any, ...]:
    """The order of a patient's claims: admission, then discharge, then id."""
    return (claim["admit_date"], claim["discharge_date"], claim["claim_id"])


def is_ungroupable(group_code: str | None) -> bool:
    """Group 0000 (cannot be grouped) or an ambiguous QY/*QY group."""
    if not group_code:
        return False
    return group_code == UNGROUPABLE[0] or group_code.upper().endswith(UNGROUPABLE[1])


def group_type(group_code: str) -> str | None:
    """surgical, procedure or medical, from the second character of a DRG code (None if not a letter)."""
    kind = group_code[1:2].upper()
    if not kind.isalpha():
        return None
    return "surgical" if kind in _SURGICAL else "procedure" if kind in _PROCEDURE else "medical"


@dataclass(frozen=True)
class GroupParts:
    """What a claim's payment scheme and group code say about its grouping (one definition, used per
    claim here and per distinct code by the column facts of the pre-filter)."""

    grouped: bool  # DRG/DIP with a real group
    ungroupable: bool  # DRG/DIP in group 0000 or an ambiguous QY group
    adrg: str | None
    severity: str | None
    group_type: str | None


@functools.lru_cache(maxsize=4096)  # per claim, over a few hundred distinct (scheme, code) pairs
def group_parts(scheme: str, group_code: str) -> GroupParts:
    """The grouping facts of a payment scheme and group code ("" when the claim has none)."""
    ungroupable = scheme in GROUPED_SCHEMES and is_ungroupable(group_code)
    grouped = scheme in GROUPED_SCHEMES and group_code != "" and not ungroupable
    return GroupParts(
        grouped,
        ungroupable,
        group_code[:3] if grouped else None,
        group_code[-1] if grouped and group_code[-1].isdigit() else None,
        group_type(group_code) if grouped and scheme == "DRG" else None,
    )


def claim_facts(claim: dict[str, Any], ref: ReferenceData, *, target: bool = True) -> dict[str, Any]:
    """Facts that depend on one claim alone (no history); `target`: a claim of the batch, not context."""
    f: dict[str, Any] = {**_EMPTY_CLAIM, **claim}
    for key in ZERO_WHEN_MISSING:
        if f[key] is None:
            f[key] = 0.0
    secondary = tuple(claim.get("secondary_dx") or ())
    procedures = tuple(claim.get("procedures") or ())
    f["secondary_dx"] = list(secondary)
    f["procedures"] = list(procedures)
    admit, discharge = claim["admit_date"], claim["discharge_date"]
    for key in _CLAIM_DATES:
        if f[key] is not None:
            f[key] = f[key].toordinal()
    f["los_days"] = max(1, (discharge - admit).days)
    relation = region_relation(claim["insured_region"], claim["treatment_region"])
    f["region_relation"] = relation
    f["is_cross_region"] = relation == CROSS_REGION
    f["is_cross_province"] = relation == CROSS_PROVINCE
    principal = claim["principal_dx"]
    f["dx_category"] = principal[:3]
    group_code: str = claim.get("group_code") or ""
    scheme = claim["payment_scheme"]
    grouping = group_parts(scheme, group_code)
    grouped, ungroupable = grouping.grouped, grouping.ungroupable
    f["adrg"] = grouping.adrg
    f["group_severity"] = grouping.severity
    f["is_ungroupable"] = ungroupable
    f["secondary_dx_count"] = len(secondary)
    f["procedure_count"] = len(procedures)

    complications = ref.codes.complications(principal, secondary)
    f["mcc_codes"] = list(complications.mcc)
    f["cc_codes"] = list(complications.cc)
    f["mcc_count"] = len(complications.mcc)
    f["cc_count"] = len(complications.cc)
    f["excluded_cc_codes"] = list(complications.excluded)
    unknown = ref.codes.unknown_codes([principal, *secondary], list(procedures))
    f["unknown_codes"] = unknown
    f["unknown_code_count"] = len(unknown)

    total = float(claim["total_cost"])
    fee_total = sum(map(f.__getitem__, _FEE_KEYS))
    f["fee_total"] = round(fee_total, 2)
    # Outside purchases count in the case's cost (NHSA May 2025 notice): cost ratio and payment use it.
    cost = total + f["outside_purchase"]
    f["case_cost"] = round(cost, 2)
    f["self_share"] = (f["self_expense"] + f["outside_purchase"]) / total if total > 0 else None
    f["lab_exam_share"] = (f["fee_lab"] + f["fee_exam"]) / total if total > 0 else None
    f["drug_share"] = f["fee_drug"] / total if total > 0 else None
    f["material_share"] = f["fee_material"] / total if total > 0 else None

    hospital, level, designated = ref.hospital_facts(claim["hospital_id"])
    f.update(hospital)
    f["days_since_designation"] = (admit - designated).days if designated else None

    f["group_type"] = grouping.group_type
    _price(f, claim, ref, target=target, grouped=grouped, ungroupable=ungroupable, level=level)
    return f


def _price(
    f: dict[str, Any],
    claim: dict[str, Any],
    ref: ReferenceData,
    *,
    target: bool,
    grouped: bool,
    ungroupable: bool,
    level: int | None,
) -> None:
    """The group facts, cost ratio, thresholds and payment estimate of one claim (engine.payment)."""
    region, scheme = claim["treatment_region"], claim["payment_scheme"]
    group_code: str = claim.get("group_code") or ""
    settings, placeholder = ref.pricing(region, strict=target)
    f["payment_placeholder"] = placeholder
    total, cost = float(claim["total_cost"]), f["case_cost"]
    key = (region, scheme, group_code)
    group = ref.group_facts(key) if grouped else None
    basic = grouped and settings.is_basic_disease_group(scheme, group_code)
    f["is_basic_disease_group"] = basic
    limits = ref.ratio_limits(region, scheme, group["group__weight"] if group else None) if grouped else None
    if limits is not None:
        f["high_ratio_limit"], f["low_ratio_limit"], f["extreme_ratio_limit"] = (
            limits.high,
            limits.low,
            limits.extreme,
        )
        f["high_ratio_tier"] = limits.tier
    else:
        f.update(_NO_LIMITS)
    by_items = f["is_cross_province"] and settings.cross_province_payment == "fee_for_service"
    if group:
        f.update(group)
        avg_cost, avg_los = group["group__avg_cost"], group["group__avg_los"]
        f["cost_ratio"] = cost / avg_cost if avg_cost > 0 else None
        f["los_ratio"] = f["los_days"] / avg_los if avg_los else None
        standard = ref.group_standard(key, group["group__weight"], level, f["region_relation"], basic)
        f["case_payment"] = None if by_items else standard
        assert limits is not None
        estimate = (
            fee_for_service_payment(total)
            if by_items
            else grouped_payment(settings, scheme, standard, limits, cost, total, avg_cost)
        )
    else:
        f.update(_NO_GROUP)
        f["group__siblings"] = []
        if by_items or scheme == "FFS":
            estimate = fee_for_service_payment(total)
        elif ungroupable:
            estimate = ungroupable_payment(settings, total)
        elif scheme == "PER_DIEM":
            estimate = per_diem_payment(settings, f["los_days"], claim.get("dept_code"), level)
        else:
            estimate = _UNKNOWN_PAYMENT
    f["payment_estimate"] = estimate.amount
    f["payment_kind"] = estimate.kind


Stay = TypeVar("Stay", bound=Mapping[str, Any])


def previous_stays(stays: Sequence[Stay]) -> list[tuple[Stay | None, Stay | None]]:
    """For each of one patient's stays (in `sort_key` order): the stay discharged last on or before its
    admission at any hospital, and at its own hospital (None when there is none).

    The one definition of "readmission" (days since the previous discharge from the same hospital), used
    by the history facts of rules and by the monitoring report's readmission rate.
    """
    result: list[tuple[Stay | None, Stay | None]] = []
    for index, current in enumerate(stays):
        admit = current["admit_date"]
        prev: Stay | None = None
        prev_same: Stay | None = None
        for earlier in stays[:index]:
            if earlier["discharge_date"] > admit:
                continue
            if prev is None or earlier["discharge_date"] >= prev["discharge_date"]:
                prev = earlier
            if earlier["hospital_id"] == current["hospital_id"] and (
                prev_same is None or earlier["discharge_date"] >= prev_same["discharge_date"]
            ):
                prev_same = earlier
        result.append((prev, prev_same))
    return result


def add_history_facts(facts: list[dict[str, Any]], windows: Iterable[int] = ()) -> None:
    """Facts about each claim's earlier stays, over one patient's claims sorted by `sort_key`."""
    all_windows = sorted({90, 365, *windows})
    # (admission, principal diagnosis, days since a discharge by transfer to another hospital or None)
    # of every stay, shared by the patient's facts: episodes_within() counts episodes of care from it.
    stays: list[tuple[int, str, int | None]] = []
    for index, (current, (prev, prev_same)) in enumerate(zip(facts, previous_stays(facts), strict=True)):
        current["seq"] = index
        transferred = (
            prev is not None
            and prev.get("discharge_mode") == TRANSFER_OUT
            and prev["hospital_id"] != current["hospital_id"]
        )
        stays.append(
            (
                current["admit_date"],
                current["principal_dx"],
                current["admit_date"] - prev["discharge_date"] if transferred and prev else None,
            )
        )
        current["_stays"] = stays
        admit = current["admit_date"]
        current["prev_claim_id"] = prev["claim_id"] if prev else None
        current["prev_hospital_id"] = prev["hospital_id"] if prev else None
        current["prev_dx_category"] = prev["dx_category"] if prev else None
        current["days_since_prev_discharge"] = admit - prev["discharge_date"] if prev else None
        current["prev_same_hospital_claim_id"] = prev_same["claim_id"] if prev_same else None
        current["days_since_prev_discharge_same_hospital"] = (
            admit - prev_same["discharge_date"] if prev_same else None
        )
        counts = {}
        for days in all_windows:
            counts[days] = sum(
                1 for other in facts[: index + 1] if admit - days < other["admit_date"] <= admit
            )
        current["admissions_90d"] = counts[90]
        current["admissions_365d"] = counts[365]
        current["_admissions"] = counts


def patient_facts(
    claims: list[dict[str, Any]], targets: set[str], ref: ReferenceData, windows: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """Every fact of one patient's claims (history and batch), in claim order; `target` marks batch claims."""
    ordered = sorted(claims, key=sort_key)
    facts = []
    for claim in ordered:
        target = claim["claim_id"] in targets
        f = claim_facts(claim, ref, target=target)
        f["target"] = target
        facts.append(f)
    add_history_facts(facts, windows)
    return facts
