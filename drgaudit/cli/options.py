"""Options and helpers shared by several commands, declared once.

Like every module of `drgaudit.cli` that declares commands, this one imports only the standard
library, Typer and the light base modules at module level (see `drgaudit.cli` for the rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, overload

import typer

from drgaudit.errors import DrgauditError
from drgaudit.settings import DATABASE_URL_ENV

if TYPE_CHECKING:
    from drgaudit.periods import Period

# Most worker processes a command starts on this machine. A pool forks all its workers at once: a
# mistyped `-j 100000` would fork that many (more than the cores only wait for them; `--cluster` spreads a
# screen over other machines).
MAX_WORKERS = 64

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        envvar=DATABASE_URL_ENV,
        help="Casebook database: any SQLAlchemy URL (sqlite:///path, postgresql+psycopg://…) or a file path. "
        "Default: ~/.drgaudit/casebook.sqlite (or $DRGAUDIT_HOME/casebook.sqlite).",
        show_default=False,
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="Rule pack folder (default: the bundled rule pack).",
        file_okay=False,
        exists=True,
        show_default=False,
    ),
]
CodesOption = Annotated[
    Path | None,
    typer.Option(
        "--codes",
        metavar="DIR",
        help="Code-table folder (diagnoses.tsv, procedures.tsv, mcc.tsv, cc.tsv, principal_exclusion.tsv, "
        "drg_groups.tsv). Default: the code set loaded with `drgaudit import codes`, else the bundled "
        "CHS-DRG 1.1 tables.",
        file_okay=False,
        exists=True,
        show_default=False,
    ),
]

# One period syntax everywhere (drgaudit.periods): --period 2025 | 2025Q3 | 2025-07, or --from/--to.
PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period",
        metavar="PERIOD",
        help="Discharge period: 2025 (year), 2025Q3 (quarter) or 2025-07 (month); or use --from/--to.",
        show_default=False,
    ),
]
FromOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--from",
        metavar="YYYY-MM-DD",
        formats=["%Y-%m-%d"],
        help="First discharge date of a custom period (with --to).",
        show_default=False,
    ),
]
ToOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--to",
        metavar="YYYY-MM-DD",
        formats=["%Y-%m-%d"],
        help="Last discharge date of a custom period (with --from).",
        show_default=False,
    ),
]


@overload
def period_option(
    period: str | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    required: Literal[True],
) -> Period: ...


@overload
def period_option(
    period: str | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    required: bool = False,
) -> Period | None: ...


def period_option(
    period: str | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    required: bool = False,
) -> Period | None:
    """The period of `--period` or `--from/--to` (None when neither is given and none is required).

    A period that cannot be read is a usage error (exit code 2).
    """
    if period is None and start is None and end is None and not required:
        return None
    from drgaudit.periods import PeriodError, parse_period

    try:
        return parse_period(period, start.date() if start else None, end.date() if end else None)
    except PeriodError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


def fail(exc: DrgauditError) -> typer.Exit:
    """Print a DrgauditError on stderr and give its exit code (1 input/state, 2 usage, 3 conflict)."""
    typer.echo(f"{getattr(exc, 'prefix', 'error')}: {exc}", err=True)
    return typer.Exit(getattr(exc, "exit_code", 1))


@contextmanager
def reported() -> Iterator[None]:
    """Turn a DrgauditError raised inside into its message on stderr and its exit code."""
    try:
        yield
    except DrgauditError as exc:
        raise fail(exc) from exc
