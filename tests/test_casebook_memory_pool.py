"""The tests' shared in-memory casebook (``mode=memory``) gives each thread its own connection. The pool
must never close a connection another thread holds: the service answers a request on many worker threads
(anyio's pool), and SQLAlchemy's SingletonThreadPool, past its five connections, closed one picked at
random, also one a thread was using. That crashed the whole test run (a segmentation fault in CI, when the
closed connection was executing) or failed a request with "Cannot operate on a closed database"."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlmodel import Session

from drgaudit.casebook.db import make_engine


def test_a_held_connection_outlives_many_other_threads(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as held:
            assert held.execute(text("SELECT 1")).scalar_one() == 1  # this thread's connection, held

            def query() -> None:
                with Session(engine) as other:
                    other.execute(text("SELECT 1")).scalar_one()

            # Forty threads, as anyio's worker pool may have: each opens its own connection.
            for _ in range(40):
                worker = threading.Thread(target=query)
                worker.start()
                worker.join()
            assert held.execute(text("SELECT 2")).scalar_one() == 2
    finally:
        engine.dispose()
