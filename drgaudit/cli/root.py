"""The root Typer app; every command module is wired in here, and only here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, Any

import typer
import typer.main
from typer.models import CommandInfo, TyperInfo

from drgaudit import __version__
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


def _module(name: str) -> Any:
    return importlib.import_module(f"drgaudit.cli.{name}")


# How the root builds what it holds (as Typer builds a nested tree: plain help, no completion options).
_BUILD: dict[str, Any] = {"pretty_exceptions_short": True, "rich_markup_mode": None}


def _group(name: str, *extra: tuple[str, str, str]) -> Callable[[], Any]:
    """A command group: the `app` of `drgaudit.cli.<name>`, with commands of other modules added to it."""

    def build() -> Any:
        group: typer.Typer = _module(name).app
        commands = [CommandInfo(name=command, callback=getattr(_module(module), function))
                    for command, module, function in extra]  # fmt: skip
        info = TyperInfo(group)
        built = typer.main.get_group_from_info(info, suggest_commands=True, **_BUILD)
        for command in commands:
            built.add_command(typer.main.get_command_from_info(command, **_BUILD), command.name)
        return built

    return build


def _single(module: str, function: str) -> Callable[[], Any]:
    """A top-level command (a function of `drgaudit.cli.<module>`)."""

    def build() -> Any:
        return typer.main.get_command_from_info(
            CommandInfo(callback=getattr(_module(module), function)), **_BUILD
        )

    return build


# Every command of the root, built only when it is asked for: `drgaudit rules check` imports and builds
# the `rules` group alone (building Typer's tree of all 60-odd commands costs more than the check itself);
# `--help` and shell completion list them all. Order = the order in `drgaudit --help`.
COMMANDS: dict[str, Callable[[], Any]] = {
    "demo": _single("demo", "demo"),
    "batches": _single("screening", "batches"),
    "screen": _single("screening", "screen"),
    "explain": _single("screening", "explain"),
    "serve": _single("serve", "serve"),
    "import": _group("imports", ("codes", "screening", "import_codes")),
    "rules": _group(
        "rules",
        ("impact", "impact", "impact"),
        ("diff", "impact", "diff"),
        ("register", "packs", "register"),
        ("versions", "packs", "versions"),
        ("promote", "packs", "promote"),
        ("unshadow", "packs", "unshadow"),
    ),
    "report": _group("reports"),
    "queue": _group("queue"),
    "meeting": _group("meeting"),
    "assist": _group("assist"),
    "casebook": _group("casebook"),
    "findings": _group("findings"),
    "users": _group("users"),
}


class DrgauditGroup(GuardedGroup):
    """The root command group: a DrgauditError that a command let through becomes `error: …` on
    stderr and its exit code (1, 2 for a usage error, 3 for a conflict), never a traceback; database
    and file-system errors that escape a command become one line and exit code 1 (`cli.guard`).
    Commands are built when first asked for (`COMMANDS`)."""

    def list_commands(self, ctx: Any) -> list[str]:
        own = [name for name in super().list_commands(ctx) if name not in COMMANDS]
        return [*COMMANDS, *sorted(own)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            command = COMMANDS[cmd_name]()
            command.name = cmd_name
            _clean_help(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

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
