"""Screening the demo with the bundled rule pack finds exactly the planted cases, and no look-alike.

This ties the demo's ground truth to the rules as written: if a rule's condition or default threshold
changes, this test says which planted cases or background claims now disagree.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from drgaudit.demo.codes import bundled_codes_dir
from drgaudit.demo.generator import generate
from drgaudit.demo.scenarios import PLANTED_RULES
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.indicators import CaseMix, hospital_indicators, peer_rule
from drgaudit.engine.loader import bundled_rules_dir, load_pack, read_pack
from drgaudit.engine.screen import Screener, screen_claims

rows = pytest.importorskip("drgaudit.ingest.rows")


def records(path: Path, kind: str) -> list[dict[str, Any]]:
    converter = rows.RowConverter(kind, str(path))
    with open(path, encoding="utf-8", newline="") as f:
        out = [converter(number, raw) for number, raw in enumerate(csv.DictReader(f), start=2)]
    assert all(isinstance(r, dict) for r in out), [r for r in out if not isinstance(r, dict)][:3]
    return out


def indicators(
    claims: list[dict[str, Any]], hospitals: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The batch's hospital indicators (UPC-004), as screening a casebook batch computes them."""
    cases: Counter[str] = Counter()
    with_cc: Counter[str] = Counter()
    for c in claims:
        group = c["group_code"] or ""
        if c["payment_scheme"] == "DRG" and c["insured_region"] != c["treatment_region"] and group:
            if group != "0000" and not group.endswith("QY"):
                cases[c["hospital_id"]] += 1
                with_cc[c["hospital_id"]] += group[-1] in "13"
    mix = [CaseMix(h, cases[h], with_cc[h]) for h in sorted(cases)]
    return hospital_indicators(
        mix,
        {h: int(v["level"]) for h, v in hospitals.items()},
        peers_by=peer_rule(load_pack(bundled_rules_dir())),
    )


def test_bundled_rules_hit_exactly_the_planted_cases(tmp_path: Path) -> None:
    generate(tmp_path, seed=21, claims=20000)
    pack = read_pack(bundled_rules_dir()).pack
    assert pack is not None
    hospitals = {h["hospital_id"]: h for h in records(tmp_path / "hospitals.csv", "hospitals")}
    groups = {
        (g["region"], g["scheme"], g["group_code"]): g for g in records(tmp_path / "groups.csv", "groups")
    }
    claims = records(tmp_path / "claims.csv", "claims")
    reference = ReferenceData(
        hospitals, groups, CodeTables.from_dir(bundled_codes_dir()), pack, indicators(claims, hospitals)
    )
    hits = screen_claims(Screener(pack, reference), claims)

    with open(tmp_path / "truth.csv", encoding="utf-8", newline="") as f:
        truth = list(csv.DictReader(f))
    planted = {(t["claim_id"], t["rule_id"]) for t in truth if t["kind"] == "planted"}
    lookalikes = {(t["claim_id"], t["rule_id"]) for t in truth if t["kind"] == "lookalike"}
    found = {(h.claim_id, h.rule_id) for h in hits if h.rule_id != "COST-002"}
    assert sorted(planted - found) == []  # every planted case is found
    assert sorted(found - planted) == []  # and nothing else: no look-alike, no background claim
    assert not lookalikes & found
    assert Counter(rule for _, rule in found) == Counter(rule for _, rule in planted)
    assert {rule for _, rule in planted} == set(PLANTED_RULES)  # every planted rule has cases here
    # COST-002 (outside purchases, a note) fires only on planted cost-shifting cases with outside purchases.
    by_id = {c["claim_id"]: c for c in claims}
    shifted = {c for c, rule in planted if rule == "COST-001" and by_id[c]["outside_purchase"]}
    assert {h.claim_id for h in hits if h.rule_id == "COST-002"} <= shifted
