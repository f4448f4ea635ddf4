"""The impact of a rule change on stored claims: screen them with the old and the new pack, write nothing.

Both packs screen the same patients in one pass through the screening service's own machinery (the
batch loader, `screen_tasks`, worker processes), each claim with its patient's earlier claims as context
and each batch's hospital indicators under each pack. The hits are compared by (claim, rule); the review
cases are planned with `casebook.preview` (the decision function `refresh_cases` uses), against the cases
stored now; samples of each changed rule are explained under both packs (`engine.explain`, as
`drgaudit explain` shows them).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlmodel import Session, col

from drgaudit.casebook import packs, queries
from drgaudit.casebook.models import Claim
from drgaudit.casebook.preview import (
    as_stored,
    flagged_hits,
    plan_cases,
    stored_cases,
    stored_hit_digests,
)
from drgaudit.casebook.review import evidence_hash, period_of
from drgaudit.casebook.reviewconfig import review_settings
from drgaudit.casebook.screening import choose_codes, hit_content_hash
from drgaudit.casebook.shadow import live_counts, shadow_counts
from drgaudit.engine.cluster import screen_tasks_on_cluster
from drgaudit.engine.columns import ClaimColumns
from drgaudit.engine.explain import RuleExplanation, condition_words, explain_claim
from drgaudit.engine.hits import Hit, thresholds_used
from drgaudit.engine.pack import RulePack
from drgaudit.engine.parallel import ChunkResult, Partition, ScreenSetup, Task, screen_tasks
from drgaudit.engine.prefilter import PrefilterStats
from drgaudit.engine.screen import PackRouter, Screener
from drgaudit.engine.vocabulary import param_labels
from drgaudit.errors import DrgauditError
from drgaudit.reports.impact import (
    OPENING,
    CaseEffect,
    ConditionChange,
    ImpactResult,
    ImpactTally,
    QuotaEffect,
    Sample,
    ShadowStanding,
)
from drgaudit.reports.periods import Period
from drgaudit.services.packs import PackPlan, materialize, screening_plan
from drgaudit.services.screening import (
    CHUNK_PATIENTS,
    BatchLoader,
    Progress,
    _shareable,
    batch_setup,
    bundled_pack,
)

SAMPLES_PER_SIDE = 3


@dataclass
class SideHit(Hit):
    """A hit and the side of the comparison that produced it: `old` or `new`."""

    side: str = "old"


class DualScreener:
    """Screens each patient with the old and the new pack plan; hits come back tagged with their side.

    A chunk of patients goes to each side at once (`screen_patients`), so both sides' pre-filters work
    on the chunk's columns, as in `screen --batch`.
    """

    def __init__(self, old: Screener | PackRouter, new: Screener | PackRouter) -> None:
        self.old = old
        self.new = new

    @property
    def prefilter(self) -> bool:
        return bool(self.old.prefilter or self.new.prefilter)

    def prefilter_stats(self) -> PrefilterStats:
        total = PrefilterStats()
        total.add(self.old.prefilter_stats())
        total.add(self.new.prefilter_stats())
        return total

    def close(self) -> None:
        self.old.close()
        self.new.close()

    def column_fields(self) -> set[str]:
        return self.old.column_fields() | self.new.column_fields()

    def candidate_ids(self, columns: ClaimColumns, rows: np.ndarray | None = None) -> set[str]:
        """The claims either side's pre-filter keeps (each side screens them all: a superset of its own)."""
        return self.old.candidate_ids(columns, rows) | self.new.candidate_ids(columns, rows)

    def screen_patients(
        self,
        partitions: Iterable[tuple[str, list[dict[str, Any]], Iterable[dict[str, Any]]]],
        candidates: set[str] | None = None,
    ) -> list[Hit]:
        items = [(patient_id, list(batch), list(history)) for patient_id, batch, history in partitions]
        hits: list[Hit] = [
            SideHit(**hit.__dict__, side="old") for hit in self.old.screen_patients(items, candidates)
        ]
        hits += [SideHit(**hit.__dict__, side="new") for hit in self.new.screen_patients(items, candidates)]
        return hits

    def screen_patient(
        self, patient_id: str, batch: list[dict[str, Any]], history: Iterable[dict[str, Any]] = ()
    ) -> list[Hit]:
        past = list(history)
        hits: list[Hit] = [
            SideHit(**hit.__dict__, side="old") for hit in self.old.screen_patient(patient_id, batch, past)
        ]
        hits += [
            SideHit(**hit.__dict__, side="new") for hit in self.new.screen_patient(patient_id, batch, past)
        ]
        return hits


@dataclass
class ImpactSetup(ScreenSetup):
    """A screen setup whose screener runs both sides (each side's own setup builds its part)."""

    old: ScreenSetup | None = None
    new: ScreenSetup | None = None

    def _sides(self) -> tuple[ScreenSetup, ScreenSetup]:
        assert self.old is not None and self.new is not None
        return self.old, self.new

    def folders(self) -> list[Path]:
        """Both sides' rule-pack folders (a cluster worker is sent each one's loaded pack)."""
        old, new = self._sides()
        return list(dict.fromkeys([*old.folders(), *new.folders()]))

    def identity(self) -> str:
        old, new = self._sides()
        return repr(("impact", old.identity(), new.identity()))

    def screener(self, packs: dict[str, RulePack] | None = None) -> DualScreener:  # type: ignore[override]
        old, new = self._sides()
        return DualScreener(old.screener(packs), new.screener(packs))


@dataclass
class ImpactLoader(BatchLoader):
    """A batch loader that keeps only some of the batch's claims: one region's, or a given set."""

    region: str | None = None
    only: frozenset[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "region": self.region, "only": self.only}

    def columns(self, patient_ids: list[str], fields: set[str]) -> ClaimColumns:
        """The claims as `BatchLoader.columns` reads them, with only the kept batch claims as targets."""
        columns = super().columns(patient_ids, fields | {"treatment_region"})
        keep = np.ones(columns.n, dtype=bool)
        if self.region is not None:
            keep &= columns.values["treatment_region"] == self.region
        if self.only is not None:
            only = self.only
            keep &= np.fromiter((c in only for c in columns.values["claim_id"].tolist()), bool, columns.n)
        columns.restrict_targets(keep)
        return columns

    def __call__(self, patient_ids: list[str]) -> list[Partition]:
        result = []
        for part in super().__call__(patient_ids):
            keep = [
                claim
                for claim in part.batch
                if (self.region is None or claim["treatment_region"] == self.region)
                and (self.only is None or claim["claim_id"] in self.only)
            ]
            dropped = [claim for claim in part.batch if claim not in keep]
            if keep:
                result.append(Partition(part.patient_id, keep, part.history + dropped))
        return result


@dataclass
class ImpactRequest:
    """What to compare and on which stored claims."""

    new_dir: Path | None = None  # a rules folder, or
    new_version: str | None = None  # a registered version (id or hash prefix)
    against_dir: Path | None = None  # None: the versions active today (else the bundled pack)
    batch_id: int | None = None
    period: Period | None = None
    region: str | None = None
    workers: int = 1
    cluster: str | None = None  # a Dask scheduler address: both sides screened by its workers
    codes_dir: Path | str | None = None
    samples: int = SAMPLES_PER_SIDE
    on_date: dt.date | None = None


@dataclass
class _Side:
    hit: Hit
    evidence: str  # evidence hash (as refresh_cases computes it)


@dataclass
class _Scope:
    """One batch's part of the comparison: its claims to screen (None: all) and the region filter."""

    batch_id: int
    claims: frozenset[str] | None
    patients: list[str] | None


@dataclass
class _Collector:
    """Gathers both sides' hits of one batch, by (claim, rule)."""

    old: dict[tuple[str, str], _Side] = field(default_factory=dict)
    new: dict[tuple[str, str], _Side] = field(default_factory=dict)

    def add(self, hit: SideHit) -> None:
        plain = as_stored(Hit(**{k: v for k, v in hit.__dict__.items() if k != "side"}))
        side = _Side(plain, evidence_hash(plain))
        (self.old if hit.side == "old" else self.new)[(plain.claim_id, plain.rule_id)] = side


def rules_impact(
    *, session: Session, request: ImpactRequest, progress: Progress | None = None
) -> ImpactResult:
    """Compare a new rule pack with the old one on stored claims; nothing is written to the casebook."""
    started = time.perf_counter()
    new_dir, new_label = _new_pack(session, request)
    scopes = _scopes(session, request)
    regions = sorted({r for s in scopes for r in queries.batch_regions(session=session, batch_id=s.batch_id)})
    if request.region is not None:
        regions = [r for r in regions if r == request.region]
    new_plan = PackPlan(new_dir)
    if request.against_dir is not None:
        old_plan, old_label = PackPlan(Path(request.against_dir)), str(request.against_dir)
    else:
        old_plan = screening_plan(session=session, regions=regions, rules_dir=None, on_date=request.on_date)
        old_label = "the active versions" if packs.promoted_regions(session=session) else "the bundled pack"
    codes = choose_codes(session=session, codes_dir=request.codes_dir, rules_dir=old_plan.default)
    result = ImpactResult(
        new_label=new_label,
        new_version=new_plan.version,
        old_label=old_label,
        old_version=old_plan.version,
        scope=_describe_scope(request, scopes),
        region=request.region,
        batches=[s.batch_id for s in scopes],
    )
    hospitals = queries.load_hospitals(session=session)
    total = sum(len(s.claims) for s in scopes if s.claims is not None) or sum(
        _rows_ok(session, s.batch_id) for s in scopes
    )
    done = 0
    for scope in scopes:
        collector = _Collector()
        case_mix = (  # one scan for both packs
            queries.batch_case_mix(session=session, batch_id=scope.batch_id)
            if old_plan.folders() or new_plan.folders()
            else None
        )
        setups = {
            name: batch_setup(
                session=session, batch_id=scope.batch_id, plan=plan, codes=codes, case_mix=case_mix
            )
            for name, plan in (("old", old_plan), ("new", new_plan))
        }
        setup = ImpactSetup(
            None, codes, setups["old"].hospitals, setups["old"].groups, old=setups["old"], new=setups["new"]
        )

        def on_chunk(chunk: ChunkResult) -> None:
            nonlocal done
            result.patients += chunk.patients
            result.claims += chunk.claims
            done += chunk.claims
            if progress:
                progress(done, total)

        tasks = _tasks(session, scope, setup, max(old_plan.lookback_days, new_plan.lookback_days), request)
        hits = (
            screen_tasks_on_cluster(tasks, setup, address=request.cluster, on_chunk=on_chunk)
            if request.cluster
            else screen_tasks(tasks, setup, workers=request.workers, on_chunk=on_chunk)
        )
        for hit in hits:
            collector.add(hit)  # type: ignore[arg-type]
        _compare(result, collector, hospitals)
        _plan_cases(session, result, scope, collector, old_plan, new_plan)
        if scope.claims is None or scope.claims:
            _samples(session, result, collector, setups, request.samples)
        _shadow(session, result, scope.batch_id, new_plan.version)
    _quota(session, result, new_plan)
    _name_places(result, hospitals, new_plan)
    result.seconds = time.perf_counter() - started
    return result


def _name_places(result: ImpactResult, hospitals: dict[str, dict[str, Any]], plan: PackPlan) -> None:
    """The names of the hospitals and treatment regions the result's tables show: a hospital's from the
    casebook's hospital file, a region's from the new pack's region file (what screens it)."""
    hospital_ids = set(result.by_hospital) | {c.hospital_id for c in result.cases}
    hospital_ids |= {q.hospital_id for q in result.quota}
    hospital_ids |= {s.hospital_id for found in result.samples.values() for s in found}
    for code in sorted(hospital_ids):
        name = (hospitals.get(code) or {}).get("name")
        if name:
            result.hospital_names[code] = str(name)
    region_ids = set(result.by_region) | {c.region for c in result.cases}
    region_ids |= {s.region for found in result.samples.values() for s in found}
    for code in sorted(region_ids):
        pack = plan.pack_for(code)
        config = pack.regions.get(code) if pack is not None else None
        if config is not None and config.name and config.name != code:
            result.region_names[code] = config.name
            if code in result.by_region:
                result.by_region[code].label = config.name


def _rows_ok(session: Session, batch_id: int) -> int:
    """The claims a batch brought (its good rows), 0 for an unknown batch."""
    batch = queries.get_batch(session=session, batch_id=batch_id)
    return (batch.rows_ok or 0) if batch is not None else 0


def _new_pack(session: Session, request: ImpactRequest) -> tuple[Path, str]:
    new_dir, new_version = request.new_dir, request.new_version
    if new_dir is not None and new_version is None:
        return Path(new_dir), str(new_dir)
    if new_version is not None and new_dir is None:
        version = packs.get_version(session=session, ref=new_version)
        return materialize(version), f"version {version.version}"
    raise DrgauditError("give the new rule pack as a folder or as a registered version (one of the two)")


def _scopes(session: Session, request: ImpactRequest) -> list[_Scope]:
    if (request.batch_id is None) == (request.period is None):
        raise DrgauditError("choose the claims: --batch ID, or --period / --from and --to (one of the two)")
    if request.batch_id is not None:
        batch = queries.get_batch(session=session, batch_id=request.batch_id)
        if batch is None:
            raise DrgauditError(
                f"no import batch {request.batch_id} in the casebook (see `drgaudit batches`)"
            )
        if batch.kind != "claims":
            raise DrgauditError(f"batch {request.batch_id} is a {batch.kind} import, not claims")
        return [_Scope(request.batch_id, None, None)]
    period = request.period
    assert period is not None
    rows = queries.claims_in_period(
        session=session, start=period.start, end=period.end, region=request.region
    )
    if not rows:
        where = f" of region {request.region}" if request.region else ""
        raise DrgauditError(f"no stored claims{where} discharged {period.span}")
    scopes: dict[int, tuple[set[str], set[str]]] = {}
    for claim_id, patient_id, batch_id in rows:
        claims, patients = scopes.setdefault(batch_id, (set(), set()))
        claims.add(claim_id)
        patients.add(patient_id)
    return [_Scope(b, frozenset(c), sorted(p)) for b, (c, p) in sorted(scopes.items())]


def _describe_scope(request: ImpactRequest, scopes: list[_Scope]) -> str:
    region = f", treatment region {request.region}" if request.region else ""
    if request.batch_id is not None:
        return f"batch {request.batch_id}{region}"
    assert request.period is not None
    batches = ", ".join(str(s.batch_id) for s in scopes)
    return f"claims discharged {request.period.span}{region} (batches {batches})"


def _tasks(
    session: Session, scope: _Scope, setup: ImpactSetup, lookback: int, request: ImpactRequest
) -> Iterator[Task]:
    admits = queries.batch_admit_range(session=session, batch_id=scope.batch_id)
    since = (admits[0] if admits else dt.date.today()) - dt.timedelta(days=lookback)
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    loader = ImpactLoader(url, scope.batch_id, since, region=request.region, only=scope.claims)
    chunks: Iterator[list[str]]
    if scope.patients is not None:  # a period's claims: the patients are known
        ids = scope.patients
        chunks = (ids[i : i + CHUNK_PATIENTS] for i in range(0, len(ids), CHUNK_PATIENTS))
    else:
        chunks = queries.iter_batch_patient_ids(
            session=session, batch_id=scope.batch_id, chunk_patients=CHUNK_PATIENTS
        )
    if request.cluster and not _shareable(url):
        raise DrgauditError("a cluster cannot read an in-memory database: use a file or server casebook")
    if request.cluster or (request.workers > 1 and _shareable(url)):
        setup.loader = loader  # each worker reads its own patients
        return chunks
    loader.session = session
    if request.workers > 1:  # an in-memory database: read here, send the claims
        return (loader(ids) for ids in chunks)
    setup.loader = loader  # screened here: read in the one session, columns first (the pre-filter)
    return chunks


def _tally(table: dict[str, ImpactTally], key: str, label: str = "") -> ImpactTally:
    if key not in table:
        table[key] = ImpactTally(key, label)
    return table[key]


def _compare(result: ImpactResult, collector: _Collector, hospitals: dict[str, dict[str, Any]]) -> None:
    for key in sorted(set(collector.old) | set(collector.new)):
        old, new = collector.old.get(key), collector.new.get(key)
        side = new or old
        assert side is not None  # the key is of one side's hits
        hit = side.hit
        claim_hospital = (hit.evidence.get("facts") or {}).get("hospital_id") or ""
        hospital_name = (hospitals.get(claim_hospital) or {}).get("name", "")
        slices = [
            result.totals,
            _tally(result.by_rule, hit.rule_id),
            _tally(result.by_region, hit.region),
            _tally(result.by_hospital, claim_hospital, hospital_name),
        ]
        title = (hit.evidence.get("rule") or {}).get("title")
        if title:
            result.rule_titles.setdefault(hit.rule_id, title)
        changed = (
            old is not None
            and new is not None
            and (old.evidence != new.evidence or old.hit.amount_at_risk != new.hit.amount_at_risk)
        )
        for tally in slices:
            if old is not None:
                tally.before += 1
                tally.amount_before = round(tally.amount_before + old.hit.amount_at_risk, 2)
            if new is not None:
                tally.after += 1
                tally.amount_after = round(tally.amount_after + new.hit.amount_at_risk, 2)
            if old is None:
                tally.added += 1
            elif new is None:
                tally.removed += 1
            else:
                tally.kept += 1
                tally.changed += changed
        if old is None:
            result.added.append(key)
        elif new is None:
            result.removed.append(key)
        elif changed:
            result.changed.append(key)


def _case_actions(plan: PackPlan) -> Callable[[str], frozenset[str]]:
    cache: dict[str, frozenset[str]] = {}

    def actions(region: str) -> frozenset[str]:
        if region not in cache:
            cache[region] = review_settings(plan.pack_for(region) or bundled_pack(), region).case_actions
        return cache[region]

    return actions


def _plan_cases(
    session: Session,
    result: ImpactResult,
    scope: _Scope,
    collector: _Collector,
    old_plan: PackPlan,
    new_plan: PackPlan,
) -> None:
    """What a re-screen with the new pack would do to the stored hits and review cases of this scope."""
    claims, region = scope.claims, result.region
    # Stored hits: what store_hits would report for these claims.
    existing = stored_hit_digests(session=session, batch_id=scope.batch_id, claim_ids=claims, region=region)
    stored = result.stored or {"new": 0, "unchanged": 0, "removed": 0}
    for key, side in collector.new.items():
        if existing.get(key) == hit_content_hash(side.hit):
            stored["unchanged"] += 1
        else:
            stored["new"] += 1
    stored["removed"] += sum(1 for key in existing if key not in collector.new)
    result.stored = stored
    cases = stored_cases(session=session, batch_id=scope.batch_id, claim_ids=claims, region=region)
    flagged_new = flagged_hits((s.hit for s in collector.new.values()), _case_actions(new_plan))
    flagged_old = flagged_hits((s.hit for s in collector.old.values()), _case_actions(old_plan))
    outcomes = plan_cases(batch_id=scope.batch_id, cases=cases, flagged=flagged_new)
    baseline = plan_cases(batch_id=scope.batch_id, cases=cases, flagged=flagged_old)
    for outcome in baseline.values():
        result.baseline_case_counts[outcome] = result.baseline_case_counts.get(outcome, 0) + 1
    details = _claim_details(session, [cid for cid, o in outcomes.items() if o != "unchanged"])
    for claim_id, outcome in sorted(outcomes.items()):
        result.case_counts[outcome] = result.case_counts.get(outcome, 0) + 1
        if outcome == "unchanged":
            continue
        case = cases.get(claim_id)
        detail = details[claim_id]
        result.cases.append(
            CaseEffect(
                claim_id=claim_id,
                case_id=case.id if case else None,
                hospital_id=detail.hospital_id,
                region=detail.treatment_region,
                period=period_of(detail.discharge_date),
                scheme=detail.payment_scheme,
                status=case.status if case else None,
                outcome=outcome,
                rules_before=sorted(case.hits) if case else [],
                rules_after=sorted(flagged_new.get(claim_id, {})),
            )
        )


def _shadow(session: Session, result: ImpactResult, batch_id: int, new_version: str) -> None:
    """The shadow versions screened with a batch: their stored hits beside the live ones, by rule."""
    stored = shadow_counts(session=session, batch_id=batch_id, region=result.region)
    if not stored:
        return
    live = live_counts(session=session, batch_id=batch_id, region=result.region)
    for version, counts in sorted(stored.items()):
        rules = sorted(set(live) | set(counts))
        by_rule = {rule: (live.get(rule, 0), counts.get(rule, 0)) for rule in rules}
        result.shadow.append(ShadowStanding(batch_id, version, by_rule, version == new_version))


def _claim_details(session: Session, claim_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    columns = (
        col(Claim.claim_id),
        col(Claim.hospital_id),
        col(Claim.treatment_region),
        col(Claim.discharge_date),
        col(Claim.payment_scheme),
    )
    for start in range(0, len(claim_ids), 500):
        for row in session.execute(
            select(*columns).where(col(Claim.claim_id).in_(claim_ids[start : start + 500]))
        ):
            found[row.claim_id] = row
    return found


def _quota(session: Session, result: ImpactResult, new_plan: PackPlan) -> None:
    """Open cases per hospital, month and scheme before and after, against the quota under the new pack."""
    from drgaudit.casebook.review_models import OPEN_STATUSES, ReviewCase

    delta: dict[tuple[str, str, str, str], int] = {}
    for effect in result.cases:
        now_open = effect.status in OPEN_STATUSES
        if effect.outcome in OPENING and not now_open:
            change = 1
        elif effect.outcome == "withdrawn" and now_open:
            change = -1
        else:
            continue
        key = (effect.hospital_id, effect.period, effect.scheme, effect.region)
        delta[key] = delta.get(key, 0) + change
    for (hospital_id, period, scheme, region), change in sorted(delta.items()):
        open_now = session.execute(
            select(func.count()).where(
                col(ReviewCase.hospital_id) == hospital_id,
                col(ReviewCase.period) == period,
                col(ReviewCase.payment_scheme) == scheme,
                col(ReviewCase.status).in_(OPEN_STATUSES),
            )
        ).scalar_one()
        start = dt.date(int(period[:4]), int(period[5:7]), 1)
        end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        base = session.execute(
            select(func.count()).where(
                col(Claim.hospital_id) == hospital_id,
                col(Claim.payment_scheme) == scheme,
                col(Claim.discharge_date) >= start,
                col(Claim.discharge_date) < end,
            )
        ).scalar_one()
        ratio = review_settings(new_plan.pack_for(region) or bundled_pack(), region).quota_ratio(scheme)
        limit = math.floor(ratio * base + 1e-9) if ratio is not None else None
        result.quota.append(QuotaEffect(hospital_id, period, scheme, limit, open_now, open_now + change))


def _samples(
    session: Session,
    result: ImpactResult,
    collector: _Collector,
    setups: dict[str, ScreenSetup],
    per_side: int,
) -> None:
    """Up to `per_side` claims each changed rule newly flags and no longer flags, explained under both packs."""
    if per_side <= 0:
        return
    wanted: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for key in result.added:
        if key in collector.new:
            wanted.setdefault(key[1], {}).setdefault("added", []).append(key)
    for key in result.removed:
        if key in collector.old:
            wanted.setdefault(key[1], {}).setdefault("removed", []).append(key)
    if not wanted:
        return
    screeners: dict[str, Any] = {}
    for side in ("old", "new"):
        screeners[side] = setups[side].screener()
    lookback = max(
        s.pack.lookback_days
        for side in screeners.values()
        for s in ([side] if isinstance(side, Screener) else [*side.by_region.values(), side.default])
        if s is not None
    )
    for rule_id, sides in sorted(wanted.items()):
        samples = result.samples.setdefault(rule_id, [])
        for side_name, keys in sorted(sides.items()):
            if sum(1 for s in samples if s.side == side_name) >= per_side:
                continue
            for claim_id, _ in keys[:per_side]:
                sample = _explain_sample(
                    session, screeners, claim_id, rule_id, side_name, collector, lookback
                )
                if sample is not None:
                    samples.append(sample)


def _explain_sample(
    session: Session,
    screeners: dict[str, Any],
    claim_id: str,
    rule_id: str,
    side_name: str,
    collector: _Collector,
    lookback: int,
) -> Sample | None:
    claim = queries.get_claim(session=session, claim_id=claim_id)
    if claim is None:
        return None
    since = claim["admit_date"] - dt.timedelta(days=lookback)
    history = [
        c
        for c in queries.claims_for_patients(session=session, patient_ids=[claim["patient_id"]], since=since)[
            claim["patient_id"]
        ]
        if c["claim_id"] != claim_id
    ]
    explained: dict[str, tuple[RuleExplanation | None, dict[str, Any]]] = {}
    words: dict[str, str] = {}  # each condition in words, the new pack's where both have it
    for side in ("old", "new"):
        screener = screeners[side]
        if isinstance(screener, PackRouter):
            screener = screener.screener_for(claim["treatment_region"])
        if screener is None:
            explained[side] = (None, {})
            continue
        explanation = explain_claim(screener, claim_id, [claim], history)
        mine = next((r for r in explanation.rules if r.rule_id == rule_id), None)
        thresholds: dict[str, Any] = {}
        if mine is not None:
            words.update(condition_words(mine.rule, screener.pack.lists))
            profile = screener.profile_for(claim["treatment_region"])
            compiled = next((c for c in profile.compiled.rules if c.rule is mine.rule), None)
            if compiled is not None:
                thresholds = thresholds_used(compiled.bound, profile.compiled.settings)
        explained[side] = (mine, thresholds)
    (old_rule, old_thresholds), (new_rule, new_thresholds) = explained["old"], explained["new"]
    old_conditions = {(c.kind, c.source): c.value for c in (old_rule.conditions if old_rule else [])}
    new_conditions = {(c.kind, c.source): c.value for c in (new_rule.conditions if new_rule else [])}
    conditions = [
        ConditionChange(
            kind,
            source,
            old_conditions.get((kind, source)),
            new_conditions.get((kind, source)),
            words.get(source, ""),
        )
        for kind, source in dict.fromkeys([*old_conditions, *new_conditions])
    ]
    names = dict.fromkeys([*old_thresholds, *new_thresholds])
    threshold_rows = [(name, old_thresholds.get(name), new_thresholds.get(name)) for name in names]
    # Either side's description of a parameter (the new pack's, when it gives one).
    described = {
        name: text
        for explained_rule in (old_rule, new_rule)
        if explained_rule is not None
        for name, text in param_labels(explained_rule.rule).items()
        if name in names
    }
    reasons = []
    absent: list[str] = []
    inapplicable: dict[str, list[str]] = {}
    for label, rule in (("old", old_rule), ("new", new_rule)):
        if rule is None:
            reasons.append(f"{rule_id} is not in the {label} pack for this region")
            absent.append(label)
        elif not rule.applies:
            reasons.append(f"{label} pack: not applicable ({'; '.join(rule.not_applicable)})")
            inapplicable[label] = list(rule.not_applicable)
    old_hit = collector.old.get((claim_id, rule_id))
    new_hit = collector.new.get((claim_id, rule_id))
    stored = new_hit or old_hit
    assert stored is not None, "a sample is a claim with the rule's hit on at least one side"
    shown = stored.hit
    rule = new_rule or old_rule
    values = dict(rule.values) if rule else {}
    return Sample(
        side=side_name,
        rule_id=rule_id,
        claim_id=claim_id,
        patient_id=claim["patient_id"],
        hospital_id=claim["hospital_id"],
        region=claim["treatment_region"],
        amount_before=old_hit.hit.amount_at_risk if old_hit else None,
        amount_after=new_hit.hit.amount_at_risk if new_hit else None,
        conditions=conditions,
        thresholds=threshold_rows,
        values=values,
        reasons=reasons,
        message=shown.message,
        absent=absent,
        inapplicable=inapplicable,
        threshold_labels=described,
    )


__all__ = ["ImpactRequest", "SideHit", "rules_impact"]
