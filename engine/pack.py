"""A loaded rule pack: rules, named lists, national and regional configuration, example defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drgaudit.engine.lists import NamedList
from drgaudit.engine.region import NATIONAL, RegionConfig
from drgaudit.engine.rule import Rule


class ExampleDefaultsSpec(BaseModel):
    """pack.yaml `example_defaults`: the fields every rule example starts from."""

    model_config = ConfigDict(strict=True, extra="forbid")
    claim: dict[str, Any] = Field(default_factory=dict, description="示例病例的默认字段")
    hospital: dict[str, Any] = Field(default_factory=dict, description="示例医院的默认字段")
    group: dict[str, Any] = Field(default_factory=dict, description="示例病组的默认字段")
    history_claim: dict[str, Any] = Field(
        default_factory=dict, description="示例既往住院在默认病例之上改写的字段"
    )


class PackMeta(BaseModel):
    """pack.yaml: the pack's name and description, its example defaults and pack-wide switches."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, description="规则包名称")
    description: str | None = Field(default=None, description="规则包说明")
    allow_placeholder_rates: bool = Field(
        default=False,
        description=(
            "没有参数文件（regions/<编码>.yaml）的就医地是否按全国默认（占位）费率测算；"
            "false（默认）时筛查到这样的就医地即停止并报错"
        ),
    )
    example_defaults: ExampleDefaultsSpec = Field(description="规则示例的默认病例、医院、病组")


@dataclass(frozen=True)
class ExampleDefaults:
    """The base claim, hospital and group every rule example starts from (pack.yaml `example_defaults`)."""

    claim: dict[str, Any]
    hospital: dict[str, Any]
    group: dict[str, Any]
    history_claim: dict[str, Any]


@dataclass(frozen=True)
class BoundRule:
    """A rule as it applies in one treatment region: the parameter values after region overrides."""

    rule: Rule
    params: dict[str, Any]
    overridden: frozenset[str]


@dataclass
class RulePack:
    """Everything loaded from one rules directory, checked; nothing half-loaded ever gets here."""

    directory: Path
    name: str
    rules: tuple[Rule, ...]
    lists: dict[str, NamedList]
    national: RegionConfig
    regions: dict[str, RegionConfig]
    families: dict[str, str]
    example_defaults: ExampleDefaults
    file_hashes: dict[str, str]
    # Every rule id written in the rule files, also of rules that failed to parse (no cascade of errors).
    declared_ids: frozenset[str] = frozenset()
    # pack.yaml `allow_placeholder_rates`: regions without a file are priced on the national defaults.
    allow_placeholder_rates: bool = False
    _merged: dict[str, RegionConfig] = field(default_factory=dict, repr=False)

    @cached_property
    def version(self) -> str:
        """A hash of every file of the pack: two packs with the same version screen identically."""
        digest = hashlib.sha256()
        for path in sorted(self.file_hashes):
            digest.update(f"{path}\0{self.file_hashes[path]}\n".encode())
        return digest.hexdigest()[:16]

    @property
    def lookback_days(self) -> int:
        """How far back a patient's earlier claims are loaded as context."""
        return int(self.national.settings["lookback_days"])

    def region(self, code: str | None) -> RegionConfig:
        """The configuration in force for a treatment region: its file over the national defaults."""
        key = code if code in self.regions else NATIONAL
        merged = self._merged.get(key)
        if merged is None:
            merged = self.regions[key].merged_over(self.national) if key != NATIONAL else self.national
            self._merged[key] = merged
        return merged

    def unpriced(self, regions: list[str]) -> list[str]:
        """The treatment regions among `regions` this pack may not price: no file of their own, and the
        pack does not allow the national placeholder rates (pack.yaml `allow_placeholder_rates`)."""
        if self.allow_placeholder_rates:
            return []
        return [code for code in regions if code not in self.regions]

    def profile_key(self, code: str | None) -> str:
        """Regions without their own file, or whose file only names them, share the national rule profile."""
        config = self.regions.get(code) if code else None
        return code if code is not None and config is not None and config.has_own_rules else NATIONAL

    def profile_keys(self) -> list[str]:
        """Every distinct rule profile of the pack: national first, then the regions with their own rules."""
        return [NATIONAL, *sorted(code for code, config in self.regions.items() if config.has_own_rules)]

    def bound_rules(self, code: str | None, *, statuses: tuple[str, ...] = ("active",)) -> list[BoundRule]:
        """The rules that screen claims of a treatment region, with that region's parameter values."""
        config = self.regions.get(code) if code else None
        result = []
        for rule in self.rules:
            if rule.status not in statuses:
                continue
            override = config.overrides.get(rule.id) if config else None
            if override and not override.enabled:
                continue
            params = {name: p.default for name, p in rule.params.items()}
            overridden: frozenset[str] = frozenset()
            if override:
                params.update(override.params)
                overridden = frozenset(override.params)
            result.append(BoundRule(rule, params, overridden))
        return result

    def rule_by_id(self, rule_id: str) -> list[Rule]:
        """Every version of a rule id, oldest first."""
        return sorted((r for r in self.rules if r.id == rule_id), key=lambda r: r.effective_from)
