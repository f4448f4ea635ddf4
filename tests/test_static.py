"""Checks that keep the code base as it is meant to be: mypy over every module (strict on engine/),
`ruff format`, and no function above cyclomatic complexity 15 in engine/ and casebook/."""

from __future__ import annotations

import subprocess
import sys

from tests.static import ROOT, modules, package_dirs, package_tree, run_mypy


def test_the_package_tree_holds_every_module_of_every_package_folder() -> None:
    tree = package_tree()
    on_disk = {
        f"{package.replace('.', '/')}/{path.relative_to(folder)}"
        for package, folder in package_dirs().items()
        for path in folder.rglob("*.py")
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    }
    assert set(modules(tree)) >= on_disk
    assert len(on_disk) > 100


def test_mypy_over_every_module_strict_on_the_engine() -> None:
    status, lines, checked = run_mypy()
    assert checked > 100
    errors = [line for line in lines if ": error:" in line]
    assert status in (0, 1), "\n".join(lines)  # 2 is a crash or a bad configuration
    assert not errors, f"{len(errors)} mypy errors:\n" + "\n".join(lines)
    assert status == 0, "\n".join(lines)


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_function_above_complexity_15_in_engine_and_casebook() -> None:
    # ruff's mccabe rule (C901); kept out of the project-wide `ruff check` so other folders are not held to it.
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C901", "--config", "lint.mccabe.max-complexity=15",
         "--output-format", "concise", "engine", "casebook"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
