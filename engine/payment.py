"""The payment a claim earns under its treatment region's DRG/DIP rules, from the region's settings.

Every number comes from the region configuration (`rules/regions/*.yaml`, national defaults first):

- group standard: DRG weight x `drg_rate`, or DIP score x `dip_point_value`, times the hospital-level
  coefficient (`level_coefficients`) and, for a cross-region claim, `cross_region_coefficient`;
- high-ratio case (cost >= `drg_high_ratio` / `dip_high_ratio` x the group average; above
  `drg_extreme_ratio` / `dip_extreme_ratio` it is an extreme case for expert review, paid the same way):
  DRG pays the standard plus `drg_high_excess_share` of the cost above the threshold; DIP pays the score
  times (cost ratio - high ratio + 1), as the national DIP technical specification does;
- low-ratio case (cost <= `drg_low_ratio` / `dip_low_ratio` x the average): DRG pays the cost times
  `drg_low_payment_share` (by items); DIP pays the score times the cost ratio;
- per-diem case: days x `per_diem_rates[dept_code]` (or `per_diem_rate`) x the level coefficient;
- ungroupable (0000) and ambiguous (QY) cases: the cost times `ungroupable_payment_share`;
- fee-for-service: the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drgaudit.engine.region import RegionConfig

STANDARD, HIGH, LOW, EXTREME = "standard", "high_ratio", "low_ratio", "extreme"
PER_DIEM, UNGROUPABLE, FEE_FOR_SERVICE, UNKNOWN = "per_diem", "ungroupable", "fee_for_service", "unknown"
PAYMENT_KINDS = (STANDARD, HIGH, LOW, EXTREME, PER_DIEM, UNGROUPABLE, FEE_FOR_SERVICE, UNKNOWN)

# The cost-ratio settings of each grouped scheme (high, low, extreme).
RATIO_SETTINGS = {
    "DRG": ("drg_high_ratio", "drg_low_ratio", "drg_extreme_ratio"),
    "DIP": ("dip_high_ratio", "dip_low_ratio", "dip_extreme_ratio"),
}


@dataclass(frozen=True)
class RatioLimits:
    """The high, low and extreme cost-ratio thresholds of one scheme in one region."""

    high: float
    low: float
    extreme: float


@dataclass(frozen=True)
class PaymentEstimate:
    """The estimated payment of one claim, how it was reached and the group standard it started from."""

    amount: float | None
    kind: str
    standard: float | None


def ratio_limits(region: RegionConfig, scheme: str) -> RatioLimits | None:
    """The cost-ratio thresholds of a grouped scheme (None for per-diem and fee-for-service)."""
    names = RATIO_SETTINGS.get(scheme)
    if names is None:
        return None
    high, low, extreme = (float(region.settings[name]) for name in names)
    return RatioLimits(high, low, extreme)


def group_standard(
    region: RegionConfig, scheme: str, weight: float, level: int | None, cross: bool
) -> float | None:
    """Weight (score) x rate (point value) x level coefficient, x the cross-region coefficient if cross-region."""
    rate = region.settings.get("drg_rate" if scheme == "DRG" else "dip_point_value")
    coefficient = region.level_coefficient(level)
    if rate is None or coefficient is None:
        return None
    payment = weight * float(rate) * coefficient
    if cross:
        payment *= float(region.settings.get("cross_region_coefficient", 1.0))
    return round(payment, 2)


def grouped_payment(
    region: RegionConfig,
    scheme: str,
    standard: float | None,
    limits: RatioLimits,
    total: float,
    avg_cost: float,
) -> PaymentEstimate:
    """The payment of a DRG/DIP claim in its region's table: standard, high-ratio, extreme or low-ratio."""
    if standard is None or avg_cost <= 0:
        return PaymentEstimate(None, UNKNOWN, standard)
    ratio = total / avg_cost
    settings = region.settings
    if ratio >= limits.high:
        kind = EXTREME if ratio > limits.extreme else HIGH
        if scheme == "DRG":
            excess = (total - limits.high * avg_cost) * float(settings["drg_high_excess_share"])
            return PaymentEstimate(round(standard + excess, 2), kind, standard)
        return PaymentEstimate(round(standard * (ratio - limits.high + 1), 2), kind, standard)
    if ratio <= limits.low:
        if scheme == "DRG":
            return PaymentEstimate(round(total * float(settings["drg_low_payment_share"]), 2), LOW, standard)
        return PaymentEstimate(round(standard * ratio, 2), LOW, standard)
    return PaymentEstimate(standard, STANDARD, standard)


def per_diem_payment(
    region: RegionConfig, days: int, dept_code: str | None, level: int | None
) -> PaymentEstimate:
    """Days x the department's (or the default) daily rate x the level coefficient."""
    rates: dict[str, Any] = region.settings.get("per_diem_rates") or {}
    rate = rates.get(dept_code) if dept_code else None
    if rate is None:
        rate = region.settings.get("per_diem_rate")
    coefficient = region.level_coefficient(level)
    if rate is None or coefficient is None:
        return PaymentEstimate(None, UNKNOWN, None)
    amount = round(days * float(rate) * coefficient, 2)
    return PaymentEstimate(amount, PER_DIEM, amount)


def ungroupable_payment(region: RegionConfig, total: float) -> PaymentEstimate:
    """Ungroupable and ambiguous cases are paid by items, times the region's share."""
    return PaymentEstimate(
        round(total * float(region.settings["ungroupable_payment_share"]), 2), UNGROUPABLE, None
    )


def fee_for_service_payment(total: float) -> PaymentEstimate:
    """A fee-for-service case is paid what it cost."""
    return PaymentEstimate(round(total, 2), FEE_FOR_SERVICE, None)
