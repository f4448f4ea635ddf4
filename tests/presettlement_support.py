"""Helpers for the pre-settlement screening tests: casebooks built from the demo and from rule examples."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from drgaudit.contract import FIELDS_BY_KIND, LIST_SEPARATOR, field_map
from drgaudit.engine.pack import RulePack
from drgaudit.engine.ruletest import build_example
from drgaudit.services.screening import screen_batch

CLAIM_SPECS = field_map("claims")


def typed_json(row: dict[str, str]) -> dict[str, Any]:
    """A claims.csv row as a settlement system would send it in JSON: numbers, lists, no empty fields."""
    out: dict[str, Any] = {}
    for name, text in row.items():
        spec = CLAIM_SPECS.get(name)
        if spec is None or text == "":
            continue
        if spec.type == "int":
            out[name] = int(text)
        elif spec.type == "decimal":
            out[name] = float(text)
        elif spec.type == "list":
            out[name] = text.split(LIST_SEPARATOR)
        else:
            out[name] = text
    return out


def cell(value: Any) -> str:
    """A canonical value as a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    return str(value)


def as_row(kind: str, record: dict[str, Any]) -> dict[str, str]:
    return {f.name: cell(record.get(f.name)) for f in FIELDS_BY_KIND[kind]}


def write_csv(path: Path, kind: str, records: list[dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[spec.name for spec in FIELDS_BY_KIND[kind]])
        writer.writeheader()
        writer.writerows(as_row(kind, r) for r in records)
    return path


@dataclass
class ExampleWorld:
    """Rule examples that fit in one casebook: no two of them give one hospital or group two contents."""

    hospitals: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)

    def fits(self, groups: dict[tuple[str, str, str], dict[str, Any]]) -> bool:
        return all(self.groups.get(key, group) == group for key, group in groups.items())


def example_worlds(pack: RulePack) -> list[ExampleWorld]:
    """Every example of every rule, its ids made unique (claim, patient, hospital get `~n`), packed into
    as few casebooks as their group tables allow."""
    worlds: list[ExampleWorld] = []
    n = 0
    for rule in pack.rules:
        for example in rule.examples:
            case = build_example(pack, example)
            if case.errors or case.claim is None:
                continue
            n += 1
            hospitals = {
                f"{hid}~{n}": {**h, "hospital_id": f"{hid}~{n}"} for hid, h in case.hospitals.items()
            }

            def renamed(claim: dict[str, Any], n: int = n) -> dict[str, Any]:
                return {
                    **claim,
                    "claim_id": f"{claim['claim_id']}~{n}",
                    "patient_id": f"{claim['patient_id']}~{n}",
                    "hospital_id": f"{claim['hospital_id']}~{n}",
                }

            world = next((w for w in worlds if w.fits(case.groups)), None)
            if world is None:
                world = ExampleWorld()
                worlds.append(world)
            world.hospitals.update(hospitals)
            world.groups.update(case.groups)
            world.history.extend(renamed(c) for c in case.history)
            world.claims.append(renamed(case.claim))
    return worlds


def load_world(session: Session, folder: Path, world: ExampleWorld) -> int:
    """Import a world's hospitals, groups, history (one batch) and claims (the batch returned)."""
    folder.mkdir(parents=True, exist_ok=True)
    import_file(
        write_csv(folder / "hospitals.csv", "hospitals", list(world.hospitals.values())),
        kind="hospitals",
        session=session,
    )
    import_file(
        write_csv(folder / "groups.csv", "groups", list(world.groups.values())),
        kind="groups",
        session=session,
    )
    if world.history:
        import_file(
            write_csv(folder / "history.csv", "claims", world.history), kind="claims", session=session
        )
    report = import_file(
        write_csv(folder / "claims.csv", "claims", world.claims), kind="claims", session=session
    )
    assert report.rows_rejected == 0, report.first_errors
    return report.batch_id


def batch_hits(
    session: Session, batch_id: int, rules_dir: Path | None = None
) -> dict[str, list[dict[str, Any]]]:
    """What `drgaudit screen --batch ID --output -` writes, by claim: the data contract's hit objects."""
    out = io.StringIO()
    screen_batch(session=session, batch_id=batch_id, rules_dir=rules_dir, output=out, store=False)
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for line in out.getvalue().splitlines():
        hit = json.loads(line)
        by_claim.setdefault(hit["claim_id"], []).append(hit)
    return by_claim
