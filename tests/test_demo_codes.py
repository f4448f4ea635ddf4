"""The bundled code-table subset (rules/codes): layout, size, and fidelity to the national tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from drgaudit.contract import ICD9_RE, ICD10_RE
from drgaudit.demo.codes import bundled_codes_dir
from drgaudit.demo.templates import load_catalog

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "chs-drg-1.1"
HEADERS = {
    "diagnoses.tsv": ["code", "name"],
    "procedures.tsv": ["code", "name"],
    "mcc.tsv": ["code", "exclusion_table"],
    "cc.tsv": ["code", "exclusion_table"],
    "principal_exclusion.tsv": ["principal_code", "exclusion_table"],
    "drg_groups.tsv": ["drg", "name"],
}


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        all_rows = list(csv.reader(f, delimiter="\t"))
    return all_rows[0], all_rows[1:]


def test_layout_and_size() -> None:
    folder = bundled_codes_dir()
    for name, header in HEADERS.items():
        head, body = rows(folder / name)
        assert head == header, name
        assert all(len(r) == 2 and r[0] and r[1] for r in body), name
        assert len({r[0] for r in body}) == len(body), name
    dx = [r[0] for r in rows(folder / "diagnoses.tsv")[1]]
    px = [r[0] for r in rows(folder / "procedures.tsv")[1]]
    groups = [r[0] for r in rows(folder / "drg_groups.tsv")[1]]
    assert 150 <= len(dx) <= 250 and 60 <= len(px) <= 120 and 40 <= len(groups) <= 85
    assert all(ICD10_RE.match(c) for c in dx)
    assert all(ICD9_RE.match(c) for c in px)
    known = set(dx)
    for name in ("mcc.tsv", "cc.tsv", "principal_exclusion.tsv"):
        assert {r[0] for r in rows(folder / name)[1]} <= known, name


def test_readme_keeps_the_attribution() -> None:
    text = (bundled_codes_dir() / "README.md").read_text(encoding="utf-8")
    for phrase in (
        "CHS-DRG 1.1",
        "OpenDRG/DRG_Python",
        "Apache License 2.0",
        "drgaudit import codes",
        "--codes",
    ):
        assert phrase in text


def test_templates_use_only_subset_codes() -> None:
    dx, px = load_catalog().all_codes()
    folder = bundled_codes_dir()
    assert dx <= {r[0] for r in rows(folder / "diagnoses.tsv")[1]}
    assert px <= {r[0] for r in rows(folder / "procedures.tsv")[1]}
    # The evidence-needing MCCs of the upcoding rule and their supporting procedures are there.
    codes = {r[0] for r in rows(folder / "mcc.tsv")[1]}
    assert all(any(c.startswith(p) for c in codes) for p in ("J96", "A41", "R57", "N17"))


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="full CHS-DRG 1.1 reference tables not present")
def test_rows_are_copied_unchanged_and_complete() -> None:
    folder = bundled_codes_dir()
    subset_dx = {r[0] for r in rows(folder / "diagnoses.tsv")[1]}
    for name in HEADERS:
        full = {r[0]: r for r in rows(REFERENCE / name)[1]}
        mine = rows(folder / name)[1]
        assert all(full.get(r[0]) == r for r in mine), name
        if name in ("mcc.tsv", "cc.tsv", "principal_exclusion.tsv"):
            # Every row about a subset diagnosis is kept, so CC/MCC logic agrees with the full tables.
            assert {c for c in full if c in subset_dx} == {r[0] for r in mine}, name
    full_groups = [r[0] for r in rows(REFERENCE / "drg_groups.tsv")[1]]
    adrgs = {g[:3] for g in (r[0] for r in rows(folder / "drg_groups.tsv")[1])}
    assert {g for g in full_groups if g[:3] in adrgs} == {r[0] for r in rows(folder / "drg_groups.tsv")[1]}
