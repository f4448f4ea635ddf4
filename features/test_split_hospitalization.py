"""分解住院（SPLIT-001）: readmission to the same hospital within the window, same category or core group."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("split_hospitalization.feature")
