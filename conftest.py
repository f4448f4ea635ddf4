"""Settings for every test run (tests/ and features/): a private home folder and English messages.

Commands that look for the user's casebook (`$DRGAUDIT_HOME/casebook.sqlite`) must never find the
developer's own, and messages are compared in English unless a test switches the locale itself.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def pytest_configure() -> None:
    home = tempfile.mkdtemp(prefix="drgaudit-test-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["DRGAUDIT_HOME"] = home
    os.environ.pop("DRGAUDIT_DATABASE_URL", None)
    os.environ["LANGUAGE"] = "en"
