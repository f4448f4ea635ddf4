"""`rules mutate`: the mutation report of a pack, and trying the survivors against the Chinese scenarios.

The mutants and their examples are `drgaudit.engine.mutate`. A surviving mutant can also be tried
against the pytest-bdd scenarios of a checkout (`features/`): the mutant is written out as a copy of
the pack, and the scenario files that name the rule run against it (`DRGAUDIT_FEATURES_RULES`); a
failing scenario kills it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from drgaudit.engine.codes import CodeTables
from drgaudit.engine.mutate import Mutant, MutationReport, mutation_report
from drgaudit.engine.pack import RulePack

FEATURES_ENV = "DRGAUDIT_FEATURES_RULES"
FEATURE_TIMEOUT = 600


def feature_files(features: Path, rule_id: str) -> list[Path]:
    """The scenario test modules whose feature file names the rule."""
    found = []
    for feature in sorted(features.glob("*.feature")):
        if rule_id in feature.read_text(encoding="utf-8"):
            module = features / f"test_{feature.stem}.py"
            if module.is_file():
                found.append(module)
    return found


def try_features(pack: RulePack, mutant: Mutant, features: Path) -> None:
    """Run the scenarios that name the mutant's rule against it; a failing one kills it."""
    modules = feature_files(features, mutant.rule.id)
    if not modules:
        mutant.features = "no scenarios"
        return
    with tempfile.TemporaryDirectory(prefix="drgaudit-mutant-") as scratch:
        folder = Path(scratch) / "rules"
        if not mutant.write(pack.directory, folder):
            mutant.features = "not written"
            return
        env = {**os.environ, FEATURES_ENV: str(folder)}
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *map(str, modules)]
        done = subprocess.run(
            command, cwd=features.parent, env=env, capture_output=True, text=True, timeout=FEATURE_TIMEOUT
        )
    if done.returncode == 1:  # some scenario failed
        mutant.features = "killed"
        mutant.killed_by.append("scenarios " + ", ".join(m.stem.removeprefix("test_") for m in modules))
    else:
        mutant.features = "survived" if done.returncode == 0 else f"not run (pytest exit {done.returncode})"


def mutate_pack(
    pack: RulePack,
    codes: CodeTables,
    *,
    rule_ids: set[str] | None = None,
    features: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MutationReport:
    """Every mutant against the examples; with `features`, the survivors against the scenarios too."""
    report = mutation_report(pack, codes, rule_ids=rule_ids, progress=progress)
    if features is not None:
        for mutant in report.survivors:
            try_features(pack, mutant, features)
    return report
