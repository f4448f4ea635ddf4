"""Screen jobs: a batch screen started from the pages, run in the background, its progress in the casebook.

The job's row is what every worker process of the review service reads to answer "how far is it"; the
process that runs the screen writes its progress (claims done of the batch's total) and a heartbeat.
At most one job per batch is `running`: `active_batch` holds the batch id while it runs and is unique,
so two workers (or two servers) that start the same batch at once cannot both insert it.

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


class ScreenJob(SQLModel, table=True):
    """One screen of a batch started from the pages, as stored."""

    __tablename__ = "screen_job"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="import_batch.id", index=True)
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
    *, session: Session, batch_id: int, started_by: str, role: str | None, channel: str | None, total: int
) -> ScreenJob:
    """Record a running job of this process; `JobBusyError` when the batch already has one (nothing kept)."""
    moment = now()
    job = ScreenJob(
        batch_id=batch_id, active_batch=batch_id, started_by=started_by, role=role, channel=channel,
        started_at=moment, heartbeat_at=moment, total=total, host=socket.gethostname(), pid=os.getpid(),
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
    """The newest job of each batch that has one, by batch id."""
    newest = select(func.max(col(ScreenJob.id))).group_by(col(ScreenJob.batch_id)).scalar_subquery()
    return {job.batch_id: job for job in session.exec(select(ScreenJob).where(col(ScreenJob.id).in_(newest)))}


def report_progress(*, session: Session, job_id: int, done: int, total: int) -> None:
    """Write a running job's progress and heartbeat (nothing when it is no longer running)."""
    session.execute(
        update(ScreenJob)
        .where(col(ScreenJob.id) == job_id, col(ScreenJob.status) == RUNNING)
        .values(done=done, total=total, heartbeat_at=now())
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
) -> None:
    """Record how a job ended; its batch may be screened again. `only_running`: leave a job that has
    ended meanwhile as it is (marking a job interrupted must not undo its own finish)."""
    values: dict[str, Any] = dict(status=status, active_batch=None, finished_at=now(), error=error)
    if result is not None:
        values.update(result=result, done=col(ScreenJob.total))  # every claim of the batch went through
    if run_id is not None:
        values["run_id"] = run_id
    query = update(ScreenJob).where(col(ScreenJob.id) == job_id)
    if only_running:
        query = query.where(col(ScreenJob.status) == RUNNING)
    session.execute(query.values(**values))
    session.commit()
