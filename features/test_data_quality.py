"""数据质量（DQ-001…DQ-006）: unknown codes, groups missing from the table, overlapping stays, ICU hours
longer than the stay, newborns without a birth weight."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("data_quality.feature")
