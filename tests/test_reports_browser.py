"""The HTML reports in a real headless browser (the system's chromium through Playwright): the inline SVG
charts are visible, with the expected bars and labels, and the page is screenshotted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.reports.config import load_settings
from drgaudit.reports.monitoring import build_monitoring
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import write_report
from drgaudit.reports.summary import build_summary
from tests import needs, report_casebook

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture
def browser():
    chromium = needs.chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_summary_charts_show_in_a_browser(browser, session: Session, tmp_path: Path) -> None:
    book = report_casebook.build(session, tmp_path / "data")
    html = write_report(
        build_summary(session=session, batch_id=book.claims_batch), "html", tmp_path / "summary.html"
    )
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(html.as_uri())
    assert page.title() == "住院费用审核筛查结果汇总"
    assert page.locator("script").count() == 0
    family = page.locator('svg.chart[aria-label="各问题类别涉及金额（元）"]')
    family.scroll_into_view_if_needed()
    assert family.is_visible()
    bars = family.locator("rect.bar")
    assert bars.count() == 4
    labels = [bars.nth(i).get_attribute("data-label") for i in range(4)]
    assert labels == ["高低倍率病例", "辅导期内异地结算", "分解住院", "高编高套"]
    assert family.locator("text.label").all_text_contents() == labels
    assert family.locator("text.value").all_text_contents() == [
        "4.00万元",
        "2.50万元",
        "1.60万元",
        "3,000.00元",
    ]
    widths = [bars.nth(i).bounding_box()["width"] for i in range(4)]
    assert all(bars.nth(i).is_visible() for i in range(4))
    assert widths[0] > widths[1] > widths[2] > widths[3] > 0
    assert widths[1] / widths[0] == pytest.approx(25000 / 40000, rel=0.02)
    hospitals = page.locator('svg.chart[aria-label="涉及金额最高的医院（元）"] rect.bar')
    assert [hospitals.nth(i).get_attribute("data-label") for i in range(hospitals.count())] == [
        "乙县示例中医医院",
        "丙市示例中心医院",
        "甲市示例人民医院",
    ]
    shot = tmp_path / "summary.png"
    page.screenshot(path=str(shot), full_page=True)
    family.screenshot(path=str(tmp_path / "family.png"))
    assert shot.stat().st_size > 20_000 and (tmp_path / "family.png").stat().st_size > 2_000


def test_monitoring_box_plot_marks_the_outlier_in_a_browser(
    browser, session: Session, tmp_path: Path
) -> None:
    report_casebook.build(session, tmp_path / "data")
    loose = tmp_path / "loose.yaml"
    loose.write_text("monitoring:\n  min_cases: 1\n", encoding="utf-8")
    report = build_monitoring(session=session, period=parse_period("2025Q3"), settings=load_settings(loose))
    html = write_report(report, "html", tmp_path / "monitoring.html")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(html.as_uri())
    box = page.locator("svg.box-plot g.box")
    assert box.count() == 1 and box.get_attribute("data-label").startswith("FR13")
    outlier = page.locator("svg.box-plot .outlier")
    outlier.scroll_into_view_if_needed()
    assert outlier.count() == 1 and outlier.is_visible()
    pairs = page.locator("svg.paired-bar-chart rect.bar")
    series = {
        (pairs.nth(i).get_attribute("data-label"), pairs.nth(i).get_attribute("data-series"))
        for i in range(pairs.count())
    }
    assert ("甲市示例人民医院", "省内异地") in series and ("甲市示例人民医院", "本地") in series
    assert ("乙县示例中医医院", "省内异地") not in series  # no cross-region case: no bar
    page.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
    assert (tmp_path / "monitoring.png").stat().st_size > 20_000
