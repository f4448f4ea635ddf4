"""The settings of a treatment region, declared once: types, ranges and what each one means (in Chinese).

`rules/regions/national.yaml` must give every setting of `RegionSettings`; a region file
(`<6-digit code>.yaml`) may change any of them except the national-only ones (`RegionPatch`). The
numbers are policy and live in those files; this module only says what a valid value is. Rates,
coefficients and ratios are positive and finite; shares and quotas lie between 0 and 1.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model, field_validator

from drgaudit.contract import ACTIONS, SEVERITIES

Rate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Coefficient = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
Ratio = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Level = Literal[1, 2, 3]
Action = Literal[ACTIONS]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
Scheme = Literal["DRG", "DIP"]
QuotaPeriod = Literal["month", "quarter", "year"]
CrossProvincePayment = Literal["fee_for_service", "group"]


class _Strict(BaseModel):
    # Values come from YAML as written: "12000" (text) is not a number and 1.5 is not a whole number.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class HighRatioTier(_Strict):
    """One tier of the DRG high-ratio threshold: groups of weight up to `weight_up_to` use `ratio`."""

    weight_up_to: Rate | None = Field(
        default=None, description="本档适用的病组权重上限（含）；最后一档不写，表示更高的所有权重"
    )
    ratio: Ratio = Field(description="本档的高倍率判定倍数（医疗费总额 ≥ 病组次均费用 × 倍数）")

    def label(self, lower: float | None) -> str:
        """How the tier reads in explanations: `权重≤1：3倍`, `1<权重≤2：2倍`, `权重>2：1.5倍`."""
        ratio = f"{self.ratio:g}倍"
        if self.weight_up_to is None:
            return f"权重>{lower:g}：{ratio}" if lower is not None else f"各权重：{ratio}"
        if lower is None:
            return f"权重≤{self.weight_up_to:g}：{ratio}"
        return f"{lower:g}<权重≤{self.weight_up_to:g}：{ratio}"


def _flat_or_tiers(value: Any) -> str:
    return "tiers" if isinstance(value, list) else "flat"


HighRatio = Annotated[
    Annotated[Ratio, Tag("flat")] | Annotated[list[HighRatioTier], Tag("tiers"), Field(min_length=1)],
    Discriminator(_flat_or_tiers),
]


class RegionSettings(_Strict):
    """Every setting of a treatment region once laid over the national defaults."""

    # --- payment (engine.payment) ---
    drg_rate: Rate = Field(description="DRG 费率（元/权重）")
    dip_point_value: Rate = Field(description="DIP 点值（元/分）")
    level_coefficients: dict[Level, Coefficient] = Field(description="医院等级系数（1、2、3 级医院）")
    cross_region_coefficient: Coefficient = Field(description="省内异地就医调节系数（本地病例不乘）")
    basic_disease_groups: dict[Scheme, list[str]] = Field(
        description="基层病种（同城同病同价）：按付费方式（DRG、DIP）列出的病组/病种编码，各级医院同价，不乘医院等级系数"
    )
    drg_high_ratio: HighRatio = Field(
        description=(
            "DRG 高倍率判定倍数（医疗费总额 ≥ 病组次均费用 × 倍数）：一个数为统一标准；或按病组权重分档，"
            "如 [{weight_up_to: 1, ratio: 3}, {weight_up_to: 2, ratio: 2}, {ratio: 1.5}]"
        )
    )
    drg_low_ratio: Ratio = Field(description="DRG 低倍率判定倍数：医疗费总额 ≤ 病组次均费用 × 倍数")
    drg_extreme_ratio: Ratio = Field(description="DRG 极端费用判定倍数：超过病组次均费用 × 倍数")
    drg_high_excess_share: Share = Field(description="DRG 高倍率病例超出部分的支付比例")
    drg_low_payment_share: Share = Field(description="DRG 低倍率病例按项目支付的比例")
    dip_high_ratio: Ratio = Field(description="DIP 费用超高病例判定倍数")
    dip_low_ratio: Ratio = Field(description="DIP 费用超低病例判定倍数")
    dip_extreme_ratio: Ratio = Field(description="DIP 极端费用判定倍数")
    per_diem_rate: Rate = Field(description="按床日付费的默认床日标准（元，再乘医院等级系数）")
    per_diem_rates: dict[str, Rate] = Field(
        description="按出院科室的床日标准：精神、康复、安宁疗护等。键为诊疗科目代码（下属专业按所属科室），"
        "或科室名称的开头（以名称填写出院科别时按最长的相符名称）"
    )
    ungroupable_payment_share: Share = Field(description="未入组、歧义组病例按项目支付的比例")
    cross_province_payment: CrossProvincePayment = Field(
        description="跨省异地就医病例的测算方式：fee_for_service 按项目（默认），group 按就医地病组标准"
    )
    cross_province_coefficient: Coefficient = Field(
        description="跨省异地就医病例按病组测算时乘的系数（cross_province_payment: group 时使用）"
    )
    # --- the special-review queue (casebook.reviewconfig, casebook.quota) ---
    review_case_actions: list[Action] = Field(
        min_length=1, description="命中哪些处理方式的病例生成审核案件（special_review，可加 hold、deduct）"
    )
    review_severity_weights: dict[Severity, Weight] = Field(description="优先级 = 风险金额 × 严重程度权重")
    review_due_days: int = Field(ge=0, le=3650, description="审核案件自生成起的办结期限（天）")
    special_review_quota_drg: Share = Field(description="特例单议病例数上限占 DRG 病例数的比例")
    special_review_quota_dip: Share = Field(description="特例单议病例数上限占 DIP 病例数的比例")
    special_review_quota_period: QuotaPeriod = Field(
        description="特例单议比例的计算周期（month 月、quarter 季、year 年）：按出院日期，自周期首日累计"
    )
    # --- hospital findings and separation of duties (casebook.findings, casebook.reviewconfig) ---
    finding_actions: list[Action] = Field(
        description="命中哪些处理方式的规则形成医院疑点（暂缓支付、扣减），由医院在期限内认可或申诉"
    )
    finding_reply_days: int = Field(ge=1, le=365, description="医院答复疑点的期限（天）；逾期未答复视为认可")
    rule_author_decisions: list[Literal["second_reviewer", "meeting"]] = Field(
        min_length=1,
        description="规则包版本的登记人、上线人复审由该版本命中的疑点时须经：second_reviewer 另一名审核员复核，"
        "或 meeting 提交评议会议（必须包含 meeting）",
    )
    # --- rule-pack versions (drgaudit.services.packs) ---
    pack_promotion_approvers: int = Field(
        ge=1,
        le=5,
        description="规则包版本上线（drgaudit rules promote）须几人确认：1 = 审核员本人即可，2 = 须另一名审核员复核",
    )
    # --- national only: the screening run as a whole ---
    lookback_days: int = Field(ge=1, le=3650, description="筛查时载入参保人既往住院的回溯天数")
    indicator_peer_min_cases: int = Field(
        ge=1, description="医院层面指标：本批次异地 DRG 病例不少于此数的医院才参与同级医院比较"
    )
    indicator_min_peers: int = Field(ge=1, description="同级参与比较的医院不少于此数时才计算百分位和中位数")

    @field_validator("rule_author_decisions")
    @classmethod
    def _meeting_always(cls, value: list[str]) -> list[str]:
        if "meeting" not in value:
            raise ValueError(
                "must include meeting: a meeting's decision always satisfies separation of duties"
            )
        return value

    def ratio_problems(self, region: str) -> list[tuple[str, str]]:
        """Cost-ratio thresholds out of order: (setting, message) pairs; empty when low < high <= extreme."""
        problems = []
        drg_high = self.drg_high_ratio
        highs = [tier.ratio for tier in drg_high] if isinstance(drg_high, list) else [drg_high]
        for prefix, low, values, extreme in (
            ("drg", self.drg_low_ratio, highs, self.drg_extreme_ratio),
            ("dip", self.dip_low_ratio, [self.dip_high_ratio], self.dip_extreme_ratio),
        ):
            for high in values:
                if not low < high <= extreme:
                    problems.append(
                        (
                            f"{prefix}_high_ratio",
                            f"region {region}: {prefix}_low_ratio ({low:g}) < {prefix}_high_ratio ({high:g}) "
                            f"<= {prefix}_extreme_ratio ({extreme:g}) must hold",
                        )
                    )
                    break
        if isinstance(drg_high, list):
            bounds = [tier.weight_up_to for tier in drg_high]
            if bounds[-1] is not None:
                problems.append(
                    (
                        "drg_high_ratio",
                        "the last tier of drg_high_ratio must leave out weight_up_to (all heavier groups)",
                    )
                )
            if any(bound is None for bound in bounds[:-1]):
                problems.append(
                    ("drg_high_ratio", "only the last tier of drg_high_ratio may leave out weight_up_to")
                )
            given = [bound for bound in bounds if bound is not None]
            if any(a >= b for a, b in zip(given, given[1:], strict=False)):
                problems.append(
                    ("drg_high_ratio", "the tiers of drg_high_ratio must have increasing weight_up_to")
                )
        return problems

    def completeness_problems(self) -> list[tuple[str, str]]:
        """What the national defaults must give in full (a region file may give part of a mapping)."""
        missing = sorted({1, 2, 3} - set(self.level_coefficients))
        if missing:
            return [("level_coefficients", "national `level_coefficients` must give levels 1, 2 and 3")]
        return []

    def high_ratio_for(self, weight: float | None) -> tuple[float, str | None]:
        """The DRG high-ratio threshold for a group's weight, and the tier's label when it is tiered."""
        tiers = self.drg_high_ratio
        if not isinstance(tiers, list):
            return tiers, None
        lower = None
        for tier in tiers:
            if tier.weight_up_to is None or (weight is not None and weight <= tier.weight_up_to):
                return tier.ratio, tier.label(lower)
            lower = tier.weight_up_to
        return tiers[-1].ratio, tiers[-1].label(lower)

    def is_basic_disease_group(self, scheme: str, group_code: str | None) -> bool:
        """Whether a group is one of the region's basic-disease groups (paid alike at every level)."""
        return group_code is not None and group_code in self.basic_disease_groups.get(scheme, ())  # type: ignore[call-overload]


# Settings of the whole screening run (history window, batch-wide hospital indicators), not of one region.
NATIONAL_ONLY: tuple[str, ...] = ("lookback_days", "indicator_peer_min_cases", "indicator_min_peers")
# Settings that are mappings: a region file changes the keys it names and keeps the others.
MERGED_MAPPINGS: tuple[str, ...] = tuple(
    name
    for name, info in RegionSettings.model_fields.items()
    if getattr(info.annotation, "__origin__", None) is dict
)


def _optional(name: str) -> tuple[Any, Any]:
    info = RegionSettings.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
    return annotation | None, Field(default=None, description=info.description)


# What one region file may set: every setting but the national-only ones, each optional.
RegionPatch: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "RegionPatch",
    __base__=_Strict,
    **{name: _optional(name) for name in RegionSettings.model_fields if name not in NATIONAL_ONLY},
)


def merge_settings(national: RegionSettings, patch: dict[str, Any]) -> RegionSettings:
    """A region's settings (the values its file sets) laid over the national defaults."""
    values = national.model_dump()
    for key, value in patch.items():
        if key in MERGED_MAPPINGS and isinstance(value, dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return RegionSettings.model_validate(values)


def _kind(annotation: Any) -> str:
    """What a setting's value is, in words, for errors about using it as a number."""
    origin = get_origin(annotation)
    if annotation in (int, float):
        return "is a number"
    if origin is dict:
        return "is a mapping"
    if origin is list:
        return "is a list"
    if origin is Literal:
        return "is a choice of words"
    return "may be a list of tiers (a region may give one number or tiers)"


# Settings a rule may compare with as `region.<name>`: one number in every region. The others are
# choices, lists, mappings or (`drg_high_ratio`) one number OR tiers by group weight.
SETTING_KINDS: dict[str, str] = {
    name: _kind(info.annotation) for name, info in RegionSettings.model_fields.items()
}
NUMERIC_SETTINGS: frozenset[str] = frozenset(
    name for name, kind in SETTING_KINDS.items() if kind == "is a number"
)


def setting_description(name: str) -> str:
    """The Chinese description of a setting ("" for an unknown name)."""
    info = RegionSettings.model_fields.get(name)
    return info.description or "" if info is not None else ""
