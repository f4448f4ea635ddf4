"""`drgaudit.demo.generate`: valid DATA-CONTRACT files, deterministic, the intended proportions."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from drgaudit.contract import (
    CLAIM_FIELDS,
    FEE_FIELDS,
    GROUP_FIELDS,
    GROUPED_SCHEMES,
    HOSPITAL_FIELDS,
    ICD9_RE,
    ICD10_RE,
    LIST_SEPARATOR,
    REGION_RE,
    Field,
)
from drgaudit.demo.generator import DEFAULT_CLAIMS, DemoManifest, generate
from drgaudit.demo.templates import load_catalog
from drgaudit.errors import DrgauditError

FILES = ("hospitals.csv", "groups.csv", "claims.csv", "truth.csv", "manifest.json", "README.md")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate(tmp_path_factory.mktemp("demo"), seed=3, claims=3000)


def ungroupable(group_code: str) -> bool:
    """0000 (not groupable) or an ambiguous group ending in QY: not in any group table."""
    return group_code == "0000" or group_code.endswith("QY")


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def problems(row: dict[str, str], fields: tuple[Field, ...]) -> list[str]:
    """What is wrong with one row under the contract's field definitions."""
    found = []
    for f in fields:
        value = row[f.name]
        if value == "":
            if f.required:
                found.append(f"{f.name}: missing")
            continue
        try:
            if f.type == "int":
                ok = int(value) >= (f.minimum or 0)
            elif f.type == "decimal":
                ok = float(value) >= (f.minimum or 0) and len(value.partition(".")[2]) <= 4
            elif f.type == "date":
                ok = date.fromisoformat(value).isoformat() == value
            elif f.type == "bool":
                ok = value in ("true", "false")
            elif f.type == "enum":
                ok = value in f.choices
            elif f.type == "region":
                ok = bool(REGION_RE.match(value))
            elif f.type == "dx":
                ok = bool(ICD10_RE.match(value))
            elif f.type == "list":
                pattern = ICD10_RE if f.item == "dx" else ICD9_RE
                ok = all(pattern.match(v) for v in value.split(LIST_SEPARATOR))
            else:
                ok = True
        except ValueError:
            ok = False
        if not ok:
            found.append(f"{f.name}: bad value {value!r}")
    return found


def claim_problems(row: dict[str, str]) -> list[str]:
    found = problems(row, CLAIM_FIELDS)
    if found:
        return found
    cents = {
        name: round(float(row[name]) * 100)
        for name in ("total_cost", "fund_paid", "self_pay", "self_expense", *FEE_FIELDS)
    }
    if row["discharge_date"] < row["admit_date"]:
        found.append("discharge before admission")
    if sum(cents[f] for f in FEE_FIELDS) > cents["total_cost"]:
        found.append("fee categories exceed total_cost")
    if cents["fund_paid"] + cents["self_pay"] + cents["self_expense"] != cents["total_cost"]:
        found.append("fund_paid + self_pay + self_expense != total_cost")
    if row["payment_scheme"] in GROUPED_SCHEMES and not row["group_code"]:
        found.append("DRG/DIP claim without group_code")
    if row["insured_region"][:2] != row["treatment_region"][:2]:
        found.append("regions in different provinces")
    if int(row["age"]) == 0 and not row["age_days"]:
        found.append("infant without age_days")
    return found


def test_writes_all_files_with_contract_headers(demo: DemoManifest) -> None:
    assert sorted(p.name for p in demo.out_dir.iterdir()) == sorted(FILES)
    assert read(demo.path("claims.csv"))[0] == [f.name for f in CLAIM_FIELDS]
    assert read(demo.path("hospitals.csv"))[0] == [f.name for f in HOSPITAL_FIELDS]
    assert read(demo.path("groups.csv"))[0] == [f.name for f in GROUP_FIELDS]
    assert read(demo.path("truth.csv"))[0] == ["claim_id", "family", "rule_id", "kind", "note"]


def test_every_row_is_valid_under_the_contract(demo: DemoManifest) -> None:
    _, claims = read(demo.path("claims.csv"))
    bad = {c["claim_id"]: p for c in claims if (p := claim_problems(c))}
    assert bad == {}
    assert len({c["claim_id"] for c in claims}) == len(claims) == 3000
    _, hospitals = read(demo.path("hospitals.csv"))
    assert [p for h in hospitals if (p := problems(h, HOSPITAL_FIELDS))] == []
    _, groups = read(demo.path("groups.csv"))
    assert [p for g in groups if (p := problems(g, GROUP_FIELDS))] == []
    keys = {(g["region"], g["group_code"]) for g in groups}
    assert len(keys) == len(groups)
    hospital_ids = {h["hospital_id"]: h["region"] for h in hospitals}
    for c in claims:
        assert hospital_ids[c["hospital_id"]] == c["treatment_region"]
        if c["group_code"] and not ungroupable(c["group_code"]):
            assert (c["treatment_region"], c["group_code"]) in keys


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=42, claims=1500)
    generate(tmp_path / "b", seed=42, claims=1500)
    generate(tmp_path / "c", seed=43, claims=1500)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "claims.csv").read_bytes() != (tmp_path / "c" / "claims.csv").read_bytes()
    assert (tmp_path / "a" / "truth.csv").read_bytes() != (tmp_path / "c" / "truth.csv").read_bytes()


def test_province_shape(demo: DemoManifest) -> None:
    _, hospitals = read(demo.path("hospitals.csv"))
    assert 25 <= len(hospitals) <= 35
    assert {h["region"] for h in hospitals} == {"510100", "510700", "511300", "510300"}
    levels = Counter(h["level"] for h in hospitals)
    assert set(levels) == {"1", "2", "3"} and levels["2"] >= levels["3"]
    new = [h for h in hospitals if h["designated_on"] >= "2025-01-01"]
    assert sorted(h["regional_center"] for h in new) == ["false", "true"]
    assert all(h["designated_on"] <= "2025-07-01" for h in new)  # the first six months overlap the claims
    assert sum(h["regional_center"] == "true" for h in hospitals) >= 3
    assert all("示例" in h["name"] for h in hospitals)


def test_claim_proportions(demo: DemoManifest) -> None:
    _, claims = read(demo.path("claims.csv"))
    cross = sum(c["insured_region"] != c["treatment_region"] for c in claims) / len(claims)
    assert 0.28 <= cross <= 0.39
    patients = len({c["patient_id"] for c in claims})
    assert 3000 / 2.9 <= patients <= 3000 / 2.1
    assert min(c["admit_date"] for c in claims) >= "2025-01-01"
    assert max(c["discharge_date"] for c in claims) <= "2025-12-31"
    schemes = Counter(c["payment_scheme"] for c in claims)
    assert schemes["DRG"] > 0.85 * len(claims) and schemes["PER_DIEM"] > 0 and schemes["FFS"] > 0
    assert all(not c["group_code"] for c in claims if c["payment_scheme"] in ("PER_DIEM", "FFS"))
    assert demo.claims == 3000 and demo.patients == patients
    assert demo.cross_region == sum(c["insured_region"] != c["treatment_region"] for c in claims)


def test_group_table_is_plausible(demo: DemoManifest) -> None:
    _, groups = read(demo.path("groups.csv"))
    _, claims = read(demo.path("claims.csv"))
    assert {g["scheme"] for g in groups} == {"DRG"}
    coded = {c["group_code"] for c in claims if c["group_code"]}
    assert {g for g in coded if not ungroupable(g)} <= {g["group_code"] for g in groups}
    assert {g for g in coded if ungroupable(g)} <= {"0000"} | {
        f"{mdc}QY" for mdc in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    }
    for g in groups:
        weight, avg_cost = float(g["weight"]), float(g["avg_cost"])
        assert 0.3 <= weight <= 8
        assert 10_000 <= avg_cost / weight <= 15_000
        assert 1 <= float(g["avg_los"]) <= 40
    rates = {g["region"]: set() for g in groups}
    for g in groups:
        rates[g["region"]].add(round(float(g["avg_cost"]) / float(g["weight"]), -3))
    assert len({min(r) for r in rates.values()}) > 1  # regions differ


def test_manifest_counts_match_truth(demo: DemoManifest) -> None:
    manifest = json.loads(demo.path("manifest.json").read_text(encoding="utf-8"))
    _, truth = read(demo.path("truth.csv"))
    planted = Counter(t["rule_id"] for t in truth if t["kind"] == "planted")
    # A family counts each claim once (a claim may be planted for UPC-004 and another upcoding rule).
    families = Counter(
        family for _, family in {(t["claim_id"], t["family"]) for t in truth if t["kind"] == "planted"}
    )
    assert manifest["planted_per_rule"] == dict(planted) | {
        r: 0 for r in manifest["planted_per_rule"] if r not in planted
    }
    assert {k: v for k, v in manifest["planted_per_family"].items() if v} == dict(families)
    assert manifest["claims"] == 3000 and manifest["seed"] == 3 and manifest["synthetic"] is True
    assert manifest["regions"] == ["510100", "510700", "511300", "510300"]
    assert manifest["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    for rule, n in planted.items():
        assert 10 <= n <= 0.02 * 3000 + 10, rule
    readme = demo.path("README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme and "invented" in readme and "3000" in readme


def test_planted_counts_scale_with_size(tmp_path: Path) -> None:
    big = generate(tmp_path, seed=3, claims=20000)  # UPC-004 is planted from 20,000 claims on
    for rule, n in big.planted_by_rule.items():
        assert 0.0025 * 20000 <= n <= 0.015 * 20000, rule
    small = generate(tmp_path / "small", seed=3, claims=3000)
    assert small.planted_by_rule["UPC-004"] == 0 and small.planted_by_rule["SPLIT-001"] > 0
    # At the default size every rule has at least 100 planted cases.
    rates = load_catalog().plant_rates
    assert all(rates[rule] * DEFAULT_CLAIMS >= 100 for rule in big.planted_by_rule)


def test_progress_and_limits(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate(tmp_path, claims=1200, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1200, 1200)
    with pytest.raises(DrgauditError):
        generate(tmp_path, claims=100)


def test_unusable_code_tables_are_refused(tmp_path: Path) -> None:
    codes = tmp_path / "codes"
    codes.mkdir()
    for name, header in (
        ("diagnoses.tsv", "code\tname"),
        ("procedures.tsv", "code\tname"),
        ("mcc.tsv", "code\texclusion_table"),
        ("cc.tsv", "code\texclusion_table"),
        ("principal_exclusion.tsv", "principal_code\texclusion_table"),
        ("drg_groups.tsv", "drg\tname"),
    ):
        (codes / name).write_text(header + "\n", encoding="utf-8")
    with pytest.raises(DrgauditError, match="lack"):
        generate(tmp_path / "out", claims=1000, codes_dir=codes)
