"""bench/compare.py: `screen --batch` of this checkout against another commit's, each on its own demo.

The full run makes a venv for the base commit (pip install, about 20 s offline); these tests give it
this interpreter instead (`--base-python`), which runs this checkout: with `--base HEAD` both sides
are the same code, so they must find the same hits. The worktree's set-up and
removal are tested with an interpreter that imports the wrong checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import compare

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "compare.py"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module", autouse=True)
def _a_git_checkout() -> None:
    try:
        _git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("bench/compare.py needs a git checkout")


def test_the_same_code_on_both_sides_finds_the_same_hits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures_path = tmp_path / "figures.json"
    status = compare.main(
        ["--base", "HEAD", "--base-python", sys.executable, "--claims", "2000", "--workers", "1"]
        + ["--rounds", "1", "--out", str(tmp_path / "work"), "--json", str(figures_path)]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    figures = json.loads(figures_path.read_text())
    head = _git("rev-parse", "HEAD")
    assert figures["base"]["commit"].removesuffix("+changes") == head
    assert figures["current"]["commit"].removesuffix("+changes") == head
    base, current = figures["runs"]
    assert (base["version"], current["version"]) == ("base", "current")
    assert base["claims"] == current["claims"] == 2000
    assert base["rules"] == current["rules"] > 30
    # Each side generated, imported and screened its own demo with the same code: the same JSONL.
    assert base["hits"] == current["hits"] > 100
    assert base["jsonl_sha256"] == current["jsonl_sha256"]
    for run in (base, current):
        assert run["seconds"] > 0 and run["cpu_seconds"] > 0
        assert 30 < run["peak_rss_mib"] < 2000  # a Python process's, not a sum and not in KiB
    (ratio,) = figures["ratios"]
    assert ratio == figures["median_ratio"]
    # The ratio is the runs' claims/s divided (how near 1 it is says only how noisy the machine was: a
    # speed is measured by the bench, never asserted by a test).
    assert ratio == pytest.approx(current["claims_per_second"] / base["claims_per_second"], abs=0.002)
    assert figures["cpu_ratios"] == [pytest.approx(base["cpu_seconds"] / current["cpu_seconds"], abs=0.002)]
    assert "claims/s current/base:" in out and f"{base['hits']:,}" in out
    for step in (
        "generating 2,000 demo claims",
        "imported in",
        "run 1/1: screening 2,000 claims on 1 worker",
    ):
        assert step in err
    if figures["current"]["commit"].endswith("+changes"):
        return  # code with uncommitted changes makes its demo afresh every time
    # The demo and casebook of a commit are reused by the next run in the same folder.
    again = ["--base", "HEAD", "--base-python", sys.executable, "--claims", "2000", "--workers", "1"]
    assert compare.main(again + ["--rounds", "1", "--out", str(tmp_path / "work"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "reusing the demo and casebook" in err and "generating" not in err
    assert json.loads(out)["runs"][0]["hits"] == base["hits"]


def test_a_missing_commit_is_one_line_and_status_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--base", "no-such-commit", "--claims", "1000", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: no commit 'no-such-commit' in the repository of {ROOT}"
    assert done.stdout == ""


def test_base_python_must_run_the_base_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _git("rev-list", "--max-parents=0", "HEAD").splitlines()[-1]
    if first == _git("rev-parse", "HEAD"):
        pytest.skip("the repository has one commit")
    status = compare.main(["--base", first, "--base-python", sys.executable, "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert f"runs the drgaudit of {ROOT}" in err and f"not the base {first[:12]}" in err
    assert "Traceback" not in err


def test_the_worktree_is_made_and_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A venv already in --out is reused; here its python imports this checkout, not the worktree's,
    which the comparison refuses; the worktree it made is removed all the same."""
    head = _git("rev-parse", "HEAD")
    venv = tmp_path / f"venv-{head[:12]}"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (venv / "drgaudit-compare.json").write_text(json.dumps({"commit": head}))
    status = compare.main(["--base", "HEAD", "--claims", "1000", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    worktree = tmp_path / f"src-{head[:12]}"
    assert f"checking out {head[:12]} as a worktree in {worktree}" in err
    assert f"reusing the venv {venv}" in err
    assert f"imports drgaudit from {ROOT / 'drgaudit'}, not from {worktree}" in err
    assert f"removing the worktree {worktree}" in err
    assert not worktree.exists()
    assert str(worktree) not in _git("worktree", "list")
