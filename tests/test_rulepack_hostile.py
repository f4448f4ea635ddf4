"""Hostile rule packs (issue 14 "Rule packs"): `rules check` refuses each with `path:line:col: message`,
quickly, never by a traceback or a hang, and never half-loads the pack."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.exceptions import RulePackError
from drgaudit.engine.loader import bundled_rules_dir, load_pack, read_pack

runner = CliRunner()
# Seconds any hostile pack may take to be refused (the alias bomb used to hang for ever).
LIMIT = 20

LOS_RULE = (bundled_rules_dir() / "long_stay.yaml").read_text(encoding="utf-8")


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), target, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    return target


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the suite) if a pack is not refused in time."""

    def expired(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"not refused within {LIMIT} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(rules: Path, *fragments: str) -> str:
    """`rules check` exits 1 naming the problem at path:line:col; load_pack refuses the whole pack."""
    started = time.monotonic()
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = result.output
    for fragment in fragments:
        assert fragment in text, text
    assert text.rstrip().endswith("nothing was loaded")
    assert time.monotonic() - started < LIMIT
    return text


def los_variant(rules: Path, old: str, new: str, name: str = "long_stay.yaml") -> Path:
    text = LOS_RULE
    assert old in text, old
    path = rules / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_with_its_position(rules: Path) -> None:
    (rules / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    assert len(BOMB.encode()) < 700
    refused(rules, "bomb.yaml:5:4: aliases repeat values more than 10,000 times (an alias bomb?)")
    with pytest.raises(RulePackError, match="an alias bomb"):  # the library refuses the whole pack too
        load_pack(rules)


def test_recursive_alias_is_refused(rules: Path) -> None:
    (rules / "loop.yaml").write_text("rules: &r\n  - *r\n", encoding="utf-8")
    refused(rules, "loop.yaml:1:8: a recursive alias: this value contains itself")


def test_a_few_aliases_are_fine(rules: Path) -> None:
    text = LOS_RULE.replace("    schemes: [DRG, DIP]", "    schemes: &schemes [DRG, DIP]", 1)
    text = text.replace("    stage: 事前", "    stage: 事前\n    x-schemes-again: *schemes", 1)
    (rules / "long_stay.yaml").write_text(text, encoding="utf-8")
    # The alias is read; the unknown key is what the linter then names, at its place.
    errors = [e.render() for e in read_pack(rules).errors]
    assert len(errors) == 1 and "unknown key `x-schemes-again`" in errors[0], errors


def test_deep_nesting_is_refused(rules: Path) -> None:
    (rules / "deep.yaml").write_text("rules: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    refused(rules, "deep.yaml:1:", "nested more than 64 levels deep")


@pytest.mark.parametrize(
    ("escaped", "code"),
    [("\\x1b[2J", "001B"), ("\\0", "0000"), ("\\u202e", "202E"), ("\\x07", "0007")],
)
def test_control_characters_in_values_are_refused(rules: Path, escaped: str, code: str) -> None:
    los_variant(rules, "    title: 超长住院病例", f'    title: "超长住院{escaped}病例"')
    refused(rules, "long_stay.yaml:3:", f"a control character (U+{code}) in the text")


def test_raw_control_bytes_in_a_file_are_refused(rules: Path) -> None:
    path = los_variant(rules, "超长住院病例", "超长住院\x07病例")
    assert b"\x07" in path.read_bytes()
    refused(rules, "long_stay.yaml:3:", "a control character (#x0007) in the file")


def test_very_long_and_very_deep_expressions_are_refused(rules: Path) -> None:
    long_when = " and ".join(["los_days >= params.max_los_days"] * 80)
    los_variant(rules, "      - los_days >= params.max_los_days", f"      - {long_when}")
    refused(rules, "long_stay.yaml:17:", "characters long; at most 2,000")
    los_variant(
        rules, "      - los_days >= params.max_los_days", "      - los_days >= " + "(" * 300 + "1" + ")" * 300
    )
    refused(rules, "long_stay.yaml:17:", "too many nested parentheses")
    los_variant(
        rules,
        "      - los_days >= params.max_los_days",
        "      - los_days >= " + "abs(" * 60 + "1" + ")" * 60,
    )
    refused(rules, "long_stay.yaml:17:", "nests more than 40 levels deep")
    los_variant(rules, "      - los_days >= params.max_los_days", "      - los_days >= 0" + " + 1" * 200)
    refused(rules, "long_stay.yaml:17:", "nests more than 40 levels deep")


@pytest.mark.parametrize("spec", ["999999999", "1000", ">999999", ".999f", ",.99999999999f"])
def test_unbounded_format_widths_in_messages_are_refused(rules: Path, spec: str) -> None:
    los_variant(rules, "住院{los_days}天", "住院{los_days:" + spec + "}天")
    refused(rules, "long_stay.yaml:18:", "format")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{default: 60, type: int",
            "{default: .inf, type: number",
            "default of `max_los_days` is not of type number",
        ),
        ("{default: 60, type: int", "{default: 1.0e+999, type: number", "is not of type number: inf"),
        ("{default: 60, type: int", "{default: .nan, type: number", "is not of type number: nan"),
        (
            "{default: 60, type: int",
            "{default: 6e1, type: int",
            "'6e1' (YAML reads 6e1 as text; write the whole number 60)",
        ),
        ("{default: 60, type: int", "{default: 99999999999999999999, type: int", "larger than 2^53"),
        ("los_days >= params.max_los_days", "los_days >= 99999999999999999999", "larger than 2^53"),
        ("los_days >= params.max_los_days", "los_days >= 1e999", "overflows to infinity"),
    ],
)
def test_numbers_durable_rules_cannot_hold_are_refused(rules: Path, old: str, new: str, message: str) -> None:
    los_variant(rules, old, new)
    refused(rules, "long_stay.yaml:", message)


def test_fifos_devices_directories_and_huge_files_are_refused(rules: Path) -> None:
    os.mkfifo(rules / "fifo.yaml")  # opening it for reading would wait for a writer for ever
    (rules / "folder.yaml").mkdir()
    (rules / "zero.yaml").symlink_to("/dev/zero")
    (rules / "lists" / "huge.yaml").write_bytes(b"# " + b"x" * (5 * 1024 * 1024) + b"\n")
    text = refused(rules)
    assert "fifo.yaml:1:1: not a regular file (a FIFO)" in text
    assert "folder.yaml:1:1: not a regular file (a directory)" in text
    assert "zero.yaml:1:1: not a regular file (a device or socket)" in text
    assert "huge.yaml:1:1: 5,242,883 bytes; a rule file has at most 4,194,304" in text


def test_a_fifo_as_the_pack_file_is_refused(rules: Path) -> None:
    (rules / "pack.yaml").unlink()
    os.mkfifo(rules / "pack.yaml")
    refused(rules, "pack.yaml:1:1: not a regular file (a FIFO)")


def test_not_utf8_names_its_line(rules: Path) -> None:
    path = rules / "long_stay.yaml"
    path.write_bytes(
        LOS_RULE.encode("utf-8").replace("超长住院病例".encode(), "超长住院病例".encode("gbk"), 1)
    )
    refused(rules, "long_stay.yaml:3:1: not UTF-8 text")
