"""The root Typer app; every command module is wired in here, and only here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="drgaudit",
    help="Audit inpatient DRG/DIP claims (in-province cross-region first) against auditors' YAML rules.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

from drgaudit.cli import rules  # noqa: E402

app.add_typer(rules.app, name="rules")
from drgaudit.cli import imports  # noqa: E402

app.add_typer(imports.app, name="import")

from drgaudit.cli import demo  # noqa: E402

app.command(name="demo")(demo.demo)
