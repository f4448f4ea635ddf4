"""按床日付费病例 (LOS-002..LOS-005, SPLIT-004, FREQ-003): per-diem stays under their own thresholds."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("per_diem.feature")
