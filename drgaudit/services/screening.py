"""Screening a casebook batch, or files with no prior import, end to end.

Claims are read from the casebook patient by patient (a batch's claims ordered by patient), each
patient's earlier claims within the lookback window come along as context, workers screen chunks of
patients, and the hits stream in a fixed order to JSONL and, for a stored batch, into the casebook in
one transaction at the end (each hit's row is prepared as it comes, while the workers screen on).
Screening files imports them into a scratch SQLite casebook first, so a file of any size is screened
with the same bounded memory.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.findings import PAGE_CLAIMS, refresh_findings
from drgaudit.casebook.hitpages import HitPages
from drgaudit.casebook.ingest import ImportReport, import_file
from drgaudit.casebook.models import ImportBatch, stored_id
from drgaudit.casebook.preview import preview_store
from drgaudit.casebook.review import refresh_cases
from drgaudit.casebook.reviewconfig import review_settings
from drgaudit.casebook.runlock import BatchBusyError, ScreenLock, busy_message, reap_stale_runs
from drgaudit.casebook.screening import (
    HitStore,
    ScreenRunCreate,
    choose_codes,
    evidence_json,
    finish_run,
    start_run,
)
from drgaudit.casebook.shadow import store_shadow_hits
from drgaudit.engine.cluster import screen_tasks_on_cluster
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.columns import ClaimColumns
from drgaudit.engine.exceptions import UnconfiguredRegionError
from drgaudit.engine.explain import ClaimExplanation, explain_claim
from drgaudit.engine.hits import Hit, PatientFailure
from drgaudit.engine.indicators import CaseMix, PeerRule, hospital_indicators, peer_rule
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.parallel import ChunkResult, Partition, ScreenSetup, Task, screen_tasks
from drgaudit.engine.screen import Screener
from drgaudit.errors import DataFileError, DrgauditError
from drgaudit.i18n import _
from drgaudit.jsontext import encoder
from drgaudit.labels import value_label
from drgaudit.services.codes import choose_codes_for
from drgaudit.services.packs import PackPlan, screening_plan, shadow_plan


@dataclass
class ScreenSummary:
    """What a screen did: counts, money at risk, timing, and where the hits went."""

    patients: int = 0
    claims: int = 0
    # Claims that went through durable-rules: the pre-filter's candidates (every claim without it).
    candidates: int = 0
    prefilter: bool = True
    hits: int = 0
    amount_at_risk: float = 0.0
    # Screening only: from the first task to the last hit out (reading, the pre-filter, durable-rules).
    seconds: float = 0.0
    # The whole call, storing the hits, the review queue and the findings included.
    total_seconds: float = 0.0
    by_family: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    # The Chinese names of the families the packs declare (a rule file's `families:`); the contract's own
    # families are named in `drgaudit.labels`.
    family_labels: dict[str, str] = field(default_factory=dict)
    run_id: int | None = None
    batch_id: int | None = None
    rules_version: str = ""
    codes_source: str = ""
    imports: list[ImportReport] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)
    review_cases: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    # pack version -> shadow hits stored apart; dry_run: `stored`/`review_cases` say what would have happened
    shadow: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    # Patients the engine failed on: not screened, their claims have no result (see engine.parallel).
    failed: list[PatientFailure] = field(default_factory=list)
    # Chunks on which the columnar pre-filter failed and the plain way screened them (same hits, slower),
    # and the first reason.
    prefilter_fallbacks: int = 0
    prefilter_fallback_reason: str | None = None
    # Chunks that could not be screened at once and were screened patient by patient, and the first reason.
    chunk_fallbacks: int = 0
    chunk_fallback_reason: str | None = None

    def count_chunk(self, result: ChunkResult) -> None:
        """Add one screened chunk's counts."""
        self.patients += result.patients
        self.claims += result.claims
        self.failed.extend(result.failed)
        self.candidates += result.candidates
        if result.columnar_fallback is not None:
            self.prefilter_fallbacks += 1
            self.prefilter_fallback_reason = self.prefilter_fallback_reason or result.columnar_fallback
        if result.chunk_fallback is not None:
            self.chunk_fallbacks += 1
            self.chunk_fallback_reason = self.chunk_fallback_reason or result.chunk_fallback

    @property
    def claims_failed(self) -> int:
        return sum(len(f.claim_ids) for f in self.failed)

    @property
    def claims_per_second(self) -> float:
        return self.claims / self.seconds if self.seconds else 0.0

    @property
    def claims_per_second_in_all(self) -> float:
        """Claims per second of the whole call (`total_seconds`), storing included."""
        return self.claims / self.total_seconds if self.total_seconds else 0.0

    def count(self, hit: Hit) -> None:
        self.hits += 1
        self.amount_at_risk += hit.amount_at_risk
        self.by_family[hit.family] = self.by_family.get(hit.family, 0) + 1
        self.by_action[hit.action] = self.by_action.get(hit.action, 0) + 1
        self.by_rule[hit.rule_id] = self.by_rule.get(hit.rule_id, 0) + 1


Progress = Callable[[int, int], None]  # (claims done, claims total)
# Patients per task sent to a worker.
CHUNK_PATIENTS = 1000


@dataclass
class BatchLoader:
    """Reads chunks of a batch's patients from the casebook: their batch claims, and their stored claims
    discharged since `since` as context. Picklable; each worker process opens its own connection."""

    database_url: str
    batch_id: int
    since: dt.date
    session: Session | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "database_url": self.database_url,
            "batch_id": self.batch_id,
            "since": self.since,
            "session": None,
        }

    def _session(self) -> Session:
        if self.session is None:
            self.session = Session(make_engine(self.database_url))
        return self.session

    def columns(self, patient_ids: list[str], fields: set[str]) -> ClaimColumns:
        """The same claims as `self(patient_ids)` gives, as columns of `fields` (for the pre-filter),
        with the rows kept: the candidates' partitions are made from them (`ClaimColumns.records`)."""
        return queries.claim_columns(
            session=self._session(),
            batch_id=self.batch_id,
            patient_ids=patient_ids,
            since=self.since,
            fields=fields,
            records=True,
        )

    def __call__(self, patient_ids: list[str]) -> list[Partition]:
        self._session()
        assert self.session is not None
        targets = queries.batch_claim_ids(
            session=self.session, batch_id=self.batch_id, patient_ids=patient_ids
        )
        claims = queries.claims_for_patients(session=self.session, patient_ids=patient_ids, since=self.since)
        partitions = []
        for patient_id in patient_ids:
            mine = targets[patient_id]
            stored = claims[patient_id]
            partitions.append(
                Partition(
                    patient_id,
                    [c for c in stored if c["claim_id"] in mine],
                    [c for c in stored if c["claim_id"] not in mine],
                )
            )
        return partitions


def _shareable(url: str) -> bool:
    """Whether other processes can open this database (not an in-memory SQLite database)."""
    lowered = url.lower()
    return not (lowered.startswith("sqlite") and ("memory" in lowered or lowered.rstrip("/").endswith(":")))


# json.dumps(value, ensure_ascii=False, default=str), its C encoder made once (`drgaudit.jsontext`).
_jsonl = encoder(ensure_ascii=False, default=str)


def write_jsonl(hit: Hit, out: IO[str], evidence: str | None = None) -> None:
    """One hit as one JSON line (DATA-CONTRACT "Screening output"). `evidence`: `evidence_json` of the
    hit's evidence if the caller made it already (a stored screen stores that text): the line is then
    written around it, the same text (the JSON of a dict is its items' JSON joined by ", ")."""
    out.write(jsonl_line(hit, evidence))


def jsonl_line(hit: Hit, evidence: str | None = None) -> str:
    """`write_jsonl`'s line (with its newline), written in one piece."""
    record = hit.to_dict()
    if evidence is None:
        return _jsonl(record) + "\n"
    keys = list(record)
    if "evidence" not in keys[1:-1]:
        return _jsonl(record) + "\n"
    items = list(record.items())
    at = keys.index("evidence")
    head = _jsonl(dict(items[:at]))
    tail = _jsonl(dict(items[at + 1 :]))
    return f'{head[:-1]}, "evidence": {evidence}, {tail[1:]}\n'


def batch_indicators(
    *,
    session: Session,
    batch_id: int,
    hospitals: dict[str, dict[str, Any]],
    peers_by: PeerRule,
    case_mix: list[CaseMix] | None = None,
) -> dict[str, dict[str, Any]]:
    """The hospital indicators (engine.indicators) of a batch's claims, peers grouped by hospital level
    (`case_mix`: the batch's `queries.batch_case_mix`, if read already)."""
    levels = {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
    if case_mix is None:
        case_mix = queries.batch_case_mix(session=session, batch_id=batch_id)
    return hospital_indicators(case_mix, levels, peers_by=peers_by)


def screen_batch(
    *,
    session: Session,
    batch_id: int,
    rules_dir: Path | None = None,
    codes_dir: Path | str | None = None,
    workers: int = 1,
    output: IO[str] | None = None,
    store: bool = True,
    progress: Progress | None = None,
    pack: RulePack | None = None,
    codes: CodeTables | None = None,
    prefilter: bool = True,
    cluster: str | None = None,
    chunk_patients: int = CHUNK_PATIENTS,
    actor: str | None = None,
    dry_run: bool = False,
    on_date: dt.date | None = None,
) -> ScreenSummary:
    """Screen one imported batch; write hits to `output` as JSONL and (if `store`) into the casebook.

    The code tables are `codes` if given (already chosen by the caller), else `choose_codes`.
    `actor` (an `auditlog.Actor`, checked by the caller) is recorded for the review cases it refreshes.
    Without `rules_dir` each treatment region is screened with its active rule-pack version on `on_date`
    (default today; `drgaudit.services.packs`), else the bundled pack; a stored screen also screens the
    regions' shadow versions and keeps their hits apart. `dry_run` stores nothing and reports in
    `stored`/`review_cases` what storing would have done.

    A stored screen holds the batch's screen lock (`casebook.runlock`) while it runs: a second screen
    of the same batch meanwhile is refused with `BatchBusyError`, and a run left `running` by a killed
    process is marked failed first. A patient the engine fails on is reported in `failed` (and in the
    run record) and every other patient is screened.

    With `prefilter` (the default) only the claims some rule could fire on go through durable-rules
    (`drgaudit.engine.prefilter`); the others are screened with no hit. The hits are the same either way.
    With `cluster` (a Dask scheduler address, e.g. `tcp://10.0.0.5:8786`) the patients are screened by
    the cluster's workers, each reading its patients from the database (`drgaudit.engine.cluster`).
    `chunk_patients` patients make one task (fewer: finer balance between workers, more overhead).
    """
    options: dict[str, Any] = dict(
        rules_dir=rules_dir, codes_dir=codes_dir, workers=workers, output=output, store=store,
        progress=progress, pack=pack, codes=codes, prefilter=prefilter, cluster=cluster,
        chunk_patients=chunk_patients, actor=actor, dry_run=dry_run, on_date=on_date,
    )  # fmt: skip
    started = time.perf_counter()
    batch = claims_batch(session, batch_id)  # before the lock's queries: a number no batch can have, too
    if not store or dry_run:
        summary = _screen_batch(session=session, batch=batch, **options)
    else:
        reap_stale_runs(session=session, batch_id=batch_id)
        lock = ScreenLock(session.get_bind(), batch_id)
        if not lock.acquire():
            raise BatchBusyError(busy_message(session=session, batch_id=batch_id))
        try:
            summary = _screen_batch(session=session, batch=batch, **options)
        finally:
            lock.release()
    summary.total_seconds = time.perf_counter() - started
    return summary


def claims_batch(session: Session, batch_id: int) -> ImportBatch:
    """The batch; refused when it is not in the casebook or is not an import of claims."""
    batch = queries.get_batch(session=session, batch_id=batch_id)
    if batch is None:
        raise DrgauditError(
            _("no import batch {batch} in the casebook (see `drgaudit batches`)").format(batch=batch_id)
        )
    if batch.kind != "claims":
        raise DrgauditError(
            _("batch {batch} is a {kind} import, not claims").format(
                batch=batch_id, kind=batch.kind, kind_name=value_label("batch.kind", batch.kind)
            )
        )
    return batch


def _screen_batch(
    *,
    session: Session,
    batch: ImportBatch,
    rules_dir: Path | None,
    codes_dir: Path | str | None,
    workers: int,
    output: IO[str] | None,
    store: bool,
    progress: Progress | None,
    pack: RulePack | None,
    codes: CodeTables | None,
    prefilter: bool,
    cluster: str | None,
    chunk_patients: int,
    actor: str | None,
    dry_run: bool,
    on_date: dt.date | None,
) -> ScreenSummary:
    batch_id = stored_id(batch)
    store = store and not dry_run
    span = queries.batch_span(session=session, batch_id=batch_id)  # regions and admission range, one pass
    regions = span.regions
    plan = screening_plan(session=session, regions=regions, rules_dir=rules_dir, on_date=on_date)
    if pack is not None and plan.default is not None:
        plan.use(plan.default, pack)
    pack = plan.pack(plan.default) if plan.default is not None else None
    check_priced(plan, regions)
    codes = codes or choose_codes(session=session, codes_dir=codes_dir, rules_dir=plan.default)
    # The case mix is read here, in this session, not on a thread beside the other reads: that thread cost
    # 73 MiB of peak memory at 200,000 claims for about 0.7 s of a 1,000,000-claim screen's head.
    setup = batch_setup(session=session, batch_id=batch_id, plan=plan, codes=codes)
    setup.prefilter = prefilter
    setup.digests = store  # the workers work out what storing the hits compares
    total_claims = batch.rows_ok
    summary = ScreenSummary(
        batch_id=batch_id, rules_version=plan.version, codes_source=codes.label, prefilter=prefilter
    )
    for folder in plan.folders():
        summary.family_labels.update(plan.pack(folder).families)
    run = None
    if store:
        run = start_run(
            session=session,
            run=ScreenRunCreate(
                batch_id=batch_id, source=f"batch {batch_id} ({batch.file_name})", rules_dir=plan.describe(),
                rules_version=plan.version, codes_source=codes.source, codes_version=codes.digest, workers=workers,
                run_by=None if actor is None else str(actor),
            ),
        )  # fmt: skip
        summary.run_id = run.id
    started = time.perf_counter()

    def on_chunk(result: ChunkResult) -> None:
        summary.count_chunk(result)
        if progress:
            progress(summary.claims + summary.claims_failed, total_claims)

    kept: list[Hit] = []
    try:
        with tempfile.TemporaryFile("w+b") as spool:
            # A stored screen prepares each hit's row while the workers still screen; the rows wait in
            # the spool and are written at the end, in the transaction of the review queue.
            hit_store = (
                HitStore(session=session, run=run, batch_id=batch_id, spool=spool)
                if store and run is not None
                else None
            )
            tasks = batch_tasks(
                session=session, batch_id=batch_id, setup=setup, plan=plan, workers=workers,
                cluster=cluster is not None, chunk_patients=chunk_patients, span=span,
            )  # fmt: skip
            packs = {str(folder): plan.pack(folder) for folder in plan.folders()}
            if cluster:
                hits = screen_tasks_on_cluster(tasks, setup, address=cluster, packs=packs, on_chunk=on_chunk)
            else:
                hits = screen_tasks(tasks, setup, workers=workers, on_chunk=on_chunk, packs=packs)
            for hit in hits:
                summary.count(hit)
                # The evidence's JSON, made once for the output and the stored hit (the output alone: the
                # line in one piece).
                evidence = (
                    evidence_json(hit.evidence) if output is not None and hit_store is not None else None
                )
                if output is not None:
                    write_jsonl(hit, output, evidence)
                if hit_store is not None:
                    hit_store.add(hit, evidence)
                elif dry_run:
                    kept.append(hit)
            summary.seconds = time.perf_counter() - started
            # Every claim is screened (the chunks' counts need not add up to rows_ok); storing follows.
            if progress:
                progress(total_claims, total_claims)
            if dry_run:
                preview = preview_store(
                    session=session, batch_id=batch_id, hits=kept, case_actions=case_actions_of(plan)
                )
                summary.stored = preview.stored()
                summary.review_cases = preview.review_cases()
                summary.dry_run = True
            if hit_store is not None and run is not None:
                # Hits and the review cases built from them are committed together, by refresh_cases.
                stored = hit_store.finish(
                    commit=False,
                    not_screened={cid for failure in summary.failed for cid in failure.claim_ids},
                )
                summary.stored = {
                    "new": stored.hits_new,
                    "unchanged": stored.hits_unchanged,
                    "removed": stored.hits_removed,
                }
                summary.shadow = _screen_shadow(
                    session=session, batch_id=batch_id, regions=regions, codes=codes, run=run,
                    workers=workers, on_date=on_date,
                )  # fmt: skip
                who = actor or run.run_by or "drgaudit"
                base_pack = pack if pack is not None else bundled_pack()
                # Hospital findings (hold/deduct hits) commit with the hits and the review cases. Both read
                # the same pages of hits: the findings from the database, the cases from a spool of them.
                with HitPages(session, batch_id, PAGE_CLAIMS, hit_store.digests, keep=True) as pages:
                    findings = refresh_findings(
                        session=session, batch_id=batch_id, pack=base_pack, actor=who, commit=False,
                        region_packs=plan.region_packs(), digests=hit_store.digests, pages=pages,
                    )  # fmt: skip
                    summary.findings = findings.as_dict()
                    review = refresh_cases(
                        session=session, batch_id=batch_id, pack=base_pack, actor=who,
                        region_packs=plan.region_packs(), digests=hit_store.digests, pages=pages,
                    )  # fmt: skip
                summary.review_cases = review.as_dict()
                finish_run(
                    session=session,
                    run=run,
                    status="partial" if summary.failed else "done",
                    patients=summary.patients,
                    claims=summary.claims,
                    failures=summary.failed,
                    note=_run_note(summary),
                )
    except BaseException as exc:
        if store and run is not None:
            session.rollback()
            finish_run(
                session=session, run=run, status="failed", patients=summary.patients, claims=summary.claims,
                failures=summary.failed, note=_failed_note(exc),
            )  # fmt: skip
        raise
    summary.amount_at_risk = round(summary.amount_at_risk, 2)
    return summary


def _run_note(summary: ScreenSummary) -> str | None:
    """The stored run's note: patients not screened, chunks the columnar pre-filter could not filter, chunks
    screened patient by patient."""
    notes = [_failures_note(summary.failed)]
    if summary.prefilter_fallbacks:
        notes.append(
            f"columnar pre-filter failed on {summary.prefilter_fallbacks} chunk(s), screened on derived facts; "
            f"first: {summary.prefilter_fallback_reason}"
        )
    if summary.chunk_fallbacks:
        notes.append(
            f"{summary.chunk_fallbacks} chunk(s) could not be screened at once, screened patient by patient; "
            f"first: {summary.chunk_fallback_reason}"
        )
    return "; ".join(n for n in notes if n) or None


def _failures_note(failures: list[PatientFailure]) -> str | None:
    if not failures:
        return None
    claims = sum(len(f.claim_ids) for f in failures)
    return (
        f"{len(failures)} patient{'s' if len(failures) > 1 else ''} ({claims} claim{'s' if claims > 1 else ''}) "
        f"not screened; first: patient {failures[0].patient_id!r}: {failures[0].reason}"
    )


def _failed_note(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


def check_priced(plan: PackPlan, regions: list[str]) -> None:
    """Stop before screening when a treatment region of the batch has no configuration in its pack."""
    missing = []
    for region in regions:
        pack = plan.pack_for(region)
        if pack is not None:
            missing.extend(pack.unpriced([region]))
    if missing:
        raise UnconfiguredRegionError(missing)


def bundled_pack() -> RulePack:
    """The bundled rule pack (loaded once per process)."""
    global _BUNDLED
    if _BUNDLED is None:
        _BUNDLED = load_pack(bundled_rules_dir())
    return _BUNDLED


_BUNDLED: RulePack | None = None


def case_actions_of(plan: PackPlan) -> Callable[[str], frozenset[str]]:
    """A treatment region's `review_case_actions`, from the pack that screens it."""
    cache: dict[str, frozenset[str]] = {}

    def actions(region: str) -> frozenset[str]:
        if region not in cache:
            region_pack = plan.pack_for(region) or bundled_pack()
            cache[region] = review_settings(region_pack, region).case_actions
        return cache[region]

    return actions


def batch_setup(
    *,
    session: Session,
    batch_id: int,
    plan: PackPlan,
    codes: CodeTables,
    case_mix: list[CaseMix] | None = None,
) -> ScreenSetup:
    """The screen setup of a batch under a pack plan: reference data, and each pack's hospital indicators
    (`case_mix`: the batch's `queries.batch_case_mix`, if read already)."""
    hospitals = queries.load_hospitals(session=session)
    setup = ScreenSetup(plan.default, codes, hospitals, queries.load_groups(session=session))
    if plan.folders() and case_mix is None:
        case_mix = queries.batch_case_mix(session=session, batch_id=batch_id)  # the same for every pack
    for folder in plan.folders():
        indicators = batch_indicators(
            session=session, batch_id=batch_id, hospitals=hospitals, peers_by=peer_rule(plan.pack(folder)),
            case_mix=case_mix,
        )  # fmt: skip
        if plan.default is not None and folder == plan.default:
            setup.indicators = indicators
        else:
            setup.route_indicators[str(folder)] = indicators
    setup.routes = dict(plan.routes)
    return setup


def batch_tasks(
    *,
    session: Session,
    batch_id: int,
    setup: ScreenSetup,
    plan: PackPlan,
    workers: int,
    cluster: bool = False,
    chunk_patients: int = CHUNK_PATIENTS,
    span: queries.BatchSpan | None = None,
) -> Iterator[Task]:
    """The tasks of a batch screen: chunks of patient ids read by each worker (always on a cluster), or of
    partitions read here (`span`: the batch's `queries.batch_span`, if read already)."""
    admits = (
        span.admits if span is not None else queries.batch_admit_range(session=session, batch_id=batch_id)
    )
    since = (admits[0] if admits else dt.date.today()) - dt.timedelta(days=plan.lookback_days)
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    loader = BatchLoader(url, batch_id, since)
    if cluster and not _shareable(url):
        raise DrgauditError("a cluster cannot read an in-memory database: screen a file or server casebook")
    patient_ids = queries.iter_batch_patient_ids(
        session=session, batch_id=batch_id, chunk_patients=max(1, chunk_patients)
    )
    tasks: Iterator[Task] = patient_ids
    if cluster or (workers > 1 and _shareable(url)):
        setup.loader = loader  # each worker reads its own patients
    elif workers > 1:
        loader.session = session  # an in-memory database: read here, send the claims
        tasks = (loader(ids) for ids in patient_ids)
    else:
        loader.session = session  # screened here, read in the one session
        setup.loader = loader
    return tasks


def _screen_shadow(
    *,
    session: Session,
    batch_id: int,
    regions: list[str],
    codes: CodeTables,
    run: Any,
    workers: int,
    on_date: dt.date | None,
) -> dict[str, int]:
    """Screen the batch with its regions' shadow versions and store those hits apart (never queued)."""
    plan = shadow_plan(session=session, regions=regions, on_date=on_date)
    if plan is None:
        return {}
    setup = batch_setup(session=session, batch_id=batch_id, plan=plan, codes=codes)
    by_version: dict[str, list[Hit]] = {}
    tasks = batch_tasks(session=session, batch_id=batch_id, setup=setup, plan=plan, workers=workers)
    for hit in screen_tasks(tasks, setup, workers=workers):
        by_version.setdefault(hit.pack_version, []).append(hit)
    counts = {}
    for folder in plan.folders():
        version = plan.pack(folder).version
        counts[version] = store_shadow_hits(
            session=session,
            run=run,
            batch_id=batch_id,
            pack_version=version,
            hits=by_version.get(version, []),
        )
    return counts


def screen_files(
    *,
    claims: list[Path],
    hospitals: list[Path],
    groups: list[Path],
    rules_dir: Path | None = None,
    codes_dir: Path | str | None = None,
    workers: int = 1,
    output: IO[str] | None = None,
    progress: Progress | None = None,
    rejects_dir: Path | None = None,
    db: str | None = None,
    prefilter: bool = True,
) -> ScreenSummary:
    """Screen claim files with hospital and group files and no prior import (a scratch casebook is used).

    The code tables are chosen as for a stored batch: `codes_dir`, else the set loaded into the user's
    casebook (`db`, or the default one, if it exists), else the bundled tables.
    """
    rules_dir = Path(rules_dir) if rules_dir else bundled_rules_dir()
    pack = load_pack(rules_dir)  # a broken pack stops here, before anything is read
    codes = choose_codes_for(codes_dir=codes_dir, rules_dir=rules_dir, db=db)
    with tempfile.TemporaryDirectory(prefix="drgaudit-screen-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.sqlite'}")
        try:
            with Session(engine) as session:
                reports: list[ImportReport] = []
                for kind, paths in (("hospitals", hospitals), ("groups", groups), ("claims", claims)):
                    for path in paths:
                        rejects = (rejects_dir / f"{Path(path).name}.rejects.csv") if rejects_dir else None
                        report = import_file(Path(path), kind=kind, session=session, rejects_path=rejects)
                        if report.batch_id is None:
                            first = f"; first: {report.first_errors[0]}" if report.first_errors else ""
                            raise DataFileError(
                                str(path), f"nothing to screen: {report.nothing_imported}{first}"
                            )
                        reports.append(report)
                batches = [r.batch_id for r in reports if r.kind == "claims" and r.batch_id is not None]
                summary = ScreenSummary(
                    rules_version=pack.version, codes_source=codes.label, prefilter=prefilter
                )
                for batch_id in batches:
                    part = screen_batch(
                        session=session, batch_id=batch_id, rules_dir=rules_dir, workers=workers,
                        output=output, store=False, progress=progress, pack=pack, codes=codes, prefilter=prefilter,
                    )  # fmt: skip
                    _merge(summary, part)
                summary.imports = reports
                return summary
        finally:
            engine.dispose()


def _merge(total: ScreenSummary, part: ScreenSummary) -> None:
    total.patients += part.patients
    total.claims += part.claims
    total.candidates += part.candidates
    total.hits += part.hits
    total.amount_at_risk = round(total.amount_at_risk + part.amount_at_risk, 2)
    total.seconds += part.seconds
    total.codes_source = part.codes_source
    total.failed.extend(part.failed)
    total.prefilter_fallbacks += part.prefilter_fallbacks
    total.prefilter_fallback_reason = total.prefilter_fallback_reason or part.prefilter_fallback_reason
    total.chunk_fallbacks += part.chunk_fallbacks
    total.chunk_fallback_reason = total.chunk_fallback_reason or part.chunk_fallback_reason
    total.family_labels.update(part.family_labels)
    for mine, theirs in (
        (total.by_family, part.by_family),
        (total.by_action, part.by_action),
        (total.by_rule, part.by_rule),
    ):
        for key, value in theirs.items():
            mine[key] = mine.get(key, 0) + value


def explain_stored_claim(
    *,
    session: Session,
    claim_id: str,
    rules_dir: Path | None = None,
    codes_dir: Path | str | None = None,
    codes: CodeTables | None = None,
) -> ClaimExplanation:
    """Explain a claim of the casebook against the rules (default: the pack that screens its treatment region
    today), with the patient's other stored claims as context.

    The code tables are `codes` if given, else `choose_codes` (as for screening).
    """
    claim = queries.get_claim(session=session, claim_id=claim_id)
    if claim is None:
        raise DrgauditError(f"no claim {claim_id} in the casebook")
    region = claim["treatment_region"]
    plan = screening_plan(session=session, regions=[region], rules_dir=rules_dir)
    rules_dir = plan.folder_for(region) or bundled_rules_dir()
    pack = plan.pack(rules_dir)
    codes = codes or choose_codes(session=session, codes_dir=codes_dir, rules_dir=rules_dir)
    since = claim["admit_date"] - dt.timedelta(days=pack.lookback_days)
    history = [
        c
        for c in queries.claims_for_patients(session=session, patient_ids=[claim["patient_id"]], since=since)[
            claim["patient_id"]
        ]
        if c["claim_id"] != claim_id
    ]
    setup = ScreenSetup(
        rules_dir, codes, queries.load_hospitals(session=session), queries.load_groups(session=session)
    )
    batch_id = queries.latest_batch_of_claim(session=session, claim_id=claim_id)
    if batch_id is not None:
        setup.indicators = batch_indicators(
            session=session, batch_id=batch_id, hospitals=setup.hospitals, peers_by=peer_rule(pack)
        )
    screener = setup.screener()
    assert isinstance(screener, Screener), "a setup without routes has one Screener"
    explanation = explain_claim(screener, claim_id, [claim], history)
    explanation.codes = codes.label
    return explanation


def explain_file_claim(
    *,
    claim_id: str,
    claims: list[Path],
    hospitals: list[Path],
    groups: list[Path],
    rules_dir: Path | None = None,
    codes_dir: Path | str | None = None,
    db: str | None = None,
) -> ClaimExplanation:
    """Explain a claim of claim files (imported into a scratch casebook first); code tables as `screen_files`."""
    load_pack(Path(rules_dir) if rules_dir else bundled_rules_dir())
    codes = choose_codes_for(codes_dir=codes_dir, rules_dir=rules_dir, db=db)
    with tempfile.TemporaryDirectory(prefix="drgaudit-explain-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.sqlite'}")
        try:
            with Session(engine) as session:
                for kind, paths in (("hospitals", hospitals), ("groups", groups), ("claims", claims)):
                    for path in paths:
                        import_file(
                            Path(path),
                            kind=kind,
                            session=session,
                            rejects_path=Path(scratch) / f"{kind}.rejects.csv",
                        )
                return explain_stored_claim(
                    session=session, claim_id=claim_id, rules_dir=rules_dir, codes=codes
                )
        finally:
            engine.dispose()
