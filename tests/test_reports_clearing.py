"""The clearing statement between treatment and insured regions (`report clearing`) on a small casebook
with known numbers (tests/report_casebook.py), its outcomes made with the casebook's own functions:
review cases decided at a meeting, hospital findings accepted or left open, investigation requests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook import assist, findings, meetings, review
from drgaudit.casebook.clearing import pair_totals
from drgaudit.casebook.review_models import ReviewMeetingCreate
from drgaudit.cli.root import app as cli
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.reports.clearing import build_clearing
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import render_html, write_report
from tests import report_casebook
from tests.report_casebook import _hit

YEAR = parse_period("2025")
# Cross-region claims of the casebook: CA-Q2-3 (insured 510700, treated 510100 at HA, 20,000, discharged
# 2025-06-10), CA-Q3-3 (510700 → 510100, 30,000, 2025-08-09) and CC-Q3-1 (insured 510100, treated 511300
# at HC, 25,000, 2025-09-07); fund_paid is 70% of the cost. CA-Q3-2 is local (510100 at HA).
HITS = [
    _hit("CA-Q2-3", "P510700000012", "510100", "SPLIT-001", "split_hospitalization", "high", "special_review", 16000.0, "分解住院"),
    _hit("CA-Q3-3", "P510700000013", "510100", "OUT-HIGH-001", "outlier_review", "medium", "special_review", 30000.0, "高倍率"),
    _hit("CA-Q3-3", "P510700000013", "510100", "UPC-002", "upcoding", "medium", "deduct", 3000.0, "并发症不成立"),
    _hit("CC-Q3-1", "P510100000099", "511300", "COACH-001", "coaching_period", "high", "hold", 25000.0, "辅导期"),
    _hit("CA-Q3-2", report_casebook.PATIENT_A, "510100", "SPLIT-001", "split_hospitalization", "high", "special_review", 16000.0, "本地"),
    _hit("CA-Q3-2", report_casebook.PATIENT_A, "510100", "UPC-002", "upcoding", "medium", "deduct", 2000.0, "本地"),
]  # fmt: skip


@pytest.fixture
def book(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    """The casebook with: CA-Q3-3's case decided at a meeting (special payment of 5,000), its deduction
    accepted by HA; CA-Q2-3's case left open; CC-Q3-1's hold left open and asked about (协查, not answered);
    CA-Q3-3 asked about and confirmed; the local claim CA-Q3-2 decided (deduct 9,000) and its finding
    accepted, none of which may appear."""
    book = report_casebook.build(session, tmp_path / "data", hits=HITS)
    pack = load_pack(bundled_rules_dir())
    findings.refresh_findings(session=session, batch_id=book.claims_batch, pack=pack, actor="测试")
    review.refresh_cases(session=session, batch_id=book.claims_batch, pack=pack, actor="测试")
    meeting = meetings.create_meeting(
        session=session, actor="测试",
        meeting=ReviewMeetingCreate(region="510100", held_on=dt.date(2025, 10, 15), title="第1期", capacity=5),
    )  # fmt: skip
    meetings.schedule_cases(
        session=session, meeting_id=meeting.id, pack=pack, actor="测试", refs=["CA-Q3-3", "CA-Q3-2"],
        quota_override="测试",
    )  # fmt: skip
    review.decide_case(
        session=session, ref="CA-Q3-3", actor="张明", pack=pack,
        request=review.DecisionRequest(kind="special", reason="新技术", items=[("新技术费用", 5000.0)]),
        quota_override="专家组同意",
    )  # fmt: skip
    review.decide_case(
        session=session, ref="CA-Q3-2", actor="张明", pack=pack,
        request=review.DecisionRequest(kind="deduct", reason="分解住院", amount=9000.0),
    )  # fmt: skip
    today = dt.date(2025, 10, 1)
    for found in findings.list_findings(session=session)[0]:
        if found.claim_id in ("CA-Q3-3", "CA-Q3-2"):
            findings.answer_finding(
                session=session, finding_id=found.id, accept=True, actor="HA", today=today
            )
    assist.request_assist(session=session, claim_id="CC-Q3-1", question="是否在院？", actor="参保地")
    asked = assist.request_assist(
        session=session, claim_id="CA-Q3-3", question="费用是否属实？", actor="参保地"
    )
    assist.respond_assist(
        session=session, request_id=asked.id, answer="属实", result="confirmed", actor="审核员"
    )
    return book


def _row(row) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def test_pair_totals_count_cross_region_claims_and_their_outcomes(
    session: Session, book: report_casebook.Casebook
) -> None:
    rows = pair_totals(session=session, first=YEAR.start, last=YEAR.end)
    assert [_row(r) for r in rows] == [
        {"treatment_region": "510100", "insured_region": "510700", "claims": 2, "total_cost": 50000.0,
         "fund_paid": 35000.0, "cases": 2, "cases_open": 1, "open_at_risk": 16000.0, "decided": 1, "standard": 0, "special": 1,
         "special_amount": 5000.0, "deducted": 0, "deducted_amount": 0.0, "referred": 0, "referred_amount": 0.0,
         "findings_open": {}, "findings_open_amount": {}, "findings_final": {"deduct": 1},
         "findings_standing": {"deduct": 3000.0}, "assists": 1, "assists_open": 0,
         "assist_results": {"confirmed": 1}},
        {"treatment_region": "511300", "insured_region": "510100", "claims": 1, "total_cost": 25000.0,
         "fund_paid": 17500.0, "cases": 0, "cases_open": 0, "open_at_risk": 0.0, "decided": 0, "standard": 0, "special": 0,
         "special_amount": 0.0, "deducted": 0, "deducted_amount": 0.0, "referred": 0, "referred_amount": 0.0,
         "findings_open": {"hold": 1}, "findings_open_amount": {"hold": 25000.0}, "findings_final": {},
         "findings_standing": {}, "assists": 1, "assists_open": 1, "assist_results": {}},
    ]  # fmt: skip


def test_the_period_and_each_region_narrow_the_statement(
    session: Session, book: report_casebook.Casebook
) -> None:
    q3 = parse_period("2025Q3")
    (row,) = pair_totals(session=session, first=q3.start, last=q3.end, insured_region="510700")
    assert (row.claims, row.total_cost, row.cases, row.cases_open, row.special_amount) == (
        1,
        30000.0,
        1,
        0,
        5000.0,
    )
    (row,) = pair_totals(session=session, first=YEAR.start, last=YEAR.end, region="511300")
    assert row.pair == ("511300", "510100")
    assert pair_totals(session=session, first=YEAR.start, last=YEAR.end, insured_region="510300") == []
    q2 = parse_period("2025Q2")
    (row,) = pair_totals(session=session, first=q2.start, last=q2.end)
    assert (row.pair, row.claims, row.cases_open, row.findings_final) == (("510100", "510700"), 1, 1, {})


def test_the_report_lists_each_claim_with_its_outcomes_masked(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    report = build_clearing(session=session, period=YEAR)
    assert report.context["total"].claims == 3 and report.context["total"].fund_paid == 52500.0
    assert [o.claim_id for o in report.context["outcomes"]] == ["CA-Q2-3", "CA-Q3-3", "CC-Q3-1"]
    html = render_html(report)
    for text in ("异地就医住院费用审核结果清算对账表", "省内异地", "特例单议，同意追加支付", "扣减 3,000.00 元（医院已认可，最终 3,000.00 元）",
                 "暂缓支付 25,000.00 元（待医院答复）", "查实", "待答复", "P51********13"):  # fmt: skip
        assert text in html, text
    assert "CA-Q3-2" not in html and "P510700000013" not in html  # no local claim; patients masked
    path = write_report(report, "xlsx", tmp_path / "clearing.xlsx")
    workbook = load_workbook(path)
    pairs = list(workbook["按统筹区汇总"].iter_rows(values_only=True))
    assert pairs[0][:4] == ("就医地", "参保地", "类型", "结算病例数")
    assert pairs[1][2:6] == ("省内异地", 2, 50000, 35000) and pairs[3][:6] == (
        "合计",
        None,
        None,
        3,
        75000,
        52500,
    )
    claims = list(workbook["病例明细"].iter_rows(values_only=True))
    assert [row[3] for row in claims[1:]] == ["CA-Q2-3", "CA-Q3-3", "CC-Q3-1"]
    assert claims[2][9:12] == ("已决定", "特例单议，同意追加支付", 5000)


def test_an_insured_region_gets_only_its_own(session: Session, book: report_casebook.Casebook) -> None:
    report = build_clearing(session=session, period=YEAR, insured_region="510100")
    assert [o.claim_id for o in report.context["outcomes"]] == ["CC-Q3-1"]
    assert "CA-Q3-3" not in render_html(report)


def test_cli_writes_each_format_and_refuses_bad_codes(
    session: Session, book: report_casebook.Casebook, db_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    for fmt in ("html", "pdf", "xlsx"):
        out = tmp_path / f"clearing.{fmt}"
        result = runner.invoke(
            cli, ["report", "clearing", "--period", "2025", "--out", str(out), "--db", db_url]
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000 and "异地就医住院费用审核结果清算对账表" in result.output
    result = runner.invoke(
        cli,
        [
            "report",
            "clearing",
            "--period",
            "2025",
            "--insured-region",
            "5107",
            "--out",
            "x.html",
            "--db",
            db_url,
        ],
    )
    assert result.exit_code == 2 and "`5107` is not a region code (6 digits, e.g. 510700)" in result.output
    result = runner.invoke(cli, ["report", "clearing", "--out", "x.html", "--db", db_url])
    assert result.exit_code == 2 and "give --period" in result.output


@pytest.mark.parametrize(
    ("grant", "asked", "given"),
    [
        (("viewer", None), (None, None), (None, None)),
        (("viewer", None), ("510100", "510700"), ("510100", "510700")),
        (("auditor", "510100"), (None, None), ("510100", None)),
        (("auditor", "510100"), ("510100", "510700"), ("510100", "510700")),
        (("auditor", "510100"), ("511300", None), None),
        (("insured_region", "510700"), (None, None), (None, "510700")),
        (("insured_region", "510700"), ("510100", "510700"), ("510100", "510700")),
        (("insured_region", "510700"), (None, "510300"), None),
        (("hospital", "H001"), (None, None), None),
    ],
)
def test_the_pages_narrow_the_statement_to_the_accounts_scope(grant, asked, given) -> None:
    """A regional grant covers only its treatment region, an insured region's account only its insured
    persons; anything else is answered as missing (None here: NotFound)."""
    from drgaudit.services.access import Grant, NotFound, Principal
    from drgaudit.web.routes.reports import _clearing_scope

    me = Principal("someone", (Grant(*grant),), "web", account_id=1)
    if given is None:
        with pytest.raises(NotFound):
            _clearing_scope(me, *asked)
    else:
        assert _clearing_scope(me, *asked) == given
