"""Meeting packet, minutes and hospital feedback letters on the review queue of the small test casebook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from drgaudit.reports.errors import ReportError
from drgaudit.reports.feedback import build_feedback
from drgaudit.reports.meeting import build_minutes, build_packet
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import render_html, write_report
from tests import report_casebook
from tests.report_casebook import claims

ALL_PATIENTS = {c["patient_id"] for c in claims()}
ALL_CLAIMS = {c["claim_id"]: c["hospital_id"] for c in claims()}


@pytest.fixture
def book(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    return report_casebook.build(session, tmp_path / "data")


def visible_text(html: str) -> str:
    return re.sub(r"<style>.*?</style>", "", html, flags=re.S)


def test_packet_has_the_agenda_then_one_page_per_case(
    session: Session, book: report_casebook.Casebook
) -> None:
    meeting_id = report_casebook.add_meeting(session, book, close=False)
    report = build_packet(session=session, meeting_id=meeting_id)
    agenda = report.context["agenda"]
    assert [(r.position, r.case.claim_id) for r in agenda] == [(1, "CA-Q3-2"), (2, "CB-Q3-5")]  # as scheduled
    split = agenda[0].file
    assert [h.rule_id for h in split.hits] == ["SPLIT-001", "UPC-002"]
    assert (
        split.hits[0].message == "参保人P51********01于2025-07-05出院后5天再次入院（CA-Q3-1），疑似分解住院。"
    )
    assert [(s.claim_id, s.current) for s in split.stays] == [("CA-Q3-1", False), ("CA-Q3-2", True)]
    assert split.claim["total_cost"] == 13000.0 and split.payment is not None and split.payment > 0
    assert (split.payment_label, split.payment) == (
        "测算支付（按病组标准）",
        split.standard,
    )  # 13,000 is 1.08× the average
    assert dict(split.facts_rows)["人员编号（脱敏）"] == "P51********01"
    html = visible_text(render_html(report))
    assert html.count('<section class="case"') == 2
    assert (
        "特例单议会议材料" in html and "2025年第10期特例单议会" in html and "张明（主持人，市医保局）" in html
    )
    assert html.count('class="chart timeline"') == 2
    assert not ALL_PATIENTS & set(re.findall(r"P\d{12}", html))


def test_minutes_record_decisions_attendees_and_signatures(
    session: Session, book: report_casebook.Casebook
) -> None:
    meeting_id = report_casebook.add_meeting(session, book)
    report = build_minutes(session=session, meeting_id=meeting_id)
    assert report.context["totals"] == [("按病组标准支付", 1, 0.0), ("扣减", 1, 3000.0)]
    assert report.context["draft"] is False and report.context["decided"] == 2
    html = visible_text(render_html(report))
    assert "两次住院属同一疾病，按分解住院扣减" in html and "3,000.00" in html
    signature_block = html[html.index('<table class="signatures">') :]
    assert [name for name in ("张明", "李华", "赵强") if name in signature_block] == ["张明", "李华", "赵强"]
    assert "草稿" not in html and "无其他事项。" in html


def test_open_meeting_minutes_are_a_draft_and_unknown_meetings_are_refused(
    session: Session, book: report_casebook.Casebook
) -> None:
    meeting_id = report_casebook.add_meeting(session, book, close=False)
    assert "（草稿：会议尚未结束）" in render_html(build_minutes(session=session, meeting_id=meeting_id))
    with pytest.raises(ReportError, match=r"^no meeting 42 in the casebook \(see `drgaudit meeting show`\)$"):
        build_packet(session=session, meeting_id=42)


@pytest.mark.parametrize("hospital", ["HA", "HB", "HC"])
def test_feedback_letter_holds_only_the_hospitals_cases_with_masked_patients(
    session: Session, book: report_casebook.Casebook, tmp_path: Path, hospital: str
) -> None:
    report_casebook.add_meeting(session, book)
    report = build_feedback(session=session, hospital_id=hospital, period=parse_period("2025Q3"))
    mine = {claim_id for claim_id, h in ALL_CLAIMS.items() if h == hospital}
    others = set(ALL_CLAIMS) - mine
    html = visible_text(render_html(report))
    assert {c.claim_id for c in report.context["cases"]} <= mine
    assert not {claim_id for claim_id in others if claim_id in html}
    assert not ALL_PATIENTS & set(re.findall(r"P\d{12}", html))
    workbook = load_workbook(write_report(report, "xlsx", tmp_path / f"{hospital}.xlsx"), read_only=True)
    cells = [
        str(v)
        for sheet in workbook
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]
    assert not {v for v in cells if v in others}
    assert not ALL_PATIENTS & {m for v in cells for m in re.findall(r"P\d{12}", v)}
    assert {v for v in cells if v in mine} == {c.claim_id for c in report.context["cases"]}


def test_feedback_letter_shows_decisions_and_amounts(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    report_casebook.add_meeting(session, book)
    report = build_feedback(session=session, hospital_id="HA", batch_id=book.claims_batch)
    [case] = report.context["cases"]
    assert (case.claim_id, case.patient, case.amount, case.status, case.decision, case.decision_amount) == (
        "CA-Q3-2", "P51********01", 16000.0, "已结案", "扣减", 3000.0,
    )  # fmt: skip
    assert [p["rule_id"] for p in case.problems] == ["SPLIT-001", "UPC-002"]
    assert report.context["totals"] == [("扣减", 1, 3000.0)]
    hc = build_feedback(session=session, hospital_id="HC", period=parse_period("2025Q3"))
    assert [(c.claim_id, c.status, c.decision) for c in hc.context["cases"]] == [
        ("CC-Q3-1", "按筛查结果处理", "—")
    ]
    assert hc.context["totals"] == [("尚未作出决定", 1, 0.0)] and hc.context["issuer"] == "南充市医疗保障局"
    rows = list(
        load_workbook(write_report(report, "xlsx", tmp_path / "ha.xlsx"), read_only=True)[
            "病例清单"
        ].iter_rows(values_only=True)
    )
    assert (
        rows[0][-1] == "医院反馈意见"
        and rows[1][1:3] == ("CA-Q3-2", "P51********01")
        and rows[1][11:13] == ("扣减", 3000.0)
    )


def test_feedback_letter_errors(session: Session, book: report_casebook.Casebook) -> None:
    with pytest.raises(ReportError, match=r"^no hospital HX in the casebook"):
        build_feedback(session=session, hospital_id="HX", batch_id=book.claims_batch)
    with pytest.raises(ReportError, match=r"^no import batch 77 in the casebook"):
        build_feedback(session=session, hospital_id="HA", batch_id=77)
    with pytest.raises(ReportError, match=r"^give --batch ID and/or --period"):
        build_feedback(session=session, hospital_id="HA")


def test_feedback_letter_hides_other_hospitals_claim_ids_in_messages(
    session: Session, book: report_casebook.Casebook
) -> None:
    import datetime as dt

    from drgaudit.reports.feedback import FlaggedCase, hide_other_hospitals_claims

    case = FlaggedCase(
        "CB-Q3-1", "P51********71", dt.date(2025, 7, 1), dt.date(2025, 7, 6), "FR13", 10000.0, False
    )
    case.problems = [
        {
            "message": "于甲市示例人民医院出院（CA-Q3-1）后转入本院（CB-Q3-1），前次CB-Q3-2",
            "related": ["CA-Q3-1", "CB-Q3-2", "NOPE-1"],
        }
    ]
    hide_other_hospitals_claims(session=session, hospital_id="HB", cases=[case])
    # The other hospital's name goes too (since the stays timeline hid it, the message should not name it).
    assert case.problems == [{"message": "于他院出院（他院结算清单）后转入本院（CB-Q3-1），前次CB-Q3-2"}]
