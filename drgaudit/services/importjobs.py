"""Importing an uploaded file from the batches page as a background job (as a screen is, with the same
machinery: `drgaudit.services.screenjobs`, the `screen_job` table with `kind` `import`).

`start_import` checks the upload as the page always did (who imports into which regions, what, a file the
importer reads, not empty: refused at once, nothing started), saves it to a private temporary folder,
records a running job and imports on a thread of this process, in a session of its own, as the account
that uploaded it (its role and the channel `web`; an auditor bound to a region imports only that region's
rows). The job's progress is the bytes of the file read and the rows read; it ends with what the page
shows of an import (counts, the first refused rows with their reasons), or why the file could not be
imported (Chinese: the thread speaks the pages' language). The folder is removed when the job ends,
however it ends; a job found interrupted (its server stopped) has its folder removed then.

The import runs in this process (`casebook.prepare.worker_available` forks no reader from a process with
threads), as it did inside the request. On SQLite one file is imported at a time: an import holds the
casebook's only write lock until it commits, so a second one would wait (the upload's answer with it, up
to the lock timeout) and then fail; it is refused at once instead (`ImportBusy`), naming the running one.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from drgaudit.casebook.ingest import ImportReport
from drgaudit.casebook.screenjobs import IMPORT_JOB, ScreenJob, finish_job, insert_job, running_jobs
from drgaudit.errors import DataFileError, DrgauditError
from drgaudit.i18n import speaking
from drgaudit.services.access import Principal
from drgaudit.services.batches import Upload, import_upload, save_upload
from drgaudit.services.screenjobs import (
    Reporter,
    local_time,
    mine_guard,
    reap_stale_jobs,
    start_thread,
    state_of,
    track,
    untrack,
)

log = logging.getLogger("drgaudit.importjobs")


class ImportNotStarted(DrgauditError):
    """The import could not be started (the casebook busy, no thread to be had); nothing was imported."""


class ImportBusy(ImportNotStarted):
    """Another file is being imported into this SQLite casebook; `job_id`: that import's job."""

    def __init__(self, message: str, job_id: int | None) -> None:
        super().__init__(message)
        self.job_id = job_id


def start_import(
    *,
    engine: Engine,
    session: Session,
    principal: Principal,
    kind: str,
    name: str | None,
    data: IO[bytes],
    version: str | None = None,
) -> ScreenJob:
    """Check and save the upload (`services.batches.save_upload`: `Denied`, `UploadError`), record a running
    import job and import on a thread; the job at once."""
    upload = save_upload(principal=principal, kind=kind, name=name, data=data, version=version)
    size = upload.path.stat().st_size
    running = _running_import(session)
    if running is not None:
        upload.remove()
        started = state_of(running)
        raise ImportBusy(
            f"“{upload.name}”未能开始导入：“{running.file_name}”正在导入（{running.started_by} 于 "
            f"{local_time(running.started_at)} 开始，已读取 {started.rows:,} 行），这个案卷同一时间只能导入一个文件；"
            "请等它完成后再上传。",
            running.id,
        )
    try:
        with mine_guard:  # known as this process's before any thread of it can judge it
            job = insert_job(
                session=session, kind=IMPORT_JOB, batch_id=None, started_by=str(upload.actor),
                role=upload.actor.role, channel=upload.actor.channel, total=size, file_name=upload.name,
                work_dir=str(upload.folder),
            )  # fmt: skip
            job_id = int(job.id or 0)
            track(job_id)
    except SQLAlchemyError:
        session.rollback()
        upload.remove()
        log.warning("import job of %s could not be recorded", upload.name, exc_info=True)
        raise ImportNotStarted(
            f"“{upload.name}”未能开始导入：案卷正忙（可能正在导入或筛查其他数据），请稍后重试。"
        ) from None
    except BaseException:
        upload.remove()
        raise
    if not start_thread(
        session=session, job_id=job_id, target=_run, args=(engine, job_id, upload, size), kind="import",
        what="导入",
    ):  # fmt: skip
        upload.remove()
        raise ImportNotStarted(f"“{upload.name}”未能开始导入：服务器暂时无法开始新的任务，请稍后重试。")
    return job


def _running_import(session: Session) -> ScreenJob | None:
    """The import running now on a SQLite casebook (its process not gone), if any; None on others."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    reap_stale_jobs(session=session)
    return next((job for job in running_jobs(session=session) if job.kind == IMPORT_JOB), None)


def _run(engine: Engine, job_id: int, upload: Upload, size: int) -> None:
    """The job's thread: import, then record how it ended (Chinese messages, as on the pages); the upload's
    folder is removed whatever happens."""
    try:
        with speaking("zh_CN"):
            reporter = Reporter(engine, job_id, size)
            reporter.start()
            try:
                status, result, error, batch_id = _import(engine, upload, reporter, size)
            finally:
                reporter.stop()
                upload.remove()
            try:
                with Session(engine) as session:
                    finish_job(
                        session=session, job_id=job_id, status=status, result=result, error=error,
                        batch_id=batch_id, rows=result["rows_total"] if result else None,
                    )  # fmt: skip
            except SQLAlchemyError:
                log.exception("import job %s: its end could not be recorded", job_id)
    finally:
        upload.remove()
        untrack(job_id)


def _import(
    engine: Engine, upload: Upload, reporter: Reporter, size: int
) -> tuple[str, dict[str, Any] | None, str | None, int | None]:
    """(status, result, error, batch id) of the upload's import, in a session of this thread."""

    def progress(rows: int, fraction: float) -> None:
        reporter.progress(min(size, int(fraction * size)), size, rows)

    try:
        with Session(engine) as session:
            report = import_upload(session=session, upload=upload, progress=progress)
    except DataFileError as exc:
        return "failed", None, exc.message, None  # the page names the file already
    except DrgauditError as exc:
        return "failed", None, str(exc), None
    except Exception as exc:  # noqa: BLE001  (the job records any failure; the log keeps the traceback)
        log.exception("import job of %s failed", upload.name)
        return (
            "failed", None,
            f"“{upload.name}”导入时出现意外错误（{type(exc).__name__}），没有导入任何数据；详情见服务日志。",
            None,
        )  # fmt: skip
    return "done", result_of(report), None, report.batch_id


def result_of(report: ImportReport) -> dict[str, Any]:
    """What the page says of a finished import, kept with its job (as JSON)."""
    kept = {f.name for f in fields(report)} - {"first_errors", "rejects_path", "rejects_problem"}
    result: dict[str, Any] = {name: getattr(report, name) for name in sorted(kept)}
    result["first_errors"] = [
        {"row": e.row, "field": e.field, "reason": e.reason} for e in report.first_errors
    ]
    return result
