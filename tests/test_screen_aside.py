"""The reads a batch screen starts with run side by side (`services.screening._read_aside`) only where the
other connection sees what the screening session sees; the screen's setup is the same either way."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import Hospital
from drgaudit.services import screening


def _casebook(tmp_path: Path, make_claim, write_rows) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'casebook.sqlite'}"
    with Session(make_engine(url)) as session:
        rows = [make_claim(n) for n in range(40)]
        batch_id = import_file(write_rows(tmp_path / "c.csv", rows), kind="claims", session=session).batch_id
    return url, batch_id


def _where(session: Session) -> tuple[int, int]:
    """The thread a read ran in, and how many hospitals it saw."""
    return threading.get_ident(), len(queries.load_hospitals(session=session))


def test_read_aside_in_its_own_thread_on_a_file_database(tmp_path: Path, make_claim, write_rows) -> None:
    url, batch_id = _casebook(tmp_path, make_claim, write_rows)
    with Session(make_engine(url)) as session, ThreadPoolExecutor(max_workers=1) as aside:
        queries.get_batch(session=session, batch_id=batch_id)  # a read: the session's transaction begins
        ident, _seen = screening._read_aside(aside, session, _where)()
        assert ident != threading.get_ident()
        mix = screening._read_aside(
            aside, session, lambda s: queries.batch_case_mix(session=s, batch_id=batch_id)
        )
        assert mix() == queries.batch_case_mix(session=session, batch_id=batch_id)


def test_read_aside_sees_the_sessions_uncommitted_changes(tmp_path: Path, make_claim, write_rows) -> None:
    url, batch_id = _casebook(tmp_path, make_claim, write_rows)
    with Session(make_engine(url)) as session, ThreadPoolExecutor(max_workers=1) as aside:
        before = len(queries.load_hospitals(session=session))
        new = Hospital(
            hospital_id="H-NEW", name="new", level="3", region="510100", content_hash="x", batch_id=batch_id
        )
        session.add(new)
        assert screening._read_aside(aside, session, _where)() == (threading.get_ident(), before + 1)
        session.flush()  # written in the connection's transaction, not committed: still read here
        assert screening._read_aside(aside, session, _where)() == (threading.get_ident(), before + 1)
        session.rollback()


def test_read_aside_in_the_session_on_an_in_memory_database(session: Session) -> None:
    with ThreadPoolExecutor(max_workers=1) as aside:
        ident, _seen = screening._read_aside(aside, session, _where)()
    assert ident == threading.get_ident()
