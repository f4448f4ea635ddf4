"""The rules in force, for people who do not read the rule files: which pack version screens each
treatment region, and each of its rules with the region's parameter values, in Chinese.

The pack of a region is the one the service screens it with (`drgaudit.services.warm.WarmEngine`, shared
with the API): the folder `drgaudit serve --rules` names, else the version promoted for the region (or
nationally), else the bundled pack while nothing is promoted. Access: `rules.view` on the region (staff;
an account bound to a region sees its region).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import packs as pack_versions
from drgaudit.engine.pack import BoundRule, RulePack
from drgaudit.engine.rule import Rule
from drgaudit.services.access import NotFound, Principal, Target, may, visible
from drgaudit.services.warm import NoActivePackError, WarmEngine

RULES_VIEW = "rules.view"


@dataclass
class RegionPack:
    """The pack that screens one treatment region now, and where it comes from."""

    region: str
    pack: RulePack | None  # None: no version is in force for the region (its claims are not screened)
    source: str = "folder"  # "folder" (served or bundled) or "casebook" (a promoted version)
    version_id: int | None = None
    effective_from: dt.date | None = None
    registered_by: str | None = None
    approved_by: str | None = None

    @property
    def version(self) -> str | None:
        return self.pack.version if self.pack is not None else None


@dataclass
class RuleLine:
    """One rule as it applies in a region: on or off there, and its parameters with the region's values."""

    rule: Rule
    enabled: bool
    params: list[tuple[str, str, Any, bool]] = field(
        default_factory=list
    )  # name, description, value, set by the region


def region_pack(*, session: Session, engine: WarmEngine, region: str) -> RegionPack:
    """The pack that screens `region` today (see the module docstring)."""
    try:
        warm = engine.pack_for(session=session, region=region)
    except NoActivePackError:
        return RegionPack(region, None)
    found = RegionPack(region, warm.pack)
    promotion = pack_versions.active_promotion(session=session, region=region, on_date=dt.date.today())
    if promotion is not None and engine.rules_dir is None:
        stored = pack_versions.find_version(session=session, version=warm.version)
        found.source, found.effective_from, found.approved_by = (
            "casebook",
            promotion.effective_from,
            promotion.approved_by,
        )
        if stored is not None:
            found.version_id, found.registered_by = stored.id, stored.registered_by
    return found


def visible_regions(*, principal: Principal, regions: list[str]) -> list[str]:
    """The regions among `regions` whose rules the principal may read."""
    return [code for code in regions if may(principal, RULES_VIEW, Target(treatment_region=code))]


def rules_of_region(pack: RulePack, region: str) -> list[RuleLine]:
    """Every rule of the pack in force (status active) as the region applies it, in file order."""
    bound = {b.rule.key: b for b in pack.bound_rules(region)}
    lines = []
    for rule in pack.rules:
        if rule.status != "active":
            continue
        lines.append(_line(rule, bound.get(rule.key)))
    return lines


def _line(rule: Rule, bound: BoundRule | None) -> RuleLine:
    values = bound.params if bound is not None else {name: p.default for name, p in rule.params.items()}
    overridden = bound.overridden if bound is not None else frozenset()
    params = [
        (name, p.description or name, values.get(name), name in overridden) for name, p in rule.params.items()
    ]
    return RuleLine(rule, enabled=bound is not None, params=params)


def rule_in_region(
    *, session: Session, engine: WarmEngine, principal: Principal, region: str, rule_id: str
) -> tuple[RegionPack, list[RuleLine]]:
    """Every version of one rule in the pack that screens `region` (`NotFound` when the principal may not
    read the region's rules, or the pack has no such rule)."""
    visible(principal, RULES_VIEW, Target(treatment_region=region), f"rules of region {region}")
    found = region_pack(session=session, engine=engine, region=region)
    if found.pack is None:
        raise NotFound(f"no rule {rule_id} in force in {region}")
    lines = [line for line in rules_of_region(found.pack, region) if line.rule.id == rule_id]
    if not lines:
        raise NotFound(f"no rule {rule_id} in force in {region}")
    return found, lines
