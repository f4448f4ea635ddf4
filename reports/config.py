"""Report settings: monitoring thresholds, list lengths and the masking rule, from YAML.

What the settings are is declared once below (`ReportSettingsModel`, pydantic: types, ranges and
Chinese descriptions); their default values are `settings.yaml` beside this module (documented there,
in Chinese). A user file given with `--config` changes only the keys it names; it is read with the
rule files' YAML loader, so every mistake (a misspelt key, a negative count, text for a number) is
reported as `path:line:col: message`, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.typedyaml import validate
from drgaudit.engine.yamlsource import Position, YMap, load_yaml
from drgaudit.reports.errors import ReportError

DEFAULTS_FILE = "settings.yaml"

Count = Annotated[int, Field(ge=0)]
PositiveCount = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0, allow_inf_nan=False)]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$")]


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SummarySettings(_Section):
    top_hospitals: PositiveCount = Field(description="筛查汇总中列出风险金额最高的医院数")
    top_rules: PositiveCount = Field(description="按规则统计中列出的规则数（按命中数）")


class WatchSettings(_Section):
    cost_growth: Share = Field(description="次均费用（异地或本地）较上期增长超过此比例即列入关注名单")
    cross_local_ratio: Share = Field(description="异地病例次均费用超过本地病例的此倍数即列入关注名单")
    cmi_growth: Share = Field(description="CMI 较上期增长超过此比例即列入关注名单")
    cc_mcc_share_rise: Share = Field(description="伴 CC/MCC 病组占比较上期上升超过此幅度即列入关注名单")
    readmission_rate: Share = Field(description="再入院率超过此比例即列入关注名单")
    severe_left_share: Share = Field(
        description="重症病例中入院后短期内非医嘱离院或被转出的比例超过此值即列入关注名单（推诿重症、强制出院）"
    )
    severe_share_drop: Share = Field(description="重症（高权重）病例占比较上期下降超过此幅度即列入关注名单")


class MonitoringSettings(_Section):
    readmission_days: PositiveCount = Field(
        description="再入院：同一参保人出院后不超过这么多天再次入住同一医院"
    )
    min_cases: Count = Field(description="医院某类病例数少于此数时不计算增长率、不据此列入关注名单")
    watch: WatchSettings = Field(description="关注名单阈值：任一项超过即列入")
    groups_shown: PositiveCount = Field(description="病组费用分布中展示的病组数")
    outlier_iqr_k: Annotated[float, Field(gt=0, allow_inf_nan=False)] = Field(
        description="离群值：低于 Q1 − k×IQR 或高于 Q3 + k×IQR（Tukey 围栏）"
    )
    outliers_listed: Count = Field(description="每个病组列出的离群病例数")


class PacketSettings(_Section):
    history_days: Count = Field(description="会议材料中参保人住院经过：本次入院前后各这么多天内的住院")


class FeedbackSettings(_Section):
    reply_days: PositiveCount = Field(description="反馈函中医院核实、反馈意见（或提出申诉）的期限（工作日）")


class ClearingSettings(_Section):
    claims_listed: Count = Field(description="清算对账表 HTML/PDF 版列出的病例数（全部病例见 XLSX 版）")


class MaskingSettings(_Section):
    keep_head: Count = Field(description="参保人编号脱敏：保留的前几位")
    keep_tail: Count = Field(description="参保人编号脱敏：保留的后几位")
    min_masked: PositiveCount = Field(description="至少遮盖的位数")


class ReportSettingsModel(_Section):
    """Every report setting (reports/settings.yaml)."""

    issuer: Annotated[str, Field(min_length=1)] = Field(
        description="发文单位；报表抬头为“<就医地名称><issuer>”"
    )
    region_names: dict[RegionCode, str] = Field(description='统筹区名称，如 {"510300": 自贡市}')
    summary: SummarySettings
    monitoring: MonitoringSettings
    packet: PacketSettings
    feedback: FeedbackSettings
    clearing: ClearingSettings
    masking: MaskingSettings


@dataclass(frozen=True)
class ReportSettings:
    """The merged, checked report settings."""

    model: ReportSettingsModel
    source: str

    @property
    def values(self) -> dict[str, Any]:
        """The settings as the nested mapping of settings.yaml."""
        return self.model.model_dump()

    def get(self, dotted: str) -> Any:
        """A setting by dotted name, e.g. `monitoring.watch.cost_growth` (a section comes back as a dict)."""
        node: Any = self.model
        for part in dotted.split("."):
            node = getattr(node, part)
        return node.model_dump() if isinstance(node, BaseModel) else node


def _overlay(base: YMap, override: YMap) -> YMap:
    """`override` laid over `base`, key by key into nested mappings, keeping where each value was written."""
    merged = YMap()
    merged.position = override.position
    merged.key_positions = dict(base.key_positions)
    merged.value_positions = dict(base.value_positions)
    merged.update(base)
    for key, value in override.items():
        if isinstance(value, YMap) and isinstance(base.get(key), YMap):
            merged[key] = _overlay(base[key], value)
        else:
            merged[key] = value
        merged.key_positions[key] = override.key_at(key)
        merged.value_positions[key] = override.value_at(key)
    return merged


def _check(data: Any, root: Position) -> ReportSettingsModel:
    errors: list[RuleFileError] = []
    model = validate(ReportSettingsModel, data, root=root, errors=errors)
    if model is None:
        raise ReportError("\n".join(e.render() for e in errors))
    return model


def _defaults() -> YMap:
    path = resources.files("drgaudit.reports").joinpath(DEFAULTS_FILE)
    try:
        with resources.as_file(path) as real:
            doc = load_yaml(real, display_path=f"drgaudit/reports/{DEFAULTS_FILE}")
    except RuleFileError as exc:
        raise ReportError(str(exc)) from exc
    if not isinstance(doc.data, YMap):
        raise ReportError(f"drgaudit/reports/{DEFAULTS_FILE}: the default report settings must be a mapping")
    return doc.data


def load_settings(path: Path | str | None = None) -> ReportSettings:
    """The default report settings, with the keys of the YAML file at `path` (if any) laid over them."""
    defaults = _defaults()
    if path is None:
        return ReportSettings(_check(defaults, defaults.position), "defaults")
    try:
        doc = load_yaml(path)
    except RuleFileError as exc:
        raise ReportError(f"{exc.render()} (report settings)") from exc
    root = Position(str(path), 1, 1)
    data = doc.data if doc.data is not None else YMap()
    if not isinstance(data, YMap):
        raise ReportError(f"{root}: report settings must be a mapping of setting: value, as in settings.yaml")
    if not hasattr(data, "position"):
        data.position, data.key_positions, data.value_positions = root, {}, {}
    return ReportSettings(_check(_overlay(defaults, data), root), str(path))
