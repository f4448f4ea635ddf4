"""Boundary examples: thresholds found in the rules, pinned (or not) by examples; `rules check` warns and
`rules test --strict` fails on an unpinned one; the bundled pack passes --strict."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.boundaries import boundary_report, thresholds
from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.loader import bundled_rules_dir, load_pack

runner = CliRunner()


def codes() -> CodeTables:
    return CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))


def copy_pack(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return folder


def test_the_bundled_pack_pins_every_threshold() -> None:
    report = boundary_report(load_pack(None), codes())
    assert len(report) >= 25
    assert [p.threshold.text for p in report if not p.pinned] == []
    result = runner.invoke(app, ["rules", "test", "--strict"])
    assert result.exit_code == 0, result.output
    assert "thresholds: " in result.output and " 0 not" in result.output


def test_thresholds_found_with_their_step_and_side() -> None:
    pack = load_pack(None)
    by_rule = {r.id: thresholds(pack, r) for r in pack.rules}
    los = by_rule["LOS-001"][0]
    assert (los.text, los.op, los.step, los.turns) == ("los_days >= params.max_los_days", ">=", 1, -1)
    share = by_rule["COST-001"][0]
    assert share.step == 0.01
    icu = by_rule["OUT-ICU-001"][0]
    assert icu.step == 1  # declared `step: 1` on a number param
    window = [t for t in by_rule["SPLIT-001"] if "window_days" in t.text][0]
    assert window.op == "<=" and window.turns == 1
    # Comparisons of two facts are not thresholds; numbers compared with == are not either.
    assert not [t for t in by_rule["DQ-004"]]
    assert not [t for t in by_rule["DQ-006"] if t.text == "age == 0"]


def test_a_missing_boundary_example_warns_and_fails_strict(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    path = folder / "long_stay.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("        - name: 住院恰好60天")
    end = text.index("      miss:", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    check = runner.invoke(app, ["rules", "check", str(folder), "--boundaries"])
    assert check.exit_code == 0, check.output
    assert (
        "long_stay.yaml:17:9: warning: LOS-001: the boundary of `los_days >= params.max_los_days`"
        in check.output
    )
    assert "one exactly at it (los_days = 60)" in check.output
    strict = runner.invoke(app, ["rules", "test", str(folder), "--strict", "--rule", "LOS-001"])
    assert strict.exit_code == 1
    assert "FAIL LOS-001 boundary `los_days >= params.max_los_days`" in strict.output
    plain = runner.invoke(app, ["rules", "test", str(folder), "--rule", "LOS-001"])
    assert plain.exit_code == 0, plain.output


def test_an_example_must_decide_on_the_threshold(tmp_path: Path) -> None:
    # A 60-day stay that misses for another reason (per-diem payment) does not pin the boundary.
    folder = copy_pack(tmp_path)
    path = folder / "long_stay.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "        - name: 住院恰好60天\n          claim: {",
        "        - name: 住院恰好60天\n          claim: {payment_scheme: PER_DIEM, ",
    )
    text = text.replace("    hit:\n        - name: 住院恰好60天", "    hit:\n        - name: 住院恰好60天")
    # move it to the miss list: it no longer hits
    start = text.index("        - name: 住院恰好60天")
    end = text.index("      miss:", start)
    block = text[start:end]
    text = text[:start] + text[end:]
    text = text.replace("      miss:\n", "      miss:\n" + block, 1)
    path.write_text(text, encoding="utf-8")
    report = boundary_report(load_pack(folder), codes(), rule_ids={"LOS-001"})
    assert [p.pinned for p in report] == [False]
    assert report[0].at == [] and report[0].past == ["住院59天"]


def test_a_declared_step_must_be_positive(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    path = folder / "long_stay.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "max_los_days: {default: 60,", "max_los_days: {default: 60, step: 0,"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", str(folder)])
    assert result.exit_code == 1 and "`step` must be a positive number" in result.output
