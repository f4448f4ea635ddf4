"""超长住院（LOS-001）: stays of 60 days and more go to special-case review."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("long_stay.feature")
