"""`drgaudit import …` on the command line: exact output lines and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.models import Claim, GroupEntry, Hospital, ImportBatch
from drgaudit.cli.root import app


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a temp folder, so files are named as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()[0]


def test_claims_with_bad_rows(here: Path, db_url: str, session: Session, make_claim, write_rows) -> None:
    rows = [make_claim(n) for n in range(1000)]
    for n, field, value in [
        (3, "age", "x"),
        (10, "gender", "0"),
        (500, "principal_dx", "Q"),
        (998, "icu_hours", "-1"),
    ]:
        rows[n] = make_claim(n, **{field: value})
    write_rows(here / "claims.csv", rows)

    result = run("import", "claims", "claims.csv", "--db", db_url, "--by", "zhang")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "claims.csv: 996 imported (996 new, 0 unchanged, 0 revised), 4 rejected → claims.rejects.csv [batch 1]",
        "claims.csv:5: age: 'x' is not a whole number",
        "claims.csv:12: gender: '0' is not one of 1, 2",
        "claims.csv:502: principal_dx: 'Q' is not an ICD-10 code",
        "claims.csv:1000: icu_hours: -1 is negative",
    ]
    assert result.stderr == ""
    assert (here / "claims.rejects.csv").exists()
    assert count(session, Claim) == 996
    assert session.get(ImportBatch, 1).imported_by == "zhang"

    again = run("import", "claims", "claims.csv", "--db", db_url)
    assert again.exit_code == 0
    assert again.stdout == "claims.csv: already imported as batch 1, nothing changed\n"


def test_only_the_first_ten_errors_are_listed(here: Path, db_url: str, make_claim, write_rows) -> None:
    write_rows(
        here / "bad.csv",
        [make_claim(n, age="old") for n in range(12)] + [make_claim(99, gender="", age=""), make_claim(100)],
    )
    result = run("import", "claims", "bad.csv", "--db", db_url)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "bad.csv: 1 imported (1 new, 0 unchanged, 0 revised), 13 rejected → bad.rejects.csv [batch 1]"
    )
    assert lines[1:11] == [f"bad.csv:{row}: age: 'old' is not a whole number" for row in range(2, 12)]
    assert lines[11:] == ["… and 4 more"]


def test_clean_file_and_unknown_columns(here: Path, db_url: str, make_claim, write_rows) -> None:
    write_rows(here / "ok.csv", [make_claim(n, note="x") for n in range(3)])
    result = run("import", "claims", "ok.csv", "--db", db_url)
    assert result.exit_code == 0
    assert result.stdout == "ok.csv: 3 imported (3 new, 0 unchanged, 0 revised), 0 rejected [batch 1]\n"
    assert result.stderr == "warning: ok.csv: unknown columns ignored: note\n"
    assert sorted(p.name for p in here.iterdir()) == ["ok.csv"]


def test_whole_file_error_writes_nothing(
    here: Path, db_url: str, session: Session, make_claim, write_rows
) -> None:
    write_rows(here / "claims.csv", [make_claim(1, age=None)])
    result = run("import", "claims", "claims.csv", "--db", db_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: claims.csv: missing required column: age\n"
    assert count(session, ImportBatch) == 0


def test_one_bad_file_among_several(
    here: Path, db_url: str, session: Session, make_claim, write_rows
) -> None:
    write_rows(here / "a.csv", [make_claim(1)])
    (here / "b.csv").write_bytes(b"")
    write_rows(here / "c.jsonl", [make_claim(2)])
    result = run("import", "claims", "a.csv", "b.csv", "c.jsonl", "--db", db_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "a.csv: 1 imported (1 new, 0 unchanged, 0 revised), 0 rejected [batch 1]",
        "c.jsonl: 1 imported (1 new, 0 unchanged, 0 revised), 0 rejected [batch 2]",
    ]
    assert result.stderr == "error: b.csv: no header row\n"
    assert count(session, Claim) == 2


def test_usage_errors(here: Path, db_url: str, make_claim, write_rows) -> None:
    assert run("import", "claims", "missing.csv", "--db", db_url).exit_code == 2
    assert run("import", "claims", "--db", db_url).exit_code == 2
    write_rows(here / "a.csv", [make_claim(1)])
    write_rows(here / "b.csv", [make_claim(2)])
    both = run("import", "claims", "a.csv", "b.csv", "--rejects", "out.csv", "--db", db_url)
    assert both.exit_code == 2
    assert "Invalid value for --rejects: a folder is needed for several files" in both.stderr


def test_rejects_option(here: Path, db_url: str, make_claim, write_rows) -> None:
    write_rows(here / "a.csv", [make_claim(1, age="x"), make_claim(3)])
    write_rows(here / "b.csv", [make_claim(2, age="y"), make_claim(4)])
    (here / "out").mkdir()
    result = run("import", "claims", "a.csv", "b.csv", "--rejects", "out", "--db", db_url)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "a.csv: 1 imported (1 new, 0 unchanged, 0 revised), 1 rejected → out/a.rejects.csv [batch 1]"
    )
    assert sorted(p.name for p in (here / "out").iterdir()) == ["a.rejects.csv", "b.rejects.csv"]
    single = run("import", "claims", "a.csv", "--rejects", "only.csv", "--db", db_url)
    assert single.stdout.splitlines()[0].endswith("already imported as batch 1, nothing changed")


def test_hospitals_and_groups(here: Path, db_url: str, session: Session, write_rows) -> None:
    write_rows(
        here / "hospitals.csv", [{"hospital_id": "H1", "name": "华西", "region": "510100", "level": "3"}]
    )
    result = run("import", "hospitals", "hospitals.csv", "--db", db_url)
    assert result.exit_code == 0
    assert (
        result.stdout == "hospitals.csv: 1 imported (1 new, 0 unchanged, 0 revised), 0 rejected [batch 1]\n"
    )

    table = [
        {"region": "510100", "scheme": "DRG", "group_code": "FM19", "weight": "1.2", "avg_cost": "35000"}
    ]
    write_rows(here / "drg.xlsx", table)
    result = run("import", "groups", "drg.xlsx", "--version", "2025", "--db", db_url)
    assert result.exit_code == 0
    assert result.stdout == (
        "drg.xlsx: 1 imported (1 new, 0 unchanged, 0 revised), 0 rejected [batch 2, version 2025]\n"
    )
    default_version = run("import", "groups", "drg.xlsx", "--db", db_url)
    assert default_version.stdout.endswith("[batch 3, version drg]\n")
    assert count(session, Hospital) == 1
    assert count(session, GroupEntry) == 2


def test_database_that_cannot_be_opened(here: Path, make_claim, write_rows) -> None:
    write_rows(here / "a.csv", [make_claim(1)])
    result = run("import", "claims", "a.csv", "--db", f"sqlite:///{here}/no/such/folder/x.sqlite")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot open casebook sqlite:///")


def test_every_command_has_help_with_an_example() -> None:
    for command in ("claims", "hospitals", "groups"):
        result = run("import", command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.stdout
        assert f"drgaudit import {command} " in result.stdout
