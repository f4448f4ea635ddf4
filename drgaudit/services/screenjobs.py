"""Screening a batch from the pages as a background job, its progress kept in the casebook; the machinery
the batches page's background jobs share (an upload's import, `drgaudit.services.importjobs`, is one too).

`start_screen` checks the screen as the page always did (`services.batches.screening_actor`: 403, and
nothing started, when refused), records a running job (`drgaudit.casebook.screenjobs`: at most one per
batch, checked by the database, so two worker processes cannot both start it) and runs `screen_batch`
on a thread of this process, in a session of its own: the request's session is never used after the
response. A second thread writes the progress (claims done of the batch's total) and a heartbeat into
the job's row, at most once a second, so any worker process can answer a poll.

Why a thread and not a process: the screen needs nothing but the casebook, and a thread shares the
service's engine, is started at once and dies with its process, which is how a stopped server is
recognised. It screens in one process, as the page always did (`workers=1`): the screen's worker pool
forks, which a process running the server's threads must not do. The screen is Python and holds the
GIL most of the time; a poll still gets its turn: on a 200,000-claim batch screened from the page of a
one-worker server (SQLite), polls took 11-17 ms at the median and under 100 ms at most, and the first
progress was there 1.3 s after the click.

A job whose process is gone is `interrupted`, never left running: judged when a page or a poll looks
(`reap_stale_jobs`): a job of this host whose process is not running any more (or is this process,
which does not run it: a restarted server with the same id), or one whose heartbeat stopped while no
process holds the batch's screen lock (`casebook.runlock`). Its batch may then be screened again. An import's job is judged alike, except that a live process of
this host is never judged gone by its heartbeat: on SQLite the import holds the casebook's write lock
until it commits, so its heartbeat cannot be written meanwhile (the process's own polls read its progress
from memory, `JobState.live`). So is an impact preview's (`drgaudit.services.impactjobs`), which has no
screen lock to tell it by: on SQLite an import or a screen storing its hits holds the write lock for
minutes, during which its heartbeat cannot be written.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Thread
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.auditlog import Actor
from drgaudit.casebook.runlock import BatchBusyError, is_screening, reap_stale_runs
from drgaudit.casebook.screenjobs import (
    IMPACT_JOB,
    IMPORT_JOB,
    INTERRUPTED,
    JobBusyError,
    ScreenJob,
    finish_job,
    get_job,
    insert_job,
    latest_jobs,
    now,
    report_progress,
    running_jobs,
)
from drgaudit.errors import DrgauditError
from drgaudit.i18n import speaking
from drgaudit.services.access import NotFound, Principal, may
from drgaudit.services.batches import (
    IMPORT,
    SCREEN,
    UPLOAD_PREFIX,
    BatchRow,
    batch_regions_of,
    list_batches,
    may_see_batch,
    screening_actor,
)
from drgaudit.services.screening import ScreenSummary, screen_batch

log = logging.getLogger("drgaudit.screenjobs")

# How often the progress is written (at most), and the heartbeat when it has not changed.
REPORT_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
# A running job whose heartbeat is older than this, while nobody holds its batch's screen lock, is gone.
STALE_SECONDS = 60.0

# The jobs running on threads of this process, and the progress of each as last reported
# (done, total, rows): what a poll answered by this process shows when the casebook could not be written.
_mine: set[int] = set()
mine_guard = threading.Lock()
_live: dict[int, tuple[int, int, int]] = {}


class ScreenBusy(DrgauditError):
    """The batch is being screened already (a job of the pages, or another program); `job_id`: that job."""

    def __init__(self, message: str, job_id: int | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


@dataclass
class JobState:
    """A job as the pages show it: the row, whether it is running, and how far it is (`live`: what this
    process's thread running it reported last, newer than the row when that could not be written)."""

    job: ScreenJob
    live: tuple[int, int, int] | None = None

    @property
    def running(self) -> bool:
        return self.job.status == "running"

    @property
    def done(self) -> int:
        return self.live[0] if self.live and self.running else self.job.done

    @property
    def total(self) -> int:
        return self.live[1] if self.live and self.running else self.job.total

    @property
    def rows(self) -> int:
        return self.live[2] if self.live and self.running else self.job.rows

    @property
    def percent(self) -> int:
        total = self.total
        return min(100, int(self.done * 100 / total)) if total else 0


def state_of(job: ScreenJob) -> JobState:
    """A job with its progress as this process knows it (see `JobState`)."""
    with mine_guard:
        live = _live.get(int(job.id or 0)) if job.pid == os.getpid() else None
    return JobState(job, live)


def track(job_id: int) -> None:
    """Count the job as this process's (call with `mine_guard` held, before its row can be read)."""
    _mine.add(job_id)


def untrack(job_id: int) -> None:
    """The job's thread has ended."""
    with mine_guard:
        _mine.discard(job_id)
        _live.pop(job_id, None)


def start_screen(*, engine: Engine, session: Session, principal: Principal, batch_id: int) -> ScreenJob:
    """Check the screen (`services.batches.screening_actor`), record a running job, run it on a thread.

    `Denied`/`DrgauditError` when the screen is refused, `ScreenBusy` when the batch is being screened."""
    actor = screening_actor(session=session, principal=principal, batch_id=batch_id)
    reap_stale_jobs(session=session, batch_id=batch_id)
    for running in running_jobs(session=session, batch_id=batch_id):
        raise ScreenBusy(busy_message(running), running.id)
    if is_screening(session.get_bind(), batch_id):
        raise ScreenBusy(
            f"第 {batch_id} 批次正在由其他程序（命令行或另一台服务器）筛查，请等它完成后再筛查。"
        )
    batch = queries.get_batch(session=session, batch_id=batch_id)
    total = batch.rows_ok if batch is not None else 0
    try:
        with mine_guard:  # known as this process's before any thread of it can judge it (`_gone`)
            job = insert_job(
                session=session, batch_id=batch_id, started_by=str(actor), role=actor.role,
                channel=actor.channel, total=total,
            )  # fmt: skip
            job_id = int(job.id or 0)
            track(job_id)
    except JobBusyError:
        # Another worker process started it between the check above and this insert.
        for running in running_jobs(session=session, batch_id=batch_id):
            raise ScreenBusy(busy_message(running), running.id) from None
        raise ScreenBusy(f"第 {batch_id} 批次正在筛查，请等它完成后再筛查。") from None
    if not start_thread(
        session=session, job_id=job_id, target=_run, args=(engine, job_id, batch_id, actor, total),
        kind="screen", what="筛查",
    ):  # fmt: skip
        raise ScreenBusy(f"第 {batch_id} 批次未能开始筛查：服务器暂时无法开始新的任务，请稍后重试。")
    return job


def start_thread(
    *, session: Session, job_id: int, target: Callable[..., Any], args: tuple[Any, ...], kind: str, what: str
) -> bool:
    """Run a job's work, `target(*args)`, on a daemon thread of this process; False when no thread can be
    had (the process's limit): the job is then no longer this process's and is recorded failed
    ("服务器暂时无法开始{what}，请稍后重试。"), and nothing runs."""
    thread = Thread(target=target, args=args, name=f"drgaudit-{kind}-job-{job_id}", daemon=True)
    try:
        thread.start()
    except RuntimeError:
        untrack(job_id)
        finish_job(
            session=session, job_id=job_id, status="failed", error=f"服务器暂时无法开始{what}，请稍后重试。"
        )
        return False
    return True


def busy_message(job: ScreenJob) -> str:
    """The refusal of a second screen of a batch whose job is running."""
    percent = state_of(job).percent
    return (
        f"第 {job.batch_id} 批次正在筛查（{job.started_by} 于 {local_time(job.started_at)} 开始，已筛查 "
        f"{job.done:,} / {job.total:,} 份，{percent}%），不能同时再筛查一次。请等它完成后再决定是否重新筛查。"
    )


def _aware(moment: datetime) -> datetime:
    """A stored moment with its zone (SQLite gives them back without one; they were stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(moment: datetime) -> str:
    """A stored moment as the server's local time of day, for a message."""
    return _aware(moment).astimezone().strftime("%H:%M:%S")


def _run(engine: Engine, job_id: int, batch_id: int, actor: Actor, total: int) -> None:
    """The job's thread: screen, then record how it ended (Chinese messages, as on the pages)."""
    with speaking("zh_CN"):
        reporter = Reporter(engine, job_id, total)
        reporter.start()
        try:
            status, result, error, run_id = _screen(engine, batch_id, actor, reporter.progress)
        finally:
            reporter.stop()
        try:
            with Session(engine) as session:
                finish_job(
                    session=session, job_id=job_id, status=status, result=result, error=error, run_id=run_id
                )
        except SQLAlchemyError:
            log.exception("screen job %s: its end could not be recorded", job_id)
        finally:
            untrack(job_id)


def _screen(
    engine: Engine, batch_id: int, actor: Actor, progress: Callable[[int, int], None]
) -> tuple[str, dict[str, Any] | None, str | None, int | None]:
    """(status, result, error, run id) of one screen of the batch, in a session of this thread."""
    try:
        with Session(engine) as session:
            summary = screen_batch(session=session, batch_id=batch_id, actor=actor, progress=progress)
    except BatchBusyError:
        return "failed", None, f"第 {batch_id} 批次正在由其他程序筛查，本次未筛查；请等它完成后再筛查。", None
    except DrgauditError as exc:
        return "failed", None, str(exc), None
    except Exception as exc:  # noqa: BLE001  (the job records any failure; the log keeps the traceback)
        log.exception("screen job of batch %s failed", batch_id)
        return (
            "failed", None,
            f"筛查时出现意外错误（{type(exc).__name__}），未保存任何结果；详情见服务日志。可稍后重新筛查。",
            None,
        )  # fmt: skip
    return ("partial" if summary.failed else "done"), result_of(summary), None, summary.run_id


def result_of(summary: ScreenSummary) -> dict[str, Any]:
    """What the page says of a finished screen, kept with its job."""
    cases = summary.review_cases or {}
    found = summary.findings or {}
    return {
        "claims": summary.claims,
        "hits": summary.hits,
        "amount_at_risk": round(summary.amount_at_risk, 2),
        "cases_created": cases.get("created", 0),
        "cases_updated": cases.get("refreshed", 0) + cases.get("reopened", 0),
        "findings_created": found.get("created", 0),
        "claims_failed": summary.claims_failed,
        "patients_failed": len(summary.failed),
        "seconds": round(summary.total_seconds, 1),
    }


class Reporter:
    """Writes a job's progress and heartbeat from a thread of its own, so the job never waits on it."""

    def __init__(self, engine: Engine, job_id: int, total: int) -> None:
        self.engine = engine
        self.job_id = job_id
        # What the job's row holds until the first chunk is done: nothing done of the total.
        self.done = 0
        self.total = total
        self.rows: int | None = None
        self._stop = threading.Event()
        self._written: tuple[int, int, int | None] | None = (0, total, None)
        self._last = 0.0
        self._thread = Thread(target=self._loop, name=f"drgaudit-job-{job_id}-progress", daemon=True)

    def progress(self, done: int, total: int, rows: int | None = None) -> None:
        """The job's callback: only remembered here (the job's thread writes nothing)."""
        self.done, self.total, self.rows = done, total, rows
        with mine_guard:
            _live[self.job_id] = (done, total, rows or 0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(REPORT_SECONDS):
            self._write()

    def _write(self) -> None:
        state = (self.done, self.total, self.rows)
        if state == self._written and time.monotonic() - self._last < HEARTBEAT_SECONDS:
            return
        try:
            with Session(self.engine) as session:
                report_progress(
                    session=session, job_id=self.job_id, done=state[0], total=state[1], rows=state[2]
                )
        except SQLAlchemyError as exc:  # the casebook busy storing the hits: the next round writes it
            log.debug("screen job %s: progress not written (%s)", self.job_id, exc)
            return
        self._written, self._last = state, time.monotonic()


def reap_stale_jobs(*, session: Session, batch_id: int | None = None) -> list[ScreenJob]:
    """Mark interrupted every job still marked running whose process is gone (see the module docstring)."""
    reaped = []
    for job in running_jobs(session=session, batch_id=batch_id):
        if not _gone(session, job):
            continue
        process = f"运行它的服务进程 {job.pid}@{job.host} 已停止"
        if job.kind == IMPORT_JOB:
            note = f"导入在完成前中断（{process}），没有导入任何数据；可重新上传该文件。"
        elif job.kind == IMPACT_JOB:
            note = f"影响评估在完成前中断（{process}）；可重新评估。"
        else:
            note = f"筛查在完成前中断（{process}），本次的结果未保存；可重新筛查该批次。"
        finish_job(
            session=session, job_id=int(job.id or 0), status=INTERRUPTED, error=note, only_running=True
        )
        if job.batch_id is not None:
            reap_stale_runs(session=session, batch_id=job.batch_id)  # its screen run, if it had begun one
        if job.host == socket.gethostname():
            remove_work_dir(job.work_dir)
        reaped.append(job)
    return reaped


def remove_work_dir(work_dir: str | None) -> None:
    """Remove an import's folder holding its upload (only such a folder, whatever the row says)."""
    if work_dir and Path(work_dir).name.startswith(UPLOAD_PREFIX):
        shutil.rmtree(work_dir, ignore_errors=True)


def _gone(session: Session, job: ScreenJob) -> bool:
    here = job.host == socket.gethostname()
    if here and job.pid == os.getpid():
        with mine_guard:
            return job.id not in _mine  # this process does not run it: an earlier one with this id did
    dead = here and not _alive(job.pid)
    if job.kind in (IMPORT_JOB, IMPACT_JOB) and here and not dead:
        return False  # its heartbeat may wait for the casebook another writer holds (see the docstring)
    if not dead and now() - _aware(job.heartbeat_at) < timedelta(seconds=STALE_SECONDS):
        return False
    if job.batch_id is None:
        return True  # an import or a preview: no screen lock to look at
    # Nobody holds the batch's screen lock either (a process id is only this host's when the servers share
    # its process table: containers sharing a host name may not).
    return not is_screening(session.get_bind(), job.batch_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user: alive
    return True


def job_state(*, session: Session, principal: Principal, job_id: int) -> JobState:
    """A job, for those who may see the batches page (`NotFound` for others and for a missing job)."""
    if not (may(principal, IMPORT) or may(principal, SCREEN)):
        raise NotFound(f"no screen job {job_id}")
    job = get_job(session=session, job_id=job_id)
    if job is None or not _may_see_job(session, principal, job):
        raise NotFound(f"no screen job {job_id}")
    if job.status == "running" and reap_stale_jobs(session=session, batch_id=job.batch_id):
        session.refresh(job)
    return state_of(job)


def batches_with_jobs(
    *, session: Session, principal: Principal
) -> tuple[list[BatchRow], dict[int, JobState]]:
    """The batches page: the batches the principal sees (`services.batches.list_batches`) and the newest
    job of each (stale ones marked interrupted first); nothing for those who may neither import nor
    screen."""
    if not (may(principal, IMPORT) or may(principal, SCREEN)):
        return [], {}
    reap_stale_jobs(session=session)
    rows = list_batches(session=session, principal=principal)
    listed = {row.batch.id for row in rows}
    latest = latest_jobs(session=session)
    return rows, {batch: state_of(job) for batch, job in latest.items() if batch in listed}


def running_imports(*, session: Session, principal: Principal) -> list[JobState]:
    """The imports running now that the principal may see (`_may_see_job`), oldest first."""
    return [
        state_of(job)
        for job in running_jobs(session=session)
        if job.kind == IMPORT_JOB and _may_see_job(session, principal, job)
    ]


def _may_see_job(session: Session, principal: Principal, job: ScreenJob) -> bool:
    """A job is seen by who started it and by those who see its batch (`services.batches.may_see_batch`):
    another region's job tells that region's hits and amounts. An import without a batch (yet) only by
    those who see every batch: its rows may be any region's."""
    if job.started_by == principal.username:
        return True
    if job.batch_id is None:
        return batch_regions_of(principal) is None
    batch = queries.get_batch(session=session, batch_id=job.batch_id)
    return batch is not None and may_see_batch(session=session, principal=principal, batch=batch)


def interrupt_mine(engine: Engine) -> None:
    """At the server's shutdown: the jobs running on its threads stop with it; say so now."""
    with mine_guard:
        mine = sorted(_mine)
    if not mine:
        return
    with Session(engine) as session:
        for job_id in mine:
            job = get_job(session=session, job_id=job_id)
            if job is not None and job.kind == IMPORT_JOB:
                error = "服务在导入完成前停止，没有导入任何数据；可重新上传该文件。"
                remove_work_dir(job.work_dir)
            elif job is not None and job.kind == IMPACT_JOB:
                error = "服务在影响评估完成前停止；可重新评估。"
            else:
                error = "服务在筛查完成前停止，本次的结果未保存；可重新筛查该批次。"
            finish_job(session=session, job_id=job_id, status=INTERRUPTED, error=error, only_running=True)
