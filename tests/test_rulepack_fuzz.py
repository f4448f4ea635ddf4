"""Rule files mutated at random (issue 14 "Rule packs", with `hypothesis`): YAML and rule-language tokens,
control characters, aliases, tags, huge numbers and format widths dropped into a bundled rule file, spans
cut and lines doubled. The checker never raises and never hangs; whatever it refuses is named at
`path:line:col`; whatever it accepts compiles and screens a claim without error."""

from __future__ import annotations

import re
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.loader import bundled_rules_dir, read_pack
from drgaudit.engine.screen import Screener
from tests.engine_support import claim, group, hospital, reference

# Seconds one mutated pack may take to be checked (and, if accepted, compiled and screened).
LIMIT = 20
# The rule files mutated (one per example), and what is dropped into them.
TARGETS = ("long_stay.yaml", "outliers.yaml", "split_hospitalization.yaml", "lists/dialysis.yaml")
TOKENS = [
    "&a ", "*a", "<<: *a\n", "&b [*a, *a, *a]", "[", "]", "{", "}", ": ", "- ", "\n", "\n  ", "\t", "\x00",
    "\x1b", "\x85", "\u202e", "\ufeff", "'", '"', "\\", "#", "|\n", ">-\n", "? ", "!!python/object:os.system ",
    "!!binary ", "!custom ", "%YAML 1.1\n", "---\n", "...\n", "{x:999999999}", "{amount:,.2f}", "{", "9" * 30,
    "1e400", "-1e400", ".nan", ".inf", "0x1F", "0o17", "1_000", "2025-13-45", "~", "null", "true", "no",
    " and ", " or ", "not ", "(", ")", "((((((((((", "earlier.", "params.", "region.", "==", " in [", "$",
    "__import__('os').system('id')", "los_days", "abs(", "max(", "unless:", "when:", "id: ", "status: active",
    "科", "１", "\ud800",
]  # fmt: skip
POSITION = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): ")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled pack; each example writes one mutated file into a copy of it."""
    target = tmp_path_factory.mktemp("pack") / "rules"
    shutil.copytree(bundled_rules_dir(), target, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    return target


@pytest.fixture(scope="module")
def world() -> tuple[CodeTables, list[dict], list[dict]]:
    codes = CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))
    hospitals = [hospital("H1", "510100"), hospital("H2", "510700")]
    groups = [group(code, region) for region in ("510100", "510700") for code in ("ES31", "ES33", "ES35")]
    return codes, hospitals, groups


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expired(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"a mutated pack was not dealt with within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """(file name within the pack, its mutated text): one to four edits of a bundled file."""
    name = draw(st.sampled_from(TARGETS))
    text = (bundled_rules_dir() / name).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(("insert", "insert", "cut", "double", "replace")))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end + 1
            line = text[start:end]
            new = line + line if kind == "double" else draw(st.text(max_size=40)) + "\n"
            text = text[:start] + new + text[end:]
    return name, text


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutated())
def test_a_mutated_rule_file_is_refused_where_it_stands_or_screens(
    pristine: Path,
    world: tuple[CodeTables, list[dict], list[dict]],
    tmp_path_factory: pytest.TempPathFactory,
    mutation,
) -> None:
    name, text = mutation
    folder = tmp_path_factory.mktemp("mutant") / "rules"
    shutil.copytree(pristine, folder)
    (folder / name).write_bytes(text.encode("utf-8", "surrogatepass"))
    started = time.monotonic()
    with deadline(LIMIT):
        checked = read_pack(folder)
        if not checked.ok:
            for error in checked.errors:
                rendered = error.render()
                found = POSITION.match(rendered)
                assert found, rendered
                assert Path(found["path"]).resolve().is_relative_to(folder.resolve()), rendered
                assert int(found["line"]) >= 1 and int(found["col"]) >= 1, rendered
            return
        # Accepted: it compiles into durable-rules and screens a claim of each kind of region.
        pack = checked.pack
        assert pack is not None
        codes, hospitals, groups = world
        screener = Screener(pack, reference(pack, codes, hospitals, groups))
        try:
            for region, hospital_id in (("510100", "H1"), ("510700", "H2")):
                screener.screen_patient("P1", [claim(treatment_region=region, hospital_id=hospital_id)])
        finally:
            screener.close()
    assert time.monotonic() - started < LIMIT
