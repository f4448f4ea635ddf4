"""Scoring hits against the demo's ground truth: recall, precision, look-alikes, money at risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from drgaudit.demo.generator import read_manifest
from drgaudit.demo.run import run_demo
from drgaudit.demo.score import ScoredHit, score, score_rows, table_lines

TRUTH = [
    ("C1", "split_hospitalization", "SPLIT-001", "planted"),
    ("C2", "split_hospitalization", "SPLIT-001", "planted"),
    ("C3", "split_hospitalization", "SPLIT-002", "planted"),
    ("C4", "split_hospitalization", "SPLIT-001", "lookalike"),
    ("C5", "upcoding", "UPC-002", "planted"),
    ("C5", "upcoding", "UPC-004", "planted"),
    ("C6", "upcoding", "UPC-004", "planted"),
    ("C7", "cost_shifting", "COST-001", "planted"),
]


def hit(claim: str, rule: str, family: str, action: str = "deduct", amount: float = 0.0) -> ScoredHit:
    return ScoredHit(claim, rule, family, action, amount)


def test_recall_and_precision_per_rule_and_family() -> None:
    hits = [
        hit("C1", "SPLIT-001", "split_hospitalization", "special_review", 100.0),
        hit("C3", "SPLIT-001", "split_hospitalization", "special_review", 50.0),  # planted for SPLIT-002
        hit("C3", "SPLIT-002", "split_hospitalization", "special_review", 50.0),
        hit("C4", "SPLIT-001", "split_hospitalization", "special_review", 80.0),  # a look-alike
        hit("C7", "SPLIT-002", "split_hospitalization", "special_review", 10.0),  # planted for another family
        hit("C5", "UPC-002", "upcoding", "deduct", 30.0),
        hit("C5", "UPC-004", "upcoding", "note", 0.0),
        hit("C6", "UPC-004", "upcoding", "note", 0.0),
        hit("C7", "COST-001", "cost_shifting", "deduct", 20.0),
        hit("C7", "COST-002", "cost_shifting", "note", 5.0),  # a rule with no planted case of its own
        hit("C9", "COST-002", "cost_shifting", "note", 5.0),  # a background claim
    ]
    card = score_rows(TRUTH, hits, rule_order=("SPLIT-001", "SPLIT-002", "UPC-002", "UPC-004", "COST-001"))
    assert list(card.families) == ["split_hospitalization", "upcoding", "cost_shifting"]
    assert list(card.rules) == ["SPLIT-001", "SPLIT-002", "UPC-002", "UPC-004", "COST-001", "COST-002"]

    split = card.families["split_hospitalization"]
    # Planted C1, C2, C3; hit C1, C3, C4 (look-alike) and C7 (planted for cost shifting only).
    assert (split.planted, split.detected, split.hits, split.true_hits) == (3, 2, 4, 2)
    assert (split.lookalikes, split.lookalikes_hit, split.other_hits) == (1, 1, 1)
    assert split.recall == pytest.approx(2 / 3) and split.precision == 0.5
    assert split.amount_at_risk == pytest.approx(290.0)

    s1, s2 = card.rules["SPLIT-001"], card.rules["SPLIT-002"]
    assert (s1.planted, s1.detected, s1.hits, s1.true_hits, s1.lookalikes_hit) == (2, 1, 3, 1, 1)
    assert s1.precision == pytest.approx(1 / 3) and s1.recall == 0.5
    assert (s2.planted, s2.detected, s2.hits, s2.true_hits) == (1, 1, 2, 1)
    assert s2.family == "split_hospitalization" and s2.example == "C3"

    upcoding = card.families["upcoding"]
    assert (upcoding.planted, upcoding.detected, upcoding.hits, upcoding.precision) == (2, 2, 2, 1.0)
    assert card.rules["UPC-004"].recall == 1.0 and card.rules["UPC-004"].planted == 2

    cost2 = card.rules["COST-002"]
    assert (cost2.planted, cost2.hits, cost2.true_hits, cost2.recall) == (0, 2, 1, 1.0)
    assert card.families["cost_shifting"].precision == 0.5

    assert {a: (t.hits, t.amount_at_risk) for a, t in card.actions.items()} == {
        "special_review": (5, 290.0),
        "deduct": (2, 50.0),
        "note": (4, 10.0),
    }
    assert card.hits == 11 and card.amount_at_risk == pytest.approx(350.0)
    assert card.planted == 3 + 2 + 1 and card.detected == 2 + 2 + 1 and card.lookalikes_hit == 1
    assert card.shortfalls(recall=0.95, precision=0.9) == [
        "split_hospitalization: recall 0.667 < 0.95",
        "split_hospitalization: precision 0.500 < 0.9",
        "split_hospitalization: 1 look-alike(s) hit",
        "cost_shifting: precision 0.500 < 0.9",
    ]


def test_no_hits_and_perfect_hits() -> None:
    empty = score_rows(TRUTH, [])
    assert all(f.recall == 0.0 and f.precision == 1.0 and f.hits == 0 for f in empty.families.values())
    assert empty.hits == 0 and empty.actions == {}
    perfect = score_rows(TRUTH, [hit(c, r, f) for c, f, r, kind in TRUTH if kind == "planted"])
    assert perfect.shortfalls(recall=1.0, precision=1.0) == []
    assert perfect.detected == perfect.planted == 6


def test_table_lines() -> None:
    card = score_rows(TRUTH, [hit("C1", "SPLIT-001", "split_hospitalization")], rule_order=("SPLIT-001",))
    lines = table_lines(card)
    assert lines[0].split() == [
        "family", "/", "rule", "planted", "found", "recall", "hits", "true", "precision", "look-alikes", "hit"
    ]  # fmt: skip
    assert lines[1].split() == [
        "split_hospitalization",
        "3",
        "1",
        "33.3%",
        "1",
        "1",
        "100.0%",
        "0",
        "of",
        "1",
    ]
    assert lines[2].split() == ["SPLIT-001", "2", "1", "50.0%", "1", "1", "100.0%", "0", "of", "1"]
    assert lines[2].startswith("  SPLIT-001")
    assert len(table_lines(card, rules=False)) == 1 + len(card.families)


def test_score_reads_truth_csv(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    rows = ["claim_id,family,rule_id,kind,note"] + [f"{c},{f},{r},{k},说明" for c, f, r, k in TRUTH]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    card = score(path, [hit("C5", "UPC-002", "upcoding")])
    assert card.rules["UPC-002"].recall == 1.0 and card.families["upcoding"].recall == 0.5


def test_demo_reuses_a_generated_folder(tmp_path: Path, db_url: str) -> None:
    db = db_url
    first = run_demo(tmp_path / "out", claims=1000, seed=9, db_url=db, reuse=True)
    assert not first.reused and set(first.seconds) == {"generate", "import", "screen", "score"}
    stamp = (tmp_path / "out" / "claims.csv").stat().st_mtime_ns
    again = run_demo(tmp_path / "out", claims=1000, seed=9, db_url=db, reuse=True)
    assert again.reused and again.manifest.planted_by_rule == first.manifest.planted_by_rule
    assert (tmp_path / "out" / "claims.csv").stat().st_mtime_ns == stamp
    assert all(r.already_imported for r in again.imports.values())
    assert again.score is not None and first.score is not None
    assert again.score.detected == first.score.detected == first.score.planted
    # Another size or seed is not the same demo.
    assert read_manifest(tmp_path / "out", seed=9, claims=1001) is None
    assert read_manifest(tmp_path / "out", seed=8, claims=1000) is None
    (tmp_path / "out" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert read_manifest(tmp_path / "out", seed=9, claims=1000) is None


def test_detect_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.detect import main

    args = ["--claims", "3000", "--seed", "4", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "every family meets the target (recall >= 0.95, precision >= 0.9, no look-alike hit)" in out
    lines = out.splitlines()
    split = next(line for line in lines if line.startswith("  split_hospitalization "))
    assert split.split()[3] == "100.0%" and split.split()[6] == "100.0%"
    assert any(line.split()[:1] == ["SPLIT-003"] for line in lines)
    assert any(line.startswith("  screening alone: ") and "peak RSS main" in line for line in lines)
    # An unreachable target fails, unless told not to; the folder is screened again, not regenerated.
    assert main([*args, "--reuse", "--recall", "1.01"]) == 1
    out = capsys.readouterr().out
    assert "reused in" in out and "  split_hospitalization: recall 1.000 < 1.01" in out
    assert main([*args, "--reuse", "--recall", "1.01", "--no-fail"]) == 0
