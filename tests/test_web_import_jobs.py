"""Importing an upload from the batches page in the background (`drgaudit.services.importjobs`): the POST
answers at once, the poll shows the rows read, the page then shows the import's result; what the file
itself is wrong with is said in Chinese; the upload's temporary folder is removed however the job ends;
a job whose server stopped is shown interrupted. Also migration 0014 (import jobs in `screen_job`).

Like tests/test_web_batches.py, on a SQLite file (or the test's PostgreSQL database)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from drgaudit.casebook import queries
from drgaudit.casebook.db import downgrade, make_engine, upgrade
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.screenjobs import ScreenJob
from drgaudit.services import batches as batch_service
from drgaudit.services import screenjobs
from tests import web_casebook
from tests.conftest import claim_row, write_table
from tests.test_web_browser import casebook_url  # noqa: F401  (a SQLite file, or the test's PostgreSQL)
from tests.web_support import Browser, make_accounts, wait_for_job, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def session(casebook_url: str) -> Iterator[Session]:  # noqa: F811
    engine = make_engine(casebook_url)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


@pytest.fixture
def site(casebook_url: str, session: Session, tmp_path: Path):  # noqa: F811
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    return web_app(casebook_url, max_import_mb=0.05)


def _auditor(site: Any, user: str = "审核员") -> Browser:
    browser = Browser(site)
    assert browser.login(user).status_code == 303
    browser.token = browser.csrf("/batches")
    return browser


def _claims(tmp_path: Path, count: int, region: str = "510100", name: str = "claims.csv") -> bytes:
    rows = [
        claim_row(300 + n, hospital_id="H001", treatment_region=region, claim_id=f"J{region}-{n}",
                  patient_id=f"PJ{n}")
        for n in range(count)
    ]  # fmt: skip
    rows[-1]["total_cost"] = "12,000.50"  # the last row refused, with its reason
    return write_table(tmp_path / name, rows).read_bytes()


def _stored(session: Session, job_id: int) -> ScreenJob:
    session.expire_all()
    job = session.get(ScreenJob, job_id)
    assert job is not None
    return job


def test_an_upload_answers_at_once_shows_its_progress_then_its_result(
    site, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The POST answered only once the whole file was imported (a million claims: a minute and more of a
    frozen browser). Now it answers with the job; the poll says how many rows were read and how much of the
    file; the page it leads to shows the result as before; the temporary folder is gone afterwards."""
    chunk, release = threading.Event(), threading.Event()
    real = batch_service.import_file

    def slow(*args: Any, progress: Any, **kwargs: Any) -> Any:
        def held(rows: int, fraction: float) -> None:
            progress(rows, fraction)
            chunk.set()
            release.wait(30)

        return real(*args, progress=held, chunk_size=10, **kwargs)

    monkeypatch.setattr(batch_service, "import_file", slow)
    monkeypatch.setattr(screenjobs, "REPORT_SECONDS", 0.1)
    browser = _auditor(site)
    data = _claims(tmp_path, 150)  # 10 rows a chunk: the first is a part of the file (read 8 KiB at a time)
    assert len(data) < 0.05 * 1024 * 1024
    started = browser.post("/batches", {"table": "claims"}, files={"upload": ("三月.csv", data)})
    try:
        assert started.status_code == 303, started.text[:300]
        location = started.headers["location"]
        job_id = int(location.split("=", 1)[1])
        assert chunk.wait(30), "the import never read a chunk"
        work_dir = Path(_stored(session, job_id).work_dir or "")
        assert work_dir.name.startswith("drgaudit-upload-") and (work_dir / "三月.csv").is_file()
        deadline = time.monotonic() + 10
        while (state := browser.get(f"/batches/jobs/{job_id}").json())["rows"] != 10:
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["running"] and state["job"] == "import" and state["kind"] == "busy"
        assert 0 < state["percent"] < 100 and state["done"] < state["total"] == len(data)
        assert state["text"] == f"正在导入“三月.csv”：已读取 10 行（文件的 {state['percent']}%）"
        page = browser.get(location).text
        assert f'data-poll="/batches/jobs/{job_id}"' in page and "<progress" in page
        assert (
            "正在导入“三月.csv”：已读取 10 行" in page and '<meta http-equiv="refresh" content="3">' in page
        )
        assert 'id="import-result"' not in page
    finally:
        release.set()
    job = wait_for_job(browser, job_id)
    batch = max(b.id or 0 for b in queries.list_batches(session=session))
    assert (
        job["status"] == "done" and job["batch_id"] == batch and job["rows"] == 150 and job["percent"] == 100
    )
    page = browser.get(location).text
    assert f"已导入为第 {batch} 批次" in page and "导入 149 行" in page and "拒收 1 行" in page
    assert "不是数字（不要用千位分隔符，请写作 12000.50）" in page
    assert f'href="/batches/{batch}/rejects.xlsx"' in page and "data-poll" not in page
    assert not work_dir.exists()
    stored = _stored(session, job_id)
    assert stored.kind == "import" and stored.file_name == "三月.csv" and stored.batch_id == batch
    assert (stored.started_by, stored.role, stored.channel, stored.status) == (
        "审核员",
        "auditor",
        "web",
        "done",
    )
    assert stored.result is not None and stored.result["rows_rejected"] == 1


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("no-header.csv", b"\n\n", "没有表头行"),
        ("wrong.csv", b"a,b\n1,2\n", "缺少必填的列：claim_id"),
        ("broken.xlsx", b"PK\x03\x04 not a workbook", "不是可读取的 XLSX 工作簿"),
        ("empty-sheet.xlsx", _xlsx([]), "第一个工作表没有表头行"),
        ("utf32.csv", "\ufeffclaim_id\n1\n".encode("utf-32"), "不支持 UTF-32 编码的文本"),
        ("zip.csv", b"PK\x03\x04" + b"\0" * 40, "这是 ZIP 压缩文件"),
        ("twice.csv", b"claim_id,claim_id\n1,2\n", "出现了两次"),
        ("only-header.csv", b"claim_id,patient_id\n", "缺少必填的列"),
    ],
)
def test_what_is_wrong_with_a_file_is_said_in_chinese_and_its_folder_removed(
    site, session: Session, name: str, data: bytes, said: str
) -> None:
    """An unreadable file, a wrong header, a malformed workbook: the job fails and says why in Chinese (it
    said 'missing required columns', 'no header row', 'not a readable XLSX workbook' on the Chinese page);
    nothing is imported and the upload's folder is gone."""
    browser = _auditor(site)
    before = len(queries.list_batches(session=session))
    job, page = browser.upload(name, data)
    assert job["status"] == "failed" and job["kind"] == "error" and job["batch_id"] is None, job
    assert job["text"].startswith(f"“{name}”导入失败：") and said in job["text"], job["text"]
    reason = job["text"].split("：", 1)[1].lower()
    english = [w for w in ("missing", "header", "row", "cannot", "workbook", "file", "not ") if w in reason]
    assert not english, job["text"]
    assert said in page.text and "/tmp/" not in page.text and page.status_code == 200
    assert len(queries.list_batches(session=session)) == before
    assert not Path(_stored(session, job["id"]).work_dir or "/nonexistent").exists()


def test_a_file_whose_every_row_is_refused_says_so_in_chinese(site, session: Session, tmp_path: Path) -> None:
    rows = [claim_row(1, claim_id="")]
    job, page = _auditor(site).upload("all-bad.csv", write_table(tmp_path / "b.csv", rows).read_bytes())
    assert job["status"] == "done" and job["kind"] == "error" and job["batch_id"] is None
    assert "没有导入任何记录：所有行均被拒收（1 行中拒收 1 行）" in page.text, page.text[:2000]


def test_the_command_line_keeps_english_file_errors(session: Session, tmp_path: Path) -> None:
    """The messages are translated, not replaced: outside the pages (no Chinese locale) they are English."""
    path = tmp_path / "wrong.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(Exception, match="missing required columns: claim_id"):
        import_file(path, kind="claims", session=session)


def test_refused_before_anything_starts_and_by_role_and_csrf(site, session: Session, tmp_path: Path) -> None:
    """What the upload itself shows (no file type the importer reads, an empty file, an unknown kind, too
    large) is refused at once, no job started; the roles without import.run and a form without its CSRF
    token are refused; nothing is left in the temporary folder."""
    import tempfile

    def folders() -> set[str]:
        return {p.name for p in Path(tempfile.gettempdir()).glob("drgaudit-upload-*")}

    before = folders()
    browser = _auditor(site)
    for upload, status in (
        (("notes.txt", b"claim_id\n1\n"), 400),
        (("empty.csv", b""), 400),
        (("big.csv", b"x" * 1_200_000), 413),
    ):
        assert browser.post("/batches", {"table": "claims"}, files={"upload": upload}).status_code == status
    assert (
        browser.post("/batches", {"table": "drugs"}, files={"upload": ("a.csv", b"x\n")}).status_code == 400
    )
    forged = browser.client.post(
        "/batches", data={"table": "claims"}, files={"upload": ("c.csv", b"claim_id\n")}
    )
    assert forged.status_code == 403
    for user in ("秘书", "h001", "只读"):
        other = Browser(site)
        assert other.login(user).status_code == 303
        token = other.csrf("/password")
        refused = other.client.post(
            "/batches", data={"table": "claims", "csrf_token": token},
            files={"upload": ("c.csv", _claims(tmp_path, 2))},
        )  # fmt: skip
        assert refused.status_code == 403, user
    assert session.exec(select(ScreenJob).where(ScreenJob.kind == "import")).all() == []
    assert folders() <= before


def test_a_regional_auditor_imports_its_region_and_sees_only_its_own_import_jobs(
    site, session: Session, tmp_path: Path
) -> None:
    """审核丙 (auditor:510300) imports in the background as on the command line: another region's rows are
    refused with the reason. Its import job is its own and the unscoped auditor's; 审核丁 (510100) finds
    neither that job nor the unscoped auditor's import of mixed rows."""
    make_accounts(session, ("审核丙", "auditor:510300"), ("审核丁", "auditor:510100"))
    rows = [
        claim_row(1, claim_id="K1", treatment_region="510300", hospital_id="H300"),
        claim_row(2, claim_id="K2", treatment_region="510100", hospital_id="H001"),
    ]
    data = write_table(tmp_path / "mixed.csv", rows).read_bytes()
    regional = _auditor(site, "审核丙")
    job, page = regional.upload("mixed.csv", data)
    assert "导入 1 行" in page.text and "拒收 1 行" in page.text, page.text[-3000:]
    assert "510100 不在本次导入可写入的统筹区（510300）之内" in page.text
    batch = queries.get_batch(session=session, batch_id=job["batch_id"])
    assert batch is not None and batch.imported_by == "审核丙"
    assert _auditor(site).get(f"/batches/jobs/{job['id']}").status_code == 200
    elsewhere = _auditor(site, "审核丁")
    assert elsewhere.get(f"/batches/jobs/{job['id']}").status_code == 404
    assert elsewhere.get(f"/batches?job={job['id']}").status_code == 404
    failed, _page = _auditor(site).upload("bad.csv", b"a,b\n1,2\n")  # no batch: only who sees every batch
    assert elsewhere.get(f"/batches/jobs/{failed['id']}").status_code == 404
    assert regional.get(f"/batches/jobs/{failed['id']}").status_code == 404


def _left_running(session: Session, tmp_path: Path, **fields: Any) -> tuple[ScreenJob, Path]:
    """An import job as a server that stopped mid-import left it, with its upload's folder."""
    folder = tmp_path / "drgaudit-upload-left"
    folder.mkdir()
    (folder / "c.csv").write_text("claim_id\n")
    moment = datetime.now(UTC)
    values: dict[str, Any] = dict(
        kind="import", batch_id=None, started_by="审核员", role="auditor", channel="web", started_at=moment,
        heartbeat_at=moment, done=100, total=5000, rows=10, file_name="c.csv", work_dir=str(folder),
        host=socket.gethostname(), pid=0,
    )  # fmt: skip
    values.update(fields)
    job = ScreenJob(**values)
    session.add(job)
    session.commit()
    session.refresh(job)
    return job, folder


def test_an_import_whose_server_stopped_is_shown_interrupted_and_its_folder_removed(
    site, session: Session, tmp_path: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    job, folder = _left_running(session, tmp_path, pid=gone.pid)
    browser = _auditor(site)
    state = browser.get(f"/batches/jobs/{job.id}").json()
    assert state["status"] == "interrupted" and not state["running"] and state["kind"] == "error"
    assert (
        state["text"].startswith("“c.csv”导入已中断：导入在完成前中断")
        and "可重新上传该文件" in state["text"]
    )
    assert not folder.exists()
    assert "“c.csv”导入已中断" in browser.get(f"/batches?job={job.id}").text


def test_a_running_import_of_a_live_process_is_not_judged_gone_by_its_heartbeat(
    site, session: Session, tmp_path: Path
) -> None:
    """On SQLite the import holds the casebook's write lock until it commits, so its heartbeat cannot be
    written: a live process of this host is still importing, however old its heartbeat; others see it."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        job, folder = _left_running(
            session, tmp_path, pid=live.pid, heartbeat_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        browser = _auditor(site)
        state = browser.get(f"/batches/jobs/{job.id}").json()
        assert state["running"] and state["text"] == "正在导入“c.csv”：已读取 10 行（文件的 2%）"
        assert f'data-poll="/batches/jobs/{job.id}"' in browser.get("/batches").text  # shown to who sees all
        assert folder.exists()
    finally:
        live.kill()
        live.wait()


def test_a_second_upload_while_a_file_is_imported_into_sqlite_is_refused_at_once(
    site, session: Session, tmp_path: Path
) -> None:
    """On SQLite the running import holds the casebook's write lock: a second upload's job waited for it
    (the upload's answer with it, up to the lock timeout of 30 s) and then failed. Now it is refused at
    once, naming the running import; its folder is removed. PostgreSQL imports both (the counts are
    formatted: 1,234 rows)."""
    import tempfile

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        job, _folder = _left_running(session, tmp_path, pid=live.pid, rows=1234)
        before = {p.name for p in Path(tempfile.gettempdir()).glob("drgaudit-upload-*")}
        browser = _auditor(site)
        started = time.monotonic()
        answer = browser.post(
            "/batches", {"table": "claims"}, files={"upload": ("next.csv", _claims(tmp_path, 3))}
        )
        assert answer.status_code == 303 and time.monotonic() - started < 5
        if session.get_bind().dialect.name == "sqlite":
            assert answer.headers["location"] == "/batches"
            page = browser.get("/batches").text
            assert "“next.csv”未能开始导入：“c.csv”正在导入（审核员 于 " in page and "已读取 1,234 行" in page
            assert session.exec(select(ScreenJob).where(ScreenJob.file_name == "next.csv")).all() == []
            assert {p.name for p in Path(tempfile.gettempdir()).glob("drgaudit-upload-*")} <= before
        else:
            done = wait_for_job(browser, int(answer.headers["location"].split("=", 1)[1]))
            assert done["status"] == "done"
    finally:
        live.kill()
        live.wait()


def test_the_migration_keeps_screen_jobs_and_makes_room_for_imports(casebook_url: str) -> None:  # noqa: F811
    """0014 on a casebook at 0013 holding a screen job: the job is a `screen` of its batch with no rows read;
    an import job without a batch can then be stored; downgrading drops the import jobs and the columns."""
    engine = make_engine(casebook_url)
    try:
        downgrade(engine, "0013_api_key_expiry")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO import_batch (kind, file_name, content_hash, imported_at, rows_total, rows_ok,"
                    " rows_rejected, rows_new, rows_unchanged, rows_revised) VALUES ('claims', 'c.csv', 'h',"
                    " :t, 1, 1, 0, 1, 0, 0)"
                ),
                {"t": datetime.now(UTC)},
            )
            batch = conn.execute(text("SELECT max(id) FROM import_batch")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO screen_job (batch_id, status, started_by, started_at, heartbeat_at, done, total,"
                    " host, pid) VALUES (:b, 'done', 'x', :t, :t, 1, 1, 'h', 1)"
                ),
                {"b": batch, "t": datetime.now(UTC)},
            )
        upgrade(engine)
        with Session(engine) as session:
            screen = session.exec(select(ScreenJob)).one()
            assert (screen.kind, screen.batch_id, screen.rows, screen.file_name) == ("screen", batch, 0, None)
            now = datetime.now(UTC)
            session.add(
                ScreenJob(kind="import", started_by="x", started_at=now, heartbeat_at=now, host="h", pid=1)
            )
            session.commit()
        downgrade(engine, "0013_api_key_expiry")
        columns = {c["name"] for c in inspect(engine).get_columns("screen_job")}
        assert "kind" not in columns and "work_dir" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM screen_job")).scalar_one() == 1
        upgrade(engine)
    finally:
        engine.dispose()


def test_an_import_that_cannot_start_a_thread_is_not_left_running(
    site, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server at its limit of threads: the import job is recorded failed, the page says so in Chinese and
    its temporary folder is removed (the thread start is the screen jobs' own, shared)."""
    import tempfile

    def folders() -> set[str]:
        return {p.name for p in Path(tempfile.gettempdir()).glob("drgaudit-upload-*")}

    class NoThread:
        def __init__(self, **_kwargs: Any) -> None:
            pass

        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    before = folders()
    browser = _auditor(site)
    monkeypatch.setattr(screenjobs, "Thread", NoThread)  # the job's thread only
    refused = browser.post("/batches", {"table": "claims"}, files={"upload": ("c.csv", _claims(tmp_path, 2))})
    monkeypatch.undo()
    assert refused.status_code in (303, 400, 503), refused.status_code
    page = refused.text if refused.status_code != 303 else browser.get(refused.headers["location"]).text
    assert "“c.csv”未能开始导入：服务器暂时无法开始新的任务，请稍后重试" in page
    session.expire_all()
    job = session.exec(select(ScreenJob).where(ScreenJob.kind == "import")).one()
    assert job.status == "failed" and job.error == "服务器暂时无法开始导入，请稍后重试。"
    assert folders() <= before
