"""The demo's boundary cases measure where a pack's thresholds sit: the bundled pack meets every one, and a
threshold moved by one step, or an operator flipped, shows up as a missed case or a look-alike hit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drgaudit.demo.run import run_demo
from drgaudit.engine.loader import bundled_rules_dir

CLAIMS = 1500


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder / "demo", claims=CLAIMS, seed=11, db_url=f"sqlite:///{folder / 'first.sqlite'}")
    return folder


def changed(tmp_path: Path, old: str, new: str, file: str = "long_stay.yaml") -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def screen(demo_folder: Path, tmp_path: Path, rules: Path | None = None):  # type: ignore[no-untyped-def]
    result = run_demo(
        demo_folder / "demo", claims=CLAIMS, seed=11, db_url=f"sqlite:///{tmp_path / 'c.sqlite'}",
        reuse=True, rules_dir=rules,
    )  # fmt: skip
    assert result.reused and result.score is not None
    return result.score


def test_bundled_pack_meets_every_boundary(demo_folder: Path, tmp_path: Path) -> None:
    card = screen(demo_folder, tmp_path)
    assert card.shortfalls(recall=1.0, precision=1.0) == []
    assert card.rules["LOS-001"].lookalikes >= 2  # the 59-day stays


@pytest.mark.parametrize(
    ("old", "new", "missed", "lookalikes_hit"),
    [
        ("      - los_days >= params.max_los_days", "      - los_days > params.max_los_days", True, False),
        ("max_los_days: {default: 60,", "max_los_days: {default: 61,", True, False),
        ("max_los_days: {default: 60,", "max_los_days: {default: 59,", False, True),
    ],
)
def test_a_threshold_one_step_off_is_measured(
    demo_folder: Path, tmp_path: Path, old: str, new: str, missed: bool, lookalikes_hit: bool
) -> None:
    card = screen(demo_folder, tmp_path, changed(tmp_path, old, new))
    los = card.rules["LOS-001"]
    assert (los.detected < los.planted) is missed
    assert (los.lookalikes_hit > 0) is lookalikes_hit
    assert card.shortfalls(recall=1.0, precision=1.0) != []


def test_an_exemption_dropped_is_measured(demo_folder: Path, tmp_path: Path) -> None:
    """UPC-003 without its exemption of the tumour-therapy groups hits the chemotherapy look-alikes (stays
    in RE1 with no procedure coded), and nothing it should find is missed."""
    exemption = "    unless:\n      - adrg in lists.tumour_therapy_adrg\n"
    card = screen(demo_folder, tmp_path, changed(tmp_path, exemption, "", file="upcoding.yaml"))
    surgical = card.rules["UPC-003"]
    assert surgical.lookalikes_hit > 0 and surgical.detected == surgical.planted
    assert card.shortfalls(recall=1.0, precision=1.0) != []
