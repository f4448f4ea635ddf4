"""The last line of defence of every command: errors become one line on stderr and exit code 1.

Commands handle the errors they expect. What escapes them (the casebook database locked by another
process, made read-only, or out of disk space; a file system error; a drgaudit error a command did not
catch) is turned here into `error: …` and exit code 1, never a traceback. Anything else is a bug: it
is reported in one line too, with the hint that `DRGAUDIT_DEBUG=1` shows the traceback.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from typing import Any

import typer
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from drgaudit.errors import DrgauditError

DEBUG_ENV = "DRGAUDIT_DEBUG"


class GuardedGroup(TyperGroup):
    """The root command group: runs the command and turns whatever escapes it into one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException, DrgauditError):
            raise  # a DrgauditError is printed with its own exit code by the root group
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the point of this class
            if os.environ.get(DEBUG_ENV):
                raise
            typer.echo(f"error: {describe(exc)}", err=True)
            raise typer.Exit(1) from None


def describe(exc: BaseException) -> str:
    """One line for an error that escaped a command."""
    from sqlalchemy.exc import SQLAlchemyError

    from drgaudit.casebook.db import database_problem

    if isinstance(exc, SQLAlchemyError | sqlite3.Error):
        return database_problem(exc)
    if isinstance(exc, DrgauditError):
        return " ".join(str(exc).split())
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return f"no room to write{where}: {exc.strerror}; nothing was stored"
        return f"{exc.strerror or exc}{where}"
    first = " ".join(str(exc).split())[:300]
    return f"unexpected {type(exc).__name__}: {first} (a bug; run again with {DEBUG_ENV}=1 for the details)"
