"""Where drgaudit keeps its data: the casebook database URL and the home folder."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DRGAUDIT_HOME"
DATABASE_URL_ENV = "DRGAUDIT_DATABASE_URL"


def home_dir() -> Path:
    """The folder for drgaudit's own files: $DRGAUDIT_HOME, else ~/.drgaudit."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".drgaudit")


def default_database_path() -> Path:
    """The embedded SQLite casebook used when no URL is given."""
    return home_dir() / "casebook.sqlite"


def database_url(explicit: str | None = None) -> str:
    """The casebook URL: `explicit` (from --db), else $DRGAUDIT_DATABASE_URL, else the embedded SQLite file.

    A bare file path is accepted and taken as a SQLite database.
    """
    url = explicit or os.environ.get(DATABASE_URL_ENV)
    if not url:
        path = default_database_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url
