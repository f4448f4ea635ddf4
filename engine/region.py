"""Treatment-region configuration (`rules/regions/*.yaml`): payment settings and per-rule overrides.

`national.yaml` holds the defaults every region starts from; `<6-digit code>.yaml` changes settings,
rule params or switches rules off for one treatment region, without copying any rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drgaudit.contract import REGION_RE
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.payment import PAYMENT_SETTINGS
from drgaudit.engine.suggest import did_you_mean
from drgaudit.engine.yamlsource import Position, YamlDocument, YMap

NATIONAL = "national"
REGION_KEYS = ("region", "name", "description", "settings", "rules")
OVERRIDE_KEYS = ("enabled", "params")
# The special-review queue's settings (read by drgaudit.casebook.reviewconfig).
REVIEW_SETTINGS = (
    "review_case_actions",
    "review_severity_weights",
    "review_due_days",
    "special_review_quota_drg",
    "special_review_quota_dip",
)
# How many distinct people must promote a rule-pack version for the region (read by
# drgaudit.services.packs): 1, or 2 when a second person has to approve.
PACK_SETTINGS = ("pack_promotion_approvers",)
# Settings every region has once merged with the national defaults.
REQUIRED_SETTINGS = (
    "drg_rate",
    "dip_point_value",
    "level_coefficients",
    "cross_region_coefficient",
    *PAYMENT_SETTINGS,
    *REVIEW_SETTINGS,
    *PACK_SETTINGS,
)
# Settings of the whole screening run (history window, batch-wide hospital indicators), not of one region.
NATIONAL_ONLY_SETTINGS = ("lookback_days", "indicator_peer_min_cases", "indicator_min_peers")


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
    """The settings and rule overrides of one treatment region (or the national defaults)."""

    code: str
    name: str
    settings: dict[str, Any]
    overrides: dict[str, RuleOverride]
    position: Position
    path: str
    setting_positions: dict[str, Position] = field(default_factory=dict)

    def merged_over(self, national: RegionConfig) -> RegionConfig:
        """This region's settings laid over the national defaults."""
        settings = dict(national.settings)
        for key, value in self.settings.items():
            if isinstance(value, dict):
                settings[key] = {**national.settings.get(key, {}), **value}
            else:
                settings[key] = value
        return RegionConfig(
            self.code, self.name, settings, self.overrides, self.position, self.path, self.setting_positions
        )

    def level_coefficient(self, level: int | None) -> float | None:
        """The payment coefficient for a hospital level, or None if unknown."""
        if level is None:
            return None
        value = self.settings.get("level_coefficients", {}).get(level)
        return float(value) if value is not None else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def region_from_document(doc: YamlDocument, errors: list[RuleFileError]) -> RegionConfig | None:
    """Build one RegionConfig from a parsed region file, appending every problem to `errors`."""
    data = doc.data
    if not isinstance(data, YMap):
        errors.append(
            RuleFileError(
                Position(doc.path, 1, 1), "a region file must be a mapping with region, settings and rules"
            )
        )
        return None
    before = len(errors)
    for key in data:
        if key not in REGION_KEYS:
            errors.append(
                RuleFileError(
                    data.key_at(key),
                    f"unknown key `{key}` in a region file",
                    did_you_mean(str(key), REGION_KEYS),
                )
            )
    code = data.get("region")
    code = str(code) if code is not None else None
    stem = doc.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if code is None:
        errors.append(
            RuleFileError(data.position, "region file is missing `region:` (a 6-digit code, or national)")
        )
    elif code != NATIONAL and not REGION_RE.match(code):
        errors.append(
            RuleFileError(
                data.value_at("region"),
                f"`{code}` is not a 6-digit region code",
                'quote it: region: "510700"',
            )
        )
    elif code != stem:
        errors.append(
            RuleFileError(
                data.value_at("region"),
                f"region `{code}` is in a file named {stem}.yaml",
                f"name the file {code}.yaml",
            )
        )

    settings_data = data.get("settings") or YMap()
    settings: dict[str, Any] = {}
    setting_positions: dict[str, Position] = {}
    if not isinstance(settings_data, YMap):
        errors.append(
            RuleFileError(data.value_at("settings"), "`settings` must be a mapping of name: number")
        )
        settings_data = YMap()
    for key, value in settings_data.items():
        pos = settings_data.value_at(key)
        setting_positions[key] = pos
        if key == "level_coefficients":
            if not isinstance(value, YMap) or not all(
                k in (1, 2, 3) and _number(v) for k, v in value.items()
            ):
                errors.append(
                    RuleFileError(
                        pos,
                        "`level_coefficients` must map hospital levels 1, 2, 3 to numbers",
                        "e.g. {1: 0.9, 2: 1.0, 3: 1.1}",
                    )
                )
                continue
            settings[key] = {int(k): float(v) for k, v in value.items()}
        elif key in NATIONAL_ONLY_SETTINGS and code != NATIONAL:
            errors.append(
                RuleFileError(settings_data.key_at(key), f"`{key}` can only be set in national.yaml")
            )
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                errors.append(
                    RuleFileError(
                        pos, f"setting `{key}` must be a number, a list of names or a mapping of name: number"
                    )
                )
                continue
            settings[key] = list(value)
        elif isinstance(value, YMap):
            if not all(_number(v) for v in value.values()):
                errors.append(
                    RuleFileError(pos, f"setting `{key}` maps names to numbers; every value must be a number")
                )
                continue
            settings[key] = {str(k): v for k, v in value.items()}
        elif not _number(value):
            errors.append(
                RuleFileError(
                    pos,
                    f"setting `{key}` must be a number, a list of names or a mapping of name: number, got {value!r}",
                )
            )
        else:
            settings[key] = value
    if code == NATIONAL:
        for key in REQUIRED_SETTINGS + NATIONAL_ONLY_SETTINGS:
            if key not in settings_data:
                errors.append(RuleFileError(data.value_at("settings"), f"national settings lack `{key}`"))
        coefficients = settings.get("level_coefficients", {})
        if (
            isinstance(coefficients, dict)
            and set(coefficients) != {1, 2, 3}
            and "level_coefficients" in settings
        ):
            errors.append(
                RuleFileError(
                    setting_positions["level_coefficients"],
                    "national `level_coefficients` must give levels 1, 2 and 3",
                )
            )

    overrides: dict[str, RuleOverride] = {}
    rules_data = data.get("rules") or YMap()
    if not isinstance(rules_data, YMap):
        errors.append(
            RuleFileError(
                data.value_at("rules"), "`rules` must map rule ids to {enabled: ..., params: {...}}"
            )
        )
        rules_data = YMap()
    for rule_id, spec in rules_data.items():
        pos = rules_data.key_at(rule_id)
        if not isinstance(spec, YMap):
            errors.append(
                RuleFileError(
                    rules_data.value_at(rule_id),
                    f"override of `{rule_id}` must be a mapping with enabled and/or params",
                )
            )
            continue
        for key in spec:
            if key not in OVERRIDE_KEYS:
                errors.append(
                    RuleFileError(
                        spec.key_at(key),
                        f"unknown key `{key}` in a rule override",
                        did_you_mean(str(key), OVERRIDE_KEYS),
                    )
                )
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.append(RuleFileError(spec.value_at("enabled"), "`enabled` must be true or false"))
            enabled = True
        params = spec.get("params") or YMap()
        if not isinstance(params, YMap):
            errors.append(
                RuleFileError(spec.value_at("params"), "`params` must be a mapping of param: value")
            )
            params = YMap()
        overrides[str(rule_id)] = RuleOverride(
            str(rule_id), enabled, dict(params), {k: params.value_at(k) for k in params}, pos
        )
    if len(errors) > before:
        return None
    return RegionConfig(
        code=code,
        name=str(data.get("name") or code),
        settings=settings,
        overrides=overrides,
        position=data.position,
        path=doc.path,
        setting_positions=setting_positions,
    )
