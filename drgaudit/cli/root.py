"""The root Typer app; every command module is wired in here, and only here."""

from __future__ import annotations

import typer

from drgaudit.cli import (
    assist,
    casebook,
    demo,
    impact,
    imports,
    meeting,
    packs,
    queue,
    reports,
    rules,
    screening,
    serve,
    users,
)
from drgaudit.cli.guard import GuardedGroup

app = typer.Typer(
    name="drgaudit",
    help="Audit inpatient DRG/DIP claims (in-province cross-region first) against auditors' YAML rules.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    # Database and file-system errors that escape a command: one line and exit code 1, no traceback.
    cls=GuardedGroup,
)

app.command(name="demo")(demo.demo)
app.add_typer(imports.app, name="import")
imports.app.command(name="codes")(screening.import_codes)
app.command(name="batches")(screening.batches)
app.command(name="screen")(screening.screen)
app.command(name="explain")(screening.explain)
app.add_typer(rules.app, name="rules")
rules.app.command(name="impact")(impact.impact)
rules.app.command(name="diff")(impact.diff)
rules.app.command(name="register")(packs.register)
rules.app.command(name="versions")(packs.versions)
rules.app.command(name="promote")(packs.promote)
rules.app.command(name="unshadow")(packs.unshadow)
app.add_typer(reports.app, name="report")
app.add_typer(queue.app, name="queue")
app.add_typer(meeting.app, name="meeting")
app.add_typer(assist.app, name="assist")
app.add_typer(casebook.app, name="casebook")
app.add_typer(users.app, name="users")
app.command(name="serve")(serve.serve)
