"""The root Typer app; every command module is wired in here, and only here."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from drgaudit import __version__
from drgaudit.cli import (
    assist,
    casebook,
    demo,
    findings,
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
from drgaudit.cli.options import fail
from drgaudit.errors import DrgauditError


def _clean_help(command: Any) -> None:
    """Arguments in help as `FILE...` / `[DIR]` (their metavar), without Typer's `<list[Path]>` types."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument" and param.metavar:
            shown = param.metavar if param.required else f"[{param.metavar}]"
            shown += "..." if param.nargs != 1 else ""
            # Instance attributes shadow the methods Typer's formatter calls for this parameter.
            param.display_type_rich = lambda ctx: None
            param._usage_display_name = lambda shown=shown: shown
            param._rich_display_name = lambda name=param.metavar: name
    for sub in getattr(command, "commands", {}).values():
        _clean_help(sub)


class DrgauditGroup(GuardedGroup):
    """The root command group: a DrgauditError that a command let through becomes `error: …` on
    stderr and its exit code (1, 2 for a usage error, 3 for a conflict), never a traceback; database
    and file-system errors that escape a command become one line and exit code 1 (`cli.guard`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _clean_help(self)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DrgauditError as exc:
            raise fail(exc) from exc


def _version(value: bool) -> None:
    if value:
        typer.echo(f"drgaudit {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="drgaudit",
    cls=DrgauditGroup,
    help="Audit inpatient DRG/DIP claims (in-province cross-region first) against auditors' YAML rules.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Audit inpatient DRG/DIP claims (in-province cross-region first) against auditors' YAML rules.

    Shell completion: `drgaudit --install-completion` (bash, zsh, fish, PowerShell).
    """


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
app.add_typer(findings.app, name="findings")
app.add_typer(users.app, name="users")
app.command(name="serve")(serve.serve)
