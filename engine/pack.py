"""A loaded rule pack: rules, named lists, national and regional configuration, example defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from drgaudit.engine.lists import NamedList
from drgaudit.engine.region import NATIONAL, RegionConfig
from drgaudit.engine.rule import Rule


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

    def profile_key(self, code: str | None) -> str:
        """Regions without their own file share the national rule profile."""
        return code if code in self.regions else NATIONAL

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
