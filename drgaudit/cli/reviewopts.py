"""Options and helpers shared by the review commands (`queue`, `meeting`, `assist`, `casebook`).

Exit codes: 0 done; 1 refused (bad input, wrong state, quota, broken audit log); 3 conflict (someone
else changed the record at the same time; nothing was saved, look again and retry).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drgaudit.cli.options import fail
from drgaudit.errors import DatabaseError, DrgauditError
from drgaudit.i18n import _

if TYPE_CHECKING:
    from sqlmodel import Session

    from drgaudit.engine.pack import RulePack
    from drgaudit.services.access import Principal

CONFLICT_EXIT = 3  # ConflictError.exit_code

UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        metavar="NAME",
        help="The account that does this (recorded in the audit log with its role and channel cli). "
        "Default: $DRGAUDIT_USER, else the OS user. On a casebook with accounts it must be an active "
        "account allowed to do it; a casebook without accounts records the name as its owner.",
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="Rules directory whose region settings apply (quota ratios…). Default: the bundled rule pack.",
        file_okay=False,
        exists=True,
        show_default=False,
    ),
]
VersionOption = Annotated[
    int | None,
    typer.Option(
        "--expect-version",
        metavar="N",
        help="Refuse if the record's version is no longer N (the version `show` printed).",
    ),
]


@contextmanager
def casebook(db: str | None, *, create: bool = False) -> Iterator[Session]:
    """A session on the casebook; DrgauditErrors raised inside become a message and an exit code
    (`drgaudit.cli.options.fail`: 3 for a conflict, 1 otherwise).

    A SQLite file that does not exist is refused unless `create` (the first account): opening it made
    an empty casebook there, so a misspelt --db answered 'no open review cases', and `casebook verify`
    'audit log intact: 0 entries'."""
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine

    try:
        if not create:
            existing_casebook(db)
        engine = make_engine(db)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()
    except DrgauditError as exc:
        raise fail(exc) from exc


def existing_casebook(db: str | None) -> None:
    """`DatabaseError` when the casebook is a SQLite file that does not exist: opening it would make an
    empty casebook there, and a command that reads records would answer as if there were none."""
    from drgaudit.casebook.db import missing_file

    missing = missing_file(db)
    if missing is not None:
        raise DatabaseError(
            _(
                "no casebook at {path} (no such file): give --db the casebook's path or URL, or set "
                "$DRGAUDIT_DATABASE_URL; a casebook is made by `drgaudit import` or `drgaudit demo`"
            ).format(path=missing)
        )


def principal(session: Session, user: str | None) -> Principal:
    """Who runs the command: `--user` resolved to an account (see `services.accounts.cli_principal`)."""
    from drgaudit.services.accounts import cli_principal

    return cli_principal(session=session, user=user)


def rule_pack(rules: Path | None) -> RulePack:
    """The rule pack whose region settings apply."""
    from drgaudit.engine.loader import bundled_rules_dir, load_pack

    return load_pack(rules or bundled_rules_dir())


def parse_date(text: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date (YYYY-MM-DD)", param_hint=option) from None


def money(value: float | None) -> str:
    """An amount as the review screens show it: 12,345.60, or - for none."""
    return "-" if value is None else f"{value:,.2f}"
