"""`drgaudit report …`: exact output and exit codes, formats per report, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.cli.root import app
from tests import report_casebook

runner = CliRunner()


def flat(output: str) -> str:
    """Output with Rich's error box taken away and whitespace collapsed (the box wraps long messages)."""
    for ch in "│╭╮╰╯─":
        output = output.replace(ch, " ")
    return " ".join(output.split())


@pytest.fixture
def book(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    return report_casebook.build(session, tmp_path / "data")


def test_every_report_in_every_format_it_has(
    session: Session, book: report_casebook.Casebook, db_url: str, tmp_path: Path
) -> None:
    meeting = report_casebook.add_meeting(session, book)
    cases = [
        (["summary", "--batch", str(book.claims_batch)], "住院费用审核筛查结果汇总", ("html", "pdf", "xlsx")),
        (["monitoring", "--period", "2025Q3"], "住院费用监测报告", ("html", "pdf", "xlsx")),
        (["packet", "--meeting", str(meeting)], "特例单议会议材料", ("html", "pdf")),
        (["minutes", "--meeting", str(meeting)], "特例单议会议纪要", ("html", "pdf")),
        (
            ["feedback", "--hospital", "HA", "--period", "2025Q3"],
            "医保基金审核情况反馈函",
            ("html", "pdf", "xlsx"),
        ),
    ]
    for args, title, formats in cases:
        for fmt in formats:
            out = tmp_path / "out" / f"{args[0]}.{fmt}"
            result = runner.invoke(app, ["report", *args, "--format", fmt, "--out", str(out), "--db", db_url])
            assert (result.exit_code, result.stdout) == (0, f"wrote {out} ({title}, {fmt})\n"), result.output
            assert out.stat().st_size > 1000
    assert load_workbook(tmp_path / "out" / "feedback.xlsx", read_only=True).sheetnames == [
        "病例清单",
        "疑点明细",
        "反馈说明",
    ]


def test_format_comes_from_the_suffix_unless_given(
    book: report_casebook.Casebook, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "s.xlsx"
    result = runner.invoke(app, ["report", "summary", "--batch", "3", "--out", str(out), "--db", db_url])
    assert (result.exit_code, result.stdout) == (0, f"wrote {out} (住院费用审核筛查结果汇总, xlsx)\n")
    result = runner.invoke(
        app, ["report", "summary", "--batch", "3", "--out", str(tmp_path / "s.txt"), "--db", db_url]
    )
    assert result.exit_code == 2 and "give --format (html, pdf, xlsx) or an --out file ending in one" in flat(
        result.output
    )
    result = runner.invoke(
        app, ["report", "summary", "--batch", "3", "--format", "docx", "--out", str(out), "--db", db_url]
    )
    assert result.exit_code == 2 and "`docx` is not one of html, pdf, xlsx" in flat(result.output)


@pytest.mark.parametrize("kind", ["packet", "minutes"])
def test_meeting_papers_have_no_xlsx_form(kind: str, db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "report",
            kind,
            "--meeting",
            "1",
            "--format",
            "xlsx",
            "--out",
            str(tmp_path / "p.xlsx"),
            "--db",
            db_url,
        ],
    )
    assert result.exit_code == 2
    assert f"the {kind} report comes as html or pdf, not xlsx" in flat(result.output)
    assert not (tmp_path / "p.xlsx").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["summary", "--batch", "99"],
            "error: no import batch 99 in the casebook (see `drgaudit batches`)\n",
        ),
        (["summary", "--batch", "1"], "error: batch 1 is a hospitals import, not claims\n"),
        (["packet", "--meeting", "5"], "error: no meeting 5 in the casebook (see `drgaudit meeting show`)\n"),
        (
            ["minutes", "--meeting", "5"],
            "error: no meeting 5 in the casebook (see `drgaudit meeting show`)\n",
        ),
        (
            ["feedback", "--hospital", "HX", "--batch", "3"],
            "error: no hospital HX in the casebook (import it with `drgaudit import hospitals`)\n",
        ),
        (
            ["monitoring", "--period", "2023"],
            "error: no claims discharged in 2023年 or the period before (2022-01-01 至 2022-12-31)\n",
        ),
    ],
)
def test_unknown_things_are_clear_errors(
    book: report_casebook.Casebook, db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *args, "--out", str(out), "--db", db_url])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)
    assert not out.exists() and list(tmp_path.glob(".r.html*")) == []


def test_usage_errors(db_url: str, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "r.html"), "--db", db_url]
    for args, message in (
        (["monitoring", "--period", "2025Q9"], "`2025Q9` is not a period"),
        (["monitoring"], "give --period (e.g. 2025Q3, 2025-07, 2025) or both --from and --to"),
        (
            ["monitoring", "--period", "2025", "--from", "2025-01-01", "--to", "2025-02-01"],
            "give --period or --from/--to, not both",
        ),
        (
            ["feedback", "--hospital", "HA"],
            "give --batch ID and/or --period (or --from/--to) to choose the cases",
        ),
    ):
        result = runner.invoke(app, ["report", *args, *out])
        assert result.exit_code == 2 and message in flat(result.output), result.output


def test_settings_file_errors_and_custom_period(
    book: report_casebook.Casebook, db_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "r.yaml"
    config.write_text("monitoring:\n  readmision_days: 30\n", encoding="utf-8")
    out = tmp_path / "m.html"
    result = runner.invoke(
        app,
        [
            "report",
            "monitoring",
            "--period",
            "2025Q3",
            "--config",
            str(config),
            "--out",
            str(out),
            "--db",
            db_url,
        ],
    )
    assert (result.exit_code, result.stderr) == (
        1, f"error: {config}:2:3: unknown key `readmision_days` (did you mean `readmission_days`?)\n",
    )  # fmt: skip
    config.write_text("monitoring:\n  min_cases: 1\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "report",
            "monitoring",
            "--from",
            "2025-07-01",
            "--to",
            "2025-09-30",
            "--config",
            str(config),
            "--out",
            str(out),
            "--db",
            db_url,
        ],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert (
        "2025-07-01 至 2025-09-30" in html
        and "2025-03-31 至 2025-06-30" in html
        and "异地次均费用增长+50.0%" in html
    )


@pytest.mark.parametrize("command", ["summary", "monitoring", "packet", "minutes", "feedback"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["report", command, "--help"])
    assert (
        result.exit_code == 0
        and "Example" in result.stdout
        and f"drgaudit report {command} " in result.stdout
    )


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "--batch", "3"],
        ["monitoring", "--period", "2025"],
        ["packet", "--meeting", "1"],
        ["minutes", "--meeting", "1"],
        ["feedback", "--hospital", "HA", "--period", "2025"],
        ["clearing", "--period", "2025"],
    ],
)
def test_a_misspelt_casebook_is_refused_and_not_made(tmp_path: Path, args: list[str]) -> None:
    """A SQLite file that does not exist would have become an empty casebook, reported on as if empty."""
    missing = tmp_path / "casebok.sqlite"
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", *args, "--out", str(out), "--db", str(missing)])
    assert result.exit_code == 1, result.output
    assert f"no casebook at {missing} (no such file)" in result.output
    assert not missing.exists() and not out.exists()
