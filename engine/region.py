"""Treatment-region configuration (`rules/regions/*.yaml`): payment settings and per-rule overrides.

`national.yaml` holds the defaults every region starts from; `<6-digit code>.yaml` changes settings,
rule params or switches rules off for one treatment region, without copying any rule. What a valid
file and a valid setting are is declared in `engine.regionsettings` (pydantic models); this module
reads a parsed file through them (`engine.typedyaml` gives every error its `path:line:col`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drgaudit.contract import REGION_RE
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.regionsettings import (
    NATIONAL_ONLY,
    RegionPatch,
    RegionSettings,
    merge_settings,
)
from drgaudit.engine.typedyaml import validate
from drgaudit.engine.yamlsource import Position, YamlDocument, YMap

NATIONAL = "national"


class RuleOverrideSpec(BaseModel):
    """What a region file may say about one rule."""

    model_config = ConfigDict(strict=True, extra="forbid")
    enabled: bool = Field(default=True, description="false 表示本统筹区不启用该规则")
    params: dict[str, Any] = Field(default_factory=dict, description="本统筹区的规则参数取值")


class _RegionFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    region: str = Field(description="统筹区编码（6位，加引号），或 national")
    name: str | None = Field(default=None, description="统筹区名称")
    description: str | None = Field(default=None, description="说明")
    rules: dict[str, RuleOverrideSpec] | None = Field(default=None, description="规则调整：启用与否、参数")

    @field_validator("region")
    @classmethod
    def _code(cls, value: str) -> str:
        if value != NATIONAL and not REGION_RE.match(value):
            raise ValueError(f"`{value}` is not a 6-digit region code")
        return value


class NationalFile(_RegionFile):
    """national.yaml: every setting, the defaults of every treatment region."""

    settings: RegionSettings = Field(description="全国默认参数（每一项都要给出）")


class RegionFile(_RegionFile):
    """<code>.yaml: the settings and rule overrides of one treatment region."""

    settings: RegionPatch | None = Field(default=None, description="本统筹区调整的参数")  # type: ignore[valid-type]


@dataclass(frozen=True)
class RuleOverride:
    """What one region changes in one rule: switched off, or some params set."""

    rule_id: str
    enabled: bool
    params: dict[str, Any]
    param_positions: dict[str, Position]
    position: Position


@dataclass(frozen=True)
class RegionConfig:
    """The settings and rule overrides of one treatment region (or the national defaults).

    `settings` holds plain values (what rule expressions read as `region.x`): every setting for the
    national defaults and a merged region, only the ones its file sets for a region file as read.
    `values` is the typed form of the complete settings (None for a region file not yet merged).
    """

    code: str
    name: str
    settings: dict[str, Any]
    overrides: dict[str, RuleOverride]
    position: Position
    path: str
    setting_positions: dict[str, Position] = field(default_factory=dict)
    values: RegionSettings | None = None

    @property
    def typed(self) -> RegionSettings:
        """The complete typed settings (national defaults, or a region merged over them)."""
        if self.values is None:
            raise ValueError(f"region {self.code}: settings not merged over the national defaults")
        return self.values

    @property
    def has_own_rules(self) -> bool:
        """Whether the file changes anything for screening (settings or rule overrides); a file that only
        names its region (`region:` and `name:`) shares the national rule profile."""
        return bool(self.settings or self.overrides)

    def merged_over(self, national: RegionConfig) -> RegionConfig:
        """This region's settings laid over the national defaults."""
        values = merge_settings(national.typed, self.settings)
        return RegionConfig(
            self.code,
            self.name,
            values.model_dump(),
            self.overrides,
            self.position,
            self.path,
            self.setting_positions,
            values,
        )

    def level_coefficient(self, level: int | None) -> float | None:
        """The payment coefficient for a hospital level, or None if unknown."""
        if level is None:
            return None
        return self.typed.level_coefficients.get(level)  # type: ignore[call-overload, no-any-return]


def _special_errors(doc: YamlDocument, national: bool) -> Any:
    """Clearer messages than the generic ones for two common mistakes."""
    data = doc.data

    def special(error: dict[str, Any]) -> RuleFileError | None:
        loc = tuple(error["loc"])
        if loc == ("region",) and error["type"] == "string_type":
            return RuleFileError(
                data.value_at("region"),
                f"`{error['input']}` is not a 6-digit region code",
                f'quote it: region: "{error["input"]}"',
            )
        if (
            not national
            and len(loc) == 2
            and loc[0] == "settings"
            and loc[1] in NATIONAL_ONLY
            and error["type"] == "extra_forbidden"
        ):
            settings = data.get("settings")
            position = settings.key_at(loc[1]) if isinstance(settings, YMap) else data.position
            return RuleFileError(position, f"`{loc[1]}` can only be set in national.yaml")
        return None

    return special


def region_from_document(doc: YamlDocument, errors: list[RuleFileError]) -> RegionConfig | None:
    """Build one RegionConfig from a parsed region file, appending every problem to `errors`."""
    data = doc.data
    root = Position(doc.path, 1, 1)
    if not isinstance(data, YMap):
        errors.append(RuleFileError(root, "a region file must be a mapping with region, settings and rules"))
        return None
    stem = doc.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    is_national = data.get("region") == NATIONAL or stem == NATIONAL
    model: type[_RegionFile] = NationalFile if is_national else RegionFile
    before = len(errors)
    parsed = validate(
        model,
        data,
        root=root,
        errors=errors,
        prefix="",
        skip=_special_errors(doc, is_national),
    )
    if parsed is None:
        return None
    code = parsed.region
    if code != stem:
        errors.append(
            RuleFileError(
                data.value_at("region"),
                f"region `{code}` is in a file named {stem}.yaml",
                f"name the file {code}.yaml",
            )
        )
    settings_data = data.get("settings")
    positions = (
        {key: settings_data.value_at(key) for key in settings_data} if isinstance(settings_data, YMap) else {}
    )
    values: RegionSettings | None = None
    if isinstance(parsed, NationalFile):
        values = parsed.settings
        settings = values.model_dump()
        for name, message in values.completeness_problems() + values.ratio_problems(code):
            errors.append(RuleFileError(positions.get(name, data.value_at("settings")), message))
    else:
        assert isinstance(parsed, RegionFile)
        patch = parsed.settings
        settings = patch.model_dump(exclude_unset=True) if patch is not None else {}
    overrides: dict[str, RuleOverride] = {}
    rules_data = data.get("rules")
    for rule_id, spec in (parsed.rules or {}).items():
        assert isinstance(rules_data, YMap)  # the model validated a mapping of rules
        block = rules_data[rule_id]
        params = block.get("params") if isinstance(block, YMap) else None
        overrides[str(rule_id)] = RuleOverride(
            str(rule_id),
            spec.enabled,
            dict(spec.params),
            {k: params.value_at(k) for k in params} if isinstance(params, YMap) else {},
            rules_data.key_at(rule_id),
        )
    if len(errors) > before:
        return None
    assert code is not None  # a missing code is an error above
    return RegionConfig(
        code=code,
        name=parsed.name or code,
        settings=settings,
        overrides=overrides,
        position=data.position,
        path=doc.path,
        setting_positions=positions,
        values=values,
    )


def merge_problems(config: RegionConfig, merged: RegionConfig) -> list[RuleFileError]:
    """Cost-ratio thresholds that a region's own settings put out of order once merged."""
    problems = []
    for name, message in merged.typed.ratio_problems(config.code):
        position = config.setting_positions.get(name)
        if position is None:  # the region did not touch this one: point at whichever ratio it set
            position = next(
                (p for key, p in config.setting_positions.items() if key.endswith("_ratio")), config.position
            )
        problems.append(RuleFileError(position, message, code="lint"))
    return problems
