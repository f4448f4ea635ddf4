"""How well a screen found the demo's planted cases: recall and precision per family and per rule,
look-alikes spared, and the money at risk by family and by action.

Ground truth is truth.csv (claim_id, family, rule_id, kind, note). A hit of a rule is true when the truth
plants that claim for that rule; for a rule the demo plants nothing for (COST-002, say) a hit is true
when the claim is planted for a rule of the same family. A family's hits are the distinct claims its
rules hit; one is true when the claim is planted for a rule of that family, so a hit on a claim planted
for another family counts against this family unless the truth lists the claim for it too.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drgaudit.i18n import _
from drgaudit.terminal import coded, pad, shown_family, width

PLANTED, LOOKALIKE = "planted", "lookalike"


@dataclass(frozen=True)
class ScoredHit:
    """What scoring needs of one hit."""

    claim_id: str
    rule_id: str
    family: str
    action: str = ""
    amount_at_risk: float = 0.0


@dataclass
class Score:
    """Detection of one rule or one family against the ground truth."""

    name: str
    family: str
    planted: int = 0
    detected: int = 0  # planted claims hit (by the rule; for a family, by any of its rules)
    hits: int = 0  # distinct claims hit
    true_hits: int = 0
    lookalikes: int = 0
    lookalikes_hit: int = 0
    amount_at_risk: float = 0.0
    example: str | None = None  # a detected planted claim, to try `drgaudit explain` on

    @property
    def recall(self) -> float:
        return self.detected / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.true_hits / self.hits if self.hits else 1.0

    @property
    def other_hits(self) -> int:
        """Hits that are neither true nor on a look-alike."""
        return self.hits - self.true_hits - self.lookalikes_hit


@dataclass
class ActionTotal:
    """Hits and money at risk of one action (deduct, hold, special_review, note)."""

    action: str
    hits: int = 0
    amount_at_risk: float = 0.0


@dataclass
class Scorecard:
    """Per-family and per-rule scores (families in truth-file order) and totals by action."""

    families: dict[str, Score] = field(default_factory=dict)
    rules: dict[str, Score] = field(default_factory=dict)
    actions: dict[str, ActionTotal] = field(default_factory=dict)

    @property
    def planted(self) -> int:
        return sum(f.planted for f in self.families.values())

    @property
    def detected(self) -> int:
        return sum(f.detected for f in self.families.values())

    @property
    def lookalikes_hit(self) -> int:
        return sum(f.lookalikes_hit for f in self.families.values())

    @property
    def hits(self) -> int:
        return sum(a.hits for a in self.actions.values())

    @property
    def amount_at_risk(self) -> float:
        return sum(a.amount_at_risk for a in self.actions.values())

    def shortfalls(self, *, recall: float, precision: float) -> list[str]:
        """Families below a recall or precision target, or hitting a look-alike, each with the reason."""
        found = []
        for fam in self.families.values():
            if fam.recall < recall:
                found.append(f"{fam.name}: recall {fam.recall:.3f} < {recall}")
            if fam.precision < precision:
                found.append(f"{fam.name}: precision {fam.precision:.3f} < {precision}")
            if fam.lookalikes_hit:
                found.append(f"{fam.name}: {fam.lookalikes_hit} look-alike(s) hit")
        return found


def read_truth(truth_path: Path) -> list[tuple[str, str, str, str]]:
    """(claim_id, family, rule_id, kind) of every truth.csv row."""
    with open(truth_path, encoding="utf-8", newline="") as f:
        return [(r["claim_id"], r["family"], r["rule_id"], r["kind"]) for r in csv.DictReader(f)]


def score(truth_path: Path, hits: Iterable[ScoredHit], *, rule_order: Sequence[str] = ()) -> Scorecard:
    """Score hits against truth.csv; rules (and their families) listed in `rule_order` come first."""
    return score_rows(read_truth(truth_path), hits, rule_order=rule_order)


def score_rows(
    truth: Iterable[tuple[str, str, str, str]], hits: Iterable[ScoredHit], *, rule_order: Sequence[str] = ()
) -> Scorecard:
    """Score hits against truth rows (claim_id, family, rule_id, kind)."""
    planted: dict[str, set[str]] = defaultdict(set)  # rule -> claims
    lookalike: dict[str, set[str]] = defaultdict(set)
    family_planted: dict[str, set[str]] = defaultdict(set)  # family -> claims
    family_lookalike: dict[str, set[str]] = defaultdict(set)
    family_of: dict[str, str] = {}
    for claim_id, family, rule_id, kind in truth:
        family_of[rule_id] = family
        if kind == PLANTED:
            planted[rule_id].add(claim_id)
            family_planted[family].add(claim_id)
        else:
            lookalike[rule_id].add(claim_id)
            family_lookalike[family].add(claim_id)
    rule_hits: dict[str, set[str]] = defaultdict(set)
    family_hits: dict[str, set[str]] = defaultdict(set)
    card = Scorecard()
    amounts: dict[str, float] = defaultdict(float)
    for hit in hits:
        family_of.setdefault(hit.rule_id, hit.family)
        rule_hits[hit.rule_id].add(hit.claim_id)
        family_hits[hit.family].add(hit.claim_id)
        amounts[hit.rule_id] += hit.amount_at_risk
        total = card.actions.setdefault(hit.action, ActionTotal(hit.action))
        total.hits += 1
        total.amount_at_risk += hit.amount_at_risk

    position = {rule_id: i for i, rule_id in enumerate(rule_order)}
    ordered = sorted(family_of, key=lambda r: (position.get(r, len(position)), r))
    family_of = {rule_id: family_of[rule_id] for rule_id in ordered}
    for family in dict.fromkeys(family_of.values()):
        mine = family_hits.get(family, set())
        truth_planted = family_planted.get(family, set())
        truth_lookalike = family_lookalike.get(family, set()) - truth_planted
        card.families[family] = Score(
            name=family,
            family=family,
            planted=len(truth_planted),
            detected=len(mine & truth_planted),
            hits=len(mine),
            true_hits=len(mine & truth_planted),
            lookalikes=len(truth_lookalike),
            lookalikes_hit=len(mine & truth_lookalike),
            example=min(mine & truth_planted, default=None),
        )
    for rule_id, family in family_of.items():
        mine = rule_hits.get(rule_id, set())
        truth_planted = planted.get(rule_id, set())
        # A rule the demo plants nothing for is judged by its family's planted claims.
        counted = truth_planted or family_planted.get(family, set())
        truth_lookalike = lookalike.get(rule_id, set()) - truth_planted
        card.rules[rule_id] = Score(
            name=rule_id,
            family=family,
            planted=len(truth_planted),
            detected=len(mine & truth_planted),
            hits=len(mine),
            true_hits=len(mine & counted),
            lookalikes=len(truth_lookalike),
            lookalikes_hit=len(mine & truth_lookalike),
            amount_at_risk=amounts.get(rule_id, 0.0),
            example=min(mine & truth_planted, default=None),
        )
        card.families[family].amount_at_risk += amounts.get(rule_id, 0.0)
    return card


def table_lines(
    card: Scorecard, *, rules: bool = True, families: Mapping[str, str] | None = None
) -> list[str]:
    """The recall/precision table: one line per family, then (with `rules`) its rules indented; headings and
    families in the user's language (`drgaudit.i18n`; `families`: the names rule files declare)."""
    heads = [
        _("planted"),
        _("found"),
        _("recall"),
        _("hits"),
        _("true"),
        _("precision"),
        _("look-alikes hit"),
    ]
    sizes = [max(n, width(h)) for n, h in zip((7, 6, 7, 6, 6, 9, 15), heads, strict=True)]
    lines = [
        " ".join([pad(_("family / rule"), 26), *(pad(h, n, ">") for h, n in zip(heads, sizes, strict=True))])
    ]
    for fam in card.families.values():
        lines.append(_line(shown_family(fam.name, families), fam, sizes))
        if rules:
            lines += [_line(f"  {r.name}", r, sizes) for r in card.rules.values() if r.family == fam.name]
    return lines


def _line(label: str, s: Score, sizes: list[int]) -> str:
    values = [
        str(s.planted),
        str(s.detected),
        f"{s.recall:.1%}",
        str(s.hits),
        str(s.true_hits),
        f"{s.precision:.1%}",
    ]
    # The look-alikes hit, right-aligned in 7 columns and followed by how many there are (not padded).
    hit = _("{hit} of {all}").format(hit=f"{s.lookalikes_hit:>7}", all=s.lookalikes)
    return " ".join([pad(label, 26), *(pad(v, n, ">") for v, n in zip(values, sizes[:6], strict=True)), hit])


def amount_lines(card: Scorecard, families: Mapping[str, str] | None = None) -> list[str]:
    """Hits and yuan at risk by family, then by action (names in the user's language, as `table_lines`)."""

    def line(name: str, hits: object, amount: str) -> str:
        return f"{pad(name, 26)} {pad(str(hits), 6, '>')} {pad(amount, 22, '>')}"

    lines = [line(_("family"), _("hits"), _("amount at risk (yuan)"))]
    for fam in card.families.values():
        hits = sum(r.hits for r in card.rules.values() if r.family == fam.name)
        lines.append(line(shown_family(fam.name, families), hits, f"{fam.amount_at_risk:,.2f}"))
    lines.append(line(_("action"), _("hits"), _("amount at risk (yuan)")))
    for action in sorted(card.actions.values(), key=lambda a: -a.amount_at_risk):
        lines.append(line(coded("action", action.action), action.hits, f"{action.amount_at_risk:,.2f}"))
    lines.append(line(_("total"), card.hits, f"{card.amount_at_risk:,.2f}"))
    return lines
