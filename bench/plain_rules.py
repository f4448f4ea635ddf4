"""Two more baselines of bench/screen.py: the bundled rules as a plain Python loop, and as DuckDB SQL.

Both read the facts that bench/bare_durable.py prepares by hand (`BareRules.fact`, the same fields its
durable-rules rulesets test) and apply the same conditions, so all three must find the same (rule, claim)
pairs as drgaudit. No drgaudit engine code runs here.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.bare_durable import COACH_FROM, START_2025, BareRules

Fact = dict[str, Any]
# Per region: COST-001's self-share threshold and whether COST-002 is switched on (as in BareRules).
REGION_PARAMS = {"510700": (0.25, True), "511300": (0.3, False)}
NATIONAL_PARAMS = (0.3, True)


def _single_rules() -> dict[str, Callable[[Fact], bool]]:
    def grouped(f: Fact) -> bool:
        return f["grouped"]

    def drg(f: Fact) -> bool:
        return f["grouped"] and f["drg"]

    return {
        "UPC-001": lambda f: drg(f) and f["severity"] == "1" and f["mcc"] >= 1 and f["mcc_evidence"] == f["mcc"]
        and (f["mcc_life"] == 0 or (f["icu_hours"] <= 0 and f["ventilator_hours"] <= 0 and not f["support"]))
        and (f["mcc_lab"] == 0 or f["fee_lab"] < 300) and (f["los"] <= 5 or (f["has_ratio"] and f["ratio"] <= 0.6))
        and f["discharge_mode"] != "5",
        "UPC-002": lambda f: drg(f) and ((f["severity"] == "1" and f["mcc"] == 0) or (f["severity"] == "3" and f["ccmcc"] == 0)),
        "UPC-003": lambda f: drg(f) and f["surgical"] and f["procedures"] == 0,
        "UPC-004": lambda f: drg(f) and f["cross"] and f["severity"] in ("1", "3") and f["ranked"]
        and f["cc_mcc_rank"] >= 80 and f["cc_mcc_excess"] >= 0.2,
        "OUT-HIGH-001": lambda f: grouped(f) and f["has_ratio"] and f["ratio"] >= f["high_limit"] and f["payment_kind"] == "high_ratio",
        "OUT-EXT-001": lambda f: grouped(f) and f["has_ratio"] and f["ratio"] > f["extreme_limit"] and f["payment_kind"] == "extreme",
        "OUT-LOW-001": lambda f: grouped(f) and f["has_ratio"] and f["ratio"] <= f["low_limit"] and f["payment_kind"] == "low_ratio"
        and f["discharge_mode"] not in ("2", "3", "4", "5"),
        "OUT-UNG-001": lambda f: grouped(f) and f["ungroupable"],
        "OUT-DEATH-001": lambda f: grouped(f) and f["discharge_mode"] == "5" and (f["icu_hours"] > 0 or f["procedures"] > 0)
        and f["has_ratio"] and f["ratio"] >= 2.0,
        "OUT-ICU-001": lambda f: grouped(f) and f["icu_hours"] >= 168,
        "OUT-NEW-001": lambda f: grouped(f) and f["new_technology"],
        "LOS-001": lambda f: grouped(f) and f["los"] >= 60,
        "COST-001": lambda f: grouped(f) and f["has_self_share"] and f["self_share"] >= f["max_self_share"],
        "COST-002": lambda f: f["cost_002"] and grouped(f) and f["outside_purchase"] > 0,
        "LOWADM-001": lambda f: grouped(f) and f["los"] <= 2 and f["procedures"] == 0 and f["has_lab_share"]
        and f["lab_share"] >= 0.6 and f["discharge_mode"] == "1" and not f["emergency"],
        "FREQ-001": lambda f: grouped(f) and f["admissions_365"] >= 6 and not f["cyclic"],
        "FREQ-002": lambda f: grouped(f) and f["admissions_90"] >= 4 and not f["cyclic"],
        "COACH-001": lambda f: f["discharge"] >= COACH_FROM and f["cross"] and f["has_designation"]
        and 0 <= f["days_designated"] < 183 and not f["regional_center"],
        "DQ-001": lambda f: f["unknown"] > 0,
        "DQ-003": lambda f: grouped(f) and not f["group_known"] and not f["ungroupable"],
        "DQ-005": lambda f: f["icu_hours"] > f["los"] * 24,
        "DQ-006": lambda f: f["age"] == 0 and f["has_age_days"] and f["age_days"] <= 28 and not f["has_birth_weight"],
    }  # fmt: skip


def _same_kind(e: Fact, m: Fact) -> bool:
    return e["dx3"] == m["dx3"] or (e["has_adrg"] and m["has_adrg"] and e["adrg"] == m["adrg"])


PAIR_RULES: dict[str, Callable[[Fact, Fact], bool]] = {
    "SPLIT-001": lambda e, m: not e["plan2"] and m["hospital_id"] == e["hospital_id"] and e["discharge"] <= m["admit"] <= e["discharge"] + 15
    and _same_kind(e, m) and m["grouped"] and not m["cyclic"],
    "SPLIT-002": lambda e, m: not e["plan2"] and m["hospital_id"] == e["hospital_id"] and m["admit"] == e["discharge"]
    and m["grouped"] and not m["cyclic"],
    "SPLIT-003": lambda e, m: e["discharge_mode"] == "2" and e["has_level"] and m["hospital_id"] != e["hospital_id"]
    and e["discharge"] <= m["admit"] <= e["discharge"] + 1 and _same_kind(e, m) and m["has_level"] and m["level"] <= e["level"]
    and m["grouped"] and not m["cyclic"],
    "DQ-004": lambda e, m: m["admit"] < e["discharge"],
}  # fmt: skip
SINGLE_RULES = _single_rules()


def patient_facts(bare: BareRules, patient_id: str, batch: list[dict]) -> list[Fact]:
    """The hand-prepared facts of one patient's claims, in claim order, with `target` and region params."""
    ordered = sorted(batch, key=lambda x: (x["admit_date"], x["discharge_date"], x["claim_id"]))
    facts = []
    for seq, claim in enumerate(ordered):
        admit = claim["admit_date"]
        days = [(admit - other["admit_date"]).days for other in ordered[: seq + 1]]
        admissions = (sum(1 for d in days if 0 <= d < 365), sum(1 for d in days if 0 <= d < 90))
        fact = bare.fact(claim, seq, admissions, True)
        fact["patient_id"] = patient_id
        fact["max_self_share"], fact["cost_002"] = REGION_PARAMS.get(
            claim["treatment_region"], NATIONAL_PARAMS
        )
        facts.append(fact)
    return facts


def python_loop(patients: Iterable[list[Fact]]) -> set[tuple[str, str]]:
    """Every (rule, claim) of the rules written as Python conditions, one loop over the facts."""
    hits: set[tuple[str, str]] = set()
    for facts in patients:
        for i, m in enumerate(facts):
            if m["discharge"] < START_2025:
                continue
            for rule_id, test in SINGLE_RULES.items():
                if test(m):
                    hits.add((rule_id, m["claim_id"]))
            for e in facts[:i]:
                for rule_id, pair_test in PAIR_RULES.items():
                    if pair_test(e, m):
                        hits.add((rule_id, m["claim_id"]))
    return hits


_COLUMNS = (
    "patient_id", "seq", "claim_id", "hospital_id", "admit", "discharge", "los", "dx3", "grouped", "drg", "age",
    "has_age_days", "age_days", "has_birth_weight", "has_adrg", "adrg", "severity", "surgical", "ungroupable",
    "group_known", "has_ratio", "ratio", "payment_kind", "high_limit", "low_limit", "extreme_limit", "mcc", "ccmcc",
    "mcc_life", "mcc_lab", "mcc_evidence", "support", "new_technology", "icu_hours", "ventilator_hours", "fee_lab",
    "discharge_mode", "emergency", "has_self_share", "self_share", "outside_purchase", "procedures", "has_lab_share",
    "lab_share", "admissions_365", "admissions_90", "cyclic", "plan2", "cross", "has_designation", "days_designated",
    "regional_center", "has_level", "level", "ranked", "cc_mcc_rank", "cc_mcc_excess", "unknown", "max_self_share",
    "cost_002",
)  # fmt: skip

_SINGLE_SQL = {
    "UPC-001": "grouped AND drg AND severity = '1' AND mcc >= 1 AND mcc_evidence = mcc AND (mcc_life = 0 OR (icu_hours <= 0 "
    "AND ventilator_hours <= 0 AND NOT support)) AND (mcc_lab = 0 OR fee_lab < 300) AND (los <= 5 OR (has_ratio AND "
    "ratio <= 0.6)) AND discharge_mode <> '5'",
    "UPC-002": "grouped AND drg AND ((severity = '1' AND mcc = 0) OR (severity = '3' AND ccmcc = 0))",
    "UPC-003": "grouped AND drg AND surgical AND procedures = 0",
    "UPC-004": "grouped AND drg AND \"cross\" AND severity IN ('1', '3') AND ranked AND cc_mcc_rank >= 80 AND cc_mcc_excess >= 0.2",
    "OUT-HIGH-001": "grouped AND has_ratio AND ratio >= high_limit AND payment_kind = 'high_ratio'",
    "OUT-EXT-001": "grouped AND has_ratio AND ratio > extreme_limit AND payment_kind = 'extreme'",
    "OUT-LOW-001": "grouped AND has_ratio AND ratio <= low_limit AND payment_kind = 'low_ratio' AND discharge_mode NOT IN ('2', '3', '4', '5')",
    "OUT-UNG-001": "grouped AND ungroupable",
    "OUT-DEATH-001": "grouped AND discharge_mode = '5' AND (icu_hours > 0 OR procedures > 0) AND has_ratio AND ratio >= 2.0",
    "OUT-ICU-001": "grouped AND icu_hours >= 168",
    "OUT-NEW-001": "grouped AND new_technology",
    "LOS-001": "grouped AND los >= 60",
    "COST-001": "grouped AND has_self_share AND self_share >= max_self_share",
    "COST-002": "cost_002 AND grouped AND outside_purchase > 0",
    "LOWADM-001": "grouped AND los <= 2 AND procedures = 0 AND has_lab_share AND lab_share >= 0.6 AND discharge_mode = '1' AND NOT emergency",
    "FREQ-001": "grouped AND admissions_365 >= 6 AND NOT cyclic",
    "FREQ-002": "grouped AND admissions_90 >= 4 AND NOT cyclic",
    "COACH-001": f"discharge >= {COACH_FROM} AND \"cross\" AND has_designation AND days_designated >= 0 AND days_designated < 183 AND NOT regional_center",
    "DQ-001": "unknown > 0",
    "DQ-003": "grouped AND NOT group_known AND NOT ungroupable",
    "DQ-005": "icu_hours > los * 24",
    "DQ-006": "age = 0 AND has_age_days AND age_days <= 28 AND NOT has_birth_weight",
}  # fmt: skip
_SAME_KIND = "(e.dx3 = m.dx3 OR (e.has_adrg AND m.has_adrg AND e.adrg = m.adrg))"
_PAIR_SQL = {
    "SPLIT-001": f"NOT e.plan2 AND m.hospital_id = e.hospital_id AND m.admit BETWEEN e.discharge AND e.discharge + 15 AND {_SAME_KIND} AND m.grouped AND NOT m.cyclic",
    "SPLIT-002": "NOT e.plan2 AND m.hospital_id = e.hospital_id AND m.admit = e.discharge AND m.grouped AND NOT m.cyclic",
    "SPLIT-003": f"e.discharge_mode = '2' AND e.has_level AND m.hospital_id <> e.hospital_id AND m.admit BETWEEN e.discharge AND e.discharge + 1 "
    f"AND {_SAME_KIND} AND m.has_level AND m.level <= e.level AND m.grouped AND NOT m.cyclic",
    "DQ-004": "m.admit < e.discharge",
}  # fmt: skip


def duckdb_rules(patients: Iterable[list[Fact]]) -> tuple[set[tuple[str, str]], float, float]:
    """The rules as one DuckDB query over a facts table; returns (hits, seconds to load, seconds to query)."""
    import duckdb

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drgaudit-duckdb-") as scratch:
        path = Path(scratch) / "facts.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(_COLUMNS)
            for facts in patients:
                for f in facts:
                    writer.writerow(f[c] for c in _COLUMNS)
        con = duckdb.connect()
        con.execute(
            f"CREATE TABLE f AS SELECT * FROM read_csv_auto('{path}', header = true, all_varchar = false)"
        )
        for text in (
            "claim_id",
            "hospital_id",
            "dx3",
            "adrg",
            "severity",
            "payment_kind",
            "discharge_mode",
            "patient_id",
        ):
            con.execute(f"ALTER TABLE f ALTER {text} TYPE VARCHAR")
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        parts = [
            f"SELECT '{rule}' AS rule_id, claim_id FROM f WHERE discharge >= {START_2025} AND ({sql})"
            for rule, sql in _SINGLE_SQL.items()
        ]
        parts += [
            f"SELECT DISTINCT '{rule}' AS rule_id, m.claim_id FROM f m JOIN f e ON e.patient_id = m.patient_id AND e.seq < m.seq "
            f"WHERE m.discharge >= {START_2025} AND ({sql})"
            for rule, sql in _PAIR_SQL.items()
        ]  # fmt: skip
        rows = con.execute(" UNION ALL ".join(parts)).fetchall()
        queried = time.perf_counter() - started
        con.close()
    return {(rule, claim) for rule, claim in rows}, loaded, queried
