"""The demo's planted cases meet their rule conditions, look-alikes and background claims do not.

The conditions are re-implemented here from the task statement, independently of the generator's code:
they are what the bundled rules are expected to check.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from drgaudit.demo.codes import bundled_codes_dir
from drgaudit.demo.generator import generate
from drgaudit.demo.templates import load_catalog
from drgaudit.engine.functions import add_calendar_months
from tests.test_demo_codes import write_subset

# As in the rule pack's lists mcc_evidence_life_support, mcc_evidence_lab, mcc_support_procedures,
# chemo_radiotherapy + dialysis and new_technologies.
LIFE_SUPPORT_MCC = ("J96", "J80", "R57", "R65")
LAB_MCC = ("A41", "N17")
MIN_LAB_FEE = 300
SUPPORT_PROCEDURES = ("96.7", "96.04", "39.95", "31.1", "00.17")
TREATMENT_CYCLES = ("Z51.0", "Z51.1", "Z51.8", "Z49")
# The tumour-therapy core groups, which group by the principal diagnosis, not by a procedure (CHS-DRG MDCR).
TUMOUR_THERAPY_ADRG = ("RB1", "RB2", "RC1", "RE1", "RG1")
NEW_TECHNOLOGIES = ("17.41", "17.42", "17.43", "17.44", "17.45", "17.49", "35.05")
RULES = (
    "SPLIT-001",
    "SPLIT-002",
    "SPLIT-003",
    "UPC-001",
    "UPC-002",
    "UPC-003",
    "UPC-004",
    "OUT-HIGH-001",
    "OUT-EXT-001",
    "OUT-LOW-001",
    "OUT-UNG-001",
    "OUT-DEATH-001",
    "OUT-ICU-001",
    "OUT-NEW-001",
    "LOS-001",
    "COST-001",
    "LOWADM-001",
    "GHOST-001",
    "FREQ-001",
    "FREQ-002",
    "COACH-001",
    "SEV-001",
    "LOS-002",
    "LOS-003",
    "LOS-004",
    "LOS-005",
    "SPLIT-004",
    "FREQ-003",
    "DQ-005",
    "DQ-006",
)
# A hospital-level indicator: a claim may be planted for it and for one claim-level rule.
INDICATOR = "UPC-004"


class Tables:
    """CC/MCC and exclusion lookups read straight from the TSV files."""

    def __init__(self, folder: Path) -> None:
        self.mcc = _tsv(folder / "mcc.tsv")
        self.cc = _tsv(folder / "cc.tsv")
        self.principal = _tsv(folder / "principal_exclusion.tsv")

    def qualifying(self, principal: str, secondary: list[str]) -> tuple[list[str], list[str]]:
        own = self.principal.get(principal)
        mcc = [c for c in secondary if c in self.mcc and self.mcc[c] != own]
        cc = [c for c in secondary if c in self.cc and self.cc[c] != own]
        return mcc, cc


def _tsv(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return {r[0]: r[1] for r in rows[1:]}


class Demo:
    """A generated demo folder, parsed."""

    def __init__(self, folder: Path, tables: Tables) -> None:
        self.tables = tables
        self.claims = _read(folder / "claims.csv")
        self.by_id = {c["claim_id"]: c for c in self.claims}
        self.hospitals = {h["hospital_id"]: h for h in _read(folder / "hospitals.csv")}
        groups = _read(folder / "groups.csv")
        self.avg_cost = {(g["region"], g["group_code"]): float(g["avg_cost"]) for g in groups}
        self.weight = {(g["region"], g["group_code"]): float(g["weight"]) for g in groups}
        self.truth = _read(folder / "truth.csv")
        self.by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in self.claims:
            c["admit"] = date.fromisoformat(c["admit_date"])
            c["discharge"] = date.fromisoformat(c["discharge_date"])
            c["los"] = max((c["discharge"] - c["admit"]).days, 1)
            c["dx"] = c["secondary_dx"].split("|") if c["secondary_dx"] else []
            c["px"] = c["procedures"].split("|") if c["procedures"] else []
            for name in (
                "total_cost",
                "self_expense",
                "outside_purchase",
                "fee_lab",
                "fee_exam",
                "fee_bed",
                "fee_nursing",
                "icu_hours",
                "ventilator_hours",
            ):
                c[name] = float(c[name] or 0)
            self.by_patient[c["patient_id"]].append(c)
        for stays in self.by_patient.values():
            stays.sort(key=lambda c: c["admit"])
        self.over_coding = self._over_coding_hospitals()

    def _over_coding_hospitals(self) -> set[str]:
        """Hospitals whose cross-region CC/MCC share is in their level's top fifth, 0.2 above its median."""
        cases: dict[str, list[bool]] = defaultdict(list)
        for c in self.claims:
            g = c["group_code"]
            if c["payment_scheme"] == "DRG" and self.cross(c) and g and g != "0000" and not g.endswith("QY"):
                cases[c["hospital_id"]].append(g[-1] in "13")
        # Peers: same level, at least 30 cross-region DRG claims (indicator_peer_min_cases); a rank needs
        # at least 5 of them (indicator_min_peers).
        share = {h: sum(v) / len(v) for h, v in cases.items() if len(v) >= 30}
        found = set()
        for h, mine in share.items():
            peers = sorted(
                s for o, s in share.items() if self.hospitals[o]["level"] == self.hospitals[h]["level"]
            )
            if len(peers) < 5:
                continue
            rank = 100 * sum(1 for s in peers if s <= mine) / len(peers)
            mid = len(peers) // 2
            median = peers[mid] if len(peers) % 2 else (peers[mid - 1] + peers[mid]) / 2
            if rank >= 80 and mine - median >= 0.2 and len(cases[h]) >= 30:
                found.add(h)
        return found

    @staticmethod
    def cross(c: dict[str, Any]) -> bool:
        return c["insured_region"] != c["treatment_region"]

    def rows(self, kind: str, rule: str) -> list[dict[str, Any]]:
        return [t for t in self.truth if t["kind"] == kind and t["rule_id"] == rule]

    # --- the rule conditions ------------------------------------------------------------------------

    def split_pairs(self, c: dict[str, Any], *, same_hospital: bool = True) -> list[dict[str, Any]]:
        """Earlier stays at the same (or another) hospital discharged 0–15 days before, same category or
        core group."""
        pairs = []
        for a in self.by_patient[c["patient_id"]]:
            if a is c or (a["hospital_id"] == c["hospital_id"]) != same_hospital:
                continue
            gap = (c["admit"] - a["discharge"]).days
            same = a["principal_dx"][:3] == c["principal_dx"][:3] or (
                a["group_code"] and a["group_code"][:3] == c["group_code"][:3]
            )
            if 0 <= gap <= 15 and same:
                pairs.append(a)
        return pairs

    @staticmethod
    def cycle(c: dict[str, Any]) -> bool:
        return c["principal_dx"].startswith(TREATMENT_CYCLES)

    def split(self, c: dict[str, Any]) -> bool:
        # Not exempt: the earlier stay planned no readmission, this one is no treatment cycle; per-diem
        # stays have a rule of their own (SPLIT-004).
        return (
            c["payment_scheme"] in ("DRG", "DIP")
            and not self.cycle(c)
            and any(a["readmit_plan_31d"] != "2" for a in self.split_pairs(c))
        )

    def per_diem_split(self, c: dict[str, Any]) -> bool:
        """SPLIT-004: a per-diem stay 0–30 days after a per-diem discharge at the same hospital, same
        department or category, the earlier stay planning no readmission."""
        return c["payment_scheme"] == "PER_DIEM" and any(
            a is not c
            and a["payment_scheme"] == "PER_DIEM"
            and a["hospital_id"] == c["hospital_id"]
            and 0 <= (c["admit"] - a["discharge"]).days <= 30
            and (a["dept_code"] == c["dept_code"] or a["principal_dx"][:3] == c["principal_dx"][:3])
            and a["readmit_plan_31d"] != "2"
            for a in self.by_patient[c["patient_id"]]
        )

    def same_day(self, c: dict[str, Any]) -> bool:
        return not self.cycle(c) and any(
            a is not c
            and a["hospital_id"] == c["hospital_id"]
            and a["discharge"] == c["admit"]
            and a["readmit_plan_31d"] != "2"
            for a in self.by_patient[c["patient_id"]]
        )

    def level(self, c: dict[str, Any]) -> int:
        return int(self.hospitals[c["hospital_id"]]["level"])

    def transfer(self, c: dict[str, Any]) -> bool:
        """SPLIT-003: a lateral transfer, or back to the hospital that transferred the patient out; a
        downward referral for rehabilitation is exempt."""
        if self.cycle(c):
            return False
        for a in self.split_pairs(c, same_hospital=False):
            if a["discharge_mode"] != "2" or (c["admit"] - a["discharge"]).days > 1:
                continue
            back = any(
                b["hospital_id"] == c["hospital_id"] and 0 <= (a["admit"] - b["discharge"]).days <= 1
                for b in self.by_patient[c["patient_id"]]
            )
            rehab = c["principal_dx"].startswith("Z50") or c.get("dept_code") in ("A21", "康复医学科")
            if (self.level(a) == self.level(c) or back) and not (self.level(c) < self.level(a) and rehab):
                return True
        return False

    def upc_mcc(self, c: dict[str, Any]) -> bool:
        if c["payment_scheme"] != "DRG" or not c["group_code"].endswith("1") or c["discharge_mode"] == "5":
            return False
        mcc, _ = self.tables.qualifying(c["principal_dx"], c["dx"])
        supported = (
            c["icu_hours"] > 0
            or c["ventilator_hours"] > 0
            or any(p.startswith(SUPPORT_PROCEDURES) for p in c["px"])
        )

        def unsupported(code: str) -> bool:
            if code.startswith(LIFE_SUPPORT_MCC):
                return not supported
            return code.startswith(LAB_MCC) and c["fee_lab"] < MIN_LAB_FEE

        ratio = self.ratio(c)
        return bool(mcc) and all(unsupported(m) for m in mcc) and (c["los"] <= 5 or (ratio or 1) <= 0.6)

    def upc_none(self, c: dict[str, Any]) -> bool:
        if not c["group_code"] or c["group_code"][-1] not in "13":
            return False
        mcc, cc = self.tables.qualifying(c["principal_dx"], c["dx"])
        return not mcc and not cc

    def ratio(self, c: dict[str, Any]) -> float | None:
        avg = self.avg_cost.get((c["treatment_region"], c["group_code"]))
        return c["total_cost"] / avg if avg else None

    def upc_surgical(self, c: dict[str, Any]) -> bool:
        g = c["group_code"]
        surgical = c["payment_scheme"] == "DRG" and g[1:2] in "ABCDEFGHIJ" and g[1:2] != "" and not c["px"]
        return surgical and not g.startswith(TUMOUR_THERAPY_ADRG)

    def upc_hospital(self, c: dict[str, Any]) -> bool:
        return (
            c["hospital_id"] in self.over_coding
            and self.cross(c)
            and c["payment_scheme"] == "DRG"
            and c["group_code"][-1:] in ("1", "3")
        )

    def out_high(self, c: dict[str, Any]) -> bool:
        r = self.ratio(c)
        high = 2.5 if c["treatment_region"] == "510700" else 3.0
        return r is not None and high <= r <= 5.0

    def out_extreme(self, c: dict[str, Any]) -> bool:
        r = self.ratio(c)
        return r is not None and r > 5.0

    def out_low(self, c: dict[str, Any]) -> bool:
        r = self.ratio(c)
        return r is not None and r <= 0.3 and c["discharge_mode"] == "1"

    @staticmethod
    def ungrouped(c: dict[str, Any]) -> bool:
        return c["payment_scheme"] in ("DRG", "DIP") and (
            c["group_code"] == "0000" or c["group_code"].endswith("QY")
        )

    def costly_death(self, c: dict[str, Any]) -> bool:
        r = self.ratio(c)
        return (
            c["discharge_mode"] == "5"
            and r is not None
            and r >= 2.0
            and (c["icu_hours"] > 0 or bool(c["px"]))
        )

    @staticmethod
    def long_icu(c: dict[str, Any]) -> bool:
        return c["icu_hours"] >= 168

    @staticmethod
    def new_technology(c: dict[str, Any]) -> bool:
        return any(p.startswith(NEW_TECHNOLOGIES) for p in c["px"])

    @staticmethod
    def icu_over_stay(c: dict[str, Any]) -> bool:
        return c["icu_hours"] > c["los"] * 24

    @staticmethod
    def newborn_no_weight(c: dict[str, Any]) -> bool:
        return (
            c["age"] == "0" and c["age_days"] != "" and int(c["age_days"]) <= 28 and not c["newborn_weight_g"]
        )

    @staticmethod
    def long_stay(c: dict[str, Any]) -> bool:
        return c["payment_scheme"] in ("DRG", "DIP") and c["los"] >= 60

    @staticmethod
    def per_diem_long(dept: str, days: int) -> Callable[[dict[str, Any]], bool]:
        """LOS-002 (psychiatry, A15…, 180 days), LOS-003 (rehabilitation, A21, 90 days) and LOS-004
        (hospice, A24, 90 days)."""
        return lambda c: (
            c["payment_scheme"] == "PER_DIEM" and c["dept_code"].startswith(dept) and c["los"] >= days
        )

    @staticmethod
    def per_diem_long_other(c: dict[str, Any]) -> bool:
        """LOS-005: other departments' per-diem stays of 60 days or more (psychiatry, rehabilitation and
        hospice have their own limits)."""
        own = c["dept_code"].startswith(("A15", "A21", "A24"))
        return c["payment_scheme"] == "PER_DIEM" and not own and c["los"] >= 60

    def cost_shift(self, c: dict[str, Any]) -> bool:
        # The oracle restates rules/regions/510700.yaml on its own: 绵阳 flags from 25%, elsewhere 30%.
        share = 0.25 if c["treatment_region"] == "510700" else 0.30
        return c["self_expense"] + c["outside_purchase"] >= share * c["total_cost"]

    def low_standard(self, c: dict[str, Any]) -> bool:
        return (
            c["los"] <= 2
            and not c["px"]
            and c["fee_lab"] + c["fee_exam"] >= 0.6 * c["total_cost"]
            and c["discharge_mode"] == "1"
            and c["admission_route"] == "2"
        )

    def hardly_any_care(self, c: dict[str, Any]) -> bool:
        """GHOST-001: 7 days or more, at most 50 yuan a day besides bed and nursing fees (outside purchases
        counted); deaths and hospice departments (A24) exempt."""
        care = round(c["total_cost"] + c["outside_purchase"], 2) - c["fee_bed"] - c["fee_nursing"]
        return (
            c["payment_scheme"] in ("DRG", "DIP", "PER_DIEM")
            and c["los"] >= 7
            and care / c["los"] <= 50
            and c["discharge_mode"] != "5"
            and not c["dept_code"].startswith("A24")
        )

    def chain_leg(self, c: dict[str, Any]) -> bool:
        """A later leg of a transfer chain: the stay discharged last before it (any hospital) left by
        transfer to another hospital at most a day before (episodes_within counts the chain once)."""
        before = [a for a in self.by_patient[c["patient_id"]] if a is not c and a["discharge"] <= c["admit"]]
        if not before:
            return False
        prev = max(before, key=lambda a: a["discharge"])
        return (
            prev["discharge_mode"] == "2"
            and prev["hospital_id"] != c["hospital_id"]
            and (c["admit"] - prev["discharge"]).days <= 1
        )

    def countable(self, c: dict[str, Any]) -> bool:
        return not self.cycle(c) and c["payment_scheme"] != "PER_DIEM" and not self.chain_leg(c)

    def frequent(self, c: dict[str, Any]) -> bool:
        if self.cycle(c) or c["payment_scheme"] == "PER_DIEM":
            return False
        window = c["admit"] - timedelta(days=365)
        n = sum(
            1
            for a in self.by_patient[c["patient_id"]]
            if self.countable(a) and window < a["admit"] <= c["admit"]
        )
        return n >= 6

    def per_diem_frequent(self, c: dict[str, Any]) -> bool:
        """FREQ-003: a per-diem stay that is the 5th episode or later in 365 days (stays of any scheme
        count; treatment cycles and later legs of a transfer chain do not)."""
        if c["payment_scheme"] != "PER_DIEM":
            return False
        window = c["admit"] - timedelta(days=365)
        n = sum(
            1
            for a in self.by_patient[c["patient_id"]]
            if not self.cycle(a) and not self.chain_leg(a) and window < a["admit"] <= c["admit"]
        )
        return n >= 5

    def frequent_90(self, c: dict[str, Any]) -> bool:
        if c["payment_scheme"] not in ("DRG", "DIP") or self.cycle(c):
            return False
        n = sum(
            1
            for a in self.by_patient[c["patient_id"]]
            if 0 <= (c["admit"] - a["admit"]).days < 90 and not self.cycle(a) and not self.chain_leg(a)
        )
        return n >= 4

    def coaching(self, c: dict[str, Any]) -> bool:
        h = self.hospitals[c["hospital_id"]]
        if (
            c["insured_region"] == c["treatment_region"]
            or h["regional_center"] == "true"
            or not h["designated_on"]
        ):
            return False
        # Discharged (settled) from the designation date to six calendar months later, or to the
        # hospital's extended date.
        designated = date.fromisoformat(h["designated_on"])
        until = date.fromisoformat(h["coaching_until"]) if h.get("coaching_until") else None
        return designated <= c["discharge"] and (
            c["discharge"] < add_calendar_months(designated, 6)
            or (until is not None and c["discharge"] <= until)
        )

    def severe_shift(self, c: dict[str, Any]) -> bool:
        """SEV-001: a severe DRG case (MCC group or weight ≥ 2) leaving within 2 days against advice, or
        transferred out of a level-3 hospital."""
        group = c["group_code"]
        if c["payment_scheme"] != "DRG" or not group:
            return False
        severe = group.endswith("1") or self.weight.get((c["treatment_region"], group), 0.0) >= 2.0
        leaves = c["discharge_mode"] == "4" or (c["discharge_mode"] == "2" and self.level(c) >= 3)
        return severe and c["los"] <= 2 and leaves

    def condition(self, rule: str) -> Callable[[dict[str, Any]], bool]:
        return {
            "SPLIT-001": self.split,
            "SPLIT-002": self.same_day,
            "SPLIT-003": self.transfer,
            "UPC-001": self.upc_mcc,
            "UPC-002": self.upc_none,
            "UPC-003": self.upc_surgical,
            "UPC-004": self.upc_hospital,
            "OUT-HIGH-001": self.out_high,
            "OUT-EXT-001": self.out_extreme,
            "OUT-LOW-001": self.out_low,
            "OUT-UNG-001": self.ungrouped,
            "OUT-DEATH-001": self.costly_death,
            "OUT-ICU-001": self.long_icu,
            "OUT-NEW-001": self.new_technology,
            "LOS-001": self.long_stay,
            "COST-001": self.cost_shift,
            "LOWADM-001": self.low_standard,
            "GHOST-001": self.hardly_any_care,
            "FREQ-001": self.frequent,
            "FREQ-002": self.frequent_90,
            "COACH-001": self.coaching,
            "SEV-001": self.severe_shift,
            "LOS-002": self.per_diem_long("A15", 180),
            "LOS-003": self.per_diem_long("A21", 90),
            "LOS-004": self.per_diem_long("A24", 90),
            "LOS-005": self.per_diem_long_other,
            "SPLIT-004": self.per_diem_split,
            "FREQ-003": self.per_diem_frequent,
            "DQ-005": self.icu_over_stay,
            "DQ-006": self.newborn_no_weight,
        }[rule]


def _read(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    generate(folder, seed=7, claims=20000)
    return Demo(folder, Tables(bundled_codes_dir()))


@pytest.mark.parametrize("rule", RULES)
def test_every_planted_case_meets_its_condition(demo: Demo, rule: str) -> None:
    planted = demo.rows("planted", rule)
    assert len(planted) >= 10
    check = demo.condition(rule)
    missed = [t["claim_id"] for t in planted if not check(demo.by_id[t["claim_id"]])]
    assert missed == []


@pytest.mark.parametrize("rule", RULES)
def test_no_other_claim_meets_the_condition(demo: Demo, rule: str) -> None:
    planted = {t["claim_id"] for t in demo.rows("planted", rule)}
    check = demo.condition(rule)
    hits = [c["claim_id"] for c in demo.claims if c["claim_id"] not in planted and check(c)]
    assert hits == []


def test_background_claims_are_not_even_near_a_split(demo: Demo) -> None:
    # Apart from planted splits and look-alikes no stay is 1–15 days after one at the same hospital and
    # of the same category, whatever readmit_plan_31d says.
    listed = {t["claim_id"] for t in demo.truth if t["rule_id"] in ("SPLIT-001", "SPLIT-004")}
    near = [c["claim_id"] for c in demo.claims if c["claim_id"] not in listed and demo.split_pairs(c)]
    assert near == []


def test_lookalikes_resemble_their_rule_but_are_exempt(demo: Demo) -> None:
    # The look-alikes of the scenarios; boundary ones (notes starting 边界) are checked below.
    look = {
        rule: [
            demo.by_id[t["claim_id"]]
            for t in demo.rows("lookalike", rule)
            if not t["note"].startswith("边界")
        ]
        for rule in RULES
    }
    for rule in ("SPLIT-001", "SPLIT-003", "UPC-001", "OUT-LOW-001", "OUT-DEATH-001", "OUT-ICU-001"):
        assert look[rule], rule
    assert look["COACH-001"] and look["FREQ-002"]
    # Planned chemotherapy cycles at one hospital, readmit_plan_31d = 2; planned readmissions for other
    # conditions; transfers to another hospital two days or more later.
    chemo = [c for c in look["SPLIT-001"] if c["principal_dx"].startswith("Z51.1")]
    assert chemo and all(demo.split_pairs(c) and c["readmit_plan_31d"] == "2" for c in chemo)
    planned = [c for c in look["SPLIT-001"] if not demo.cycle(c) and demo.split_pairs(c)]
    assert planned and all(a["readmit_plan_31d"] == "2" for c in planned for a in demo.split_pairs(c))
    others = [c for c in look["SPLIT-001"] if not demo.split_pairs(c)]
    assert others
    for c in others:
        earlier = demo.by_patient[c["patient_id"]][0]
        assert earlier["hospital_id"] != c["hospital_id"] and earlier["discharge_mode"] == "2"
        assert 2 <= (c["admit"] - earlier["discharge"]).days <= 15
    # Transfers up to a higher-level hospital within a day.
    for c in look["SPLIT-003"]:
        earlier = demo.by_patient[c["patient_id"]][0]
        assert earlier["discharge_mode"] == "2" and 0 <= (c["admit"] - earlier["discharge"]).days <= 1
        assert int(demo.hospitals[earlier["hospital_id"]]["level"]) < int(
            demo.hospitals[c["hospital_id"]]["level"]
        )
    # MCC respiratory failure with the record to back it; sepsis or kidney failure with lab work.
    for c in look["UPC-001"]:
        mcc, _ = demo.tables.qualifying(c["principal_dx"], c["dx"])
        assert c["group_code"].endswith("1")
        if any(m.startswith("J96") for m in mcc):
            assert c["ventilator_hours"] >= 24 and c["icu_hours"] >= 48 and c["los"] >= 7
            assert any(p.startswith("96.7") for p in c["px"])
        else:
            assert all(m.startswith(LAB_MCC) for m in mcc) and c["los"] <= 5 and c["icu_hours"] == 0
            assert c["fee_lab"] >= MIN_LAB_FEE
    # Very cheap deaths (exempt from the low-ratio rule, not costly deaths).
    for c in look["OUT-LOW-001"] + look["OUT-DEATH-001"]:
        ratio = demo.ratio(c)
        assert ratio is not None and ratio <= 0.3 and c["discharge_mode"] == "5"
    for c in look["OUT-ICU-001"]:
        assert 90 <= c["icu_hours"] < 168
    # Chemotherapy cycles: a fourth admission within 90 days.
    for c in look["FREQ-002"]:
        assert (
            demo.cycle(c)
            and sum(0 <= (c["admit"] - a["admit"]).days <= 90 for a in demo.by_patient[c["patient_id"]]) >= 4
        )
    # Cross-region stays discharged in the new regional medical centre's first six calendar months.
    for c in look["COACH-001"]:
        h = demo.hospitals[c["hospital_id"]]
        assert h["regional_center"] == "true" and c["insured_region"] != c["treatment_region"]
        designated = date.fromisoformat(h["designated_on"])
        assert designated <= c["discharge"] < add_calendar_months(designated, 6)
    for t in demo.truth:
        if t["kind"] == "lookalike":
            assert not demo.condition(t["rule_id"])(demo.by_id[t["claim_id"]]), t


def test_boundary_cases_sit_on_both_sides_of_each_threshold(demo: Demo) -> None:
    # Claims one step below, exactly at and one step above the thresholds (values as the bundled pack
    # states them), labelled by which side of the rule they are on.
    rows = [t for t in demo.truth if t["note"].startswith("边界")]
    sides = defaultdict(set)
    for t in rows:
        sides[t["rule_id"]].add(t["kind"])
    for rule in ("LOS-001", "OUT-ICU-001", "COACH-001", "DQ-006", "DQ-005", "COST-001", "LOWADM-001", "GHOST-001",
                 "OUT-HIGH-001", "OUT-EXT-001", "OUT-LOW-001", "OUT-DEATH-001", "UPC-001", "SPLIT-001",
                 "SPLIT-003", "FREQ-001", "FREQ-002", "SEV-001", "LOS-002", "LOS-003", "LOS-004",
                 "LOS-005", "SPLIT-004", "FREQ-003"):  # fmt: skip
        assert rule in sides, rule
    for rule in ("LOS-001", "COACH-001", "COST-001", "OUT-HIGH-001", "OUT-LOW-001", "SPLIT-001", "UPC-001",
                 "SEV-001", "LOS-002", "LOS-003", "LOS-004", "LOS-005",
                 "SPLIT-004", "GHOST-001"):  # fmt: skip
        assert sides[rule] == {"planted", "lookalike"}, rule

    def claims_of(rule: str, kind: str) -> list[dict[str, Any]]:
        return [demo.by_id[t["claim_id"]] for t in rows if t["rule_id"] == rule and t["kind"] == kind]

    assert {c["los"] for c in claims_of("LOS-001", "planted")} >= {60, 61}
    assert {c["los"] for c in claims_of("LOS-001", "lookalike")} == {59}
    assert {c["los"] for c in claims_of("SEV-001", "planted")} == {1, 2}
    assert {c["los"] for c in claims_of("LOS-002", "planted")} >= {180, 181}
    assert {c["los"] for c in claims_of("LOS-002", "lookalike")} == {179}
    assert {c["los"] for c in claims_of("LOS-003", "planted")} >= {90, 91}
    assert {c["los"] for c in claims_of("LOS-003", "lookalike")} == {89}
    assert {c["los"] for c in claims_of("LOS-004", "planted") if c["dept_code"] == "A24"} >= {90, 91}
    assert {c["los"] for c in claims_of("LOS-004", "lookalike")} == {89}
    # Hospice stays are exempt from GHOST-001 (care there is mostly nursing) and left to LOS-004 by LOS-005.
    hospice_care = [c for c in claims_of("GHOST-001", "lookalike") if c["dept_code"] == "A24"]
    assert hospice_care and all(c["los"] >= 7 and c["discharge_mode"] != "5" for c in hospice_care)
    # They would hit but for their department.
    assert all(demo.hardly_any_care({**c, "dept_code": "A03"}) for c in hospice_care)
    assert {c["los"] for c in claims_of("LOS-005", "planted")} >= {60, 61}
    assert {c["los"] for c in claims_of("LOS-005", "lookalike") if c["dept_code"] == "A03.09"} == {59}
    hospice_long = [c for c in claims_of("LOS-005", "lookalike") if c["dept_code"] == "A24"]
    assert hospice_long and all(60 <= c["los"] < 90 for c in hospice_long)
    assert all(demo.per_diem_long_other({**c, "dept_code": "A03"}) for c in hospice_long)
    # A chemotherapy stay with no procedure is exempt from UPC-003: its group (RE1) groups by the diagnosis.
    chemotherapy = claims_of("UPC-003", "lookalike")
    assert chemotherapy and all(c["group_code"].startswith("RE1") and not c["px"] for c in chemotherapy)
    assert all(demo.upc_surgical({**c, "group_code": "RD1" + c["group_code"][3:]}) for c in chemotherapy)

    def gap(c: dict[str, Any]) -> int:
        return (c["admit"] - demo.by_patient[c["patient_id"]][0]["discharge"]).days

    assert {gap(c) for c in claims_of("SPLIT-004", "planted")} >= {29, 30}
    assert {gap(c) for c in claims_of("SPLIT-004", "lookalike")} == {31}
    severe_alike = claims_of("SEV-001", "lookalike")
    assert {c["los"] for c in severe_alike if c["discharge_mode"] == "4"} == {3}
    # Exemptions: severe cases leaving within 2 days on medical advice, or transferred up from level 1–2.
    exempt = [c for c in severe_alike if c["discharge_mode"] != "4"]
    assert {c["discharge_mode"] for c in exempt} == {"1", "2"}
    assert all(c["los"] <= 2 and (c["discharge_mode"] == "1" or demo.level(c) < 3) for c in exempt)
    assert {c["icu_hours"] for c in claims_of("OUT-ICU-001", "lookalike")} == {167}
    assert 168 in {c["icu_hours"] for c in claims_of("OUT-ICU-001", "planted")}
    exact = [c for c in claims_of("COST-001", "planted") if c["self_expense"] == 0.3 * c["total_cost"]]
    assert exact or any(c["treatment_region"] == "510700" for c in claims_of("COST-001", "planted"))
    assert any(demo.ratio(c) == 3.0 or demo.ratio(c) == 2.5 for c in claims_of("OUT-HIGH-001", "planted"))
    assert any(demo.ratio(c) == 5.0 for c in claims_of("OUT-EXT-001", "lookalike"))
    assert any(demo.ratio(c) == 0.3 for c in claims_of("OUT-LOW-001", "planted"))
    assert any(c["fee_lab"] == MIN_LAB_FEE for c in claims_of("UPC-001", "lookalike"))
    assert any(c["fee_lab"] == MIN_LAB_FEE - 0.01 for c in claims_of("UPC-001", "planted"))


def test_each_claim_is_planted_for_one_rule_at_most(demo: Demo) -> None:
    # ... besides the hospital-level indicator, which covers every cross-region CC/MCC claim of a hospital.
    planted = [t["claim_id"] for t in demo.truth if t["kind"] == "planted" and t["rule_id"] != INDICATOR]
    assert len(planted) == len(set(planted))
    rules_of: dict[str, set[str]] = defaultdict(set)
    for t in demo.truth:
        if t["kind"] == "planted":
            rules_of[t["claim_id"]].add(t["rule_id"])
    for claim_id, rules in rules_of.items():
        c = demo.by_id[claim_id]
        assert {r for r in RULES if demo.condition(r)(c)} == rules, claim_id


def test_over_coding_hospital(demo: Demo) -> None:
    # One hospital, the one province.yaml names, and all its cross-region CC/MCC claims are truth rows.
    assert demo.over_coding == {"H51010000006"}
    indicator = {t["claim_id"] for t in demo.rows("planted", INDICATOR)}
    assert len(indicator) >= 30


def test_family_names_are_the_rule_packs(demo: Demo) -> None:
    from drgaudit.contract import FAMILIES
    from drgaudit.engine.loader import bundled_rules_dir, load_pack

    pack = load_pack(bundled_rules_dir())
    families = {rule.id: rule.family for rule in pack.rules}
    # The contract's families, and those a rule file declares (`families:`, as shifting_severe.yaml does).
    known = set(FAMILIES) | set(pack.families)
    assert all(
        t["family"] == families[t["rule_id"]] and t["family"] in known and t["note"] for t in demo.truth
    )


def check_severity(demo: Demo) -> list[str]:
    """Claims whose DRG severity digit disagrees with their coded CC/MCC (planted upcoding aside)."""
    upcoded = {t["claim_id"] for t in demo.truth if t["kind"] == "planted" and t["rule_id"] == "UPC-002"}
    wrong = []
    for c in demo.claims:
        if c["payment_scheme"] not in ("DRG", "DIP") or c["claim_id"] in upcoded or Demo.ungrouped(c):
            continue
        mcc, cc = demo.tables.qualifying(c["principal_dx"], c["dx"])
        digit = c["group_code"][-1]
        ok = {"1": bool(mcc), "3": bool(cc) and not mcc, "5": not mcc and not cc, "9": True}[digit]
        if not ok:
            wrong.append(c["claim_id"])
    return wrong


def test_group_severity_agrees_with_coded_complications(demo: Demo) -> None:
    assert check_severity(demo) == []
    digits = {c["group_code"][-1] for c in demo.claims if c["group_code"] and not demo.ungrouped(c)}
    assert digits == {"1", "3", "5", "9"}


def test_other_code_tables(tmp_path: Path) -> None:
    """`--codes DIR`: the demo draws its codes from the tables given (here a cut of the bundled ones)."""
    dx, px = load_catalog().all_codes()
    subset = write_subset(tmp_path / "codes", set(dx), set(px))
    generate(tmp_path / "demo", seed=11, claims=2000, codes_dir=subset)
    other = Demo(tmp_path / "demo", Tables(subset))
    assert check_severity(other) == []
    for rule in RULES:
        planted = {t["claim_id"] for t in other.rows("planted", rule)}
        check = other.condition(rule)
        # 2,000 claims are too few for the hospital-level indicator: nothing is planted for it, nothing hits.
        assert (planted or rule == INDICATOR) and all(check(other.by_id[i]) for i in planted), rule
        assert not [c["claim_id"] for c in other.claims if c["claim_id"] not in planted and check(c)], rule
    known = set(_tsv(subset / "diagnoses.tsv"))
    planted_unknown = {t["claim_id"] for t in other.rows("planted", "DQ-001")}
    assert all(
        code in known for c in other.claims if c["claim_id"] not in planted_unknown for code in c["dx"]
    )
