"""低标入院（LOWADM-001）: short stays that are really outpatient examinations."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("low_standard_admission.feature")
