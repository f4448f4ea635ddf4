"""The semantic difference of two rule packs: what screening would do differently, with file:line on both sides.

Rules are matched by id (and by start date when an id has several versions); conditions are compared as
parsed expressions written back in normal form, so spacing and quoting do not count as changes, while a
changed operator, name or number does. Lists are compared item by item, region files setting by setting
and override by override. Comments, key order and formatting are not differences.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from drgaudit.engine.expr import Expression, render
from drgaudit.engine.pack import RulePack
from drgaudit.engine.region import RegionConfig
from drgaudit.engine.rule import Param, Rule
from drgaudit.engine.yamlsource import Position

# Rule attributes compared one by one: (attribute, YAML key, label).
RULE_FIELDS = (
    ("title", "title", "title"),
    ("family", "family", "family"),
    ("severity", "severity", "severity"),
    ("action", "action", "action"),
    ("scope", "scope", "scope"),
    ("schemes", "schemes", "schemes"),
    ("stage", "stage", "stage"),
    ("status", "status", "status"),
    ("effective_from", "effective", "effective from"),
    ("effective_to", "effective", "effective to"),
    ("pair", "pair", "pair"),
    ("reference", "reference", "reference"),
    ("description", "description", "description"),
)
PARAM_FIELDS = (("type", "type"), ("default", "default"), ("minimum", "min"), ("maximum", "max"))


@dataclass(frozen=True)
class Change:
    """One difference: what it is about, a sentence, and where it is written in the old and the new pack."""

    subject: str  # a rule id, `lists/<name>`, `regions/<code>`, `pack`
    kind: str  # added, removed, changed
    what: str
    old: Position | None = None
    new: Position | None = None

    def render(self) -> str:
        where = f"{self.old or '—'} → {self.new or '—'}"
        return f"{self.subject}: {self.what}  ({where})"


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"' if value == "" or " " in value else value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def diff_packs(old: RulePack, new: RulePack) -> list[Change]:
    """Every semantic difference between two loaded packs, rules first, then lists and regions."""
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("pack", "changed", f"name {_show(old.name)} → {_show(new.name)}"))
    changes += _rules(old, new)
    changes += _lists(old, new)
    changes += _regions(old, new)
    return changes


def _match_rules(old: RulePack, new: RulePack) -> list[tuple[Rule | None, Rule | None]]:
    """Pairs of the same rule in both packs (by key, then by id for versions whose start date moved)."""
    old_by_key = {r.key: r for r in old.rules}
    new_by_key = {r.key: r for r in new.rules}
    pairs: list[tuple[Rule | None, Rule | None]] = [
        (old_by_key[key], new_by_key[key]) for key in old_by_key if key in new_by_key
    ]
    old_left = [r for key, r in old_by_key.items() if key not in new_by_key]
    new_left = [r for key, r in new_by_key.items() if key not in old_by_key]
    for rule in list(old_left):
        partner = next((r for r in new_left if r.id == rule.id), None)
        if partner is not None and sum(r.id == rule.id for r in old_left) == 1:
            pairs.append((rule, partner))
            old_left.remove(rule)
            new_left.remove(partner)
    pairs += [(r, None) for r in old_left] + [(None, r) for r in new_left]
    return sorted(pairs, key=_pair_order)


def _pair_order(pair: tuple[Rule | None, Rule | None]) -> tuple[str, Any]:
    rule = pair[0] or pair[1]
    assert rule is not None  # every pair has a rule on one side at least
    return rule.id, rule.effective_from


def _rules(old: RulePack, new: RulePack) -> list[Change]:
    changes: list[Change] = []
    for before, after in _match_rules(old, new):
        if before is None:
            assert after is not None
            changes.append(
                Change(after.id, "added", f"rule added ({after.status}, {after.title})", None, after.position)
            )
            continue
        if after is None:
            changes.append(
                Change(
                    before.id, "removed", f"rule removed ({before.status}, {before.title})", before.position
                )
            )
            continue
        changes += _rule_changes(before, after)
    return changes


def _at(rule: Rule, key: str) -> Position:
    return rule.data.value_at(key) if key in rule.data else rule.position


def _rule_changes(before: Rule, after: Rule) -> list[Change]:
    changes: list[Change] = []
    for attribute, key, label in RULE_FIELDS:
        a, b = getattr(before, attribute), getattr(after, attribute)
        if a != b:
            shown = (
                f"{label} {_show(a)} → {_show(b)}" if attribute != "description" else "description changed"
            )
            changes.append(Change(before.id, "changed", shown, _at(before, key), _at(after, key)))
    changes += _param_changes(before, after)
    for kind in ("when", "unless"):
        changes += _condition_changes(before, after, kind)
    if before.amount_at_risk.source != after.amount_at_risk.source and render(
        before.amount_at_risk.root
    ) != render(after.amount_at_risk.root):
        changes.append(
            Change(
                before.id, "changed",
                f"amount_at_risk `{before.amount_at_risk.source}` → `{after.amount_at_risk.source}`",
                before.amount_at_risk.position, after.amount_at_risk.position,
            )
        )  # fmt: skip
    if before.message.source != after.message.source:
        changes.append(
            Change(before.id, "changed", "message changed", _at(before, "message"), _at(after, "message"))
        )
    counts = [Counter(e.expect for e in r.examples) for r in (before, after)]
    if counts[0] != counts[1]:
        changes.append(
            Change(
                before.id, "changed",
                f"examples {counts[0]['hit']} hit / {counts[0]['miss']} miss → {counts[1]['hit']} hit / {counts[1]['miss']} miss",
                _at(before, "examples"), _at(after, "examples"),
            )
        )  # fmt: skip
    return changes


def _param_changes(before: Rule, after: Rule) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(before.params) | set(after.params)):
        a: Param | None = before.params.get(name)
        b: Param | None = after.params.get(name)
        if a is None and b is not None:
            changes.append(
                Change(
                    before.id, "added", f"param {name} added (default {_show(b.default)})", None, b.position
                )
            )
        elif b is None and a is not None:
            changes.append(
                Change(
                    before.id, "removed", f"param {name} removed (was {_show(a.default)})", a.position, None
                )
            )
        elif a is not None and b is not None:
            for attribute, label in PARAM_FIELDS:
                if getattr(a, attribute) != getattr(b, attribute):
                    changes.append(
                        Change(
                            before.id, "changed",
                            f"param {name} {label} {_show(getattr(a, attribute))} → {_show(getattr(b, attribute))}",
                            a.position, b.position,
                        )
                    )  # fmt: skip
    return changes


def _condition_changes(before: Rule, after: Rule, kind: str) -> list[Change]:
    """Conditions compared in normal form: removed ones, added ones, and at the same place changed ones."""
    old: list[Expression] = list(getattr(before, kind))
    new: list[Expression] = list(getattr(after, kind))
    old_text = [render(e.root) for e in old]
    new_text = [render(e.root) for e in new]
    removed = [i for i, text in enumerate(old_text) if text not in new_text]
    added = [i for i, text in enumerate(new_text) if text not in old_text]
    changes: list[Change] = []
    # A condition replaced at the same place reads best as one change.
    paired = [(i, j) for i, j in zip(removed, added, strict=False) if i == j]
    for i, j in paired:
        changes.append(
            Change(
                before.id,
                "changed",
                f"{kind} `{old[i].source}` → `{new[j].source}`",
                old[i].position,
                new[j].position,
            )
        )
    done_old = {i for i, _ in paired}
    done_new = {j for _, j in paired}
    for i in removed:
        if i not in done_old:
            changes.append(
                Change(before.id, "removed", f"{kind} condition removed: `{old[i].source}`", old[i].position)
            )
    for j in added:
        if j not in done_new:
            changes.append(
                Change(
                    before.id, "added", f"{kind} condition added: `{new[j].source}`", None, new[j].position
                )
            )
    return changes


def _lists(old: RulePack, new: RulePack) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(old.lists) | set(new.lists)):
        a, b = old.lists.get(name), new.lists.get(name)
        subject = f"lists/{name}"
        if a is None and b is not None:
            changes.append(Change(subject, "added", f"list added ({len(b.items)} items)", None, b.position))
        elif b is None and a is not None:
            changes.append(Change(subject, "removed", f"list removed ({len(a.items)} items)", a.position))
        elif a is not None and b is not None:
            gone = [item for item in a.items if item not in b.exact]
            came = [item for item in b.items if item not in a.exact]
            if gone or came:
                parts = []
                if came:
                    parts.append(f"added {', '.join(came[:10])}{' …' if len(came) > 10 else ''}")
                if gone:
                    parts.append(f"removed {', '.join(gone[:10])}{' …' if len(gone) > 10 else ''}")
                changes.append(
                    Change(subject, "changed", "items " + "; ".join(parts), a.position, b.position)
                )
            for attribute in ("kind", "match"):
                if getattr(a, attribute) != getattr(b, attribute):
                    changes.append(
                        Change(
                            subject, "changed", f"{attribute} {getattr(a, attribute)} → {getattr(b, attribute)}",
                            a.position, b.position,
                        )
                    )  # fmt: skip
    return changes


def _regions(old: RulePack, new: RulePack) -> list[Change]:
    changes: list[Change] = []
    old_regions = {"national": old.national, **old.regions}
    new_regions = {"national": new.national, **new.regions}
    for code in sorted(set(old_regions) | set(new_regions), key=lambda c: (c != "national", c)):
        a, b = old_regions.get(code), new_regions.get(code)
        subject = f"regions/{code}"
        if a is None and b is not None:
            changes.append(Change(subject, "added", "region file added", None, b.position))
        elif b is None and a is not None:
            changes.append(
                Change(subject, "removed", "region file removed (the national defaults apply)", a.position)
            )
        elif a is not None and b is not None:
            changes += _region_changes(subject, a, b)
    return changes


def _region_changes(subject: str, a: RegionConfig, b: RegionConfig) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(a.settings) | set(b.settings)):
        before, after = a.settings.get(key), b.settings.get(key)
        if before != after:
            changes.append(
                Change(
                    subject, "changed" if before is not None and after is not None else ("added" if before is None else "removed"),
                    f"setting {key} {_show(before)} → {_show(after)}",
                    a.setting_positions.get(key) if before is not None else None,
                    b.setting_positions.get(key) if after is not None else None,
                )
            )  # fmt: skip
    for rule_id in sorted(set(a.overrides) | set(b.overrides)):
        x, y = a.overrides.get(rule_id), b.overrides.get(rule_id)
        if x is not None and y is not None and x.enabled == y.enabled and x.params == y.params:
            continue
        was = "—" if x is None else ("off" if not x.enabled else _show_params(x.params))
        now = "—" if y is None else ("off" if not y.enabled else _show_params(y.params))
        changes.append(
            Change(
                subject, "changed", f"override of {rule_id}: {was} → {now}",
                x.position if x else None, y.position if y else None,
            )
        )  # fmt: skip
    return changes


def _show_params(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in sorted(params.items())) + "}" if params else "on"
