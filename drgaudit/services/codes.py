"""Which code tables a command uses when it may have no casebook at hand (screening files, rule tests).

The choice itself is `drgaudit.casebook.screening.choose_codes`; this only finds the casebook to ask:
the one named by `--db`/$DRGAUDIT_DATABASE_URL, else the default one, and only if it already exists
(screening a file never creates a casebook as a side effect).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.screening import choose_codes
from drgaudit.engine.codes import CodeTables
from drgaudit.settings import DATABASE_URL_ENV, default_database_path


def existing_casebook(db: str | None) -> str | None:
    """The URL of the casebook the user means, if it exists; None when there is none yet."""
    url = db or os.environ.get(DATABASE_URL_ENV)
    if not url:
        path = default_database_path()
        return f"sqlite:///{path}" if path.is_file() else None
    if "://" not in url:
        path = Path(url).expanduser()
        return f"sqlite:///{path.resolve()}" if path.is_file() else None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # make_engine reports it
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
        if not in_memory and not Path(database).is_file():
            return None
    return url


def choose_codes_for(*, codes_dir: Path | str | None, rules_dir: Path | None, db: str | None) -> CodeTables:
    """`choose_codes` with the user's casebook (if there is one) as the place a loaded code set lives."""
    url = None if codes_dir is not None else existing_casebook(db)
    if url is None:
        return choose_codes(session=None, codes_dir=codes_dir, rules_dir=rules_dir)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return choose_codes(session=session, codes_dir=None, rules_dir=rules_dir)
    finally:
        engine.dispose()
