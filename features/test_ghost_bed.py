"""挂床住院（GHOST-001）: stays with hardly any care besides bed and nursing fees."""

from __future__ import annotations

from pytest_bdd import scenarios

scenarios("ghost_bed.feature")
