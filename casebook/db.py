"""Opening the casebook database: engine, SQLite pragmas, and migration to the newest Alembic revision."""

from __future__ import annotations

import sqlite3
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from drgaudit.errors import DatabaseError
from drgaudit.settings import database_url, lock_timeout


def missing_file(url: str | None = None) -> Path | None:
    """The SQLite file the casebook URL (resolved as `make_engine` does) names, when that file does not
    exist; None for an existing file, an in-memory database or another database. Opening it would
    make an empty casebook there, which commands that read or change existing records must not do."""
    try:
        sa_url = make_url(database_url(url))
    except ArgumentError:
        return None  # make_engine says what is wrong with it
    if sa_url.get_backend_name() != "sqlite" or sa_url.database in (None, "", ":memory:"):
        return None
    if sa_url.query.get("mode") == "memory" or sa_url.database.startswith("file:"):
        return None
    path = Path(sa_url.database)
    return None if path.exists() else path


# More threads than a process ever has: see the in-memory pool in make_engine.
_NEVER_TRIMMED = 1_000_000


def make_engine(url: str | None = None) -> Engine:
    """An engine on the casebook at `url` (resolved by `drgaudit.settings.database_url`), schema migrated.

    SQLite connections get WAL journaling, foreign keys and `synchronous=NORMAL`; a PostgreSQL URL
    without a driver gets psycopg (version 3).
    """
    resolved = database_url(url)
    try:
        sa_url = make_url(resolved)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {resolved}") from exc
    kwargs: dict[str, Any] = {}
    if sa_url.drivername in ("postgresql", "postgres"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database in (None, "", ":memory:"):
            # A private in-memory database lives as long as its one connection.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif sa_url.query.get("mode") == "memory":
            # A named in-memory database shared by several engines (tests): one connection per thread,
            # which the pool may close from another thread when the engine is disposed. Past `pool_size`
            # connections SingletonThreadPool closes one picked at random, also one another thread is
            # using (a segmentation fault if it is executing): the size is out of reach, so a thread's
            # connection lives until the engine is disposed.
            kwargs.update(
                poolclass=SingletonThreadPool,
                pool_size=_NEVER_TRIMMED,
                connect_args={"check_same_thread": False},
            )
    try:
        engine = create_engine(sa_url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"cannot use database URL {sa_url.render_as_string()}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _restore_foreign_keys)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(
            f"cannot open casebook {sa_url.render_as_string()}: {database_problem(exc)}"
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Waiting for another process's write lock comes first: the pragmas below may need the lock.
    cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        # A read-only file cannot switch to WAL; it can still be read (and says so when written).
        if "readonly" not in str(exc) and "read-only" not in str(exc):
            raise
    cursor.execute("PRAGMA foreign_keys=ON")
    # Safe with WAL: a power loss can lose the last commits but never corrupts the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache (the default is 2 MiB): bulk imports touch indexes all over.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


# Marks, in a pooled connection's info, that its foreign-key checks are paused for a bulk load.
_FOREIGN_KEYS_PAUSED = "drgaudit_foreign_keys_paused"


def pause_foreign_keys(conn: Connection) -> bool:
    """Turn SQLite's foreign-key checks off on `conn` for a bulk load whose rows refer only to rows that
    the same load wrote before them (a claim to its batch, a code to its claim); True if they were.

    They come back on when the connection returns to the pool (after the load's commit or rollback),
    before anyone else can use it. Only possible before the connection's transaction has written
    anything (SQLite ignores the pragma inside a transaction), and only on engines of `make_engine`,
    which restore them; elsewhere, and on PostgreSQL, nothing changes and the checks stay on.
    """
    if conn.dialect.name != "sqlite" or not event.contains(conn.engine, "checkin", _restore_foreign_keys):
        return False
    pooled = conn.connection
    dbapi = pooled.dbapi_connection
    if dbapi is None or dbapi.in_transaction:
        return False
    pooled.info[_FOREIGN_KEYS_PAUSED] = True
    dbapi.execute("PRAGMA foreign_keys=OFF")
    return True


def _restore_foreign_keys(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(_FOREIGN_KEYS_PAUSED, False) and dbapi_connection is not None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # A lock held by another session (a table lock, another import of the same file) is waited for at
    # most this long, then the statement fails with a message instead of hanging.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {int(lock_timeout() * 1000)}")
    dbapi_connection.commit()


def database_problem(exc: BaseException) -> str:
    """What went wrong with the database, in one line a person can act on (locked, read-only, full…)."""
    orig = getattr(exc, "orig", None) or exc
    first = " ".join(str(orig).split()) or type(orig).__name__
    if len(first) > 300:
        first = first[:299] + "…"
    lowered = first.lower()
    code = getattr(orig, "sqlstate", None)
    if code in ("55P03", "40P01") or "database is locked" in lowered or "lock timeout" in lowered:
        return (
            f"the casebook is locked by another process, still after {lock_timeout():g} s; "
            f"nothing was changed, try again when it is done ({first})"
        )
    if code == "25006" or "readonly database" in lowered or "read-only" in lowered:
        return f"the casebook is read-only; nothing was changed ({first})"
    if code in ("53100", "53200") or "disk is full" in lowered or "no space left" in lowered:
        return f"the casebook's disk is full; nothing was changed ({first})"
    if "disk i/o error" in lowered or code == "58030":
        return (
            f"the casebook could not be written (is its disk full or failing?); nothing was changed ({first})"
        )
    return first


def alembic_config() -> Config:
    """The Alembic configuration of the casebook migrations shipped in the package."""
    folder = files("drgaudit.casebook.migrations")
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    return config


def head_revision() -> str:
    """The newest migration revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database at `connection` is at, None for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database to `revision` (default: the newest), in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        if revision == "head" and current_revision(connection) == head_revision():
            return
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema of `engine`'s database back to `revision` (`base`: no tables), in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
