"""The project's own docs are self-contained and cannot drift from the code they describe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from drgaudit import labels
from drgaudit.contract import CLAIM_FIELDS, GROUP_FIELDS, HOSPITAL_FIELDS
from drgaudit.engine.codes import CODE_FILES

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "DATA-CONTRACT.md").read_text(encoding="utf-8")


def _user_facing_files() -> list[Path]:
    """Every tracked Markdown file, template and module docstring a user may read."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout (an sdist): every file then
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    else:
        names = listed.stdout.split()
    keep = (".md", ".py", ".j2", ".yaml", ".toml", ".cfg")
    return [
        ROOT / n for n in names if n.endswith(keep) and not n.startswith("tests/") and (ROOT / n).is_file()
    ]


def test_nothing_user_facing_points_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _user_facing_files()
        if re.search(
            r"\.\./shared|/work/shared|shared/reference|shared/spec|shared/DOMAIN",
            path.read_text(encoding="utf-8"),
        )
    ]
    assert offenders == []


def _table(title: str) -> list[list[str]]:
    section = CONTRACT.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| field", "| file"))
    ]
    return [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def _type(field) -> str:
    if field.type == "enum":
        return " | ".join(field.choices)
    if field.type == "list":
        return f"list of {field.item}"
    return field.type


@pytest.mark.parametrize(
    "title,fields,prefix",
    [
        ("Claims: one row per inpatient stay (一次住院结算)", CLAIM_FIELDS, ""),
        ("Hospitals", HOSPITAL_FIELDS, "hospital."),
        ("Group tables: one file per region and version of its DRG or DIP scheme", GROUP_FIELDS, "group."),
    ],
)
def test_the_data_contract_tables_are_the_code(title: str, fields, prefix: str) -> None:
    documented = [row[:4] for row in _table(title)]
    expected = [
        [f.name, _type(f), "yes" if f.required else "no", labels.label(prefix + f.name)] for f in fields
    ]
    # group_code is required for DRG/DIP claims only: the contract marks it "no" and says so.
    assert documented == expected


def test_the_code_table_layout_is_the_code() -> None:
    documented = {
        row[0]: row[1] for row in _table("Code tables: one folder per version of the grouping scheme")
    }
    assert documented == {file: ", ".join(columns) for file, columns in CODE_FILES.values()}


def test_docs_are_linked_from_the_readme_and_architecture() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/DOMAIN.md" in readme and "docs/DATA-CONTRACT.md" in readme
    assert (ROOT / "docs" / "DOMAIN.md").is_file()
