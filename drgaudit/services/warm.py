"""The warm engine of a long-running process (the API server): packs compiled once, reference data kept.

`drgaudit screen` pays for loading and compiling the rule pack on every run (about 0.6 s); a server
answering one claim at a time cannot. A `WarmEngine` lives as long as its process (one per server
worker) and keeps:

- the active rule pack of each treatment region (the version promoted in the casebook, see `WarmEngine`),
  loaded and compiled to durable-rules once per version, and compiled again only when the active
  version changes (a new promotion, a rollback, an edited `--rules` folder; a broken edit is reported
  and the last good version keeps screening: nothing half-loaded runs);
- a snapshot of the reference data (hospitals, group tables, code tables, hospital indicators), read
  again only when the casebook's fingerprint of them changes (checked at most every `check_seconds`).

Hospital indicators (UPC-004's case mix against same-level peers) are a property of a batch of claims;
one claim has none. The warm engine takes them from the newest claims batch screened as a batch
(`drgaudit screen --batch`, the demo), not from requests stored through the API: the hospital's
standing as of the last settlement-period screen. A casebook with no screened batch has none, and
rules reading them do not fire.

Thread safety: durable-rules keeps process-global state and never releases the GIL. Its adapter
(`drgaudit.engine.runtime`, `engine.enginestate.ENGINE_LOCK`) serialises every patient's run within a
process, so requests served by several threads of one worker get exactly the answers of a serial
screen, and workers (processes) each compile their own engine. The snapshot and pack caches here are replaced
whole under `_lock`, never changed in place while a request uses them.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import packs as pack_versions
from drgaudit.casebook import queries
from drgaudit.casebook.packs import RulePackVersion
from drgaudit.casebook.screening import choose_codes, load_code_tables
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.facts import ReferenceData, sort_key
from drgaudit.engine.hits import Hit
from drgaudit.engine.indicators import CaseMix, hospital_indicators, peer_rule
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.screen import Screener
from drgaudit.errors import DrgauditError
from drgaudit.services.packs import materialize

log = logging.getLogger("drgaudit.warm")

# Source (screen_run.source) and file name (import_batch.file_name) prefix of what the API stores.
REQUEST_SOURCE = "api:"


class NoActivePackError(DrgauditError):
    """No rule pack is active for a treatment region, so its claims cannot be screened."""

    def __init__(self, region: str) -> None:
        self.region = region
        super().__init__(f"no rule pack is active for treatment region {region}")


@dataclass
class WarmPack:
    """A rule pack version loaded and compiled in this process."""

    version: str
    rules_dir: Path
    pack: RulePack
    screener: Screener  # compiled; screens with the reference data of a snapshot (see `screener_for`)

    def close(self) -> None:
        self.screener.close()


@dataclass
class Snapshot:
    """The casebook's reference data as of one fingerprint."""

    fingerprint: tuple[Any, ...]
    hospitals: dict[str, dict[str, Any]]
    groups: dict[tuple[str, str, str], dict[str, Any]]
    codes: CodeTables | None  # the casebook's loaded code set, if any
    case_mix: list[CaseMix]
    indicator_batch: int | None
    # Per pack version: a Screener sharing the pack's compiled rulesets, with this reference data.
    screeners: dict[str, Screener] = field(default_factory=dict)


@dataclass
class Screened:
    """One request's claims screened: per claim, the pack version that screened it and its hits."""

    packs: dict[str, WarmPack]  # claim_id -> pack
    hits: dict[str, list[Hit]]  # claim_id -> hits, in rule order
    codes: dict[str, CodeTables]  # pack version -> code tables used


@dataclass
class _Folder:
    """A rules folder served as it is (`--rules DIR`, or the bundled pack): its files' signature."""

    signature: tuple[Any, ...]
    checked: float
    warm: WarmPack | None


@dataclass
class _Region:
    """What screens a region, as last looked up."""

    checked: float
    warm: WarmPack | None  # None: no pack is active for the region


def folder_signature(folder: Path) -> tuple[Any, ...]:
    """Names, sizes and modification times of a folder's files: cheap to take, changes with any edit."""
    entries = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            entries.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class WarmEngine:
    """Screens requests' claims with compiled rule packs and cached reference data (one per process).

    Which pack screens a treatment region: with `rules_dir`, that folder for every region (as `--rules`
    does for the CLI). Otherwise the version promoted active for the region (its own promotion, else the
    national one) in the casebook (`drgaudit rules promote`); a casebook where no version is active
    anywhere screens with the bundled pack, as the CLI does; a casebook where versions are active but none
    for the region (nor national) has no pack for it: NoActivePackError. Promotions are looked up again,
    and served folders' files looked at, at most every `check_seconds`; a pack is compiled once per
    version and process, and one no region uses any more is released `retire_seconds` later (requests
    already holding it finish with it).
    """

    def __init__(
        self,
        *,
        rules_dir: Path | None = None,
        codes_dir: Path | str | None = None,
        check_seconds: float = 2.0,
        retire_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules_dir = Path(rules_dir) if rules_dir is not None else None
        self.codes_dir = codes_dir
        self.check_seconds = check_seconds
        self.retire_seconds = retire_seconds
        self.clock = clock
        self.compiles = 0  # how many times a pack was compiled in this process
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._reset()

    def _reset(self) -> None:
        self._versions: dict[str, WarmPack] = {}  # compiled packs by version
        self._folders: dict[Path, _Folder] = {}
        self._regions: dict[str, _Region] = {}
        self._shadows: dict[str, _Region] = {}  # the version screened in shadow, by region
        self._any_active: tuple[float, bool] | None = None
        self._retired: list[tuple[float, WarmPack]] = []
        self._snapshot: Snapshot | None = None
        self._snapshot_checked = -1e18

    def _after_fork(self) -> None:
        """A forked child must not use rulesets compiled by its parent: start afresh."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._lock = threading.RLock()
            self._reset()

    # -- rule packs ---------------------------------------------------------------------------------

    def pack_for(self, *, session: Session, region: str) -> WarmPack:
        """The compiled active pack of a treatment region; NoActivePackError when there is none."""
        self._after_fork()
        entry = self._looked_up("_regions", region, lambda: self._resolve(session, region))
        if entry.warm is None:
            raise NoActivePackError(region)
        return entry.warm

    def shadow_for(self, *, session: Session, region: str) -> WarmPack | None:
        """The compiled version screened in shadow for a region (`drgaudit rules promote --stage shadow`),
        None when there is none (or the server screens one folder for every region, `--rules`)."""
        if self.rules_dir is not None:
            return None
        self._after_fork()

        def resolve() -> WarmPack | None:
            version = pack_versions.shadow_version(session=session, region=region)
            return self._of_version(version) if version is not None else None

        return self._looked_up("_shadows", region, resolve).warm

    def _looked_up(self, table: str, region: str, resolve: Callable[[], WarmPack | None]) -> _Region:
        """A region's entry in `table` (`_regions`: active, `_shadows`: in shadow), resolved again at most
        every `check_seconds`; the tables are replaced, never changed, so readers need no lock."""
        entry: _Region | None = getattr(self, table).get(region)
        if entry is None or self.clock() - entry.checked >= self.check_seconds:
            with self._lock:
                entry = getattr(self, table).get(region)
                if entry is None or self.clock() - entry.checked >= self.check_seconds:
                    entry = _Region(self.clock(), resolve())
                    setattr(self, table, {**getattr(self, table), region: entry})
                    self._retire_unused()
        return entry

    def _of_version(self, version: RulePackVersion) -> WarmPack:
        """The compiled pack of a registered version (compiled once per process)."""
        warm = self._versions.get(version.version)
        return warm if warm is not None else self._load(materialize(version), expected=version.version)

    def _resolve(self, session: Session, region: str) -> WarmPack | None:
        if self.rules_dir is not None:
            return self._folder(self.rules_dir)
        version = pack_versions.active_version(session=session, region=region)
        if version is not None:
            return self._of_version(version)
        if self._versions_active(session):
            return None
        return self._folder(bundled_rules_dir())

    def _versions_active(self, session: Session) -> bool:
        """Whether any region (or national) has a version promoted active in the casebook."""
        cached = self._any_active
        if cached is None or self.clock() - cached[0] >= self.check_seconds:
            today = dt.date.today()
            active = any(
                p.stage == "active" and p.status == "in_force" and p.effective_from <= today
                for p in pack_versions.promotions(session=session)
            )
            cached = self._any_active = (self.clock(), active)
        return cached[1]

    def _folder(self, folder: Path) -> WarmPack:
        """The pack of a served folder, loaded again when its files changed (and compiled if its version did).

        A broken edit is reported and the last good version keeps screening: nothing half-loaded runs.
        """
        known = self._folders.get(folder)
        if known is not None and known.warm is not None and self.clock() - known.checked < self.check_seconds:
            return known.warm
        signature = folder_signature(folder)
        if known is not None and known.warm is not None and signature == known.signature:
            known.checked = self.clock()
            return known.warm
        try:
            warm = self._load(folder)
        except DrgauditError as exc:
            if known is None or known.warm is None:
                raise
            log.error("rule pack in %s not reloaded, the last good version %s keeps screening: %s",
                      folder, known.warm.version, exc)  # fmt: skip
            warm = known.warm
        self._folders[folder] = _Folder(signature, self.clock(), warm)
        return warm

    def _load(self, folder: Path, *, expected: str | None = None) -> WarmPack:
        pack = load_pack(folder)
        if expected is not None and pack.version != expected:
            raise DrgauditError(f"rule pack in {folder} is version {pack.version}, expected {expected}")
        warm = self._versions.get(pack.version)
        if warm is None:
            self.compiles += 1
            # Reference data comes with each snapshot; the compiled rulesets do not depend on it.
            screener = Screener(pack, ReferenceData({}, {}, CodeTables("", {}), pack))
            warm = WarmPack(pack.version, folder, pack, screener)
            self._versions = {**self._versions, pack.version: warm}
            log.info("rule pack %s compiled from %s", pack.version, folder)
        return warm

    def _retire_unused(self) -> None:
        """Release packs no region or folder uses any more, `retire_seconds` after they fell out of use."""
        used = {
            e.warm.version for e in [*self._regions.values(), *self._shadows.values()] if e.warm is not None
        }
        used |= {f.warm.version for f in self._folders.values() if f.warm is not None}
        now = self.clock()
        for version, warm in list(self._versions.items()):
            if version not in used:
                self._versions = {k: v for k, v in self._versions.items() if k != version}
                self._retired.append((now, warm))
        keep = []
        for since, warm in self._retired:
            if now - since >= self.retire_seconds:
                warm.close()
                log.info("rule pack %s released", warm.version)
            else:
                keep.append((since, warm))
        self._retired = keep

    # -- reference data ------------------------------------------------------------------------------

    def screener_for(self, *, session: Session, warm: WarmPack) -> Screener:
        """A Screener of this pack with the current reference data of the casebook."""
        snapshot = self._current_snapshot(session)
        screener = snapshot.screeners.get(warm.version)
        if screener is None or screener.pack is not warm.pack:
            with self._lock:
                screener = copy.copy(warm.screener)  # shares the compiled rulesets
                screener.reference = ReferenceData(
                    snapshot.hospitals,
                    snapshot.groups,
                    self._codes(snapshot, warm),
                    warm.pack,
                    hospital_indicators(snapshot.case_mix, _levels(snapshot.hospitals), peers_by=peer_rule(warm.pack)),
                )  # fmt: skip
                snapshot.screeners = {**snapshot.screeners, warm.version: screener}
        return screener

    def codes_for(self, *, session: Session, warm: WarmPack) -> CodeTables:
        """The code tables this pack screens with (as `choose_codes` picks them)."""
        return self.screener_for(session=session, warm=warm).reference.codes

    def _codes(self, snapshot: Snapshot, warm: WarmPack) -> CodeTables:
        if self.codes_dir is not None or snapshot.codes is None:
            return choose_codes(session=None, codes_dir=self.codes_dir, rules_dir=warm.rules_dir)
        return snapshot.codes

    def _current_snapshot(self, session: Session) -> Snapshot:
        self._after_fork()
        snapshot = self._snapshot
        now = self.clock()
        if snapshot is not None and now - self._snapshot_checked < self.check_seconds:
            return snapshot
        with self._lock:
            if self._snapshot is not snapshot and self._snapshot is not None:
                return self._snapshot
            fingerprint = queries.reference_fingerprint(session=session, exclude_sources=REQUEST_SOURCE)
            self._snapshot_checked = self.clock()
            if snapshot is not None and snapshot.fingerprint == fingerprint:
                return snapshot
            self._snapshot = self._read_snapshot(session, fingerprint)
            return self._snapshot

    def _read_snapshot(self, session: Session, fingerprint: tuple[Any, ...]) -> Snapshot:
        batch_id = queries.latest_screened_batch(session=session, exclude_sources=REQUEST_SOURCE)
        case_mix = queries.batch_case_mix(session=session, batch_id=batch_id) if batch_id is not None else []
        # The casebook's loaded code set, if any; else each pack's own (or the bundled) tables.
        codes = None if self.codes_dir is not None else load_code_tables(session=session)
        return Snapshot(
            fingerprint=fingerprint,
            hospitals=queries.load_hospitals(session=session),
            groups=queries.load_groups(session=session),
            codes=codes,
            case_mix=case_mix,
            indicator_batch=batch_id,
        )  # fmt: skip

    # -- screening -----------------------------------------------------------------------------------

    def screen(self, *, session: Session, claims: list[dict[str, Any]], shadow: bool = False) -> Screened:
        """Screen checked claims with the patients' stored claims as history; nothing is written.

        Every claim is screened by the active pack of its treatment region (`shadow`: by the version its
        region screens in shadow; claims of regions without one are history only). A patient's stored
        claims discharged since the earliest admission of the request minus the pack's lookback are the
        history; a claim of the request replaces its stored version.
        """
        if shadow:
            found = {
                c["claim_id"]: self.shadow_for(session=session, region=c["treatment_region"]) for c in claims
            }
            packs = {claim_id: warm for claim_id, warm in found.items() if warm is not None}
            if not packs:
                return Screened(packs={}, hits={}, codes={})
        else:
            packs = {
                claim["claim_id"]: self.pack_for(session=session, region=claim["treatment_region"])
                for claim in claims
            }
        lookback = max(warm.pack.lookback_days for warm in packs.values())
        since = min(claim["admit_date"] for claim in claims) - dt.timedelta(days=lookback)
        by_patient: dict[str, list[dict[str, Any]]] = {}
        for claim in claims:
            by_patient.setdefault(claim["patient_id"], []).append(claim)
        if len(by_patient) == 1:  # the common request: one claim, one patient
            (patient_id,) = by_patient
            stored = {
                patient_id: queries.claims_of_patient(session=session, patient_id=patient_id, since=since)
            }
        else:
            stored = queries.claims_for_patients(session=session, patient_ids=list(by_patient), since=since)
        hits: dict[str, list[Hit]] = {claim_id: [] for claim_id in packs}
        screeners: dict[str, Screener] = {}
        for patient_id in sorted(by_patient):
            mine = sorted(by_patient[patient_id], key=sort_key)
            versions = sorted({packs[c["claim_id"]].version for c in mine if c["claim_id"] in packs})
            for version in versions:
                targets = [
                    c for c in mine if c["claim_id"] in packs and packs[c["claim_id"]].version == version
                ]
                chosen = {c["claim_id"] for c in targets}
                others = [c for c in mine if c["claim_id"] not in chosen]
                warm = packs[targets[0]["claim_id"]]
                screener = screeners.get(version) or screeners.setdefault(
                    version, self.screener_for(session=session, warm=warm)
                )
                history = [*stored[patient_id], *others]
                # The pre-filter's claim-by-claim form: most claims can hit no rule and skip durable-rules.
                for hit in screener.screen_patient(patient_id, targets, history, precheck=screener.prefilter):
                    hits[hit.claim_id].append(hit)
        return Screened(
            packs=packs,
            hits=hits,
            codes={version: screener.reference.codes for version, screener in screeners.items()},
        )


def _levels(hospitals: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    return {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
