"""The demo province: pooling regions, designated hospitals and insured-region benefits (data/province.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import yaml

# Hospital roles in province.yaml.
NEW_HOSPITAL = "new"
NEW_REGIONAL_CENTER = "new_center"
CC_MCC_HOSPITAL = "cc_mcc"


@dataclass(frozen=True)
class Region:
    """One pooling region (统筹区)."""

    code: str
    name: str
    population: float
    cross_out: float
    attract: float
    rate: float


@dataclass(frozen=True)
class Hospital:
    """One designated hospital (定点医疗机构)."""

    hospital_id: str
    name: str
    region: str
    level: int
    designated_on: date
    regional_center: bool
    volume: float
    role: str | None


@dataclass(frozen=True)
class Province:
    """Regions, hospitals and the money parameters of the demo province."""

    year: int
    regions: tuple[Region, ...]
    hospitals: tuple[Hospital, ...]
    employee_share: float
    level_cost: dict[int, float]
    level_volume: dict[int, float]
    level_volume_cross: dict[int, float]
    deductible: dict[str, dict[int, float]]
    ratio: dict[str, dict[int, float]]
    cross_region_cut: float

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year, 12, 31)

    @property
    def mid_year(self) -> date:
        return date(self.year, 7, 1)

    def region(self, code: str) -> Region:
        for r in self.regions:
            if r.code == code:
                return r
        raise KeyError(code)

    def hospital_with_role(self, role: str) -> Hospital:
        for h in self.hospitals:
            if h.role == role:
                return h
        raise KeyError(role)


def load_province() -> Province:
    """Read the bundled province.yaml."""
    text = resources.files("drgaudit.demo").joinpath("data/province.yaml").read_text(encoding="utf-8")
    return parse_province(yaml.safe_load(text))


def parse_province(doc: dict[str, Any]) -> Province:
    """Build the province from the parsed YAML document."""
    benefits = doc["benefits"]
    return Province(
        year=int(doc["year"]),
        regions=tuple(
            Region(
                code=str(r["code"]),
                name=str(r["name"]),
                population=float(r["population"]),
                cross_out=float(r["cross_out"]),
                attract=float(r["attract"]),
                rate=float(r["rate"]),
            )
            for r in doc["regions"]
        ),
        hospitals=tuple(
            Hospital(
                hospital_id=str(h["id"]),
                name=str(h["name"]),
                region=str(h["region"]),
                level=int(h["level"]),
                designated_on=_date(h["designated_on"]),
                regional_center=bool(h.get("regional_center", False)),
                volume=float(h.get("volume", 1.0)),
                role=h.get("role"),
            )
            for h in doc["hospitals"]
        ),
        employee_share=float(doc["employee_share"]),
        level_cost=_by_level(doc["level_cost"]),
        level_volume=_by_level(doc["level_volume"]),
        level_volume_cross=_by_level(doc["level_volume_cross"]),
        deductible={k: _by_level(v) for k, v in benefits["deductible"].items()},
        ratio={k: _by_level(v) for k, v in benefits["ratio"].items()},
        cross_region_cut=float(benefits["cross_region_cut"]),
    )


def _by_level(values: dict[Any, Any]) -> dict[int, float]:
    return {int(k): float(v) for k, v in values.items()}


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
