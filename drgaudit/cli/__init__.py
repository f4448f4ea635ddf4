"""The `drgaudit` command line: a thin layer over the library, one module per command group.

**Start-up stays quick** (`drgaudit --help` and `drgaudit rules check` in well under 0.4 s; measured by
`bench/startup.py`). Every command module is imported to build the command tree, so at module level a
command module imports only:

- the standard library, `typer`, and `typing` helpers;
- `drgaudit.cli.options` / `drgaudit.cli.output` (shared options, `--format table|json|csv`);
- light base modules: `drgaudit.errors`, `drgaudit.settings`, `drgaudit.i18n`, `drgaudit.labels`,
  `drgaudit.periods`, `drgaudit.casebook.states`.

Everything else (SQLModel/SQLAlchemy, durable-rules, WeasyPrint, openpyxl, Jinja2, rich, the casebook,
the engine, reports, services) is imported inside the function that needs it, and names used only in
annotations go under `if TYPE_CHECKING:`. Option types in signatures are built-in or standard-library
types. `tests/test_cli_conventions.py` fails when a command module imports a heavy module at load.

A new command:

    # drgaudit/cli/things.py
    app = typer.Typer(help="…", no_args_is_help=True)

    @app.command("list")
    def list_(fmt: FormatOption = OutputFormat.table, db: DbOption = None) -> None:
        \"\"\"One line on what it does.

        Example:

            drgaudit things list --format json
        \"\"\"
        from drgaudit.services.things import list_things   # heavy imports here, not at the top

        with reported():                                    # DrgauditError → message + exit code
            rows = list_things(db=db)
        emit(rows, COLUMNS, fmt)

and one line in `drgaudit/cli/root.py`. Usage errors raise `typer.BadParameter` (exit code 2);
problems with the input or the casebook raise a `DrgauditError` (exit code 1; `UsageError` 2,
`ConflictError` 3), which the root group prints as `error: …` if the command did not.
"""

from __future__ import annotations


def main() -> None:
    """Entry point of the `drgaudit` console script."""
    import signal

    # `drgaudit … | head` ends quietly when the reader stops reading, as Unix tools do.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from drgaudit.cli.root import app

    app(prog_name="drgaudit")
