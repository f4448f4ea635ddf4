"""The payment a claim earns under its treatment region's DRG/DIP rules, from the region's settings.

Every number comes from the region configuration (`rules/regions/*.yaml`, national defaults first;
declared in `engine.regionsettings`):

- group standard: DRG weight x `drg_rate`, or DIP score x `dip_point_value`, times the hospital-level
  coefficient (`level_coefficients`) — except for the region's basic-disease groups
  (`basic_disease_groups`, 基层病种 "同城同病同价"), paid alike at every level, with no level
  coefficient — and, for an in-province cross-region claim, `cross_region_coefficient`;
- the case's cost is the hospital's total cost plus what the patient was sent to buy outside
  (`outside_purchase`, NHSA May 2025 notice (六)): the cost ratio, the high/low-ratio classification
  and the formulas below use it; what is paid by items (low-ratio DRG cases, ungroupable cases,
  fee-for-service) is what the hospital billed (`total_cost`);
- high-ratio case (cost >= the high ratio x the group average; DRG: `drg_high_ratio`, one number or
  tiers by group weight; DIP: `dip_high_ratio`; above `drg_extreme_ratio` / `dip_extreme_ratio` it is
  an extreme case for expert review, paid the same way): DRG pays the standard plus
  `drg_high_excess_share` of the cost above the threshold; DIP pays the score times (cost ratio - high
  ratio + 1), as the national DIP technical specification does;
- low-ratio case (cost <= `drg_low_ratio` / `dip_low_ratio` x the average): DRG pays the billed cost
  times `drg_low_payment_share` (by items); DIP pays the score times the cost ratio;
- per-diem case: days x `per_diem_rates[dept_code]` (psychiatric, rehabilitation, hospice, …; a
  sub-specialty code takes its department's rate, A15.01 that of A15; a department written by name takes
  the rate of the name it begins with, 精神卫生科 that of 精神; else `per_diem_rate`) x the level
  coefficient;
- ungroupable (0000) and ambiguous (QY) cases: the billed cost times `ungroupable_payment_share`;
- cross-province claims (insured in another province): by items (`cross_province_payment:
  fee_for_service`, the default) or by the group standard times `cross_province_coefficient`
  (`group`); never with the in-province cross-region coefficient;
- fee-for-service: the billed cost.

A treatment region with no file of its own is priced on the national defaults only when the pack says
so (`allow_placeholder_rates` in pack.yaml); the estimate then says the rates are placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass

from drgaudit.contract import CROSS_PROVINCE, CROSS_REGION
from drgaudit.engine.regionsettings import RegionSettings

STANDARD, HIGH, LOW, EXTREME = "standard", "high_ratio", "low_ratio", "extreme"
PER_DIEM, UNGROUPABLE, FEE_FOR_SERVICE, UNKNOWN = "per_diem", "ungroupable", "fee_for_service", "unknown"
PAYMENT_KINDS = (STANDARD, HIGH, LOW, EXTREME, PER_DIEM, UNGROUPABLE, FEE_FOR_SERVICE, UNKNOWN)


@dataclass(frozen=True)
class RatioLimits:
    """The high, low and extreme cost-ratio thresholds of one scheme (and group weight) in one region."""

    high: float
    low: float
    extreme: float
    tier: str | None = None  # the DRG weight tier that gave `high`, when the region tiers it


@dataclass(frozen=True)
class PaymentEstimate:
    """The estimated payment of one claim, how it was reached and the group standard it started from."""

    amount: float | None
    kind: str
    standard: float | None


def ratio_limits(settings: RegionSettings, scheme: str, weight: float | None) -> RatioLimits | None:
    """The cost-ratio thresholds of a grouped scheme (None for per-diem and fee-for-service)."""
    if scheme == "DRG":
        high, tier = settings.high_ratio_for(weight)
        return RatioLimits(high, settings.drg_low_ratio, settings.drg_extreme_ratio, tier)
    if scheme == "DIP":
        return RatioLimits(settings.dip_high_ratio, settings.dip_low_ratio, settings.dip_extreme_ratio)
    return None


def level_coefficient(settings: RegionSettings, level: int | None) -> float | None:
    """The payment coefficient of a hospital level, or None when the level is unknown."""
    if level is None:
        return None
    return settings.level_coefficients.get(level)  # type: ignore[call-overload, no-any-return]


def group_standard(
    settings: RegionSettings,
    scheme: str,
    weight: float,
    level: int | None,
    relation: str,
    *,
    basic: bool = False,
) -> float | None:
    """Weight (score) x rate (point value) x level coefficient (1 for a basic-disease group) x the
    cross-region (or cross-province) coefficient."""
    rate = settings.drg_rate if scheme == "DRG" else settings.dip_point_value
    coefficient = 1.0 if basic else level_coefficient(settings, level)
    if coefficient is None:
        return None
    payment = weight * rate * coefficient
    if relation == CROSS_REGION:
        payment *= settings.cross_region_coefficient
    elif relation == CROSS_PROVINCE:
        payment *= settings.cross_province_coefficient
    return round(payment, 2)


def grouped_payment(
    settings: RegionSettings,
    scheme: str,
    standard: float | None,
    limits: RatioLimits,
    cost: float,
    billed: float,
    avg_cost: float,
) -> PaymentEstimate:
    """The payment of a DRG/DIP claim in its region's table: standard, high-ratio, extreme or low-ratio.

    `cost` is the case's cost (billed plus outside purchases); `billed` the hospital's total cost.
    """
    if standard is None or avg_cost <= 0:
        return PaymentEstimate(None, UNKNOWN, standard)
    ratio = cost / avg_cost
    if ratio >= limits.high:
        kind = EXTREME if ratio > limits.extreme else HIGH
        if scheme == "DRG":
            excess = (cost - limits.high * avg_cost) * settings.drg_high_excess_share
            return PaymentEstimate(round(standard + excess, 2), kind, standard)
        return PaymentEstimate(round(standard * (ratio - limits.high + 1), 2), kind, standard)
    if ratio <= limits.low:
        if scheme == "DRG":
            return PaymentEstimate(round(billed * settings.drg_low_payment_share, 2), LOW, standard)
        return PaymentEstimate(round(standard * ratio, 2), LOW, standard)
    return PaymentEstimate(standard, STANDARD, standard)


def per_diem_rate(settings: RegionSettings, dept_code: str | None) -> float:
    """The daily rate of a discharge department: its own entry in `per_diem_rates`, else that of the
    department it is a sub-specialty of (诊疗科目 A15.01 精神病专业 is part of A15 精神科, as the rule pack's
    department lists match it), else, for a department written by its name (精神卫生科, 康复科), the
    entry of the longest name key it begins with (a key holding a non-ASCII character: 精神, 康复, as the
    department lists match names), else the region's default `per_diem_rate`."""
    rates = settings.per_diem_rates
    code = (dept_code or "").strip()
    while code:
        if code in rates:
            return float(rates[code])
        head, dot, _ = code.rpartition(".")
        code = head if dot else ""
    name = (dept_code or "").strip()
    if name and not name.isascii():
        keys = [key for key in rates if not key.isascii() and name.startswith(key)]
        if keys:
            return float(rates[max(keys, key=len)])
    return float(settings.per_diem_rate)


def per_diem_payment(
    settings: RegionSettings, days: int, dept_code: str | None, level: int | None
) -> PaymentEstimate:
    """Days x the department's (or the default) daily rate x the level coefficient."""
    rate = per_diem_rate(settings, dept_code)
    coefficient = level_coefficient(settings, level)
    if coefficient is None:
        return PaymentEstimate(None, UNKNOWN, None)
    amount = round(days * rate * coefficient, 2)
    return PaymentEstimate(amount, PER_DIEM, amount)


def ungroupable_payment(settings: RegionSettings, billed: float) -> PaymentEstimate:
    """Ungroupable and ambiguous cases are paid by items, times the region's share."""
    return PaymentEstimate(round(billed * settings.ungroupable_payment_share, 2), UNGROUPABLE, None)


def fee_for_service_payment(billed: float) -> PaymentEstimate:
    """A fee-for-service case is paid what the hospital billed."""
    return PaymentEstimate(round(billed, 2), FEE_FOR_SERVICE, None)
