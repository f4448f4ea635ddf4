"""Each demo region's DRG group table (weights, average cost and length of stay): invented numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from drgaudit.demo.coding import Coder
from drgaudit.demo.province import Province
from drgaudit.demo.templates import Catalog


@dataclass(frozen=True)
class GroupEntry:
    """One row of groups.csv."""

    region: str
    group: str
    name: str
    weight: float
    avg_cost: float
    avg_los: float


class GroupTable:
    """The group entries of every region, in file order."""

    def __init__(self, entries: list[GroupEntry]) -> None:
        self.entries = entries
        self._by_key = {(e.region, e.group): e for e in entries}

    def entry(self, region: str, group: str) -> GroupEntry:
        return self._by_key[(region, group)]


def build_group_table(catalog: Catalog, province: Province, coder: Coder, rng: random.Random) -> GroupTable:
    """Every split of every core group a DRG-paid template uses, for every region.

    weight = the ADRG's base weight × the severity factor, give or take 3% per region;
    avg_cost ≈ weight × the region's rate per weight unit; avg_los from the ADRG's and the severity's.
    """
    used = {p.adrg for t in catalog.templates if not t.per_diem_paid for p in t.pathways}
    entries: list[GroupEntry] = []
    for region in province.regions:
        for adrg, (base_weight, base_los) in catalog.adrgs.items():
            if adrg not in used:
                continue
            for digit in coder.splits(adrg):
                weight_factor, los_factor = catalog.severity[digit]
                weight = round(base_weight * weight_factor * rng.uniform(0.97, 1.03), 4)
                group = adrg + digit
                entries.append(
                    GroupEntry(
                        region=region.code,
                        group=group,
                        name=coder.group_name(group),
                        weight=weight,
                        avg_cost=round(weight * region.rate * rng.uniform(0.96, 1.04), 2),
                        avg_los=round(base_los * los_factor * rng.uniform(0.92, 1.08), 1),
                    )
                )
    return GroupTable(entries)
