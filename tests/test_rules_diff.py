"""`rules diff OLD NEW`: semantic differences of two packs with file:line:col on both sides."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.diff import diff_packs
from drgaudit.engine.loader import bundled_rules_dir, load_pack


def copy_pack(tmp_path: Path) -> Path:
    folder = tmp_path / "new"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_formatting_is_no_difference(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    edit(
        folder / "long_stay.yaml",
        "      - los_days >= params.max_los_days",
        "      - los_days>=params.max_los_days  # 注释",
    )
    assert diff_packs(load_pack(None), load_pack(folder)) == []


def test_every_kind_of_change_with_both_positions(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    edit(folder / "long_stay.yaml", "max_los_days: {default: 60,", "max_los_days: {default: 70,")
    edit(
        folder / "long_stay.yaml",
        "      - los_days >= params.max_los_days",
        "      - los_days > params.max_los_days",
    )
    edit(folder / "long_stay.yaml", "severity: medium", "severity: high")
    edit(
        folder / "cost_shifting.yaml",
        "    status: active\n    effective: {from: 2025-01-01}\n    reference: 医保办函〔2025〕3号 院外购药",
        "    status: retired\n    effective: {from: 2025-01-01}\n    reference: 医保办函〔2025〕3号 院外购药",
    )
    edit(folder / "regions" / "510100.yaml", "drg_rate: 13500", "drg_rate: 14000")
    edit(folder / "regions" / "511300.yaml", "enabled: false", "enabled: true")
    lists = folder / "lists" / "dialysis.yaml"
    edit(lists, "items:\n", "items:\n  - Z99.200\n")
    (folder / "special_case.yaml").unlink()
    changes = diff_packs(load_pack(None), load_pack(folder))
    lines = [c.render() for c in changes]
    text = "\n".join(lines)
    assert "LOS-001: param max_los_days default 60 → 70" in text
    assert "LOS-001: when `los_days >= params.max_los_days` → `los_days > params.max_los_days`" in text
    assert "LOS-001: severity medium → high" in text
    assert "COST-002: status active → retired" in text
    assert "SPEC-001: rule removed (draft" in text
    assert "regions/510100: setting drg_rate 13500 → 14000" in text
    assert "regions/511300: override of COST-002: off → on" in text
    assert "lists/dialysis: items added Z99.200" in text
    condition = next(c for c in changes if c.what.startswith("when `los_days"))
    assert condition.old is not None and condition.new is not None
    assert condition.old.path.endswith("long_stay.yaml") and condition.new.path.endswith("long_stay.yaml")
    assert condition.old.path != condition.new.path
    assert condition.old.line == condition.new.line == 17
    removed = next(c for c in changes if c.subject == "SPEC-001")
    assert removed.old is not None and removed.new is None


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = copy_pack(tmp_path)
    same = runner.invoke(app, ["rules", "diff", str(bundled_rules_dir()), str(folder)])
    assert same.exit_code == 0 and "no semantic difference" in same.output
    edit(folder / "long_stay.yaml", "max_los_days: {default: 60,", "max_los_days: {default: 70,")
    changed = runner.invoke(app, ["rules", "diff", str(bundled_rules_dir()), str(folder)])
    assert changed.exit_code == 1 and "1 difference" in changed.output
    assert "long_stay.yaml:15" in changed.output
    (folder / "long_stay.yaml").write_text("rules: [{id: X}]\n", encoding="utf-8")
    broken = runner.invoke(app, ["rules", "diff", str(bundled_rules_dir()), str(folder)])
    assert broken.exit_code == 1 and "long_stay.yaml" in broken.output
