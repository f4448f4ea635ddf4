"""The README cannot drift: its first lines are the two commands, and every command example it shows runs
as shown against the demo casebook those commands make (conventions: tests/readme_examples.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import readme_examples as ex

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETUP = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/drgaudit demo"
SUITE = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"


def test_the_readme_opens_with_the_two_commands() -> None:
    markdown = README.read_text(encoding="utf-8")
    first, second = ex.blocks(markdown)[:2]
    assert (first.kind, first.text.strip()) == ("bash", SETUP)
    assert (second.kind, second.text.strip()) == ("bash", SUITE)
    # Nothing but the title comes before them.
    assert markdown[: markdown.index("```")].strip() == "# drgaudit"


def test_every_command_example_is_run() -> None:
    assert ex.stray_commands(README.read_text(encoding="utf-8")) == []


def test_the_example_reader() -> None:
    markdown = "```console\n$ drgaudit a \\\n  --b\nout ...\n...\nlast\n\n$ drgaudit c  # exit 2\n```\n```text\n$ x\n```\n"
    (block, _text) = ex.blocks(markdown)
    first, second = ex.steps(block)
    assert (first.line, first.command, first.expected, first.exit_code) == (
        2,
        "drgaudit a \n  --b",
        ["out ...", "...", "last"],
        0,
    )
    assert (second.command, second.expected, second.exit_code) == ("drgaudit c  # exit 2", [], 2)
    (not_run,) = ex.steps(ex.Block("console", 1, "$ drgaudit serve   # not run: starts the server\n"))
    assert not not_run.run and first.run
    assert ex.matches(first.expected, ["out 1 2", "x", "y", "last"])
    assert ex.matches(first.expected, ["out x", "last"])
    assert not ex.matches(first.expected, ["out", "last"]) and not ex.matches(first.expected, ["out 1"])
    assert ex.stray_commands("text\n$ drgaudit x\n") == ["README.md:2: $ drgaudit x"]


def _script_dir() -> Path:
    scripts = Path(sys.executable).parent
    if not (scripts / "drgaudit").exists():
        pytest.skip("the drgaudit console script is not installed beside this Python")
    return scripts


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    """The README's first command, run as a user runs it on a fresh machine: `drgaudit demo` into its
    own home folder; the examples then run in the demo's folder."""
    work = tmp_path_factory.mktemp("readme")
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "DRGAUDIT_DATABASE_URL")
        },
        "PATH": f"{_script_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
        "DRGAUDIT_HOME": str(work / "home"),
        "LANG": "C.UTF-8",  # English messages, as on a fresh machine (the examples switch to zh_CN themselves)
        "COLUMNS": "120",
    }
    done = subprocess.run(["drgaudit", "demo"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return {"cwd": work / "drgaudit-demo", "env": env, "output": done.stdout}


def _run(command: str, demo: dict) -> tuple[int, list[str]]:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=demo["cwd"],
        env=demo["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return done.returncode, done.stdout.splitlines()


@pytest.fixture(scope="module")
def examples(demo: dict) -> list[str]:
    """Every `console` example run in README order (later ones build on earlier ones: a meeting is
    created, filled, decided, closed); the problems found, empty when each printed what is shown."""
    _markdown, steps = ex.read(README)
    assert len(steps) >= 20
    problems = []
    for step in steps:
        if not step.run:
            continue
        code, lines = _run(step.command, demo)
        if code != step.exit_code:
            problems.append(
                f"README.md:{step.line}: `{step.command}` exited {code}, not {step.exit_code}:\n  "
                + "\n  ".join(lines[-8:])
            )
        elif step.expected and not ex.matches(step.expected, lines):
            problems.append(
                f"README.md:{step.line}: `{step.command}` printed\n  "
                + "\n  ".join(lines[:40])
                + "\nnot what the README shows:\n  "
                + "\n  ".join(step.expected)
            )
    return problems


def test_the_readme_examples_run_as_shown(examples: list[str]) -> None:
    assert not examples, "\n\n".join(examples)


def test_the_file_screening_example_agrees_with_screen_batch(examples: list[str], demo: dict) -> None:
    """The README screens the demo's claim files (file-hits.jsonl) and the imported batch of the same
    claims (batch-hits.jsonl): the same hits, judged against the same code tables, with no false
    "code not in the code table" (DQ-001) hits."""
    folder = demo["cwd"]
    from_files = [
        json.loads(line) for line in (folder / "file-hits.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    from_batch = [
        json.loads(line) for line in (folder / "batch-hits.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(from_files) == len(from_batch) > 1000
    assert from_files == from_batch
    assert {h["code_set"] for h in from_files} == {h["code_set"] for h in from_batch}
    assert {h["code_set"].split(" (")[0] for h in from_files} == {"CHS-DRG 1.1"}
    unknown = sum(h["rule_id"] == "DQ-001" for h in from_files)
    assert unknown < len(from_files) / 20, f"{unknown} DQ-001 hits: the code tables of the two modes differ"
