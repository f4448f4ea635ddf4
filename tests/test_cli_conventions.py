"""CLI conventions every command follows (sqlite-utils and Typer are the models): quick start-up with lazy
imports, `--version`, shell completion, clean metavars in help, `--format table|json|csv` on every
listing, one period syntax, and exit code 2 for every usage error."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit import __version__
from drgaudit.cli.root import app
from tests.review_support import bundled_pack, claim, hit, import_claims, screen

runner = CliRunner()

# Modules that cost start-up time; commands import them inside their functions (drgaudit/cli/__init__.py).
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "durable",
    "rules",
    "weasyprint",
    "openpyxl",
    "jinja2",
    "psycopg",
)


def _loaded_after(code: str) -> set[str]:
    """Top-level packages of HEAVY that are imported after running `code` in a fresh interpreter."""
    probe = (
        "import contextlib, io, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    env = {**os.environ, "DRGAUDIT_HOME": os.environ["DRGAUDIT_HOME"]}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return set(done.stdout.split())


def test_loading_the_cli_imports_no_heavy_module() -> None:
    assert _loaded_after("import drgaudit.cli.root") == set()


def test_help_and_rules_check_import_no_heavy_module() -> None:
    run = (
        "from drgaudit.cli.root import app\n"
        "for args in (['--help'], ['queue', '--help'], ['report', 'monitoring', '--help'], ['rules', 'check']):\n"
        "    try:\n"
        "        app(args, prog_name='drgaudit')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (args, exc.code)\n"
    )
    assert _loaded_after(run) == set()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"drgaudit {__version__}\n")


def _script() -> str:
    script = Path(sys.executable).with_name("drgaudit")
    if not script.exists():
        pytest.skip("the drgaudit console script is not installed beside this Python")
    return str(script)


def test_shell_completion_completes_commands_and_options() -> None:
    env = {
        **os.environ,
        "_DRGAUDIT_COMPLETE": "complete_bash",
        "COMP_WORDS": "drgaudit que",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([_script()], capture_output=True, text=True, env=env)
    assert "queue" in done.stdout.split()
    env.update(COMP_WORDS="drgaudit queue list --for", COMP_CWORD="3")
    done = subprocess.run([_script()], capture_output=True, text=True, env=env)
    assert "--format" in done.stdout.split()
    help_text = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text


def _commands(group: typer.core.TyperGroup, path: tuple[str, ...] = ()):
    ctx = typer.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(typer.main.get_command(app)))
# Typer's type names, shown when an option has no metavar of its own.
DEFAULT_METAVARS = re.compile(
    r"<(str|int|float|bool|path|file|dir|datetime|uuid|list\[[^>]*\])>|\b(INTEGER|FLOAT|DIRECTORY|FILENAME)\b"
)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_shows_clean_metavars_and_an_example(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not DEFAULT_METAVARS.findall(result.stdout), result.stdout
    assert "[default: None]" not in result.stdout
    command = dict(COMMANDS)[path]
    assert "Example" in (command.help or ""), f"drgaudit {' '.join(path)} has no example in its help"


@pytest.fixture
def queue_db(db_url: str, session: Session, tmp_path: Path) -> str:
    batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 21)])
    hits = [
        hit("C000001", "OUT-HIGH-001", severity="medium", amount=5000.0),
        hit("C000002", "LOS-001", severity="high", amount=2000.0),
    ]
    screen(session, batch, hits, bundled_pack())
    assert (
        runner.invoke(app, ["assist", "request", "C000001", "--question", "请核实", "--db", db_url]).exit_code
        == 0
    )
    created = runner.invoke(
        app,
        [
            "meeting",
            "create",
            "--region",
            "510100",
            "--date",
            "2026-12-01",
            "--capacity",
            "5",
            "--db",
            db_url,
        ],
    )
    assert created.exit_code == 0, created.output
    assert runner.invoke(app, ["meeting", "add", "1", "--fill", "--db", db_url]).exit_code == 0
    return db_url


LISTINGS = [
    (["batches"], "id"),
    (["queue", "list"], "claim_id"),
    (["queue", "show", "1"], "rule_id"),
    (["queue", "rollup", "--all"], "hospital_id"),
    (["assist", "list"], "question"),
    (["meeting", "show"], "held_on"),
    (["meeting", "show", "1"], "case_id"),
]


@pytest.mark.parametrize("args,key", LISTINGS, ids=[" ".join(a) for a, _ in LISTINGS])
def test_every_listing_has_table_json_and_csv(queue_db: str, args: list[str], key: str) -> None:
    table = runner.invoke(app, [*args, "--db", queue_db])
    assert table.exit_code == 0 and table.stdout.strip(), table.output
    as_json = runner.invoke(app, [*args, "--format", "json", "--db", queue_db])
    assert as_json.exit_code == 0, as_json.output
    parsed = json.loads(as_json.stdout)
    items = parsed if isinstance(parsed, list) else parsed[next(k for k in ("hits", "agenda") if k in parsed)]
    assert items and all(key in item for item in items)
    as_csv = runner.invoke(app, [*args, "--format", "csv", "--db", queue_db])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows and key in rows[0]
    assert len(rows) == len(items)
    wrong = runner.invoke(app, [*args, "--format", "xml", "--db", queue_db])
    assert wrong.exit_code == 2


def test_rule_pack_versions_list_as_table_json_and_csv(db_url: str) -> None:
    registered = runner.invoke(app, ["rules", "register", "--db", db_url])
    assert registered.exit_code == 0, registered.output
    table = runner.invoke(app, ["rules", "versions", "--db", db_url])
    assert table.exit_code == 0 and table.stdout.startswith("#1 ") and "[draft]" in table.stdout
    as_json = json.loads(runner.invoke(app, ["rules", "versions", "--format", "json", "--db", db_url]).stdout)
    assert [(r["id"], r["state"]) for r in as_json["rows"]] == [(1, "draft")] and as_json["promotions"] == []
    as_csv = runner.invoke(app, ["rules", "versions", "--format", "csv", "--db", db_url]).stdout
    (row,) = csv.DictReader(io.StringIO(as_csv))
    assert (row["id"], row["version"], row["state"]) == ("1", as_json["rows"][0]["version"], "draft")
    assert runner.invoke(app, ["rules", "versions", "--format", "xml", "--db", db_url]).exit_code == 2


@pytest.mark.parametrize("period", ["2025", "2025Q1", "2025-03", "2025-03-01..2025-03-31"])
def test_one_period_syntax_in_the_queue(queue_db: str, period: str) -> None:
    listed = runner.invoke(app, ["queue", "list", "--period", period, "--format", "json", "--db", queue_db])
    assert listed.exit_code == 0, listed.output
    assert [c["claim_id"] for c in json.loads(listed.stdout)] == ["C000001", "C000002"]
    rolled = runner.invoke(
        app, ["queue", "rollup", "--all", "--period", period, "--format", "json", "--db", queue_db]
    )
    assert [r["period"] for r in json.loads(rolled.stdout)] == ["2025-03"]
    ranged = runner.invoke(
        app,
        ["queue", "list", "--from", "2025-04-01", "--to", "2025-04-30", "--format", "json", "--db", queue_db],
    )
    assert ranged.exit_code == 0 and json.loads(ranged.stdout) == []


USAGE_ERRORS = [
    (["screen"], "give claim files or --batch ID"),
    (["screen", "--batch", "1", "--format", "csv"], "only jsonl is supported"),
    (["queue", "list", "--period", "2025Q9"], "`2025Q9` is not a period"),
    (["queue", "rollup", "--period", "2025", "--from", "2025-01-01", "--to", "2025-02-01"], "not both"),
    (["queue", "list", "--status", "done"], "unknown status done"),
    (["report", "monitoring", "--out", "m.html"], "give --period"),
    (["report", "feedback", "--hospital", "H1", "--out", "f.html", "--period", "2025-13"], "is not a period"),
    (["rules", "test", "--rule", "NOPE-001"], "no rule NOPE-001 in"),
    (["rules", "test", "--rule", "SPLIT-01"], "did you mean `SPLIT-001`"),
    (["meeting", "add", "1"], "give cases, --fill or --attendee"),
    (["assist", "list", "--side", "insured"], "--side goes with --region"),
    (["batches", "--format", "xml"], "xml"),
    (["nonsense"], "No such command"),
    (["queue", "list", "--limit", "0"], "--limit"),
    # A pool forks its workers at once: a mistyped count must not fork thousands (64 is allowed).
    (["screen", "--batch", "1", "--workers", "65"], "less than or equal to 64"),
    (["demo", "--workers", "100000"], "less than or equal to 64"),
    (["rules", "impact", "rules", "--batch", "1", "--workers", "65"], "less than or equal to 64"),
    (["serve", "--workers", "65"], "less than or equal to 64"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2(db_url: str, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(
        app, [*args, "--db", db_url] if args[0] != "nonsense" else args, env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.replace("│", " ").split()), result.output


def test_a_drgaudit_error_a_command_lets_through_is_one_line_not_a_traceback() -> None:
    @app.command("fails-for-test", hidden=True)
    def fails() -> None:
        from drgaudit.errors import DrgauditError

        raise DrgauditError("something was wrong with the input")

    try:
        result = runner.invoke(app, ["fails-for-test"])
    finally:
        app.registered_commands.pop()
    assert (result.exit_code, result.stderr) == (1, "error: something was wrong with the input\n")


MISSING_CASEBOOK = [
    ["queue", "list"],
    ["queue", "show", "1"],
    ["meeting", "show"],
    ["findings", "list"],
    ["assist", "list"],
    ["casebook", "verify"],
    ["users", "list", "--user", "admin"],
    ["batches"],
    ["explain", "JS0000000001"],
    ["screen", "--batch", "3"],
    ["rules", "versions"],
    ["rules", "impact", "rules", "--batch", "3"],
    ["rules", "promote", "1", "--region", "510100", "--from", "2026-01-01"],
    ["rules", "unshadow", "--region", "510100", "--from", "2026-01-01"],
]


@pytest.mark.parametrize("args", MISSING_CASEBOOK, ids=[" ".join(a) for a in MISSING_CASEBOOK])
def test_a_misspelt_casebook_path_is_refused_not_made(tmp_path: Path, args: list[str]) -> None:
    """`--db` naming a file that does not exist made an empty casebook there: `queue list` answered 'no
    open review cases' and `casebook verify` 'audit log intact: 0 entries' (exit 0) for a typo."""
    typo = tmp_path / "casebok.sqlite"
    result = runner.invoke(app, [*args, "--db", str(typo)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: no casebook at {typo} (no such file): give --db"), result.output
    assert not typo.exists()


def test_serve_refuses_a_misspelt_casebook(tmp_path: Path) -> None:
    """`serve --db` naming a file that does not exist made an empty casebook there and asked for a first
    administrator; it now stops at once (a subprocess with a timeout: were it to start, it would serve)."""
    typo = tmp_path / "casebok.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "drgaudit", "serve", "--port", "1", "--db", str(typo)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, DRGAUDIT_HOME=str(tmp_path / "home")),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: no casebook at {typo} (no such file): give --db")
    assert not typo.exists()


def test_the_first_account_still_makes_the_casebook(tmp_path: Path, fast_passwords: None) -> None:
    book = tmp_path / "new.sqlite"
    args = ["users", "add", "admin", "--role", "admin", "--password-stdin", "--db", str(book)]
    result = runner.invoke(app, args, input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert book.exists() and runner.invoke(app, ["queue", "list", "--db", str(book)]).exit_code == 0
