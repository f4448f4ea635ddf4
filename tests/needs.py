"""What some tests need from the machine (a CJK font, chromium, poppler), checked up front: a missing
part fails the test with one line saying what to install, never a long traceback or a silent skip.
`.ci/run` installs all of them; the README names them next to its test command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _missing(message: str) -> None:
    pytest.fail(message, pytrace=False)


def cjk_font() -> None:
    """A font that draws Chinese (PDF reports)."""
    from drgaudit.reports.fonts import missing_cjk_font

    message = missing_cjk_font()
    if message:
        _missing(f"missing: {message}")


def chromium() -> Path:
    """The system's chromium that Playwright drives (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _missing(f"missing: {CHROMIUM}: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("missing: the playwright package: pip install -e '.[test]'")
    return CHROMIUM


def pdftoppm() -> str:
    """poppler's pdftoppm, to render PDF pages to images."""
    found = shutil.which("pdftoppm")
    if found is None:
        _missing("missing: pdftoppm: apt-get install poppler-utils")
    return str(found)
