"""Errors of the reports: bad report settings, unknown batch/hospital/meeting, unsupported formats."""

from __future__ import annotations

from drgaudit.errors import DrgauditError


class ReportError(DrgauditError):
    """A report cannot be made as asked (nothing to report on, bad settings, unsupported format)."""
