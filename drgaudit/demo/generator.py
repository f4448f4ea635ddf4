"""`generate`: write a seeded synthetic province (hospitals, group tables, claims, ground truth) to a folder.

Claims are written patient by patient as they are made, so memory does not grow with the number of
claims. The same seed, size and code tables give byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from drgaudit.contract import GROUP_FIELDS, HOSPITAL_FIELDS, is_cross_region
from drgaudit.demo.boundary import boundary_repeat, boundary_units
from drgaudit.demo.codes import bundled_codes_dir
from drgaudit.demo.coding import Coder
from drgaudit.demo.groups import GroupTable, build_group_table
from drgaudit.demo.province import (
    CC_MCC_HOSPITAL,
    NEW_HOSPITAL,
    NEW_REGIONAL_CENTER,
    Province,
    load_province,
)
from drgaudit.demo.render import CLAIM_HEADER, Renderer
from drgaudit.demo.scenarios import (
    LOOKALIKE_CLAIMS,
    PLANTED,
    RULE_SCENARIO,
    SCENARIO_CLAIMS,
    Scenarios,
    Unit,
    rule_families,
)
from drgaudit.demo.stays import StayFactory
from drgaudit.demo.templates import Catalog, load_catalog
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.loader import load_pack
from drgaudit.errors import DrgauditError

DEFAULT_SEED = 20250101
DEFAULT_CLAIMS = 50_000
# Below this the planted cases (at least ten per rule) would crowd out the background.
MIN_CLAIMS = 1_000
TRUTH_HEADER = ("claim_id", "family", "rule_id", "kind", "note")
# Stays per background patient: 1–4 (FREQ-001 looks at 6 within 365 days).
BACKGROUND_STAYS = (1, 2, 3, 4)
BACKGROUND_STAY_WEIGHTS = (0.13, 0.24, 0.33, 0.30)
PROGRESS_EVERY = 10_000

Progress = Callable[[int, int], None]


@dataclass
class DemoManifest:
    """What a generated demo folder holds; also written as manifest.json."""

    out_dir: Path
    seed: int
    claims: int
    patients: int
    cross_region: int
    hospitals: int
    regions: list[str]
    period: tuple[str, str]
    codes: str
    codes_digest: str
    groups: int
    planted: dict[str, int] = field(default_factory=dict)
    planted_by_rule: dict[str, int] = field(default_factory=dict)
    lookalikes: dict[str, int] = field(default_factory=dict)
    lookalikes_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def cross_region_share(self) -> float:
        return self.cross_region / self.claims if self.claims else 0.0

    def path(self, name: str) -> Path:
        return self.out_dir / name

    def to_json(self) -> dict[str, Any]:
        return {
            "generator": "drgaudit demo",
            "synthetic": True,
            "seed": self.seed,
            "claims": self.claims,
            "patients": self.patients,
            "cross_region_claims": self.cross_region,
            "hospitals": self.hospitals,
            "regions": self.regions,
            "period": {"start": self.period[0], "end": self.period[1]},
            "codes": {"source": self.codes, "digest": self.codes_digest},
            "group_entries": self.groups,
            "planted_per_family": self.planted,  # claims, each counted once per family
            "planted_per_rule": self.planted_by_rule,
            "lookalikes_per_family": self.lookalikes,
            "lookalikes_per_rule": self.lookalikes_by_rule,
            "files": {
                "hospitals": "hospitals.csv",
                "groups": "groups.csv",
                "claims": "claims.csv",
                "truth": "truth.csv",
            },
        }


def generate(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    claims: int = DEFAULT_CLAIMS,
    codes_dir: Path | None = None,
    progress: Progress | None = None,
    rules_dir: Path | None = None,
) -> DemoManifest:
    """Write hospitals.csv, groups.csv, claims.csv, truth.csv, manifest.json and README.md into `out_dir`.

    `codes_dir` is a folder of national code tables (code-table layout); without it the CHS-DRG 1.1
    tables bundled with drgaudit are used. `progress(done, total)` is called every few thousand claims.
    """
    if claims < MIN_CLAIMS:
        raise DrgauditError(f"the demo needs at least {MIN_CLAIMS} claims, got {claims}")
    tables = CodeTables.from_dir(codes_dir or bundled_codes_dir())
    codes_label = "external" if codes_dir is not None else "bundled"
    catalog = load_catalog()
    province = load_province()
    rng = random.Random(seed)
    coder = Coder(catalog, tables)
    # The invented group table does not depend on the seed: runs with other seeds share it.
    groups = build_group_table(catalog, province, coder, random.Random(f"groups-{province.year}"))
    factory = StayFactory(rng, catalog, province, coder, groups)
    # The boundary look-alikes sit at the thresholds of this pack (default: the bundled one).
    scenarios = Scenarios(factory, load_pack(rules_dir) if rules_dir is not None else None)
    scenarios.plants_cc_mcc = plants_cc_mcc(catalog, claims)
    renderer = Renderer(rng, catalog, province, groups)

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_hospitals(out_dir / "hospitals.csv", province)
    _write_groups(out_dir / "groups.csv", groups)
    manifest = DemoManifest(
        out_dir=out_dir,
        seed=seed,
        claims=0,
        patients=0,
        cross_region=0,
        hospitals=len(province.hospitals),
        regions=[r.code for r in province.regions],
        period=(province.start.isoformat(), province.end.isoformat()),
        codes=codes_label,
        codes_digest=tables.digest,
        groups=len(groups.entries),
        planted={family: 0 for family in dict.fromkeys(rule_families().values())},
        planted_by_rule={rule: 0 for rule in rule_families()},
        lookalikes={family: 0 for family in dict.fromkeys(rule_families().values())},
        lookalikes_by_rule={rule: 0 for rule in rule_families()},
    )
    units = plan_units(rng, catalog, claims, per_diem_admissions=scenarios.per_diem_admissions())
    with (
        open(out_dir / "claims.csv", "w", encoding="utf-8", newline="") as claims_file,
        open(out_dir / "truth.csv", "w", encoding="utf-8", newline="") as truth_file,
    ):
        writer = _Writer(
            csv.writer(claims_file, lineterminator="\n"), csv.writer(truth_file, lineterminator="\n")
        )
        writer.claims.writerow(CLAIM_HEADER)
        writer.truth.writerow(TRUTH_HEADER)
        unit_claims = sum(size for _, size, _ in units)
        background = claims - unit_claims
        next_report = PROGRESS_EVERY
        queue = iter(units)
        while unit_claims or background:
            if unit_claims and (not background or rng.random() * (unit_claims + background) < unit_claims):
                scenario, size, param = next(queue)
                unit = scenarios.build(scenario, param)
                if len(unit.stays) != size:
                    raise AssertionError(f"{scenario}: planned {size} stays, made {len(unit.stays)}")
                unit_claims -= size
            else:
                unit = scenarios.background(
                    min(rng.choices(BACKGROUND_STAYS, BACKGROUND_STAY_WEIGHTS)[0], background)
                )
                background -= len(unit.stays)
            writer.emit(unit, renderer, manifest)
            if progress is not None and manifest.claims >= next_report:
                progress(manifest.claims, claims)
                next_report += PROGRESS_EVERY
    if progress is not None:
        progress(manifest.claims, claims)
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    _write_readme(out_dir / "README.md", manifest, province)
    return manifest


def read_manifest(
    out_dir: Path, *, seed: int, claims: int, codes_dir: Path | None = None
) -> DemoManifest | None:
    """The manifest of a demo already generated in `out_dir` with this seed, size and code tables (and the
    same planted rules), or None."""
    path = out_dir / "manifest.json"
    if not path.is_file() or not all(
        (out_dir / name).is_file() for name in ("hospitals.csv", "groups.csv", "claims.csv", "truth.csv")
    ):
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tables = CodeTables.from_dir(codes_dir or bundled_codes_dir())
    if not isinstance(doc, dict) or (doc.get("seed"), doc.get("claims"), doc.get("codes")) != (
        seed,
        claims,
        {"source": "external" if codes_dir is not None else "bundled", "digest": tables.digest},
    ):
        return None
    if set(doc.get("planted_per_rule") or ()) != set(rule_families()):
        return None  # made by a version of the demo that planted other rules
    try:
        return _manifest_from_json(out_dir, doc)
    except (KeyError, TypeError, ValueError):
        return None


def _manifest_from_json(out_dir: Path, doc: dict[str, Any]) -> DemoManifest:
    seed, claims = int(doc["seed"]), int(doc["claims"])
    return DemoManifest(
        out_dir=out_dir,
        seed=seed,
        claims=claims,
        patients=int(doc["patients"]),
        cross_region=int(doc["cross_region_claims"]),
        hospitals=int(doc["hospitals"]),
        regions=list(doc["regions"]),
        period=(doc["period"]["start"], doc["period"]["end"]),
        codes=doc["codes"]["source"],
        codes_digest=doc["codes"]["digest"],
        groups=int(doc["group_entries"]),
        planted=dict(doc["planted_per_family"]),
        planted_by_rule=dict(doc["planted_per_rule"]),
        lookalikes=dict(doc["lookalikes_per_family"]),
        lookalikes_by_rule=dict(doc["lookalikes_per_rule"]),
    )


def plants_cc_mcc(catalog: Catalog, claims: int) -> bool:
    """UPC-004 compares a hospital with at least `indicator_min_peers` same-level peers that have 30+
    cross-region claims each; below `UPC-004_min_claims` the province is too small for that."""
    return claims >= int(catalog.plant_rates["UPC-004_min_claims"])


def plan_units(
    rng: random.Random, catalog: Catalog, claims: int, *, per_diem_admissions: int = 5
) -> list[tuple[str, int, int]]:
    """The planted and look-alike units of a run, shuffled: (scenario, claims in the unit, parameter).

    `per_diem_admissions` is the most per-diem admissions in a year that FREQ-003 allows in any region of
    the loaded pack (`Scenarios.per_diem_admissions`): each of its units has that many stays."""
    rates = catalog.plant_rates
    minimum = int(rates["minimum"])
    units: list[tuple[str, int, int]] = []
    for rule, scenario in RULE_SCENARIO.items():
        if rule == "UPC-004" and not plants_cc_mcc(catalog, claims):
            continue
        size = SCENARIO_CLAIMS.get(scenario, 1)
        floor = int(rates.get(f"{rule}_minimum", minimum))
        units += [(scenario, size, 0)] * max(floor, round(rates[rule] * claims))
    # Frequent admissions: (rule, scenario, stays before the first planted one, most planted per patient).
    for rule, scenario, before, most in (("FREQ-001", "frequent", 5, 3), ("FREQ-002", "frequent_90", 3, 2)):
        remaining = max(minimum, round(rates[rule] * claims))
        while remaining:
            planted = min(rng.randint(1, most), remaining)
            units.append((scenario, before + planted, planted))
            remaining -= planted
    # Per-diem frequent admissions: FREQ-003's `max_admissions` stays; those from the region's threshold on
    # are planted.
    units += [("per_diem_frequent", per_diem_admissions, per_diem_admissions)] * max(
        minimum, round(rates["FREQ-003"] * claims)
    )
    for scenario, size in LOOKALIKE_CLAIMS.items():
        for _ in range(max(int(rates["lookalike_minimum"]), round(rates[scenario] * claims))):
            if scenario == "chemo_cycles":
                cycles = rng.randint(4, 6)
                units.append((scenario, cycles, cycles))
            else:
                units.append((scenario, size, 0))
    # Claims just below, at and just above each threshold, and at each exemption (demo/boundary.py).
    units += boundary_units(boundary_repeat(claims))
    rng.shuffle(units)
    return units


class _Writer:
    """Writes units' claims and truth rows, numbering the claims."""

    def __init__(self, claims: Any, truth: Any) -> None:
        self.claims = claims
        self.truth = truth

    def emit(self, unit: Unit, renderer: Renderer, manifest: DemoManifest) -> None:
        ids: list[str] = []
        for stay in unit.stays:
            claim_id = f"JS{manifest.claims + 1:010d}"
            ids.append(claim_id)
            self.claims.writerow(renderer.row(stay, claim_id))
            manifest.claims += 1
            if is_cross_region(stay.patient.insured.code, stay.region):
                manifest.cross_region += 1
        if unit.stays:
            manifest.patients += 1
        counted: set[tuple[int, str, str]] = set()  # a family counts a claim once, whatever its rules
        for t in unit.truths:
            self.truth.writerow((ids[t.index], t.family, t.rule_id, t.kind, t.note.format(*ids)))
            first = (t.index, t.family, t.kind) not in counted
            counted.add((t.index, t.family, t.kind))
            if t.kind == PLANTED:
                manifest.planted[t.family] += first
                manifest.planted_by_rule[t.rule_id] += 1
            else:
                manifest.lookalikes[t.family] += first
                manifest.lookalikes_by_rule[t.rule_id] += 1


def _write_hospitals(path: Path, province: Province) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([fld.name for fld in HOSPITAL_FIELDS])
        for h in province.hospitals:
            w.writerow(
                [
                    h.hospital_id,
                    h.name,
                    h.region,
                    h.level,
                    h.designated_on.isoformat(),
                    "true" if h.regional_center else "false",
                    "",  # coaching_until: no demo hospital has had its coaching period extended
                ]
            )


def _write_groups(path: Path, groups: GroupTable) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([fld.name for fld in GROUP_FIELDS])
        for e in groups.entries:
            w.writerow(
                [e.region, "DRG", e.group, e.name, f"{e.weight:.4f}", f"{e.avg_cost:.2f}", f"{e.avg_los:.1f}"]
            )


def _write_readme(path: Path, manifest: DemoManifest, province: Province) -> None:
    template = resources.files("drgaudit.demo").joinpath("data/output_readme.md").read_text(encoding="utf-8")
    planted = "\n".join(
        f"| {rule} | {family} | {manifest.planted_by_rule[rule]} | {manifest.lookalikes_by_rule[rule]} |"
        for rule, family in rule_families().items()
    )
    new = [h for h in province.hospitals if h.role in (NEW_HOSPITAL, NEW_REGIONAL_CENTER)]
    cc_mcc = province.hospital_with_role(CC_MCC_HOSPITAL)
    path.write_text(
        template.format(
            seed=manifest.seed,
            claims=manifest.claims,
            patients=manifest.patients,
            cross_share=f"{manifest.cross_region_share:.1%}",
            hospitals=manifest.hospitals,
            regions=", ".join(f"{r.code} {r.name}" for r in province.regions),
            start=manifest.period[0],
            end=manifest.period[1],
            codes="the CHS-DRG 1.1 tables bundled with drgaudit"
            if manifest.codes == "bundled"
            else "the code tables given",
            planted=planted,
            new_hospitals="\n".join(
                f"  - {h.hospital_id} {h.name}: designated {h.designated_on}" for h in new
            ),
            cc_mcc_hospital=f"{cc_mcc.hospital_id} {cc_mcc.name} (level {cc_mcc.level})",
        ),
        encoding="utf-8",
    )
