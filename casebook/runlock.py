"""A lock per batch that says "this batch is being screened", held by the screening process itself.

The lock lives as long as the process (or its database session) does, so a screen that is killed
releases it without saying so. That tells a second screen of the same batch to stand back, and tells
any later command that a run still marked `running` is dead (`reap_stale_runs`).

- PostgreSQL: a session-level advisory lock (two int4 keys: `LOCK_SPACE`, batch id) on a connection of
  its own, held until released; the server drops it when the connection goes.
- SQLite file: `flock` on `<database>-screen-<batch>.lock` beside the database file; the file is removed
  when the lock is released (and by whoever finds it unlocked).
- In-memory SQLite: a lock in this process (no other process can open the database anyway).
"""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select, text
from sqlmodel import Session, col

from drgaudit.casebook.screening import ScreenRun
from drgaudit.errors import DrgauditError

# First key of the advisory locks of screens ("DRGS"); the second is the batch id.
LOCK_SPACE = 0x44524753
_local_guard = threading.Lock()
_local_held: set[tuple[str, int]] = set()


class BatchBusyError(DrgauditError):
    """Another process is screening this batch right now."""


class ScreenLock:
    """The lock of one batch; `acquire()` does not wait (it says whether it got the lock)."""

    def __init__(self, bind: Engine | Connection, batch_id: int) -> None:
        self.engine: Engine = bind.engine if isinstance(bind, Connection) else bind
        self.batch_id = int(batch_id)
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._local_key: tuple[str, int] | None = None

    # -- which kind ---------------------------------------------------------------------------------

    def _file(self) -> Path | None:
        url = self.engine.url
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or "mode=memory" in str(url):
            return None
        if database.startswith("file:"):
            database = database[5:].split("?", 1)[0]
        return Path(database).with_name(f"{Path(database).name}-screen-{self.batch_id}.lock")

    # -- acquire and release -------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when taken."""
        if self.engine.dialect.name == "postgresql":
            return self._acquire_advisory()
        path = self._file()
        if path is None:
            key = (self.engine.url.render_as_string(hide_password=False), self.batch_id)
            with _local_guard:
                if key in _local_held:
                    return False
                _local_held.add(key)
            self._local_key = key
            return True
        return self._acquire_file(path)

    def _acquire_advisory(self) -> bool:
        conn = self.engine.connect()
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:space, :batch)"),
                {"space": LOCK_SPACE, "batch": self.batch_id},
            ).scalar()
            conn.commit()  # the lock is the session's, not the transaction's
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _acquire_file(self, path: Path) -> bool:
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            # Whoever held it before may have removed the file meanwhile: lock the file that is there.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._fd, self._path = fd, path
                return True
            os.close(fd)

    def release(self) -> None:
        """Give the lock back (nothing happens if it is not held)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:space, :batch)"),
                    {"space": LOCK_SPACE, "batch": self.batch_id},
                )
                conn.commit()
            finally:
                conn.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if self._path is not None:
                self._path.unlink(missing_ok=True)
            os.close(fd)
        if self._local_key is not None:
            with _local_guard:
                _local_held.discard(self._local_key)
            self._local_key = None

    def __enter__(self) -> ScreenLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def is_screening(bind: Engine | Connection, batch_id: int) -> bool:
    """Whether some process holds the screen lock of a batch right now."""
    lock = ScreenLock(bind, batch_id)
    if lock.acquire():
        lock.release()
        return False
    return True


def reap_stale_runs(*, session: Session, batch_id: int | None = None) -> list[ScreenRun]:
    """Mark failed every run still `running` whose process is gone (its batch's lock is free); returns them.

    Called by the commands that look at a batch, so a killed screen shows as failed the next time.
    """
    query = select(ScreenRun).where(col(ScreenRun.status) == "running", col(ScreenRun.batch_id).is_not(None))
    if batch_id is not None:
        query = query.where(col(ScreenRun.batch_id) == batch_id)
    running = list(session.execute(query).scalars())
    if not running:
        return []
    bind = session.get_bind()
    reaped = []
    for run in running:
        if run.batch_id is None or is_screening(bind, run.batch_id):
            continue
        where = f"pid {run.pid} on {run.host}" if run.pid else "its process"
        run.status = "failed"
        run.note = (
            f"the screening process ({where}) stopped before it finished (killed or crashed); "
            "none of its hits were stored; screen the batch again"
        )
        run.finished_at = datetime.now(UTC)
        session.add(run)
        reaped.append(run)
    session.commit()
    return reaped


def busy_message(*, session: Session, batch_id: int) -> str:
    """The one line that refuses a second screen of a batch."""
    run = (
        session.execute(
            select(ScreenRun)
            .where(col(ScreenRun.batch_id) == batch_id, col(ScreenRun.status) == "running")
            .order_by(col(ScreenRun.id).desc())
        )
        .scalars()
        .first()
    )
    by = ""
    if run is not None:
        started = run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "?"
        by = f" by run {run.id} (pid {run.pid} on {run.host}, started {started})"
    return f"batch {batch_id} is being screened{by}; wait until it is done, then screen it again if needed"
