"""Where drgaudit keeps its data: the casebook database URL and the home folder."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DRGAUDIT_HOME"
DATABASE_URL_ENV = "DRGAUDIT_DATABASE_URL"
LOCK_TIMEOUT_ENV = "DRGAUDIT_LOCK_TIMEOUT"
# Seconds a command waits for a casebook locked by another process before it gives up with a message.
DEFAULT_LOCK_TIMEOUT = 30.0


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


def lock_timeout() -> float:
    """Seconds to wait for a locked casebook: $DRGAUDIT_LOCK_TIMEOUT, else 30."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    try:
        seconds = float(text) if text else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        seconds = DEFAULT_LOCK_TIMEOUT
    return seconds if 0 < seconds < 86_400 else DEFAULT_LOCK_TIMEOUT
