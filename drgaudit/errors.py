"""The root error class of drgaudit and the small subclasses every area raises."""

from __future__ import annotations


class DrgauditError(Exception):
    """Root of every error drgaudit raises on purpose; the CLI prints its message and exits non-zero.

    `exit_code` is the command's exit code for it: 1 a problem with the input or the state of the
    casebook; subclasses change it (2 a usage error, 3 a conflict with someone else's change).
    """

    exit_code = 1
    prefix = "error"


class UsageError(DrgauditError):
    """The command was called wrongly (an unknown rule id, options that do not go together): exit code 2."""

    exit_code = 2


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
