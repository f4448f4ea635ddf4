"""Two more baselines of bench/screen.py: the bundled rules as a plain Python loop, and as DuckDB SQL.

Both read the facts that bench/bare_durable.py prepares by hand (`Facts.patient`, the same fields its
durable-rules rulesets test) and apply the same conditions, with each rule's parameter values of the
claim's treatment region read from the loaded pack, so all three must find the same (rule, claim) pairs
as drgaudit. No drgaudit rule logic runs here. `PYTHON_RULES` and `SQL_RULES` are the rule ids each
one implements (bench/screen.py and tests/test_bench_baselines.py name the active rules missing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from bench.bare_durable import NONE, Facts, episodes_field

Fact = dict[str, Any]
Params = dict[str, Any]


def _dd(f: Fact) -> bool:
    return f["dd"]


def _drg(f: Fact) -> bool:
    return f["drg"]


def _per_diem(f: Fact) -> bool:
    return f["per_diem"]


def _single_rules() -> dict[str, Callable[[Fact, Params], bool]]:
    def frequent(rule_id: str, periodic_exempt: bool) -> Callable[[Fact, Params], bool]:
        field = episodes_field(rule_id)
        scheme = _per_diem if rule_id == "FREQ-003" else _dd
        return lambda f, p: (
            scheme(f) and f[field] >= p["max_admissions"] and not (periodic_exempt and f["periodic"])
        )

    return {
        "UPC-001": lambda f, p: _drg(f) and f["severity"] == "1" and f["mcc"] >= 1 and f["mcc_life"] + f["mcc_lab"] == f["mcc"]
        and (f["mcc_life"] == 0 or (f["icu_hours"] <= 0 and f["ventilator_hours"] <= 0 and not f["support"]))
        and (f["mcc_lab"] == 0 or f["fee_lab"] < p["min_lab_fee"])
        and (f["los"] <= p["max_los_days"] or (f["has_ratio"] and f["ratio"] <= p["max_cost_ratio"]))
        and f["discharge_mode"] != "5",
        "UPC-002": lambda f, p: _drg(f) and ((f["severity"] == "1" and f["mcc"] == 0) or (f["severity"] == "3" and f["ccmcc"] == 0)),
        "UPC-003": lambda f, p: _drg(f) and f["surgical"] and f["procedures"] == 0 and not f["therapy_adrg"],
        "UPC-004": lambda f, p: _drg(f) and f["cross"] and f["severity"] in ("1", "3") and f["ranked"]
        and f["cc_mcc_rank"] >= p["peer_percentile"] and f["cc_mcc_excess"] >= p["min_excess"],
        "OUT-HIGH-001": lambda f, p: _dd(f) and f["has_ratio"] and f["ratio"] >= f["high_limit"] and f["payment_kind"] == "high_ratio",
        "OUT-EXT-001": lambda f, p: _dd(f) and f["has_ratio"] and f["ratio"] > f["extreme_limit"] and f["payment_kind"] == "extreme",
        "OUT-LOW-001": lambda f, p: _dd(f) and f["has_ratio"] and f["ratio"] <= f["low_limit"] and f["payment_kind"] == "low_ratio"
        and f["discharge_mode"] not in ("2", "3", "4", "5"),
        "OUT-UNG-001": lambda f, p: _dd(f) and f["ungroupable"],
        "OUT-DEATH-001": lambda f, p: _dd(f) and f["discharge_mode"] == "5" and (f["icu_hours"] > 0 or f["procedures"] > 0)
        and f["has_ratio"] and f["ratio"] >= p["min_ratio"],
        "OUT-ICU-001": lambda f, p: _dd(f) and f["icu_hours"] >= p["min_icu_hours"],
        "OUT-NEW-001": lambda f, p: _dd(f) and f["new_technology"],
        "LOS-001": lambda f, p: _dd(f) and f["los"] >= p["max_los_days"],
        "LOS-002": lambda f, p: _per_diem(f) and f["psychiatric"] and f["los"] >= p["max_los_days"],
        "LOS-003": lambda f, p: _per_diem(f) and f["rehabilitation_dept"] and f["los"] >= p["max_los_days"],
        "LOS-004": lambda f, p: _per_diem(f) and f["hospice"] and f["los"] >= p["max_los_days"],
        "LOS-005": lambda f, p: _per_diem(f) and f["los"] >= p["max_los_days"]
        and not (f["psychiatric"] or f["rehabilitation_dept"] or f["hospice"]),
        "COST-001": lambda f, p: _dd(f) and f["has_self_share"] and f["self_share"] >= p["max_self_share"],
        "COST-002": lambda f, p: _dd(f) and f["outside_purchase"] > p["min_amount"],
        "LOWADM-001": lambda f, p: _dd(f) and f["los"] <= p["max_los_days"] and f["procedures"] == 0 and f["has_lab_share"]
        and f["lab_share"] >= p["min_lab_exam_share"] and f["discharge_mode"] == "1" and not f["emergency"],
        "GHOST-001": lambda f, p: (_dd(f) or _per_diem(f)) and f["los"] >= p["min_los_days"]
        and f["care_daily"] <= p["max_daily_care_cost"] and f["discharge_mode"] != "5" and not f["hospice"],
        "FREQ-001": frequent("FREQ-001", True),
        "FREQ-002": frequent("FREQ-002", True),
        "FREQ-003": frequent("FREQ-003", False),
        "COACH-001": lambda f, p: f["nonlocal_claim"] and f["has_designation"] and f["discharge"] >= f["designated"]
        and (f["discharge"] < f["coaching_end"] or (f["has_coaching_until"] and f["discharge"] <= f["coaching_until"]))
        and not f["regional_center"],
        "SEV-001": lambda f, p: _drg(f) and (f["severity"] == "1" or (f["group_known"] and f["weight"] >= p["min_weight"]))
        and f["los"] <= p["max_los_days"]
        and (f["discharge_mode"] == "4" or (f["discharge_mode"] == "2" and f["has_level"] and f["level"] >= p["transfer_level"])),
        "DQ-001": lambda f, p: f["unknown"] > 0,
        "DQ-003": lambda f, p: _dd(f) and not f["group_known"] and not f["ungroupable"],
        "DQ-005": lambda f, p: f["icu_hours"] > f["los"] * 24,
        "DQ-006": lambda f, p: f["age"] == 0 and f["has_age_days"] and f["age_days"] <= p["max_age_days"] and not f["has_birth_weight"],
        "DQ-007": lambda f, p: (f["gender"] == "1" and f["female_dx"]) or (f["gender"] == "2" and f["male_dx"]),
        "DQ-008": lambda f, p: f["perinatal"] and f["age"] > p["max_age"],
        "DQ-009": lambda f, p: f["pregnancy"] and (f["age"] < p["min_age"] or f["age"] > p["max_age"]),
        "DQ-010": lambda f, p: f["fee_total"] > 0 and round(abs(f["fee_total"] - f["total_cost"]), 2) > p["max_difference"],
        "DQ-011": lambda f, p: round(f["paid"] - f["total_cost"], 2) > p["max_difference"],
        "DQ-012": lambda f, p: f["ventilator_hours"] > f["los"] * 24,
        "DQ-014": lambda f, p: f["hospital_known"] and f["hospital_region"] != "" and f["region"] != f["hospital_region"],
        "DQ-015": lambda f, p: f["age"] == 0 and not f["has_age_days"],
    }  # fmt: skip


def _same_kind(e: Fact, m: Fact) -> bool:
    return e["dx3"] == m["dx3"] or (e["has_adrg"] and m["has_adrg"] and e["adrg"] == m["adrg"])


def _split_003(e: Fact, m: Fact, p: Params) -> bool:
    window = p["window_days"]
    if not (_dd(m) and e["discharge_mode"] == "2" and m["hospital_id"] != e["hospital_id"]):
        return False
    if not (
        e["discharge"] <= m["admit"] <= e["discharge"] + window and _same_kind(e, m) and not m["periodic"]
    ):
        return False
    same_level = e["has_level"] and m["has_level"] and e["level"] == m["level"]
    back = e["prev_hospital_id"] == m["hospital_id"] and e["days_since_prev"] <= window
    rehab_down = (
        e["has_level"]
        and m["has_level"]
        and m["level"] < e["level"]
        and (m["rehabilitation_dx"] or m["rehabilitation_dept"])
    )
    return (same_level or back) and not rehab_down


PAIR_RULES: dict[str, Callable[[Fact, Fact, Params], bool]] = {
    "SPLIT-001": lambda e, m, p: _dd(m) and not e["plan2"] and m["hospital_id"] == e["hospital_id"]
    and e["discharge"] <= m["admit"] <= e["discharge"] + p["window_days"] and _same_kind(e, m) and not m["periodic"],
    "SPLIT-002": lambda e, m, p: _dd(m) and not e["plan2"] and m["hospital_id"] == e["hospital_id"] and m["admit"] == e["discharge"]
    and not m["periodic"],
    "SPLIT-003": _split_003,
    "SPLIT-004": lambda e, m, p: _per_diem(m) and e["per_diem"] and not e["plan2"] and m["hospital_id"] == e["hospital_id"]
    and e["discharge"] <= m["admit"] <= e["discharge"] + p["window_days"]
    and ((e["has_dept"] and m["has_dept"] and e["dept"] == m["dept"]) or e["dx3"] == m["dx3"]),
    "DQ-004": lambda e, m, p: m["admit"] < e["discharge"],
    "DQ-013": lambda e, m, p: e["discharge_mode"] == "5" and m["admit"] >= e["discharge"],
}  # fmt: skip
SINGLE_RULES = _single_rules()
PYTHON_RULES = frozenset(SINGLE_RULES) | frozenset(PAIR_RULES)


def python_loop(prep: Facts, patients: Iterable[list[Fact]]) -> set[tuple[str, str]]:
    """Every (rule, claim) of the rules written as Python conditions, one loop over the facts."""
    hits: set[tuple[str, str]] = set()
    effective = prep.effective
    for facts in patients:
        for i, m in enumerate(facts):
            if not m["target"]:
                continue
            params = prep.params(m["region"])
            discharge = m["discharge"]
            for rule_id, test in SINGLE_RULES.items():
                p = params.get(rule_id)
                if p is None:
                    continue
                start, end = effective[rule_id]
                if start <= discharge <= end and test(m, p):
                    hits.add((rule_id, m["claim_id"]))
            if i == 0:
                continue
            for rule_id, pair_test in PAIR_RULES.items():
                p = params.get(rule_id)
                if p is None:
                    continue
                start, end = effective[rule_id]
                if not start <= discharge <= end:
                    continue
                for e in facts[:i]:
                    if pair_test(e, m, p):
                        hits.add((rule_id, m["claim_id"]))
                        break
    return hits


# The rules as SQL over the facts table `m` (a claim of the batch) joined with its region's parameters
# `p`; `$name` is the rule's parameter `name` (a column of `p`). Pair rules also read the earlier claim `e`.
_SINGLE_SQL = {
    "UPC-001": "m.drg AND m.severity = '1' AND m.mcc >= 1 AND m.mcc_life + m.mcc_lab = m.mcc AND (m.mcc_life = 0 OR (m.icu_hours <= 0 "
    "AND m.ventilator_hours <= 0 AND NOT m.support)) AND (m.mcc_lab = 0 OR m.fee_lab < $min_lab_fee) AND (m.los <= $max_los_days "
    "OR (m.has_ratio AND m.ratio <= $max_cost_ratio)) AND m.discharge_mode <> '5'",
    "UPC-002": "m.drg AND ((m.severity = '1' AND m.mcc = 0) OR (m.severity = '3' AND m.ccmcc = 0))",
    "UPC-003": "m.drg AND m.surgical AND m.procedures = 0 AND NOT m.therapy_adrg",
    "UPC-004": "m.drg AND m.\"cross\" AND m.severity IN ('1', '3') AND m.ranked AND m.cc_mcc_rank >= $peer_percentile "
    "AND m.cc_mcc_excess >= $min_excess",
    "OUT-HIGH-001": "m.dd AND m.has_ratio AND m.ratio >= m.high_limit AND m.payment_kind = 'high_ratio'",
    "OUT-EXT-001": "m.dd AND m.has_ratio AND m.ratio > m.extreme_limit AND m.payment_kind = 'extreme'",
    "OUT-LOW-001": "m.dd AND m.has_ratio AND m.ratio <= m.low_limit AND m.payment_kind = 'low_ratio' AND m.discharge_mode NOT IN ('2', '3', '4', '5')",
    "OUT-UNG-001": "m.dd AND m.ungroupable",
    "OUT-DEATH-001": "m.dd AND m.discharge_mode = '5' AND (m.icu_hours > 0 OR m.procedures > 0) AND m.has_ratio AND m.ratio >= $min_ratio",
    "OUT-ICU-001": "m.dd AND m.icu_hours >= $min_icu_hours",
    "OUT-NEW-001": "m.dd AND m.new_technology",
    "LOS-001": "m.dd AND m.los >= $max_los_days",
    "LOS-002": "m.per_diem AND m.psychiatric AND m.los >= $max_los_days",
    "LOS-003": "m.per_diem AND m.rehabilitation_dept AND m.los >= $max_los_days",
    "LOS-004": "m.per_diem AND m.hospice AND m.los >= $max_los_days",
    "LOS-005": "m.per_diem AND m.los >= $max_los_days AND NOT (m.psychiatric OR m.rehabilitation_dept OR m.hospice)",
    "COST-001": "m.dd AND m.has_self_share AND m.self_share >= $max_self_share",
    "COST-002": "m.dd AND m.outside_purchase > $min_amount",
    "LOWADM-001": "m.dd AND m.los <= $max_los_days AND m.procedures = 0 AND m.has_lab_share AND m.lab_share >= $min_lab_exam_share "
    "AND m.discharge_mode = '1' AND NOT m.emergency",
    "GHOST-001": "(m.dd OR m.per_diem) AND m.los >= $min_los_days AND m.care_daily <= $max_daily_care_cost "
    "AND m.discharge_mode <> '5' AND NOT m.hospice",
    "FREQ-001": "m.dd AND m.episodes_freq_001 >= $max_admissions AND NOT m.periodic",
    "FREQ-002": "m.dd AND m.episodes_freq_002 >= $max_admissions AND NOT m.periodic",
    "FREQ-003": "m.per_diem AND m.episodes_freq_003 >= $max_admissions",
    "COACH-001": "m.nonlocal_claim AND m.has_designation AND m.discharge >= m.designated AND (m.discharge < m.coaching_end "
    "OR (m.has_coaching_until AND m.discharge <= m.coaching_until)) AND NOT m.regional_center",
    "SEV-001": "m.drg AND (m.severity = '1' OR (m.group_known AND m.weight >= $min_weight)) AND m.los <= $max_los_days "
    "AND (m.discharge_mode = '4' OR (m.discharge_mode = '2' AND m.has_level AND m.level >= $transfer_level))",
    "DQ-001": "m.unknown > 0",
    "DQ-003": "m.dd AND NOT m.group_known AND NOT m.ungroupable",
    "DQ-005": "m.icu_hours > m.los * 24",
    "DQ-006": "m.age = 0 AND m.has_age_days AND m.age_days <= $max_age_days AND NOT m.has_birth_weight",
    "DQ-007": "(m.gender = '1' AND m.female_dx) OR (m.gender = '2' AND m.male_dx)",
    "DQ-008": "m.perinatal AND m.age > $max_age",
    "DQ-009": "m.pregnancy AND (m.age < $min_age OR m.age > $max_age)",
    "DQ-010": "m.fee_total > 0 AND round(abs(m.fee_total - m.total_cost), 2) > $max_difference",
    "DQ-011": "round(m.paid - m.total_cost, 2) > $max_difference",
    "DQ-012": "m.ventilator_hours > m.los * 24",
    "DQ-014": "m.hospital_known AND m.hospital_region <> '' AND m.region <> m.hospital_region",
    "DQ-015": "m.age = 0 AND NOT m.has_age_days",
}  # fmt: skip
_SAME_KIND = "(e.dx3 = m.dx3 OR (e.has_adrg AND m.has_adrg AND e.adrg = m.adrg))"
_PAIR_SQL = {
    "SPLIT-001": f"m.dd AND NOT e.plan2 AND m.hospital_id = e.hospital_id AND m.admit BETWEEN e.discharge AND e.discharge + $window_days "
    f"AND {_SAME_KIND} AND NOT m.periodic",
    "SPLIT-002": "m.dd AND NOT e.plan2 AND m.hospital_id = e.hospital_id AND m.admit = e.discharge AND NOT m.periodic",
    "SPLIT-003": f"m.dd AND e.discharge_mode = '2' AND m.hospital_id <> e.hospital_id AND m.admit BETWEEN e.discharge AND e.discharge + $window_days "
    f"AND {_SAME_KIND} AND NOT m.periodic AND ((e.has_level AND m.has_level AND e.level = m.level) "
    "OR (e.prev_hospital_id = m.hospital_id AND e.days_since_prev <= $window_days)) "
    "AND NOT (e.has_level AND m.has_level AND m.level < e.level AND (m.rehabilitation_dx OR m.rehabilitation_dept))",
    "SPLIT-004": "m.per_diem AND e.per_diem AND NOT e.plan2 AND m.hospital_id = e.hospital_id "
    "AND m.admit BETWEEN e.discharge AND e.discharge + $window_days "
    "AND ((e.has_dept AND m.has_dept AND e.dept = m.dept) OR e.dx3 = m.dx3)",
    "DQ-004": "m.admit < e.discharge",
    "DQ-013": "e.discharge_mode = '5' AND m.admit >= e.discharge",
}  # fmt: skip
SQL_RULES = frozenset(_SINGLE_SQL) | frozenset(_PAIR_SQL)


def _sql(rule_id: str, condition: str) -> str:
    """A rule's condition with `$name` read from its parameter column, and its effective dates."""
    body = re.sub(r"\$(\w+)", lambda match: f'p."{rule_id}.{match.group(1)}"', condition)
    return f'p."{rule_id}" AND m.discharge BETWEEN p."{rule_id}.from" AND p."{rule_id}.to" AND ({body})'


def duckdb_rules(prep: Facts, patients: Iterable[list[Fact]]) -> tuple[set[tuple[str, str]], float, float]:
    """The rules as one DuckDB query over a facts table; returns (hits, seconds to load, seconds to query)."""
    import duckdb
    import numpy as np

    started = time.perf_counter()
    rows = [f for facts in patients for f in facts]
    con = duckdb.connect()
    hits: set[tuple[str, str]] = set()
    if rows:
        columns = {}
        for name in rows[0]:
            values = [f[name] for f in rows]
            kind = type(values[0])
            columns[name] = np.array(values, dtype=object if kind is str else None)
        con.register("facts", columns)
        con.execute("CREATE TABLE f AS SELECT * FROM facts")
        con.unregister("facts")
        # One row of parameters per treatment region of the facts: `RULE` (whether the region screens with
        # the rule), `RULE.from`/`RULE.to` (its effective dates as day numbers), `RULE.name` (each parameter).
        regions = sorted({f["region"] for f in rows})
        table: dict[str, list[Any]] = {"region": regions}
        for rule in sorted(SQL_RULES):
            start, end = prep.effective.get(rule, (0, NONE))
            table[rule] = [rule in prep.params(r) for r in regions]
            table[f"{rule}.from"], table[f"{rule}.to"] = [start] * len(regions), [end] * len(regions)
            for name in sorted({k for r in regions for k in prep.params(r).get(rule, {})}):
                table[f"{rule}.{name}"] = [prep.params(r).get(rule, {}).get(name) for r in regions]
        con.register(
            "params",
            {
                k: np.array(v, dtype=object if k == "region" else bool if "." not in k else float)
                for k, v in table.items()
            },
        )
        con.execute("CREATE TABLE p AS SELECT * FROM params")
        con.unregister("params")
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        # A rule no region screens with (not in the pack, or switched off everywhere) has no parameters.
        screened = {rule for r in regions for rule in prep.params(r)}
        parts = [
            f"SELECT '{rule}' AS rule_id, m.claim_id FROM f m JOIN p ON p.region = m.region "
            f"WHERE m.target AND {_sql(rule, sql)}"
            for rule, sql in _SINGLE_SQL.items()
            if rule in screened
        ]
        parts += [
            f"SELECT DISTINCT '{rule}' AS rule_id, m.claim_id FROM f m JOIN p ON p.region = m.region "
            f"JOIN f e ON e.patient_id = m.patient_id AND e.seq < m.seq WHERE m.target AND {_sql(rule, sql)}"
            for rule, sql in _PAIR_SQL.items()
            if rule in screened
        ]
        if parts:
            hits = {(rule, claim) for rule, claim in con.execute(" UNION ALL ".join(parts)).fetchall()}
    else:
        loaded = time.perf_counter() - started
        started = time.perf_counter()
    queried = time.perf_counter() - started
    con.close()
    return hits, loaded, queried
