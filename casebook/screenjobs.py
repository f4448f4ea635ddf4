"""Background jobs of the batches page, their progress in the casebook: a batch screen (`kind` `screen`)
or the import of an uploaded file (`import`).

The job's row is what every worker process of the review service reads to answer "how far is it"; the
process that runs the job writes its progress and a heartbeat: for a screen the claims done of the
batch's total, for an import the bytes of the file read (`done` of `total`) and the rows read (`rows`).
At most one screen per batch is `running`: `active_batch` holds the batch id while it runs and is unique,
so two workers (or two servers) that start the same batch at once cannot both insert it. An import has
no batch until its file is imported (`batch_id` is set when it ends); `work_dir` is the private folder
holding its upload, removed when it ends.

Statuses: `running`; `done` / `partial` (some patients could not be screened) / `failed` (refused or an
error, `error` says why); `interrupted` (its process stopped before it finished, judged by
`drgaudit.services.screenjobs`).
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from drgaudit.casebook.models import MAX_STORED_INT

RUNNING = "running"
INTERRUPTED = "interrupted"
SCREEN_JOB, IMPORT_JOB = "screen", "import"
# A rule-pack version's impact previewed from the pages (`drgaudit.services.impactjobs`): no batch while it
# runs (it writes nothing, so it holds no batch back); what it compares is in `result` from the start.
IMPACT_JOB = "impact"


class ScreenJob(SQLModel, table=True):
    """One screen of a batch, or one import of an uploaded file, started from the pages, as stored."""

    __tablename__ = "screen_job"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=SCREEN_JOB, sa_column_kwargs={"server_default": SCREEN_JOB})
    # The screened batch; an import's once its file is imported (None before, or when nothing was).
    batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    # The batch id while the job runs, NULL after: unique, so one batch has at most one running job.
    active_batch: int | None = Field(default=None, unique=True)
    status: str = RUNNING
    started_by: str
    role: str | None = None
    channel: str | None = None
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    heartbeat_at: datetime = Field(sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    done: int = 0
    total: int = 0
    # An import's: the uploaded file's name, the rows read so far, the folder holding the upload.
    file_name: str | None = None
    rows: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    work_dir: str | None = None
    # The screen run it made (None until the screen has started storing, or if it never did).
    run_id: int | None = Field(default=None, foreign_key="screen_run.id")
    # What the screen did (claims, hits, amount, review cases, findings, failures), once finished.
    result: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Why it failed or was interrupted, for a person to read (Chinese).
    error: str | None = Field(default=None, sa_type=Text)
    # The process running it, to tell a running job from one whose process is gone.
    host: str
    pid: int


class JobBusyError(Exception):
    """The batch already has a running job (the unique `active_batch` refused a second one)."""


def now() -> datetime:
    return datetime.now(UTC)


def insert_job(
    *,
    session: Session,
    batch_id: int | None,
    started_by: str,
    role: str | None,
    channel: str | None,
    total: int,
    kind: str = SCREEN_JOB,
    file_name: str | None = None,
    work_dir: str | None = None,
) -> ScreenJob:
    """Record a running job of this process; `JobBusyError` when the batch already has a running screen
    (nothing kept). An import (`kind` `import`) has no batch yet and never makes another wait."""
    moment = now()
    job = ScreenJob(
        kind=kind, batch_id=batch_id, active_batch=batch_id if kind == SCREEN_JOB else None, started_by=started_by,
        role=role, channel=channel, started_at=moment, heartbeat_at=moment, total=total, file_name=file_name,
        work_dir=work_dir, host=socket.gethostname(), pid=os.getpid(),
    )  # fmt: skip
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise JobBusyError(batch_id) from None
    session.refresh(job)
    return job


def get_job(*, session: Session, job_id: int) -> ScreenJob | None:
    """A job by its id; None when there is none (an id no row can have, past 2**63, is not asked for:
    the driver cannot bind it)."""
    if not 0 < job_id <= MAX_STORED_INT:
        return None
    return session.get(ScreenJob, job_id)


def running_jobs(*, session: Session, batch_id: int | None = None) -> list[ScreenJob]:
    """The jobs still marked running (of one batch, or all), oldest first."""
    query = select(ScreenJob).where(ScreenJob.status == RUNNING)
    if batch_id is not None:
        query = query.where(ScreenJob.batch_id == batch_id)
    return list(session.exec(query.order_by(col(ScreenJob.id))))


def latest_jobs(*, session: Session) -> dict[int, ScreenJob]:
    """The newest screen of each batch that has one, by batch id."""
    newest = (
        select(func.max(col(ScreenJob.id)))
        .where(col(ScreenJob.kind) == SCREEN_JOB)
        .group_by(col(ScreenJob.batch_id))
        .scalar_subquery()
    )
    found = session.exec(select(ScreenJob).where(col(ScreenJob.id).in_(newest)))
    return {job.batch_id: job for job in found if job.batch_id is not None}  # a screen always has its batch


def report_progress(*, session: Session, job_id: int, done: int, total: int, rows: int | None = None) -> None:
    """Write a running job's progress and heartbeat (nothing when it is no longer running)."""
    values: dict[str, Any] = dict(done=done, total=total, heartbeat_at=now())
    if rows is not None:
        values["rows"] = rows
    session.execute(
        update(ScreenJob)
        .where(col(ScreenJob.id) == job_id, col(ScreenJob.status) == RUNNING)
        .values(**values)
    )
    session.commit()


def finish_job(
    *,
    session: Session,
    job_id: int,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    run_id: int | None = None,
    only_running: bool = False,
    batch_id: int | None = None,
    rows: int | None = None,
) -> None:
    """Record how a job ended; its batch may be screened again. `only_running`: leave a job that has
    ended meanwhile as it is (marking a job interrupted must not undo its own finish). `batch_id`, `rows`:
    the batch an import made (or found already imported), the rows it read."""
    values: dict[str, Any] = dict(status=status, active_batch=None, finished_at=now(), error=error)
    if result is not None:
        values.update(result=result, done=col(ScreenJob.total))  # every claim (byte) went through
    if run_id is not None:
        values["run_id"] = run_id
    if batch_id is not None:
        values["batch_id"] = batch_id
    if rows is not None:
        values["rows"] = rows
    query = update(ScreenJob).where(col(ScreenJob.id) == job_id)
    if only_running:
        query = query.where(col(ScreenJob.status) == RUNNING)
    session.execute(query.values(**values))
    session.commit()


def set_result(*, session: Session, job_id: int, result: dict[str, Any]) -> None:
    """Keep data with a running job before it ends (what a preview compares, for its page and its access)."""
    session.execute(update(ScreenJob).where(col(ScreenJob.id) == job_id).values(result=result))
    session.commit()
