"""Turning a dated, placed stay into one claims.csv row: costs, fee categories and who paid what.

Money is computed in whole fen (cents) so the fee categories add up to total_cost exactly and
fund_paid + self_pay + self_expense = total_cost. outside_purchase (drugs the patient was sent to buy
outside) is not part of the hospital bill, so not part of total_cost.
"""

from __future__ import annotations

import random

from drgaudit.contract import CLAIM_FIELDS, FEE_FIELDS, GROUPED_SCHEMES, LIST_SEPARATOR
from drgaudit.demo.groups import GroupTable
from drgaudit.demo.province import Province
from drgaudit.demo.stays import MAX_COST_FACTOR, MIN_COST_FACTOR, Stay
from drgaudit.demo.templates import Catalog

CLAIM_HEADER: tuple[str, ...] = tuple(f.name for f in CLAIM_FIELDS)
_LAB, _EXAM = FEE_FIELDS.index("fee_lab"), FEE_FIELDS.index("fee_exam")
_OTHER, _DRUG = FEE_FIELDS.index("fee_other"), FEE_FIELDS.index("fee_drug")
_BED, _NURSING = FEE_FIELDS.index("fee_bed"), FEE_FIELDS.index("fee_nursing")
# Ceiling of the lab + exam share of a background stay (LOWADM-001 looks at 0.6 and more).
MAX_BACKGROUND_LAB_EXAM = 0.42


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Renderer:
    """Computes the money of a stay and lays it out as a row in DATA-CONTRACT field order."""

    def __init__(self, rng: random.Random, catalog: Catalog, province: Province, groups: GroupTable) -> None:
        self.rng = rng
        self.catalog = catalog
        self.province = province
        self.groups = groups

    def total_cents(self, stay: Stay) -> int:
        """Total cost: the group's average times the stay's cost factor, or the per-diem rate times days."""
        rng = self.rng
        assert stay.hospital is not None
        if stay.total_cents is not None:
            return stay.total_cents
        level_cost = self.province.level_cost[stay.hospital.level]
        if stay.template.per_diem_paid:
            return round(stay.template.per_diem * level_cost * stay.los * rng.uniform(0.92, 1.12) * 100)
        entry = self.groups.entry(stay.region, stay.group)
        factor = stay.cost_factor
        if factor is None:
            factor = level_cost * (stay.los / entry.avg_los) ** 0.3 * rng.lognormvariate(0.0, 0.15)
            factor = min(max(factor, MIN_COST_FACTOR), MAX_COST_FACTOR)
        return round(entry.avg_cost * factor * 100)

    def fees(self, stay: Stay, total: int) -> list[int]:
        rng = self.rng
        shares = [s * rng.uniform(0.8, 1.2) for s in self.catalog.fee_profiles[stay.pathway.kind]]
        scale = sum(shares)
        shares = [s / scale for s in shares]
        lab_exam = shares[_LAB] + shares[_EXAM]
        target = stay.lab_exam if stay.lab_exam is not None else min(lab_exam, MAX_BACKGROUND_LAB_EXAM)
        if target != lab_exam:
            rest = 1.0 - lab_exam
            shares = [
                s * (target / lab_exam if i in (_LAB, _EXAM) else (1.0 - target) / rest)
                for i, s in enumerate(shares)
            ]
        if stay.care_cents is not None:
            return self._hardly_any_care(shares, total, stay.care_cents)
        cents = [int(total * s) for s in shares]
        if stay.exact_lab_exam and stay.lab_exam is not None:
            # Lab + exam exactly the share of the total, the rest in the other fees. Both in whole yuan, so
            # that their sum is exact in floating point too (the engine adds them before dividing).
            wanted = round(total * stay.lab_exam)
            cents[_LAB] = min(cents[_LAB] // 100 * 100, wanted)
            cents[_EXAM] = wanted - cents[_LAB]
        if stay.lab_fee is not None:
            # The lab fee exactly as set (evidence thresholds); the difference comes from the drugs.
            lab = round(stay.lab_fee * 100)
            cents[_DRUG] += cents[_LAB] - lab
            cents[_LAB] = lab
        cents[_OTHER] += total - sum(cents)
        return cents

    @staticmethod
    def _hardly_any_care(shares: list[float], total: int, care: int) -> list[int]:
        """Fees of a stay with hardly any care: `care` fen over the fee profile's categories besides bed and
        nursing, the rest of the total bed (three fifths) and nursing (whole yuan, so that the engine's
        total − bed − nursing is exact in floating point when the total and `care` are whole yuan)."""
        cents = [0] * len(shares)
        others = [i for i in range(len(shares)) if i not in (_BED, _NURSING)]
        weight = sum(shares[i] for i in others)
        for i in others:
            cents[i] = int(care * shares[i] / weight)
        cents[_OTHER] += care - sum(cents)
        nursing = (total - care) * 2 // 5 // 100 * 100
        cents[_NURSING], cents[_BED] = nursing, total - care - nursing
        return cents

    def payments(self, stay: Stay, total: int) -> tuple[int, int, int, int]:
        """fund_paid, self_pay, self_expense, outside_purchase."""
        rng = self.rng
        assert stay.hospital is not None
        patient = stay.patient
        outside = 0
        if stay.shift is not None:
            outside = round(total * stay.outside)
            self_expense = round(total * stay.shift) - outside
        elif patient.insurance_type == "employee":
            self_expense = round(total * rng.uniform(0.02, 0.08))
        else:
            self_expense = round(total * rng.uniform(0.04, 0.12))
        in_catalogue = total - self_expense
        level = stay.hospital.level
        deductible = round(self.province.deductible[patient.insurance_type][level] * 100)
        ratio = self.province.ratio[patient.insurance_type][level]
        if stay.cross_region:
            ratio -= self.province.cross_region_cut
        fund = max(0, round((in_catalogue - deductible) * ratio))
        return fund, in_catalogue - fund, self_expense, outside

    def row(self, stay: Stay, claim_id: str) -> list[str]:
        assert stay.admit is not None and stay.hospital is not None
        patient = stay.patient
        total = self.total_cents(stay)
        fees = self.fees(stay, total)
        fund, self_pay, self_expense, outside = self.payments(stay, total)
        age = patient.age_at(stay.admit)
        values: dict[str, str] = {
            "claim_id": claim_id,
            "patient_id": patient.patient_id,
            "gender": patient.gender,
            "age": str(age),
            "age_days": str((stay.admit - patient.birth).days) if age < 1 else "",
            "newborn_weight_g": str(patient.newborn_weight)
            if patient.newborn_weight and not stay.blank_weight
            else "",
            "insured_region": patient.insured.code,
            "treatment_region": stay.region,
            "insurance_type": patient.insurance_type,
            "hospital_id": stay.hospital.hospital_id,
            "dept_code": stay.template.dept,
            "admit_date": stay.admit.isoformat(),
            "discharge_date": stay.discharge.isoformat(),
            "admission_route": stay.route,
            "discharge_mode": stay.mode,
            "readmit_plan_31d": stay.readmit,
            "principal_dx": stay.principal,
            "secondary_dx": LIST_SEPARATOR.join(stay.secondary),
            "procedures": LIST_SEPARATOR.join(stay.procedures),
            "icu_hours": str(stay.icu),
            "ventilator_hours": str(stay.vent),
            "payment_scheme": stay.scheme,
            "group_code": (stay.coded_group or stay.group) if stay.scheme in GROUPED_SCHEMES else "",
            "total_cost": money(total),
            "fund_paid": money(fund),
            "self_pay": money(self_pay),
            "self_expense": money(self_expense),
            "outside_purchase": money(outside),
        }
        for name, cents in zip(FEE_FIELDS, fees, strict=True):
            values[name] = money(cents)
        return [values[name] for name in CLAIM_HEADER]
