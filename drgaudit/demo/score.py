"""How well a screen found the demo's planted cases: per family, planted vs detected, look-alikes spared."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FamilyScore:
    """Detection of one violation family against the ground truth."""

    family: str
    planted: int = 0
    detected: int = 0
    lookalikes: int = 0
    lookalikes_hit: int = 0
    other_hits: int = 0
    example: str | None = None  # a detected planted claim, to try `drgaudit explain` on

    @property
    def recall(self) -> float:
        return self.detected / self.planted if self.planted else 1.0


@dataclass
class Scorecard:
    """Per-family scores, in the order of the truth file's families."""

    families: dict[str, FamilyScore] = field(default_factory=dict)

    @property
    def planted(self) -> int:
        return sum(f.planted for f in self.families.values())

    @property
    def detected(self) -> int:
        return sum(f.detected for f in self.families.values())

    @property
    def lookalikes_hit(self) -> int:
        return sum(f.lookalikes_hit for f in self.families.values())


def score(truth_path: Path, hits: Iterable[tuple[str, str]]) -> Scorecard:
    """Compare hits, as (claim_id, family) pairs, with truth.csv (claim_id, family, rule_id, kind, note)."""
    planted: dict[str, set[str]] = {}
    lookalike: dict[str, set[str]] = {}
    with open(truth_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            target = planted if row["kind"] == "planted" else lookalike
            target.setdefault(row["family"], set()).add(row["claim_id"])
    hit_claims: dict[str, set[str]] = {}
    for claim_id, family in hits:
        hit_claims.setdefault(family, set()).add(claim_id)
    card = Scorecard()
    for family in list(dict.fromkeys([*planted, *lookalike, *hit_claims])):
        mine = hit_claims.get(family, set())
        truth_planted = planted.get(family, set())
        truth_lookalike = lookalike.get(family, set())
        card.families[family] = FamilyScore(
            family=family,
            planted=len(truth_planted),
            detected=len(mine & truth_planted),
            lookalikes=len(truth_lookalike),
            lookalikes_hit=len(mine & truth_lookalike),
            other_hits=len(mine - truth_planted - truth_lookalike),
            example=min(mine & truth_planted, default=None),
        )
    return card
