"""The root error class of drgaudit and the small subclasses every area raises."""

from __future__ import annotations


class DrgauditError(Exception):
    """Root of every error drgaudit raises on purpose; the CLI prints its message and exits non-zero."""


class DataFileError(DrgauditError):
    """A problem with a whole input data file (unreadable, unknown format, missing header)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class RowError(DrgauditError):
    """One bad value in one row of a data file, reported as `file:row: field: reason`."""

    def __init__(self, path: str, row: int, field: str, reason: str) -> None:
        self.path = path
        self.row = row
        self.field = field
        self.reason = reason
        super().__init__(f"{path}:{row}: {field}: {reason}")


class DatabaseError(DrgauditError):
    """The casebook database cannot be opened, migrated or written."""
