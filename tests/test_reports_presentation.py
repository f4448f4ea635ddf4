"""Reports as their readers see them: facts and thresholds named in Chinese in the meeting packet, region
names for every region a report mentions, XLSX sheets ready to filter and print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from drgaudit.engine.hits import Hit
from drgaudit.engine.loader import load_pack
from drgaudit.reports.config import load_settings
from drgaudit.reports.feedback import build_feedback
from drgaudit.reports.meeting import build_packet
from drgaudit.reports.monitoring import build_monitoring
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import render_html, write_report
from drgaudit.reports.summary import build_summary
from tests import report_casebook

PATIENT = report_casebook.PATIENT_A


def _evidence_hits() -> list[Hit]:
    """The casebook's hits, the split-stay one with the evidence a real screen records."""
    hits = list(report_casebook.HITS)
    first = hits[0]
    evidence = {
        "facts": {
            "patient_id": PATIENT,
            "claim_id": first.claim_id,
            "days_since_prev_discharge_same_hospital": 5,
            "earlier.discharge_date": "2025-07-05",
            "discharge_mode": "1",
            "is_cross_region": False,
        },
        "thresholds": {"params.window_days": 15},
        "related_claims": ["CA-Q3-1"],
        "rule": {
            "id": "SPLIT-001",
            "title": "出院后短期内同院同类疾病再入院（疑似分解住院）",
            "version": "v1",
        },
    }
    hits[0] = Hit(**{**first.__dict__, "evidence": evidence})
    return hits


@pytest.fixture
def book(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> report_casebook.Casebook:
    monkeypatch.setattr(report_casebook, "HITS", _evidence_hits())
    return report_casebook.build(session, tmp_path / "data")


def test_the_packet_names_facts_and_thresholds_in_chinese(
    session: Session, book: report_casebook.Casebook
) -> None:
    meeting = report_casebook.add_meeting(session, book)
    html = render_html(build_packet(session=session, meeting_id=meeting))
    evidence = " ".join(re.findall(r'<div class="evidence">(.*?)</div>', html, re.S))
    assert "距同院上次出院天数 = 5" in evidence
    assert "前次住院·出院日期 = 2025-07-05" in evidence
    assert "离院方式 = 医嘱离院" in evidence and "是否省内异地就医 = 否" in evidence
    assert "两次住院间隔不超过的天数 = 15" in evidence  # the rule parameter's own description
    for name in (
        "days_since_prev",
        "earlier.",
        "params.",
        "window_days",
        "discharge_mode",
        "is_cross_region",
    ):
        assert name not in evidence, name
    facts_table = (
        html.split('<table class="facts">', 1)[-1].split("</table>", 1)[0]
        if 'class="facts"' in html
        else html
    )
    assert "编码表" in html and "CHS-DRG 1.1" in html  # the code set the facts were derived with
    assert "los_days" not in facts_table and "total_cost" not in facts_table


def test_every_region_seen_is_named_from_its_region_file(
    session: Session, book: report_casebook.Casebook
) -> None:
    pack = load_pack()
    names = {code: pack.regions[code].name for code in pack.regions}
    loose = load_settings(None)
    html = render_html(build_monitoring(session=session, period=parse_period("2025Q3"), settings=loose))
    summary = render_html(build_summary(session=session, batch_id=book.claims_batch))
    for code in ("510100", "511300"):
        assert names[code] in html or names[code] in summary
    # No bare region code is shown where a name exists for it.
    for text in (html, summary):
        shown = set(re.findall(r">(5\d{5})<", text))
        assert not shown & set(names), shown & set(names)


def test_xlsx_sheets_filter_and_print(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    reports = [
        build_summary(session=session, batch_id=book.claims_batch),
        build_monitoring(session=session, period=parse_period("2025Q3")),
        build_feedback(session=session, hospital_id="HA", period=parse_period("2025Q3")),
    ]
    for report in reports:
        path = write_report(report, "xlsx", tmp_path / f"{report.kind}.xlsx")
        book_ = load_workbook(path)
        for sheet in book_.worksheets:
            last = sheet.cell(row=1, column=sheet.max_column).column_letter
            assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", (report.kind, sheet.title)
            assert sheet.print_title_rows == "$1:$1"
            assert sheet.page_setup.paperSize == "9" or sheet.page_setup.paperSize == 9
            assert sheet.page_setup.fitToWidth in (1, "1") and sheet.sheet_properties.pageSetUpPr.fitToPage
            assert "&P" in sheet.oddFooter.center.text and sheet.freeze_panes == "A2"
