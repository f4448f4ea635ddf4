"""新定点机构辅导期（COACH-001）: newly designated hospitals may not settle cross-region stays for six months."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("coaching_period.feature")
