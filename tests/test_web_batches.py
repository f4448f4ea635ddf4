"""Import and screening from the pages (/batches): an auditor uploads a claims file and screens it (in the
background: the page shows the screen's progress, polled from /batches/jobs/{id}, then its result); what
is refused is refused with a Chinese message; every change is logged with the account, its role and `web`.

The casebook is a SQLite file here (or the test's PostgreSQL database), not the shared in-memory one: the
screen's thread writes while the requests read, and a shared-cache database fails such a table lock at
once where a file waits for it."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from drgaudit.casebook import queries
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.runlock import ScreenLock
from drgaudit.casebook.screening import ScreenRun, ScreenRunCreate, start_run
from drgaudit.casebook.screenjobs import JobBusyError, ScreenJob, finish_job, insert_job
from drgaudit.errors import DrgauditError
from drgaudit.i18n import _
from drgaudit.services import screenjobs
from tests import web_casebook
from tests.conftest import claim_row, write_table
from tests.test_web_browser import casebook_url  # noqa: F401  (a SQLite file, or the test's PostgreSQL)
from tests.web_support import Browser, wait_for_job, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def session(casebook_url: str) -> Iterator[Session]:  # noqa: F811
    """A session on the casebook the site serves."""
    engine = make_engine(casebook_url)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


@pytest.fixture
def site(casebook_url: str, session: Session, tmp_path: Path):  # noqa: F811
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    return web_app(casebook_url, max_import_mb=0.05)


def _screen_jobs(session: Session, batch: int) -> list[ScreenJob]:
    """The screen jobs stored for a batch (read afresh)."""
    return list(
        session.exec(select(ScreenJob).where(ScreenJob.batch_id == batch, ScreenJob.kind == "screen")).all()
    )


def _finished(browser: Browser, location: str, timeout: float = 60) -> dict[str, Any]:
    """Poll the job the screen's redirect names until it has ended; its last state."""
    assert location.startswith("/batches?job="), location
    return wait_for_job(browser, int(location.split("=", 1)[1]), timeout)


def _screen(browser: Browser, batch: int) -> tuple[dict[str, Any], str]:
    """Start a screen of the batch from the page, wait for its end: (the job's last state, the page then)."""
    started = browser.post(f"/batches/{batch}/screen")
    assert started.status_code == 303, started.text[:500]
    location = started.headers["location"]
    job = _finished(browser, location)
    return job, browser.get(location).text


def _signed_in(app, user: str = "审核员") -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 303
    browser.token = browser.csrf("/batches") if user == "审核员" else browser.token
    return browser


def _claims_file(tmp_path: Path) -> bytes:
    """Five claims of hospital H001 (treatment region 510100), the third with a total cost of '12,000.50';
    the fifth stays 70 days (LOS-001 flags it for special review)."""
    rows = [
        claim_row(100 + n, hospital_id="H001", treatment_region="510100", insured_region="510700", claim_id=f"U{n}",
                  patient_id=f"PU{n}")
        for n in range(5)
    ]  # fmt: skip
    rows[2]["total_cost"] = "12,000.50"
    rows[4].update(admit_date="2025-03-01", discharge_date="2025-05-10")
    return write_table(tmp_path / "claims.csv", rows).read_bytes()


def test_an_auditor_imports_a_file_and_screens_it_from_the_page(
    site, session: Session, tmp_path: Path
) -> None:
    browser = _signed_in(site)
    page = browser.get("/batches").text
    assert "导入与筛查" in page and 'id="upload-form"' in page
    job, response = browser.upload("三月 结算清单.csv", _claims_file(tmp_path))
    assert response.status_code == 200, response.text[:500]
    page = response.text
    batch = max(b.id for b in queries.list_batches(session=session))
    assert (
        job["job"] == "import" and job["status"] == "done" and job["batch_id"] == batch and job["rows"] == 5
    )
    assert job["text"] == f"“三月_结算清单.csv”已导入为第 {batch} 批次：导入 4 行，拒收 1 行"
    assert f"已导入为第 {batch} 批次" in page and "导入 4 行" in page and "拒收 1 行" in page
    assert "医疗费总额（total_cost）" in page and "12,000.50" in page
    # The reason in Chinese on the page (the command line keeps the environment's language).
    assert "不是数字（不要用千位分隔符，请写作 12000.50）" in page and "write 12000.50" not in page
    assert "/tmp/" not in page  # named as uploaded, not by the temporary folder it was read from
    stored = queries.get_batch(session=session, batch_id=batch)
    assert stored is not None and stored.file_name == "三月_结算清单.csv" and stored.imported_by == "审核员"

    workbook = browser.get(f"/batches/{batch}/rejects.xlsx")
    assert workbook.status_code == 200 and f'href="/batches/{batch}/rejects.xlsx"' in page
    sheet = load_workbook(io.BytesIO(workbook.content))["拒收的行"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("行", "字段", "字段名称", "原因", "原始内容")
    assert rows[1][:3] == (4, "total_cost", "医疗费总额") and "12,000.50" in rows[1][4]
    assert browser.get("/batches/999/rejects.xlsx").status_code == 404

    _job, again = browser.upload("again.csv", _claims_file(tmp_path))
    assert f"这个文件已在第 {batch} 批次导入过" in again.text

    job, page = _screen(browser, batch)
    assert job["status"] == "done" and job["kind"] == "ok" and job["done"] == job["total"] == 4
    assert job["text"].startswith(f"第 {batch} 批次筛查完成：4 份结算清单")
    assert f"第 {batch} 批次筛查完成：4 份结算清单" in page and "审核案件新增 1 件" in page
    session.expire_all()
    run = session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).one()
    assert run.status == "done" and run.run_by == "审核员"
    case = session.exec(select(ReviewCase).where(ReviewCase.claim_id == "U4")).one()
    entry = session.exec(
        select(AuditEntry).where(
            AuditEntry.entity == "review_case",
            AuditEntry.entity_id == str(case.id),
            AuditEntry.action == "created",
        )
    ).one()
    assert (entry.actor, entry.role, entry.channel) == ("审核员", "auditor", "web")
    assert "重新筛查" in page  # screened batches offer a re-screen, with a confirmation


def test_what_cannot_be_imported_is_refused_in_chinese_and_nothing_is_written(
    site, session: Session, tmp_path: Path
) -> None:
    browser = _signed_in(site)
    before = len(queries.list_batches(session=session))
    refused = browser.post("/batches", {"table": "claims"}, files={"upload": ("notes.txt", b"claim_id\n1\n")})
    assert refused.status_code == 400 and "请上传 CSV、JSONL 或 XLSX 文件" in refused.text
    empty = browser.post("/batches", {"table": "claims"}, files={"upload": ("empty.csv", b"")})
    assert empty.status_code == 400 and "“empty.csv”是空文件" in empty.text
    unknown = browser.post("/batches", {"table": "drugs"}, files={"upload": ("a.csv", b"x\n1\n")})
    assert unknown.status_code == 400 and "导入的数据须是" in unknown.text
    # What only reading the file tells is said by the import's job, in Chinese.
    job, headerless = browser.upload("bad.csv", b"a,b\n1,2\n")
    assert job["status"] == "failed" and job["kind"] == "error" and "bad.csv" in job["text"], job
    assert "缺少必填的列" in job["text"] and "missing" not in job["text"], job["text"]
    assert (
        "bad.csv" in headerless.text and "缺少必填的列" in headerless.text and "/tmp/" not in headerless.text
    )
    big = browser.post("/batches", {"table": "claims"}, files={"upload": ("big.csv", b"x" * 1_200_000)})
    assert big.status_code == 413
    not_claims = browser.post("/batches/1/screen")  # batch 1 holds hospitals
    assert not_claims.status_code == 400 and "不是结算清单" in not_claims.text
    assert len(queries.list_batches(session=session)) == before


def test_only_auditors_import_or_screen(site, tmp_path: Path) -> None:
    for user in ("秘书", "h001", "参保地", "只读"):
        browser = Browser(site)
        assert browser.login(user).status_code == 303
        assert browser.get("/batches").status_code == 403, user
        assert 'href="/batches"' not in browser.get("/").text, user
        token = browser.csrf("/password")
        upload = browser.client.post(
            "/batches", data={"table": "claims", "csrf_token": token},
            files={"upload": ("c.csv", _claims_file(tmp_path))},
        )  # fmt: skip
        assert upload.status_code == 403, user
        assert browser.client.post("/batches/2/screen", data={"csrf_token": token}).status_code == 403, user
    auditor = _signed_in(site)
    assert 'href="/batches"' in auditor.get("/").text
    # Without the form's CSRF token nothing is imported.
    forged = auditor.client.post(
        "/batches", data={"table": "claims"}, files={"upload": ("c.csv", b"claim_id\n")}
    )
    assert forged.status_code == 403


def test_screening_a_batch_that_is_no_claims_batch_is_refused_in_chinese(
    casebook_url: str,  # noqa: F811
    session: Session,
    tmp_path: Path,
) -> None:
    """A forged screen of a hospitals batch, or of a batch that does not exist, was refused in English with
    a CLI hint ('batch 1 is a hospitals import, not claims', '… (see `drgaudit batches`)')."""
    web_casebook.build(session, tmp_path)
    auditor = Browser(web_app(casebook_url))
    assert auditor.login("审核员").status_code == 303
    page = auditor.post("/batches/1/screen", {})
    assert page.status_code == 400 and "第 1 批次导入的是医疗机构，不是结算清单" in page.text
    page = auditor.post("/batches/99/screen", {})
    assert page.status_code == 400 and "没有第 99 批次的导入数据" in page.text


def test_an_auditor_bound_to_a_region_screens_only_batches_of_that_region(
    site, session: Session, tmp_path: Path
) -> None:
    """Storing a screen's hits makes findings and review cases in each claim's treatment region: an
    auditor:510300 may not screen a batch of claims treated in 510100 (403, nothing stored); an
    auditor:510100 may. The command line checks the same (`screen --batch --user`)."""
    from typer.testing import CliRunner

    from drgaudit.cli.root import app as cli
    from tests.web_support import make_accounts

    make_accounts(session, ("审核丙", "auditor:510300"), ("审核丁", "auditor:510100"))
    auditor = _signed_in(site)
    auditor.upload("c.csv", _claims_file(tmp_path))
    batch = max(b.id for b in queries.list_batches(session=session))
    elsewhere = Browser(site)
    assert elsewhere.login("审核丙").status_code == 303
    elsewhere.token = elsewhere.csrf("/batches")
    refused = elsewhere.post(f"/batches/{batch}/screen")
    assert refused.status_code == 403
    assert session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).first() is None
    url = str(session.get_bind().url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["screen", "--batch", str(batch), "--user", "审核丙", "--db", url])
    assert result.exit_code != 0 and "510100" in result.output
    here = Browser(site)
    assert here.login("审核丁").status_code == 303
    here.token = here.csrf("/batches")
    assert _screen(here, batch)[0]["status"] == "done"
    session.expire_all()
    run = session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).one()
    assert run.run_by == "审核丁"


def _uploaded(browser: Browser, session: Session, tmp_path: Path) -> int:
    """The batch of `_claims_file`, uploaded by the browser's account."""
    job, response = browser.upload("c.csv", _claims_file(tmp_path))
    assert response.status_code == 200 and job["status"] == "done", response.text[:300]
    return int(job["batch_id"])


def _job_of_another_server(session: Session, batch: int, **fields: Any) -> ScreenJob:
    """A job of this batch as another server's process would have recorded it (running, fresh heartbeat)."""
    moment = datetime.now(UTC)
    values: dict[str, Any] = dict(
        batch_id=batch, active_batch=batch, started_by="审核员", role="auditor", channel="web", started_at=moment,
        heartbeat_at=moment, done=1200, total=5000, host="another-server", pid=4242,
    )  # fmt: skip
    values.update(fields)
    job = ScreenJob(**values)
    session.add(job)
    session.commit()
    session.refresh(job)
    return job


def test_a_screen_runs_in_the_background_and_its_job_records_who_and_what(
    site, session: Session, tmp_path: Path
) -> None:
    """The screen's request answers at once (before, it screened the whole batch inside the request: a
    1,000,000-claim batch froze the browser for minutes, with no progress); the job in the casebook says
    who started it, when, how far it got and what it found."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    job, page = _screen(browser, batch)
    assert 'id="job-' in page and "data-poll" not in page  # ended: the result, no more polling
    assert '<noscript><meta http-equiv="refresh"' not in page
    session.expire_all()
    (stored,) = _screen_jobs(session, batch)
    assert (stored.started_by, stored.role, stored.channel) == ("审核员", "auditor", "web")
    assert stored.status == "done" and stored.active_batch is None and stored.error is None
    assert stored.started_at <= stored.finished_at and (stored.done, stored.total) == (4, 4)
    run = session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).one()
    assert stored.run_id == run.id and run.run_by == "审核员"
    assert stored.result is not None and stored.result["claims"] == 4 and stored.result["cases_created"] == 1
    row = page.split(f'id="batch-{batch}"', 1)[1].split("</tr>", 1)[0]
    assert "已完成：4 份" in row and "重新筛查" in row


def test_a_running_screen_is_shown_with_its_progress_and_a_second_start_is_refused(
    site, session: Session, tmp_path: Path
) -> None:
    """While a batch is being screened (here by another server's process, whose progress the casebook
    holds), the page and the poll show how far it is, and a second start from another tab or another
    worker is refused in Chinese (the casebook refuses a second running job of a batch)."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    job = _job_of_another_server(session, batch)
    page = browser.get("/batches").text
    assert f"第 {batch} 批次筛查中：已筛查 1,200 / 5,000 份结算清单（24%）" in page
    assert f'data-poll="/batches/jobs/{job.id}"' in page and '<progress max="5000" value="1200">' in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page  # without JavaScript
    assert f'href="/batches?job={job.id}"' in page  # and a link
    row = page.split(f'id="batch-{batch}"', 1)[1].split("</tr>", 1)[0]
    assert "筛查中：1,200 / 5,000 份（24%）" in row and "<button" not in row
    state = browser.get(f"/batches/jobs/{job.id}").json()
    assert state == {
        "id": job.id, "job": "screen", "batch_id": batch, "status": "running", "running": True, "done": 1200,
        "total": 5000, "rows": 0, "percent": 24, "kind": "busy", "text": f"第 {batch} 批次筛查中：已筛查 1,200 / 5,000 份结算清单（24%）",
    }  # fmt: skip

    refused = browser.post(f"/batches/{batch}/screen")
    assert refused.status_code == 303 and refused.headers["location"] == f"/batches?job={job.id}"
    page = browser.get(refused.headers["location"]).text
    assert f"第 {batch} 批次正在筛查（审核员" in page and "不能同时再筛查一次" in page
    session.expire_all()
    assert len(_screen_jobs(session, batch)) == 1
    assert session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).first() is None
    # Two workers that both passed the check: the second insert is refused by the casebook itself.
    with pytest.raises(JobBusyError):
        insert_job(
            session=session, batch_id=batch, started_by="审核员", role="auditor", channel="web", total=4
        )

    # Its last progress: screened, storing; then ended (the page is loaded again and shows the result).
    job.done = 5000
    session.add(job)
    session.commit()
    assert "5,000 份结算清单已筛查完毕，正在保存结果" in browser.get(f"/batches/jobs/{job.id}").json()["text"]
    finish_job(session=session, job_id=job.id or 0, status="done", result={
        "claims": 5000, "hits": 7, "amount_at_risk": 1234.5, "cases_created": 2, "cases_updated": 1,
        "findings_created": 3, "claims_failed": 0, "patients_failed": 0, "seconds": 9.0,
    })  # fmt: skip
    state = browser.get(f"/batches/jobs/{job.id}").json()
    assert state["running"] is False and state["kind"] == "ok"
    page = browser.get(f"/batches?job={job.id}").text
    assert (
        f"第 {batch} 批次筛查完成：5,000 份结算清单，命中 7 次，涉及金额 1,234.50 元；审核案件新增 2 件、更新 1 件；"
        "医院疑点新增 3 条"
    ) in page
    assert "data-poll" not in page and "筛查</button>" in page  # the batch may be screened again


@pytest.mark.parametrize("left_by", ["a stopped server", "this process, restarted", "a silent server"])
def test_a_screen_whose_server_stopped_is_shown_interrupted_and_can_be_started_again(
    site, session: Session, tmp_path: Path, left_by: str
) -> None:
    """A job left running by a server that stopped (its process gone on this host; a process of this id
    that does not run it: the server restarted; or another host's job whose heartbeat stopped while
    nobody holds the batch's screen lock) is shown interrupted, never running for ever, and the batch
    can be screened again."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = datetime.now(UTC) - timedelta(minutes=10)
    fields = {
        "a stopped server": {"host": socket.gethostname(), "pid": gone.pid},
        "this process, restarted": {"host": socket.gethostname(), "pid": os.getpid()},
        "a silent server": {"heartbeat_at": stale},
    }[left_by]
    job = _job_of_another_server(session, batch, **fields)
    state = browser.get(f"/batches/jobs/{job.id}").json()
    assert state["status"] == "interrupted" and state["running"] is False and state["kind"] == "error"
    assert (
        f"第 {batch} 批次筛查已中断：筛查在完成前中断" in state["text"]
        and "可重新筛查该批次" in state["text"]
    )
    page = browser.get("/batches").text
    row = page.split(f'id="batch-{batch}"', 1)[1].split("</tr>", 1)[0]
    assert "页面上最近一次筛查已中断" in row and "筛查</button>" in row and "data-poll" not in page
    session.expire_all()
    assert session.get(ScreenJob, job.id).active_batch is None
    again, page = _screen(browser, batch)
    assert again["status"] == "done" and f"第 {batch} 批次筛查完成：4 份结算清单" in page


def test_a_fresh_job_of_another_server_is_not_judged_gone(site, session: Session, tmp_path: Path) -> None:
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    job = _job_of_another_server(session, batch, heartbeat_at=datetime.now(UTC) - timedelta(seconds=20))
    assert browser.get(f"/batches/jobs/{job.id}").json()["running"] is True


def test_a_job_whose_process_id_is_not_found_but_holds_the_screen_lock_is_not_judged_gone(
    site, session: Session, tmp_path: Path
) -> None:
    """Servers in containers that share a host name but not a process table: another one's process id is
    not found here, yet it screens (it holds the batch's screen lock): its job was judged interrupted, and
    the batch could be started again while it ran."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    job = _job_of_another_server(session, batch, host=socket.gethostname(), pid=gone.pid)
    with ScreenLock(session.get_bind(), batch) as lock:
        assert lock.acquire()
        assert browser.get(f"/batches/jobs/{job.id}").json()["running"] is True
    assert browser.get(f"/batches/jobs/{job.id}").json()["status"] == "interrupted"


def test_a_screen_that_fails_says_why_in_chinese(
    site, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)

    def broken(**_kwargs: Any) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(screenjobs, "screen_batch", broken)
    job, page = _screen(browser, batch)
    assert job["status"] == "failed" and job["kind"] == "error"
    assert f"第 {batch} 批次筛查失败：筛查时出现意外错误（ZeroDivisionError），未保存任何结果" in page
    assert "boom" not in page  # the log keeps the details
    session.expire_all()
    (stored,) = _screen_jobs(session, batch)
    assert stored.status == "failed" and stored.active_batch is None and stored.finished_at is not None

    def refused(**_kwargs: Any) -> None:
        raise DrgauditError(_("batch {batch} is a {kind} import, not claims").format(
            batch=batch, kind="claims", kind_name="医疗机构"))  # fmt: skip

    monkeypatch.setattr(screenjobs, "screen_batch", refused)
    _job, page = _screen(browser, batch)
    assert f"筛查失败：第 {batch} 批次导入的是医疗机构，不是结算清单" in page  # the thread speaks Chinese too


def test_only_those_who_see_the_batches_page_see_a_screen_and_a_forged_start_is_refused(
    site, session: Session, tmp_path: Path
) -> None:
    auditor = _signed_in(site)
    batch = _uploaded(auditor, session, tmp_path)
    job = _job_of_another_server(session, batch)
    assert auditor.get("/batches/jobs/999999").status_code == 404
    assert auditor.get("/batches?job=999999").status_code == 404
    bad = auditor.get("/batches?job=abc")
    assert bad.status_code == 400 and "筛查任务" in bad.text
    for user in ("秘书", "h001", "参保地", "只读"):
        other = Browser(site)
        assert other.login(user).status_code == 303
        assert other.get(f"/batches/jobs/{job.id}").status_code == 403, user
    anonymous = Browser(site).get(f"/batches/jobs/{job.id}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    finish_job(session=session, job_id=job.id or 0, status="failed", error="测试")
    # A start without the form's CSRF token starts nothing.
    forged = auditor.client.post(f"/batches/{batch}/screen")
    assert forged.status_code == 403
    session.expire_all()
    assert len(_screen_jobs(session, batch)) == 1


def test_a_server_that_stops_marks_its_running_screens_interrupted(
    casebook_url: str,  # noqa: F811
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web_casebook.build(session, tmp_path)
    release = threading.Event()

    def slow(**_kwargs: Any) -> None:
        release.wait(30)
        raise DrgauditError("stopped")

    monkeypatch.setattr(screenjobs, "screen_batch", slow)
    app = web_app(casebook_url)
    with TestClient(app, follow_redirects=False):  # its lifespan: started, then stopped
        browser = Browser(app)
        assert browser.login("审核员").status_code == 303
        started = browser.post("/batches/2/screen")
        assert started.status_code == 303
        job_id = int(started.headers["location"].split("=", 1)[1])
        assert browser.get(f"/batches/jobs/{job_id}").json()["running"] is True
    session.expire_all()
    job = session.get(ScreenJob, job_id)
    assert job is not None and job.status == "interrupted" and "服务在筛查完成前停止" in (job.error or "")
    release.set()


def test_a_screen_run_whose_process_is_gone_is_not_shown_running(
    site, session: Session, tmp_path: Path
) -> None:
    """A server stopped while its screen was storing (its job marked interrupted at shutdown, its screen run
    still `running`), or a killed `screen --batch`: the page showed the batch 筛查中 until the next screen."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    start_run(
        session=session, run=ScreenRunCreate(
            batch_id=batch, source="batch", rules_dir="rules", rules_version="1", codes_source="bundled",
            codes_version="x", run_by="审核员",
        ),
    )  # fmt: skip
    row = browser.get("/batches").text.split(f'id="batch-{batch}"', 1)[1].split("</tr>", 1)[0]
    assert "失败：0 份" in row and "筛查中" not in row and "筛查</button>" in row


def test_a_jsonl_file_named_ndjson_is_imported_as_the_command_line_imports_it(site, tmp_path: Path) -> None:
    """The importer reads `.ndjson` as JSONL; the page refused it as 'not CSV, JSONL or XLSX'."""
    browser = _signed_in(site)
    rows = [claim_row(200 + n, claim_id=f"N{n}", treatment_region="510100") for n in range(3)]
    data = write_table(tmp_path / "claims.jsonl", rows).read_bytes()
    _job, page = browser.upload("三月.ndjson", data)
    assert page.status_code == 200 and "导入 3 行" in page.text, page.text[:500]


def test_the_poll_follows_the_screen_s_progress_from_its_first_second(
    site, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the first chunk of a batch was screened, the job's progress was written as 0 of 0 claims after
    a second, and the page said '0 份结算清单已筛查完毕，正在保存结果…' while the screen had barely begun."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)
    chunk, release = threading.Event(), threading.Event()

    def screening(*, progress: Any, **_kwargs: Any) -> None:
        chunk.wait(30)
        progress(2, 4)
        release.wait(30)
        raise DrgauditError("stopped here")

    monkeypatch.setattr(screenjobs, "screen_batch", screening)
    monkeypatch.setattr(screenjobs, "REPORT_SECONDS", 0.1)
    started = browser.post(f"/batches/{batch}/screen")
    poll = started.headers["location"].replace("/batches?job=", "/batches/jobs/")
    try:
        time.sleep(0.5)  # several rounds of the progress thread, before the first chunk
        state = browser.get(poll).json()
        assert (state["running"], state["done"], state["total"], state["percent"]) == (True, 0, 4, 0)
        assert state["text"] == f"第 {batch} 批次筛查中：已筛查 0 / 4 份结算清单（0%）"
        chunk.set()
        deadline = time.monotonic() + 10
        while browser.get(poll).json()["done"] != 2:
            assert time.monotonic() < deadline, "the progress was never written"
            time.sleep(0.05)
        assert browser.get(poll).json()["text"] == f"第 {batch} 批次筛查中：已筛查 2 / 4 份结算清单（50%）"
    finally:
        chunk.set()
        release.set()
    assert _finished(browser, started.headers["location"])["text"] == f"第 {batch} 批次筛查失败：stopped here"


def test_a_screen_that_cannot_start_a_thread_is_not_left_running(
    site, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server at its limit of threads: the job must not stay running (and the batch locked) for ever."""
    browser = _signed_in(site)
    batch = _uploaded(browser, session, tmp_path)

    class NoThread:
        def __init__(self, **_kwargs: Any) -> None:
            pass

        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(screenjobs, "Thread", NoThread)  # the job's thread only
    refused = browser.post(f"/batches/{batch}/screen")
    monkeypatch.undo()
    assert refused.status_code == 303 and refused.headers["location"] == "/batches"
    assert "未能开始筛查：服务器暂时无法开始新的任务，请稍后重试" in browser.get("/batches").text
    session.expire_all()
    (job,) = _screen_jobs(session, batch)
    assert job.status == "failed" and job.active_batch is None
    assert _screen(browser, batch)[0]["status"] == "done"
