"""Reports with hostile names, reasons and messages (issue 14 "Reports"): no XLSX cell starts a formula
from data, HTML stays escaped, and report files get the permissions of the user's umask."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.reports.render import FORMULA_STARTS
from tests import report_casebook

runner = CliRunner()

SCRIPT = "<script>alert(1)</script>"
HOSPITAL_NAMES = {
    "HA": '=HYPERLINK("http://evil.example","点击查看")',
    "HB": "+cmd|' /C calc'!A0" + SCRIPT,
    "HC": "-2+3 @SUM(A1) <img src=x onerror=alert(2)>",
}
GROUP_NAME = "=1+1" + SCRIPT


def _hostile_hits() -> list:
    hits = []
    for hit, start in zip(report_casebook.HITS, ["=", "\t=", "\r@", "-"], strict=True):
        hit = report_casebook._hit(
            hit.claim_id, hit.patient_id, hit.region, hit.rule_id, hit.family, hit.severity, hit.action,
            hit.amount_at_risk, f"{start}HYPERLINK(\"http://evil\") {hit.message} {SCRIPT}",
        )  # fmt: skip
        hits.append(hit)
    return hits


@pytest.fixture
def hostile(session: Session, tmp_path: Path) -> tuple[report_casebook.Casebook, int]:
    hospitals = [dict(h, name=HOSPITAL_NAMES[h["hospital_id"]]) for h in report_casebook.HOSPITALS]
    groups = [dict(g, name=GROUP_NAME) for g in report_casebook.GROUPS]
    book = report_casebook.build(
        session, tmp_path / "data", hospitals_table=hospitals, groups_table=groups, hits=_hostile_hits()
    )
    meeting = report_casebook.add_meeting(
        session,
        book,
        title='=WEBSERVICE("http://evil")' + SCRIPT,
        attendees=[("@张明", "=主持人", "+市医保局"), ("-李华" + SCRIPT, "审核专家", None)],
        reasons=("=1+1 按分解住院扣减", "\r=cmd " + SCRIPT),
    )
    return book, meeting


def test_no_report_starts_a_formula_or_lets_markup_through(
    hostile: tuple[report_casebook.Casebook, int], db_url: str, tmp_path: Path
) -> None:
    book, meeting = hostile
    cases = [
        (["summary", "--batch", str(book.claims_batch)], ("html", "xlsx")),
        (["monitoring", "--period", "2025Q3"], ("html", "xlsx")),
        (["packet", "--meeting", str(meeting)], ("html",)),
        (["minutes", "--meeting", str(meeting)], ("html",)),
        (["feedback", "--hospital", "HA", "--period", "2025Q3"], ("html", "xlsx")),
        (["feedback", "--hospital", "HB", "--batch", str(book.claims_batch)], ("html", "xlsx")),
    ]
    old = os.umask(0o027)
    try:
        for args, formats in cases:
            for fmt in formats:
                out = tmp_path / "out" / f"{args[0]}-{args[2]}.{fmt}"
                result = runner.invoke(
                    app, ["report", *args, "--format", fmt, "--out", str(out), "--db", db_url]
                )
                assert result.exit_code == 0, result.output
                assert out.stat().st_mode & 0o777 == 0o640, (out, oct(out.stat().st_mode))
                if fmt == "xlsx":
                    _check_workbook(out)
                else:
                    _check_html(out.read_text(encoding="utf-8"))
    finally:
        os.umask(old)


def _check_html(html: str) -> None:
    assert SCRIPT not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "&lt;img src=x" in html


def _check_workbook(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert re.search(rb"<(\w+:)?f[ >]", archive.read(name)) is None, f"a formula in {name}"
    workbook = load_workbook(path)
    risky = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                    risky += 1
                    assert cell.quotePrefix and cell.data_type in ("s", "inlineStr"), (
                        cell.coordinate,
                        cell.value,
                    )
    assert risky, f"{path.name}: the hostile names were expected in the workbook"
