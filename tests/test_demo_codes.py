"""The CHS-DRG 1.1 tables bundled in the package: layout, size, licence and attribution, fidelity, and
that the demo's templates only use codes they hold."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from drgaudit.contract import ICD9_RE, ICD10_RE
from drgaudit.demo.templates import load_catalog
from drgaudit.engine.codes import CODE_FILES, CodeTables, bundled_codes_dir

# The national tables beside a development checkout (never in a user's clone); compared when present.
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "chs-drg-1.1"
HEADERS = {file_name: list(columns) for file_name, columns in CODE_FILES.values()}
ROWS = {
    "diagnoses.tsv": 33304,
    "procedures.tsv": 13686,
    "mcc.tsv": 4678,
    "cc.tsv": 16568,
    "principal_exclusion.tsv": 28302,
    "drg_groups.tsv": 628,
}


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        all_rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return all_rows[0], all_rows[1:]


def write_subset(folder: Path, diagnoses: set[str], procedures: set[str]) -> Path:
    """A code-table folder holding only the given codes (with every CC/MCC and exclusion row about them
    and every DRG group), cut from the bundled tables: another "scheme version" for tests."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = {"diagnoses.tsv": diagnoses, "procedures.tsv": procedures}
    for name in HEADERS:
        head, body = rows(bundled_codes_dir() / name)
        wanted = keep.get(name, diagnoses if name != "drg_groups.tsv" else None)
        chosen = [r for r in body if wanted is None or r[0] in wanted]
        (folder / name).write_text("\n".join("\t".join(r) for r in [head, *chosen]) + "\n", encoding="utf-8")
    return folder


def test_layout_and_size() -> None:
    folder = bundled_codes_dir()
    for name, header in HEADERS.items():
        head, body = rows(folder / name)
        assert head == header, name
        assert len(body) == ROWS[name], name
        assert all(len(r) == 2 and r[0] and r[1] for r in body), name
        assert len({r[0] for r in body}) == len(body), name
    dx = [r[0] for r in rows(folder / "diagnoses.tsv")[1]]
    px = [r[0] for r in rows(folder / "procedures.tsv")[1]]
    assert all(ICD10_RE.match(c) for c in dx)
    assert all(ICD9_RE.match(c) for c in px)


def test_licence_and_attribution_ship_beside_the_tables() -> None:
    folder = bundled_codes_dir()
    licence = (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    text = (folder / "README.md").read_text(encoding="utf-8")
    for phrase in (
        "CHS-DRG 1.1",
        "OpenDRG/DRG_Python",
        "Apache License, Version 2.0",
        "drgaudit import codes",
        "--codes",
    ):
        assert phrase in text
    # Packaged with the code (pyproject package data), not only present in the checkout.
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"codesets/*/*.tsv", "codesets/*/LICENSE", "codesets/*/README.md"' in pyproject


def test_bundled_tables_are_named_and_read_once() -> None:
    first, second = CodeTables.bundled(), CodeTables.from_dir(bundled_codes_dir())
    assert first.label == second.label == f"CHS-DRG 1.1 (bundled) ({first.digest})"
    assert first.tables is second.tables  # parsed once per process
    assert len(first.diagnoses) == ROWS["diagnoses.tsv"]


def test_templates_use_only_bundled_codes() -> None:
    dx, px = load_catalog().all_codes()
    tables = CodeTables.bundled()
    assert dx <= set(tables.diagnoses) and px <= set(tables.procedures)
    # The evidence-needing MCCs of the upcoding rule are MCCs there.
    assert all(any(c.startswith(p) for c in tables.tables["mcc"]) for p in ("J96", "A41", "R57", "N17"))


@pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="the CHS-DRG 1.1 reference beside the checkout is not present"
)
def test_rows_are_the_reference_rows_unchanged() -> None:
    for name in HEADERS:
        assert (bundled_codes_dir() / name).read_bytes() == (REFERENCE / name).read_bytes(), name
    assert (bundled_codes_dir() / "LICENSE").read_bytes() == (REFERENCE / "LICENSE").read_bytes()
