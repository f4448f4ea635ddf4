"""Static checks of the whole code base: mypy over every module, with the package folders made visible.

pyproject.toml maps `drgaudit.engine` to `engine/`, `drgaudit.casebook` to `casebook/`, … (setuptools
`package-dir`). An editable install reaches them through an import hook that mypy cannot follow, so
`mypy -p drgaudit` alone sees only the modules under `drgaudit/`. `package_tree()` lays out the package
as Python imports it, as a tree of symbolic links generated from that same mapping (so it can never
disagree with the install), and `run_mypy()` checks the tree and reports every error at its real path
(`engine/expr.py:12: …`), with the strictness set in pyproject's `[tool.mypy]`.

Run by hand:  .venv/bin/python -m tests.static   (every error fails tests/test_static.py: fix it, or for a
third-party stub that is wrong, a narrow `# type: ignore[code]` that says why).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mypy"


def package_dirs() -> dict[str, Path]:
    """The setuptools `package-dir` mapping: package name -> its folder in the repository."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {package: ROOT / folder for package, folder in mapping.items()}


def package_tree(target: Path = WORK / "tree") -> Path:
    """A folder where `drgaudit/…` is laid out as it imports: links to the mapped folders (rebuilt)."""
    dirs = package_dirs()
    root_package = "drgaudit"
    top = target / root_package
    target.mkdir(parents=True, exist_ok=True)
    if top.is_symlink() or top.is_file():
        top.unlink()
    if top.exists():
        for path in sorted(top.rglob("*"), reverse=True):
            if path.is_symlink() or path.is_file():
                path.unlink()
            else:
                path.rmdir()
        top.rmdir()
    top.mkdir()
    for entry in sorted(dirs[root_package].iterdir()):
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in sorted(dirs.items()):
        if package == root_package:
            continue
        link = target.joinpath(*package.split("."))
        if link.is_symlink():
            link.unlink()
        link.symlink_to(folder)
    return target


def _real_path(line: str) -> str:
    """An error line of the tree (`drgaudit/engine/expr.py:12: …`) pointed at the repository's file."""
    dirs = package_dirs()
    for package in sorted(dirs, key=len, reverse=True):
        prefix = package.replace(".", "/") + "/"
        if line.startswith(prefix):
            return os.path.relpath(dirs[package], ROOT) + "/" + line[len(prefix) :]
    return line


def modules(tree: Path) -> list[str]:
    """Every module of the tree that mypy checks (migrations excluded), as a path under the tree."""
    found = []
    for folder, _dirs, files in os.walk(tree, followlinks=True):
        relative = os.path.relpath(folder, tree)
        if "migrations" in relative.split(os.sep) or "__pycache__" in relative:
            continue
        found += [os.path.join(relative, f) for f in files if f.endswith(".py")]
    return sorted(found)


def run_mypy() -> tuple[int, list[str], int]:
    """(exit status, error lines at their real paths, number of modules checked)."""
    tree = package_tree()
    command = [
        sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(WORK / "cache"), "--no-error-summary", "--show-error-codes", "-p", "drgaudit",
    ]  # fmt: skip
    env = {**os.environ, "MYPYPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    lines = [_real_path(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, len(modules(tree))


if __name__ == "__main__":
    status, errors, checked = run_mypy()
    print("\n".join(errors))
    print(f"mypy: {len(errors)} lines over {checked} modules")
    sys.exit(status)
