"""Import and screening from the pages in a real browser (Playwright on the system's chromium) against
`drgaudit serve`: an auditor uploads a claims file with one bad row, reads what was imported and why the
row was refused, screens the batch (the button is disabled and says so while it runs) and reads the result;
the new review case is then on the queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import claim_row, write_table
from tests.test_web_browser import CHROMIUM, browser, casebook_url, flash, sign_in, small_served  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    ),
    pytest.mark.usefixtures("fast_passwords"),
]


def test_an_auditor_imports_and_screens_a_batch_in_the_browser(browser, small_served, tmp_path: Path) -> None:  # noqa: F811
    served, _book = small_served
    rows = [
        claim_row(200 + n, hospital_id="H001", treatment_region="510100", insured_region="510700", claim_id=f"B{n}",
                  patient_id=f"PB{n}")
        for n in range(3)
    ]  # fmt: skip
    rows[1]["gender"] = "男"
    rows[2].update(admit_date="2025-02-01", discharge_date="2025-04-15")  # 73 days: LOS-001
    path = write_table(tmp_path / "四月结算清单.xlsx", rows)

    context, page = sign_in(browser, served, "审核员")
    page.click("nav >> text=导入与筛查")
    page.select_option("select[name=table]", "claims")
    page.set_input_files("input[name=upload]", str(path))
    page.click("#upload-form button[type=submit]")
    result = page.locator("#import-result")
    result.wait_for()
    text = result.inner_text()
    assert "导入结果：四月结算清单.xlsx" in text and "导入 2 行" in text and "拒收 1 行" in text
    assert "性别（gender）" in text
    row = page.locator("tr", has_text="四月结算清单.xlsx")
    assert "尚未筛查" in row.inner_text()
    # Pressed, the screen button is disabled and says it is working (this first press is held back in the
    # page, so that the state can be read), and the form cannot be sent twice.
    page.evaluate(
        "() => document.querySelectorAll('form[data-busy]').forEach("
        "f => f.addEventListener('submit', e => e.preventDefault(), {once: true}))"
    )
    row.locator("button", has_text="筛查").click()
    assert "正在筛查" in row.locator("p.flash").inner_text() and row.locator("button").is_disabled()
    page.reload()
    page.locator("tr", has_text="四月结算清单.xlsx").locator("button", has_text="筛查").click()
    page.wait_for_url(f"{served}/batches")
    assert "筛查完成：2 份结算清单" in flash(page) and "审核案件新增 1 件" in flash(page)
    assert "已完成" in page.locator("tr", has_text="四月结算清单.xlsx").inner_text()
    page.goto(served + "/queue")
    assert "B2" in page.content()
    context.close()
