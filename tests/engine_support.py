"""Shared helpers for engine tests: a loaded bundled pack, code tables, and canonical claim builders."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack

REGIONS = ("510100", "510700", "511300", "510300")


def bundled() -> tuple[RulePack, CodeTables]:
    """The bundled rule pack and its code subset."""
    pack = load_pack(bundled_rules_dir())
    return pack, CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))


def claim(**fields: Any) -> dict[str, Any]:
    """A canonical claim (ARCHITECTURE.md "Canonical records") with plausible defaults."""
    base: dict[str, Any] = {
        "claim_id": "C1", "patient_id": "P1", "gender": "1", "age": 60, "age_days": None, "newborn_weight_g": None,
        "insured_region": "510700", "treatment_region": "510100", "insurance_type": "employee", "hospital_id": "H1",
        "dept_code": None, "admit_date": dt.date(2025, 6, 1), "discharge_date": dt.date(2025, 6, 8),
        "admission_route": "2", "discharge_mode": "1", "readmit_plan_31d": "1", "principal_dx": "J18.900",
        "secondary_dx": [], "procedures": [], "icu_hours": 0.0, "ventilator_hours": 0.0, "payment_scheme": "DRG",
        "group_code": "ES35", "total_cost": 9000.0, "fund_paid": 6000.0, "self_pay": 2500.0, "self_expense": 500.0,
        "outside_purchase": 0.0, "fee_drug": 3000.0, "fee_material": 800.0, "fee_lab": 1500.0, "fee_exam": 1200.0,
        "fee_treatment": 1200.0, "fee_surgery": None, "fee_nursing": 600.0, "fee_bed": 700.0, "fee_other": None,
    }  # fmt: skip
    base.update(fields)
    return base


def hospital(hospital_id: str = "H1", region: str = "510100", **fields: Any) -> dict[str, Any]:
    """A canonical hospital."""
    base = {"hospital_id": hospital_id, "name": f"测试医院{hospital_id}", "region": region, "level": "3",
            "designated_on": dt.date(2010, 1, 1), "regional_center": False}  # fmt: skip
    base.update(fields)
    return base


def group(
    code: str, region: str = "510100", weight: float = 0.8, avg_cost: float = 9500.0, **fields: Any
) -> dict[str, Any]:
    """A canonical group-table entry."""
    base = {
        "region": region,
        "scheme": "DRG",
        "group_code": code,
        "name": code,
        "weight": weight,
        "avg_cost": avg_cost,
        "avg_los": 8.0,
    }
    base.update(fields)
    return base


def reference(pack: RulePack, codes: CodeTables, hospitals: list[dict], groups: list[dict]) -> ReferenceData:
    """Reference data for a Screener."""
    return ReferenceData(
        {h["hospital_id"]: h for h in hospitals},
        {(g["region"], g["scheme"], g["group_code"]): g for g in groups},
        codes,
        pack,
    )


# RE15 (chemotherapy; a therapy ADRG, not surgical for UPC-003) and GD25 (appendicectomy: surgical).
GROUP_CODES = ("ES31", "ES33", "ES35", "RE15", "FR19", "GD25")
DIAGNOSES = ("J18.900", "J15.900", "J18.000", "Z51.103", "I21.001", "J96.900x001", "A41.900")
SECONDARY = (
    "J96.900x001",
    "I10.x00x002",
    "E87.600",
    "J15.900",
    "A41.900",
    "I50.900x002",
    "R57.900",
    "XX9.999",
)
PROCEDURES = ("96.7101", "39.9500", "36.0601", "88.5000")


def random_world(seed: int, patients: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Random claims meant to land on both sides of every bundled rule's thresholds."""
    rnd = random.Random(seed)
    hospitals = []
    for i in range(6):
        region = REGIONS[i % len(REGIONS)]
        designated = dt.date(2025, rnd.randint(1, 9), 1) if i in (4, 5) else dt.date(2012, 1, 1)
        hospitals.append(
            hospital(
                f"H{i}",
                region,
                level=str(rnd.randint(1, 3)),
                designated_on=designated,
                regional_center=i == 5,
            )
        )
    groups = [
        group(code, region, weight=w, avg_cost=w * 11000)
        for region in REGIONS
        for code, w in zip(GROUP_CODES, (1.6, 1.1, 0.8, 0.9, 2.2, 1.0), strict=True)
    ]
    claims = []
    for p in range(patients):
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randint(0, 200))
        for n in range(rnd.choice((1, 1, 2, 3, 4, 7))):
            h = rnd.choice(hospitals)
            los = rnd.choice((0, 1, 2, 3, 5, 8, 20, 59, 60, 75))
            admit = start
            discharge = admit + dt.timedelta(days=los)
            start = discharge + dt.timedelta(days=rnd.choice((0, 3, 10, 15, 16, 30, 60)))
            code = rnd.choice(GROUP_CODES + ("0000", "ESQY", "ZZ11"))
            scheme = rnd.choice(("DRG", "DRG", "DRG", "DIP", "FFS", "PER_DIEM"))
            avg = next((g["avg_cost"] for g in groups if g["group_code"] == code), 10000.0)
            total = round(avg * rnd.choice((0.2, 0.3, 0.31, 0.8, 1.5, 2.4, 2.5, 3.0, 3.5)), 2)
            lab = round(total * rnd.choice((0.1, 0.3, 0.7)), 2)
            self_expense = round(total * rnd.choice((0.0, 0.1, 0.3, 0.4)), 2)
            claims.append(claim(
                claim_id=f"P{p}-{n}", patient_id=f"P{p}", hospital_id=h["hospital_id"], treatment_region=h["region"],
                insured_region=rnd.choice(REGIONS), admit_date=admit, discharge_date=discharge,
                principal_dx=rnd.choice(DIAGNOSES), secondary_dx=rnd.sample(SECONDARY, rnd.randint(0, 3)),
                procedures=rnd.sample(PROCEDURES, rnd.randint(0, 1)), icu_hours=float(rnd.choice((0, 0, 30, 150))),
                ventilator_hours=float(rnd.choice((0, 0, 48))), payment_scheme=scheme, group_code=code,
                total_cost=total, fee_lab=lab, fee_exam=0.0, fee_drug=round(total * 0.2, 2), fee_material=0.0,
                fee_treatment=0.0, fee_nursing=0.0, fee_bed=0.0, self_expense=self_expense,
                # The fee items add up to the total, and so do the payments (settlement-list QC, DQ-010/011).
                fee_other=round(total - lab - round(total * 0.2, 2), 2), self_pay=round(total * 0.1, 2),
                fund_paid=round(total - round(total * 0.1, 2) - self_expense, 2),
                outside_purchase=rnd.choice((0.0, 0.0, 200.0)), readmit_plan_31d=rnd.choice(("1", "2", None)),
                admission_route=rnd.choice(("1", "2", None)), discharge_mode=rnd.choice(("1", "1", "2", "5")),
            ))  # fmt: skip
    return claims, hospitals, groups
