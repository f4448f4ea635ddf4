"""`rules mutate`: the bundled pack's mutation score stays at 95% or more; survivors are real gaps."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.diff import diff_packs
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.mutate import mutants, mutation_report
from drgaudit.services.mutation import try_features

MIN_SCORE = 0.95
# The one mutant no example can kill: `payment_kind == "extreme"` already means cost_ratio > the limit,
# so `cost_ratio >= extreme_ratio_limit` changes nothing (README "Mutation testing").
EQUIVALENT = {("OUT-EXT-001", "when `cost_ratio > extreme_ratio_limit`: > → >=")}
FEATURES = Path(__file__).resolve().parent.parent / "features"


def codes() -> CodeTables:
    return CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))


def test_bundled_pack_mutation_score() -> None:
    report = mutation_report(load_pack(None), codes())
    assert len(report.mutants) >= 80
    assert {(m.rule.id, m.description) for m in report.survivors} <= EQUIVALENT
    assert report.score >= MIN_SCORE
    kinds = {m.kind for m in report.mutants}
    assert kinds == {"operator", "param", "unless"}


def test_each_mutant_writes_out_as_exactly_its_change(tmp_path: Path) -> None:
    pack = load_pack(None)
    for rule_id in ("LOS-001", "SPLIT-001", "UPC-001"):
        rule = next(r for r in pack.rules if r.id == rule_id)
        for number, mutant in enumerate(mutants(rule)):
            folder = tmp_path / f"{rule_id}-{number}"
            assert mutant.write(pack.directory, folder), mutant.description
            changes = diff_packs(pack, load_pack(folder))
            assert len(changes) == 1, (mutant.description, [c.render() for c in changes])
            assert changes[0].subject == rule_id


def test_weak_examples_let_mutants_survive(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "long_stay.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("        - name: 住院恰好60天")
    path.write_text(text[:start] + text[text.index("      miss:", start) :], encoding="utf-8")
    report = mutation_report(load_pack(folder), codes(), rule_ids={"LOS-001"})
    assert sorted(m.description for m in report.survivors) == [
        "param max_los_days 60 → 61",
        "when `los_days >= params.max_los_days`: >= → >",
    ]
    result = CliRunner().invoke(
        app, ["rules", "mutate", str(folder), "--rule", "LOS-001", "--min-score", "0.95"]
    )
    assert result.exit_code == 1
    assert "SURVIVED LOS-001 param max_los_days 60 → 61" in result.output
    assert "mutation score 33.3%" in result.output


def test_scenarios_can_kill_a_survivor(tmp_path: Path) -> None:
    # Without its 60-day example, the flipped LOS-001 survives the examples, but not the scenarios.
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "long_stay.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("        - name: 住院恰好60天")
    path.write_text(text[:start] + text[text.index("      miss:", start) :], encoding="utf-8")
    pack = load_pack(folder)
    report = mutation_report(pack, codes(), rule_ids={"LOS-001"})
    flipped = next(m for m in report.survivors if m.kind == "operator")
    try_features(pack, flipped, FEATURES)
    assert flipped.features == "killed" and flipped.killed
