"""The warm engine of a long-running process (the API server): packs compiled once, reference data kept.

`drgaudit screen` pays for loading and compiling the rule pack on every run (about 0.6 s); a server
answering one claim at a time cannot. A `WarmEngine` lives as long as its process (one per server
worker) and keeps:

- the active rule pack of each treatment region, loaded and compiled to durable-rules once, and
  recompiled only when the active version changes (the rules folder's files change; a broken edit is
  reported and the last good version keeps screening: nothing half-loaded runs);
- a snapshot of the reference data (hospitals, group tables, code tables, hospital indicators), read
  again only when the casebook's fingerprint of them changes (checked at most every `check_seconds`).

Hospital indicators (UPC-004's case mix against same-level peers) are a property of a batch of claims;
one claim has none. The warm engine takes them from the newest claims batch screened as a batch
(`drgaudit screen --batch`, the demo), not from requests stored through the API: the hospital's
standing as of the last settlement-period screen. A casebook with no screened batch has none, and
rules reading them do not fire.

Thread safety: durable-rules keeps process-global state and never releases the GIL. Its adapter
(`drgaudit.engine.runtime`, `ENGINE_LOCK`) serialises every patient's run within a process, so
requests served by several threads of one worker get exactly the answers of a serial screen, and
workers (processes) each compile their own engine. The snapshot and pack caches here are replaced
whole under `_lock`, never changed in place while a request uses them.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.screening import choose_codes, load_code_tables
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.facts import ReferenceData, sort_key
from drgaudit.engine.hits import Hit
from drgaudit.engine.indicators import CaseMix, hospital_indicators, peer_rule
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.screen import Screener
from drgaudit.errors import DrgauditError

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


class DirectoryPacks:
    """The rule pack of a folder, active for every treatment region (or for `regions` when given).

    The version is the pack's content hash; the folder's files are looked at (names, sizes, times) at
    most every `check_seconds`, and read again only when they changed.
    """

    def __init__(self, rules_dir: Path | None = None, *, regions: Iterable[str] | None = None) -> None:
        self.rules_dir = Path(rules_dir) if rules_dir else bundled_rules_dir()
        self.regions = frozenset(regions) if regions else None

    def covers(self, region: str) -> bool:
        return self.regions is None or region in self.regions

    def signature(self) -> tuple[Any, ...]:
        entries = []
        for path in sorted(self.rules_dir.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                entries.append((str(path.relative_to(self.rules_dir)), stat.st_size, stat.st_mtime_ns))
        return tuple(entries)

    def load(self) -> RulePack:
        return load_pack(self.rules_dir)


class WarmEngine:
    """Screens requests' claims with compiled rule packs and cached reference data (one per process)."""

    def __init__(
        self,
        *,
        rules_dir: Path | None = None,
        codes_dir: Path | str | None = None,
        regions: Iterable[str] | None = None,
        check_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = DirectoryPacks(rules_dir, regions=regions)
        self.codes_dir = codes_dir
        self.check_seconds = check_seconds
        self.clock = clock
        self.compiles = 0  # how many times a pack was compiled in this process (tests, /rule-packs)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._pack: WarmPack | None = None
        self._pack_signature: tuple[Any, ...] | None = None
        self._pack_checked = -1e18
        self._snapshot: Snapshot | None = None
        self._snapshot_checked = -1e18

    # -- rule packs ---------------------------------------------------------------------------------

    def pack_for(self, region: str) -> WarmPack:
        """The compiled active pack of a treatment region; NoActivePackError when there is none."""
        if not self.source.covers(region):
            raise NoActivePackError(region)
        return self._current_pack()

    def active_packs(self) -> dict[str, Any]:
        """What is active, for `GET /rule-packs/active`: the version, its folder and the regions it covers."""
        warm = self._current_pack()
        return {
            "version": warm.version,
            "name": warm.pack.name,
            "rules_dir": str(warm.rules_dir),
            "regions": sorted(self.source.regions) if self.source.regions is not None else None,
            "region_settings": sorted(warm.pack.regions),
            "lookback_days": warm.pack.lookback_days,
            "compiled_in_this_process": self.compiles,
        }

    def _current_pack(self) -> WarmPack:
        self._after_fork()
        warm = self._pack
        now = self.clock()
        if warm is not None and now - self._pack_checked < self.check_seconds:
            return warm
        with self._lock:
            if self._pack is not warm and self._pack is not None:
                return self._pack  # another thread just looked
            signature = self.source.signature()
            self._pack_checked = self.clock()
            if warm is not None and signature == self._pack_signature:
                return warm
            try:
                pack = self.source.load()
            except DrgauditError as exc:
                if warm is None:
                    raise
                log.error("rule pack in %s not reloaded, the last good version %s keeps screening: %s",
                          self.source.rules_dir, warm.version, exc)  # fmt: skip
                self._pack_signature = signature
                return warm
            self._pack_signature = signature
            if warm is not None and pack.version == warm.version:
                return warm  # files touched, content the same
            fresh = WarmPack(pack.version, self.source.rules_dir, pack, self._compile(pack))
            self._pack = fresh
            if warm is not None:
                log.info("rule pack %s replaced by %s", warm.version, fresh.version)
                warm.close()
            return fresh

    def _compile(self, pack: RulePack) -> Screener:
        self.compiles += 1
        # Reference data comes with each snapshot; the compiled rulesets do not depend on it.
        return Screener(pack, ReferenceData({}, {}, CodeTables("", {}), pack))

    def _after_fork(self) -> None:
        """A forked child must not use rulesets compiled by its parent: start afresh."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._lock = threading.RLock()
            self._pack = None
            self._pack_signature = None
            self._snapshot = None
            self._pack_checked = self._snapshot_checked = -1e18

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

    def screen(self, *, session: Session, claims: list[dict[str, Any]]) -> Screened:
        """Screen checked claims with the patients' stored claims as history; nothing is written.

        Every claim is screened by the active pack of its treatment region. A patient's stored claims
        discharged since the earliest admission of the request minus the pack's lookback are the
        history; a claim of the request replaces its stored version.
        """
        packs = {claim["claim_id"]: self.pack_for(claim["treatment_region"]) for claim in claims}
        lookback = max(warm.pack.lookback_days for warm in packs.values())
        since = min(claim["admit_date"] for claim in claims) - dt.timedelta(days=lookback)
        by_patient: dict[str, list[dict[str, Any]]] = {}
        for claim in claims:
            by_patient.setdefault(claim["patient_id"], []).append(claim)
        stored = queries.claims_for_patients(session=session, patient_ids=list(by_patient), since=since)
        hits: dict[str, list[Hit]] = {claim["claim_id"]: [] for claim in claims}
        screeners: dict[str, Screener] = {}
        for patient_id in sorted(by_patient):
            mine = sorted(by_patient[patient_id], key=sort_key)
            versions = sorted({packs[c["claim_id"]].version for c in mine})
            for version in versions:
                targets = [c for c in mine if packs[c["claim_id"]].version == version]
                others = [c for c in mine if packs[c["claim_id"]].version != version]
                warm = packs[targets[0]["claim_id"]]
                screener = screeners.get(version) or screeners.setdefault(
                    version, self.screener_for(session=session, warm=warm)
                )
                for hit in screener.screen_patient(patient_id, targets, [*stored[patient_id], *others]):
                    hits[hit.claim_id].append(hit)
        return Screened(
            packs=packs,
            hits=hits,
            codes={version: screener.reference.codes for version, screener in screeners.items()},
        )


def _levels(hospitals: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    return {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
