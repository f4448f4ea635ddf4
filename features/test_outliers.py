"""高倍率/低倍率病例（OUT-HIGH-001, OUT-LOW-001）: cost far above or below the group average."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("outliers.feature")
