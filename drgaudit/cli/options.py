"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from drgaudit.settings import DATABASE_URL_ENV

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DATABASE_URL_ENV,
        help="Casebook database: any SQLAlchemy URL (sqlite:///path, postgresql+psycopg://…) or a file path. "
        "Default: ~/.drgaudit/casebook.sqlite (or $DRGAUDIT_HOME/casebook.sqlite).",
        show_default=False,
    ),
]
