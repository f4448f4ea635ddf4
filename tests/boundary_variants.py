"""Claims near the boundaries of the rules: the rules' own examples (which `rules test --strict` pins at
every threshold) nudged by small steps — a day, a cent, an hour, a percentile point, a percent of the
cost — one or two fields at a time, seeded, so both sides of every boundary are reached.

Used by tests/test_boundary_differential.py; each variant is an `Example` that `build_example` turns
into a claim with its history, hospitals, groups and hospital indicators, like any rule example.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any

from drgaudit.engine.pack import RulePack
from drgaudit.engine.rule import Example, Rule
from drgaudit.engine.yamlsource import YList, YMap

Nudge = Callable[[random.Random, dict[str, Any]], None]


def ymap(values: dict[str, Any], like: YMap | None) -> YMap:
    """A YMap holding `values`, with the positions of `like` (errors still point into the rule file)."""
    result = YMap(values)
    result.position = like.position if like is not None else None  # type: ignore[assignment]
    result.key_positions = dict(getattr(like, "key_positions", {}) or {})
    result.value_positions = dict(getattr(like, "value_positions", {}) or {})
    return result


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _shift_date(record: dict[str, Any], key: str, days: int) -> None:
    day = _day(record.get(key))
    if day is not None:
        record[key] = day + dt.timedelta(days=days)


def _number(record: dict[str, Any], key: str, default: float = 0.0) -> float:
    value = record.get(key)
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def nudge_stay(rng: random.Random, claim: dict[str, Any]) -> None:
    """Move the admission or the discharge by a day or two (length of stay, gaps, windows)."""
    _shift_date(claim, rng.choice(("admit_date", "discharge_date")), rng.choice((-2, -1, 1, 2)))


def nudge_cost(rng: random.Random, claim: dict[str, Any]) -> None:
    """Scale the total cost by a fraction of a percent to a few percent (cost ratios, shares)."""
    total = _number(claim, "total_cost")
    factor = 1 + rng.choice((-1, 1)) * rng.choice((0.001, 0.002, 0.005, 0.01, 0.02, 0.05))
    claim["total_cost"] = round(total * factor, 2)
    claim["fund_paid"] = round(max(0.0, _number(claim, "fund_paid") * factor), 2)


def nudge_money(rng: random.Random, claim: dict[str, Any]) -> None:
    """Move one amount by a cent, a yuan or ten (fee thresholds, self-paid shares, outside purchases)."""
    key = rng.choice(("fee_lab", "fee_exam", "self_expense", "outside_purchase", "fee_drug"))
    delta = rng.choice((-1, 1)) * rng.choice((0.01, 1, 10, 100))
    claim[key] = round(max(0.0, _number(claim, key) + delta), 2)


def nudge_hours(rng: random.Random, claim: dict[str, Any]) -> None:
    """Move intensive-care or ventilation hours by an hour or so."""
    key = rng.choice(("icu_hours", "ventilator_hours"))
    claim[key] = max(0.0, _number(claim, key) + rng.choice((-2, -1, -0.5, 0.5, 1, 2)))


def nudge_age(rng: random.Random, claim: dict[str, Any]) -> None:
    """Move a newborn's age in days."""
    if claim.get("age_days") not in (None, ""):
        claim["age_days"] = max(0, int(_number(claim, "age_days")) + rng.choice((-2, -1, 1, 2)))


CLAIM_NUDGES: tuple[Nudge, ...] = (nudge_stay, nudge_cost, nudge_money, nudge_hours, nudge_age)


def nudge_history(rng: random.Random, history: list[dict[str, Any]]) -> None:
    """Move one earlier stay by a day or two (readmission gaps, admissions within a window)."""
    if history:
        record = rng.choice(history)
        days = rng.choice((-2, -1, 1, 2))
        _shift_date(record, "admit_date", days)
        _shift_date(record, "discharge_date", days)


def nudge_hospital(rng: random.Random, hospital: dict[str, Any]) -> None:
    """Move the designation date, or a hospital indicator (percentile rank, excess over the median)."""
    choice = rng.choice(("designated_on", "cross_cc_mcc_share_rank", "cc_mcc_share_excess"))
    if choice == "designated_on":
        _shift_date(hospital, "designated_on", rng.choice((-2, -1, 1, 2)))
    elif choice in hospital:
        step = 1.0 if choice == "cross_cc_mcc_share_rank" else 0.01
        hospital[choice] = round(
            _number(hospital, choice) + rng.choice((-2, -1, 1, 2)) * step * rng.choice((0.01, 1)), 4
        )


def variants(pack: RulePack, rule: Rule, example: Example, rng: random.Random) -> Iterator[Example]:
    """Endless variants of one example, each with one or two small nudges."""
    defaults = pack.example_defaults
    while True:
        claim = {**defaults.claim, **dict(example.claim)}
        history = [{**defaults.claim, **defaults.history_claim, **dict(h)} for h in example.history]
        hospital = {**dict(example.hospital or {})}
        for _ in range(rng.choice((1, 1, 2))):
            what = rng.random()
            if what < 0.6 or not (history or example.hospital):
                rng.choice(CLAIM_NUDGES)(rng, claim)
            elif what < 0.85 and history:
                nudge_history(rng, history)
            else:
                if "designated_on" not in hospital:
                    hospital["designated_on"] = defaults.hospital.get("designated_on")
                nudge_hospital(rng, hospital)
        items = YList(ymap(h, like) for h, like in zip(history, example.history, strict=True))
        items.position = getattr(example.history, "position", None)  # type: ignore[assignment]
        items.item_positions = []
        yield dataclasses.replace(
            example,
            claim=ymap(claim, example.claim),
            history=tuple(items),
            hospital=ymap(hospital, example.hospital) if hospital else None,
        )
