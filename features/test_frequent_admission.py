"""频繁住院（FREQ-001）: the sixth admission within 365 days, chemotherapy and radiotherapy exempt."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("frequent_admission.feature")
