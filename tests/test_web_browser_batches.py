"""Import and screening from the pages in a real browser (Playwright on the system's chromium) against
`drgaudit serve`: an auditor uploads a claims file with one bad row (imported in the background: the page
shows the import's progress, then its result), reads what was imported and why the row was refused, screens
the batch (in the background: the page shows the screen's progress, updated by
polling, and then its result) and reads the result; the new review case is then on the queue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.screenjobs import ScreenJob, finish_job
from tests.conftest import claim_row, write_table
from tests.test_web_browser import CHROMIUM, browser, casebook_url, flash, sign_in, small_served  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    ),
    pytest.mark.usefixtures("fast_passwords"),
]


def test_an_auditor_imports_and_screens_a_batch_in_the_browser(
    browser,  # noqa: F811
    small_served,  # noqa: F811
    casebook_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
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
    assert "正在开始筛查" in row.locator("p.flash").inner_text() and row.locator("button").is_disabled()
    page.goto(served + "/batches")

    # A screen of this batch running on another server of the service: its progress is shown and
    # follows the casebook (polled), then its end loads the page again with its result.
    batch = int(row.locator("td").first.inner_text())
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        moment = datetime.now(UTC)
        job = ScreenJob(
            batch_id=batch, active_batch=batch, started_by="审核员", role="auditor", channel="web",
            started_at=moment, heartbeat_at=moment, done=1, total=2, host="another-server", pid=4242,
        )  # fmt: skip
        session.add(job)
        session.commit()
        job_id = job.id or 0
        page.goto(served + "/batches")
        box = page.locator(f"#job-{job_id}")
        assert f"第 {batch} 批次筛查中：已筛查 1 / 2 份结算清单（50%）" in box.inner_text()
        assert box.locator("progress").get_attribute("value") == "1"
        assert row.locator("button").count() == 0  # no second start while it runs
        job.done, job.heartbeat_at = 2, datetime.now(UTC)
        session.add(job)
        session.commit()
        page.wait_for_function(
            "id => document.querySelector('#job-' + id + ' .job-text').textContent.includes('正在保存结果')",
            arg=job_id,
        )
        assert row.locator("[data-job]").inner_text() == "筛查中：2 / 2 份（100%）"
        finish_job(session=session, job_id=job_id, status="failed", error="测试：另一台服务器上的筛查失败")
        page.wait_for_url(f"{served}/batches?job={job_id}")  # the page of its end, opened by itself
        page.wait_for_selector(f"#job-{job_id} p.flash.error")
        assert "筛查失败：测试：另一台服务器上的筛查失败" in flash(page)
    engine.dispose()

    # The auditor screens it: the page comes back at once with the screen's progress, then its result.
    page.goto(served + "/batches")
    page.locator("tr", has_text="四月结算清单.xlsx").locator("button", has_text="筛查").click()
    page.wait_for_url(f"{served}/batches?job=*")
    page.wait_for_selector("p.flash.ok", timeout=60_000)
    assert "筛查完成：2 份结算清单" in flash(page) and "审核案件新增 1 件" in flash(page)
    assert "已完成" in page.locator("tr", has_text="四月结算清单.xlsx").inner_text()
    page.goto(served + "/queue")
    assert "B2" in page.content()

    # Signed out (in another tab) while a screen is being watched: the next poll takes the page to the
    # log-in page, coming back to the screen afterwards.
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        moment = datetime.now(UTC)
        watched = ScreenJob(
            batch_id=batch, active_batch=batch, started_by="审核员", role="auditor", channel="web",
            started_at=moment, heartbeat_at=moment, total=2, host="another-server", pid=4242,
        )  # fmt: skip
        session.add(watched)
        session.commit()
        page.goto(f"{served}/batches?job={watched.id}")
        context.clear_cookies()
        page.wait_for_url(f"{served}/login?next=*", timeout=5_000)
    engine.dispose()
    context.close()


def test_an_import_result_stays_when_a_screen_watched_beside_it_ends(
    browser,  # noqa: F811
    small_served,  # noqa: F811
    casebook_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An auditor imported the next file while another batch was screened: the answer page showed the
    import's refused rows and the running screen; when the screen ended the page opened /batches?job=N (and
    without JavaScript reloaded itself every 3 s), and the refused rows being read were gone. Now the
    end is said in place and the import's result stays."""
    served, _book = small_served
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        moment = datetime.now(UTC)
        job = ScreenJob(
            batch_id=1, active_batch=1, started_by="审核员", role="auditor", channel="web",
            started_at=moment, heartbeat_at=moment, done=1, total=2, host="another-server", pid=4242,
        )  # fmt: skip
        session.add(job)
        session.commit()
        job_id = job.id or 0
        rows = [
            claim_row(300 + n, hospital_id="H001", claim_id=f"N{n}", patient_id=f"PN{n}") for n in range(2)
        ]
        rows[1]["gender"] = "男"
        path = write_table(tmp_path / "五月结算清单.csv", rows)
        context, page = sign_in(browser, served, "审核员")
        page.goto(served + "/batches")
        page.select_option("select[name=table]", "claims")
        page.set_input_files("input[name=upload]", str(path))
        page.click("#upload-form button[type=submit]")
        page.locator("#import-result").wait_for()
        assert page.locator(f"#job-{job_id} progress").count() == 1
        assert 'http-equiv="refresh"' not in page.content()
        answer_url = page.url
        finish_job(session=session, job_id=job_id, status="failed", error="测试：筛查失败")
        page.wait_for_selector(f"#job-{job_id} .job-text.flash.error")
        assert "筛查失败：测试：筛查失败" in page.locator(f"#job-{job_id}").inner_text()
        assert page.url == answer_url and "拒收 1 行" in page.locator("#import-result").inner_text()
        context.close()
    engine.dispose()


def test_an_upload_shows_its_progress_then_its_result_in_the_browser(
    browser,  # noqa: F811
    small_served,  # noqa: F811
    casebook_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The upload's answer came only once the whole file was imported, the page frozen meanwhile. Now the
    upload opens the page of its job at once: the rows read and the bar follow the casebook (polled; here
    an import running on another server of the service), and its end opens the page of its result, with
    the refused rows and their reasons. A file the importer cannot read is said in Chinese."""
    served, _book = small_served
    context, page = sign_in(browser, served, "审核员")
    page.goto(served + "/batches")
    page.select_option("select[name=table]", "claims")
    page.set_input_files(
        "input[name=upload]", {"name": "表头不对.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"{served}/batches?job=*")
    page.wait_for_selector(".screen-job p.flash.error", timeout=30_000)
    assert "“表头不对.csv”导入失败：缺少必填的列：claim_id" in flash(page)
    assert "missing" not in page.content()

    engine = make_engine(casebook_url)
    with Session(engine) as session:
        moment = datetime.now(UTC)
        job = ScreenJob(
            kind="import", batch_id=None, started_by="审核员", role="auditor", channel="web", started_at=moment,
            heartbeat_at=moment, done=250_000, total=1_000_000, rows=2_000, file_name="六月结算清单.csv",
            host="another-server", pid=4242,
        )  # fmt: skip
        session.add(job)
        session.commit()
        job_id = job.id or 0
        page.goto(f"{served}/batches?job={job_id}")
        box = page.locator(f"#job-{job_id}")
        assert "正在导入“六月结算清单.csv”：已读取 2,000 行（文件的 25%）" in box.inner_text()
        assert box.locator("progress").get_attribute("value") == "250000"
        job.done, job.rows, job.heartbeat_at = 750_000, 6_000, datetime.now(UTC)
        session.add(job)
        session.commit()
        page.wait_for_function(
            "id => document.querySelector('#job-' + id + ' .job-text').textContent.includes('6,000 行')",
            arg=job_id,
        )
        assert (
            "（文件的 75%）" in box.inner_text()
            and box.locator("progress").get_attribute("value") == "750000"
        )
        result = {
            "batch_id": 1, "path": "六月结算清单.csv", "kind": "claims", "encoding": "utf-8", "rows_total": 8_000,
            "rows_ok": 7_999, "rows_rejected": 1, "new": 7_999, "unchanged": 0, "revised": 0,
            "already_imported": False, "errors_total": 1, "version": None, "warnings": [], "nothing_imported": None,
            "first_errors": [{"row": 17, "field": "gender", "reason": "测试：性别须是 1 或 2"}],
        }  # fmt: skip
        finish_job(session=session, job_id=job_id, status="done", result=result, batch_id=1, rows=8_000)
        page.wait_for_selector("#import-result", timeout=10_000)  # the page of its end, opened by itself
        text = page.locator("#import-result").inner_text()
        assert "导入结果：六月结算清单.csv" in text and "导入 7,999 行" in text and "拒收 1 行" in text
        assert "性别（gender）" in text and "测试：性别须是 1 或 2" in text
        assert page.url == f"{served}/batches?job={job_id}" and page.locator("progress").count() == 0
    engine.dispose()
    context.close()
