"""Report data on a small casebook with known numbers (tests/report_casebook.py): summary and monitoring."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from drgaudit.reports.config import load_settings
from drgaudit.reports.errors import ReportError
from drgaudit.reports.monitoring import build_monitoring
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import render_html, write_report
from drgaudit.reports.summary import build_summary
from tests import report_casebook


@pytest.fixture
def book(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    return report_casebook.build(session, tmp_path / "data")


def loose(tmp_path: Path) -> Path:
    """Settings that judge hospitals with a single case (the casebook is tiny)."""
    path = tmp_path / "loose.yaml"
    path.write_text("monitoring:\n  min_cases: 1\n", encoding="utf-8")
    return path


def test_summary_totals_families_scopes_and_hospitals(
    session: Session, book: report_casebook.Casebook
) -> None:
    report = build_summary(session=session, batch_id=book.claims_batch)
    ctx = report.context
    assert ctx["totals"] == {
        "claims": 12, "cross_claims": 3, "claims_hit": 3, "hit_rate": 0.25, "hits": 4,
        "amount": 81000.0, "amount_hits": 84000.0,
    }  # fmt: skip
    assert [(t.key, t.label, t.hits, t.claims_hit, t.amount) for t in ctx["families"]] == [
        ("outlier_review", "高低倍率病例", 1, 1, 40000.0),
        ("coaching_period", "辅导期内异地结算", 1, 1, 25000.0),
        ("split_hospitalization", "分解住院", 1, 1, 16000.0),
        ("upcoding", "高编高套", 1, 1, 3000.0),
    ]
    assert [(t.label, t.claims, t.claims_hit, t.hits, t.amount) for t in ctx["scopes"]] == [
        ("省内异地就医", 3, 1, 1, 25000.0),
        ("本地就医", 9, 2, 3, 56000.0),
    ]
    assert [(t.key, t.claims, t.claims_hit, t.hits, t.amount) for t in ctx["hospitals"]] == [
        ("HB", 5, 1, 1, 40000.0),
        ("HC", 1, 1, 1, 25000.0),
        ("HA", 6, 1, 2, 16000.0),
    ]
    assert ctx["rules"][0].label == "COACH-001 的标题"  # titles come from the stored evidence
    assert ctx["issuer"] == "医疗保障局"  # two regions: no region name in the issuer


def test_summary_for_one_region(session: Session, book: report_casebook.Casebook) -> None:
    report = build_summary(session=session, batch_id=book.claims_batch, region="511300")
    assert report.context["totals"]["claims"] == 1 and report.context["totals"]["amount"] == 25000.0
    assert [t.key for t in report.context["hospitals"]] == ["HC"]
    with pytest.raises(ReportError, match="batch 3 has no claims treated in region 519999"):
        build_summary(session=session, batch_id=book.claims_batch, region="519999")


def test_summary_refuses_unknown_unscreened_and_non_claims_batches(
    session: Session, book: report_casebook.Casebook
) -> None:
    with pytest.raises(ReportError, match=r"^no import batch 99 in the casebook \(see `drgaudit batches`\)$"):
        build_summary(session=session, batch_id=99)
    with pytest.raises(ReportError, match=r"^batch 1 is a hospitals import, not claims$"):
        build_summary(session=session, batch_id=book.hospitals_batch)


def test_summary_xlsx_lists_every_hit_with_masked_patients(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    path = write_report(
        build_summary(session=session, batch_id=book.claims_batch), "xlsx", tmp_path / "s.xlsx"
    )
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["概览", "按问题类别", "按规则", "按医院", "命中明细"]
    rows = list(workbook["命中明细"].iter_rows(values_only=True))
    assert len(rows) == 5
    split = next(r for r in rows if r[5] == "SPLIT-001")
    assert split[:2] == ("CA-Q3-2", "P51********01")
    assert split[9] == 16000.0
    assert "P51********01" in split[10] and report_casebook.PATIENT_A not in split[10]
    hospitals = list(workbook["按医院"].iter_rows(values_only=True))
    assert hospitals[1] == ("HB", "乙县示例中医医院", "二级", "成都市（示例）", 5, 0, 1, 0.2, 40000.0)


def test_monitoring_indicators_growth_and_watch_list(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    report = build_monitoring(
        session=session, period=parse_period("2025Q3"), settings=load_settings(loose(tmp_path))
    )
    ctx = report.context
    rows = {r.hospital_id: r for r in ctx["hospitals"]}
    ha = rows["HA"]
    assert (ha.now.cases, ha.now.cross_avg, ha.now.local_avg) == (3, 30000.0, 12000.0)
    assert (ha.before.cases, ha.before.cross_avg, ha.before.local_avg) == (3, 20000.0, 11000.0)
    assert ha.cross_growth == pytest.approx(0.5)
    assert ha.local_growth == pytest.approx(1 / 11)
    assert ha.now.cmi == pytest.approx(5 / 3) and ha.before.cmi == pytest.approx(1.5)
    assert (ha.now.cc_mcc_share, ha.before.cc_mcc_share) == (1.0, 0.5)  # FM19 (…9) is not counted
    assert ha.now.readmission_rate == pytest.approx(1 / 3)
    assert ha.reasons == [
        "异地次均费用增长+50.0%",
        "异地次均费用为本地的2.50倍",
        "CMI增长+11.1%",
        "CC/MCC病组占比上升+50.0个百分点",
        "15天内再入院率33.3%",
    ]
    assert [r.hospital_id for r in ctx["watch_list"]] == ["HA"]
    hb = rows["HB"]
    assert (hb.now.cases, hb.now.local_avg, hb.local_growth, hb.reasons) == (5, 20600.0, None, [])
    assert ctx["area"].now.cases == 9 and ctx["area"].cross_growth == pytest.approx(0.375)
    [group] = ctx["groups"]
    assert (group.group_code, group.cases, group.q1, group.median, group.q3) == (
        "FR13",
        7,
        10750.0,
        11000.0,
        12250.0,
    )
    assert [(o["claim_id"], o["patient"], o["side"], o["ratio"]) for o in group.outliers] == [
        ("CB-Q3-5", "P51********77", "高", 5.0)
    ]
    assert ctx["previous"].label == "2025年第2季度"


def test_monitoring_thresholds_are_settings(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    strict = build_monitoring(session=session, period=parse_period("2025Q3"))  # default: at least 20 cases
    assert strict.context["watch_list"] == [] and strict.context["hospitals"][0].cross_growth is None
    path = tmp_path / "s.yaml"
    path.write_text(
        "monitoring:\n  min_cases: 1\n  readmission_days: 3\n  watch: {cost_growth: 0.6, cross_local_ratio: 3, cmi_growth: 0.2, cc_mcc_share_rise: 0.6}\n",
        encoding="utf-8",
    )
    relaxed = build_monitoring(session=session, period=parse_period("2025Q3"), settings=load_settings(path))
    assert (
        relaxed.context["watch_list"] == []
    )  # the 5-day readmission is outside 3 days; growths under the limits


def test_monitoring_region_and_empty_period(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    report = build_monitoring(session=session, period=parse_period("2025-09"), region="511300")
    assert [r.hospital_id for r in report.context["hospitals"]] == ["HC"]
    assert (report.context["issuer"], report.context["region_label"]) == (
        "南充市医疗保障局",
        "南充市（示例）",
    )
    with pytest.raises(
        ReportError,
        match=r"^no claims discharged in 2024年 or the period before \(2023-01-01 至 2023-12-31\)$",
    ):
        build_monitoring(session=session, period=parse_period("2024"))


def test_monitoring_xlsx_and_html(session: Session, book: report_casebook.Casebook, tmp_path: Path) -> None:
    report = build_monitoring(
        session=session, period=parse_period("2025Q3"), settings=load_settings(loose(tmp_path))
    )
    workbook = load_workbook(write_report(report, "xlsx", tmp_path / "m.xlsx"), read_only=True)
    assert workbook.sheetnames == ["医院指标", "关注名单", "病组费用分布", "离群病例"]
    watch = list(workbook["关注名单"].iter_rows(values_only=True))
    assert [r[0] for r in watch[1:]] == ["HA"]
    outliers = list(workbook["离群病例"].iter_rows(values_only=True))
    assert outliers[1][:4] == ("FR13", "成都市（示例）", "CB-Q3-5", "P51********77")
    html = render_html(report)
    assert "住院费用监测报告" in html and "2025年第3季度" in html and "<script" not in html
    assert html.count('class="box"') == 1 and 'data-outliers="1"' in html
