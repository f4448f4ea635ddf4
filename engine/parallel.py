"""Screening many patients, in this process or in worker processes partitioned by patient.

durable-rules holds the GIL, so parallel screening uses processes. Each worker loads the rule pack and
builds its own durable-rules rulesets once. The parent sends tasks, each a chunk of patients: either
the patients' claims themselves, or just their ids, which a worker turns into claims with a `loader`
of its own (reading the casebook in every worker, so reading scales with the workers too). At most a
few tasks per worker are in flight, so memory is bounded by the chunks, not by the batch; results come
back in the order the tasks were sent, so the output does not depend on the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drgaudit import bulkgc
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.columns import ClaimColumns
from drgaudit.engine.exceptions import WorkerDiedError
from drgaudit.engine.facts import ReferenceData
from drgaudit.engine.hits import Hit, PatientFailure
from drgaudit.engine.loader import load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.screen import PackRouter, Screener
from drgaudit.errors import DrgauditError

log = logging.getLogger(__name__)


@dataclass
class Partition:
    """One patient's claims to screen (`batch`) and earlier claims for context (`history`)."""

    patient_id: str
    batch: list[dict[str, Any]]
    history: list[dict[str, Any]] = field(default_factory=list)


class PartitionLoader(Protocol):
    """Turns a chunk of patient ids into their partitions (used inside each worker)."""

    def __call__(self, patient_ids: list[str]) -> list[Partition]: ...


class ColumnLoader(PartitionLoader, Protocol):
    """A loader that also reads a chunk of patients' claims as columns of some claim fields, with the
    same claims (batch claims marked as targets) as its partitions would hold; when the columns keep
    their rows (`ClaimColumns.records`), the candidates' partitions are made from them, not read again."""

    def columns(self, patient_ids: list[str], fields: set[str]) -> ClaimColumns: ...


@dataclass
class ScreenSetup:
    """Everything a worker needs to build its Screener, and to read its patients if it reads them itself.

    `routes` sends the claims of some treatment regions to other rule packs (region -> rules folder, with
    the hospital indicators computed under each of those packs in `route_indicators`, by folder); the
    other regions are screened with `rules_dir`, or not at all when it is None (shadow screening).
    """

    rules_dir: Path | None
    codes: CodeTables
    hospitals: dict[str, dict[str, Any]]
    groups: dict[tuple[str, str, str], dict[str, Any]]
    loader: PartitionLoader | None = None
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[str, Path] = field(default_factory=dict)
    route_indicators: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    prefilter: bool = True
    # Work out each hit's `content_digest` in the worker (for a stored screen: the storing process,
    # alone, need not).
    digests: bool = False

    def _screener_for(
        self, rules_dir: Path, indicators: dict[str, dict[str, Any]], packs: dict[str, RulePack]
    ) -> Screener:
        pack = packs.get(str(rules_dir)) or load_pack(rules_dir)
        return Screener(
            pack,
            ReferenceData(self.hospitals, self.groups, self.codes, pack, indicators),
            prefilter=self.prefilter,
        )

    def folders(self) -> list[Path]:
        """Every rule-pack folder this setup screens with (its default, then its routes')."""
        found = [self.rules_dir] if self.rules_dir is not None else []
        return found + [Path(f) for f in sorted({str(f) for f in self.routes.values()})]

    def identity(self) -> str:
        """What the Screener built from this setup depends on, besides the packs' versions (a cluster
        worker keeps one Screener per identity; the loader is left out: it only says which claims)."""
        return repr(
            (
                sorted(self.routes.items()),
                self.codes.digest,
                self.prefilter,
                sorted((f, sorted(i.items())) for f, i in self.route_indicators.items()),
                sorted(self.hospitals),
                sorted(self.groups),
                sorted(self.indicators.items()),
            )
        )

    def screen(self, screener: Any, task: Task) -> ChunkResult:
        """One task screened by a Screener built from this setup (in this process, a pool worker or a
        cluster worker), reading with its loader; with `digests`, each hit's `content_digest` is worked
        out here, by the worker, so the process storing the hits need not."""
        result = screen_task(screener, task, self.loader)
        if self.digests:
            for hit in result.hits:
                hit.digest = hit.content_digest()
        return result

    def screener(self, packs: dict[str, RulePack] | None = None) -> Screener | PackRouter:
        """The Screener (or, with routes, the PackRouter) of this setup; `packs` (folder -> loaded pack)
        saves loading a folder, or stands in for one this machine does not have (cluster workers)."""
        packs = packs or {}
        if not self.routes:
            assert self.rules_dir is not None, "a setup without routes needs a rules folder"
            return self._screener_for(self.rules_dir, self.indicators, packs)
        by_folder: dict[str, Screener] = {}
        for folder in sorted({str(f) for f in self.routes.values()}):
            by_folder[folder] = self._screener_for(Path(folder), self.route_indicators.get(folder, {}), packs)
        default = (
            self._screener_for(self.rules_dir, self.indicators, packs) if self.rules_dir is not None else None
        )
        return PackRouter(default, {region: by_folder[str(f)] for region, f in self.routes.items()})


Task = list[Partition] | list[str]


@dataclass
class ChunkResult:
    """The hits of one chunk of patients, how many patients and claims it screened, how many of the claims
    went through durable-rules (the pre-filter's candidates; all of them without the pre-filter), and the
    patients it could not screen (isolated: one patient's failure never stops the others)."""

    hits: list[Hit]
    patients: int
    claims: int
    candidates: int = 0
    failed: list[PatientFailure] = field(default_factory=list)
    # Why the columnar pre-filter could not be used on this chunk (its patients were then screened the
    # plain way, on their derived facts: the same hits, more slowly); None when it was used or not tried.
    columnar_fallback: str | None = None
    # Why screening the chunk's patients at once failed, so that they were screened one by one (the same
    # hits when no patient fails, much more slowly: without the pre-filter); None when it did not fail.
    chunk_fallback: str | None = None


_worker_screener: Screener | PackRouter | None = None
_worker_setup: ScreenSetup | None = None


def _init_worker(setup: ScreenSetup, packs: dict[str, RulePack] | None = None) -> None:
    global _worker_screener, _worker_setup
    _worker_screener = setup.screener(packs) if packs else setup.screener()
    _worker_setup = setup
    # The worker's heap is now mostly what lives as long as it does (the pack, its compiled rulesets, code
    # tables, reference data): the collector's passes leave it alone from now on.
    bulkgc.relax_for_good()


def _stop_feeding(executor: ProcessPoolExecutor) -> None:
    """Close this process's end of a broken pool's task pipe, which no worker reads any more, so that
    shutting the pool down cannot hang. CPython does it itself in later releases (gh-94777: 3.11.7 has it,
    Debian 12's 3.11.2 does not): there, a task being written when a worker died left the pool's feeder
    thread blocked on the full pipe, and `shutdown` waiting for that thread for ever."""
    reader = getattr(getattr(executor, "_call_queue", None), "_reader", None)
    if reader is not None:
        reader.close()


def _screen_task(task: Task) -> ChunkResult:
    assert _worker_screener is not None and _worker_setup is not None, "worker not initialised"
    return _worker_setup.screen(_worker_screener, task)


def screen_task(screener: Any, task: Task, loader: PartitionLoader | None) -> ChunkResult:
    """Screen one task with one Screener (or PackRouter, or any screener with the same methods).

    A task of patient ids whose loader reads columns goes the fast way, with the pre-filter on: the
    chunk's claims are read as columns of the fields the pre-filter needs, it picks the candidates on
    them (`candidate_ids`), and only the candidates' patients are read as records, get their facts and
    go through durable-rules, with every other claim of theirs as context. Anything the columns cannot
    decide falls back to keeping: a chunk whose columns cannot be read or filtered is screened the
    plain way (every patient read and pre-filtered on its derived facts); that is logged (a warning of
    this module's logger) and said in the result's `columnar_fallback`, which the run's summary counts."""
    if not (task and isinstance(task[0], str)) or not _columnar(screener, loader):
        return screen_chunk(screener, _partitions(task, loader))
    assert loader is not None
    ids = [str(patient) for patient in task]
    try:
        columns = loader.columns(ids, screener.column_fields())  # type: ignore[attr-defined]
        candidates: set[str] = screener.candidate_ids(columns)
    except DrgauditError:
        raise  # e.g. a treatment region without configuration: the same error as the plain way
    except Exception as exc:  # noqa: BLE001 - anything unforeseen keeps every claim of the chunk
        reason = _reason(exc)
        log.warning(
            "columnar pre-filter failed on a chunk of %d patients (first %s); screening them on their "
            "derived facts instead: %s",
            len(ids),
            ids[0] if ids else "-",
            reason,
        )
        result = screen_chunk(screener, _partitions(task, loader))
        result.columnar_fallback = reason
        return result
    claim_ids = columns.values["claim_id"]
    rows = np.flatnonzero(columns.target)
    chosen = {
        patient
        for patient, claim_id in zip(
            columns.values["patient_id"][rows].tolist(), claim_ids[rows].tolist(), strict=True
        )
        if claim_id in candidates
    }
    wanted = [p for p in ids if p in chosen]
    result = screen_chunk(
        screener, _candidate_partitions(columns, loader, wanted) if wanted else [], candidates
    )
    # Counted over the whole chunk (the patients with no candidate are screened too: no hit), less the
    # patients that failed.
    result.patients = len(columns.target_patients()) - len(result.failed)
    result.claims = columns.target_count - sum(len(failure.claim_ids) for failure in result.failed)
    result.candidates = len(candidates)
    return result


def _candidate_partitions(
    columns: ClaimColumns, loader: PartitionLoader, patient_ids: list[str]
) -> list[Partition]:
    """The partitions of the candidates' patients: made from the chunk's rows when the loader kept them
    with its columns (the same claims, read once), else read by the loader."""
    records = columns.records(patient_ids)
    if records is None:
        return loader(patient_ids)
    return [Partition(patient, *records[patient]) for patient in patient_ids]


def _columnar(screener: Any, loader: PartitionLoader | None) -> bool:
    return (
        loader is not None
        and hasattr(loader, "columns")
        and hasattr(screener, "candidate_ids")
        and bool(getattr(screener, "prefilter", False))
    )


def _partitions(task: Task, loader: PartitionLoader | None) -> list[Partition]:
    if task and isinstance(task[0], str):
        if loader is None:
            raise ValueError("a task of patient ids needs a loader")
        return loader([str(patient) for patient in task])
    return [p for p in task if isinstance(p, Partition)]


# Longest failure reason kept (an exception's text can be as long as the data that caused it).
REASON_CHARS = 500


def screen_chunk(screener: Any, chunk: list[Partition], candidates: set[str] | None = None) -> ChunkResult:
    """Screen a list of patients with one Screener (or PackRouter): the whole chunk at once, so that the
    pre-filter works on its columns; a screener without `screen_patients` screens patient by patient.
    `candidates`: the pre-filter already ran on the chunk's columns, only these claims are screened.

    If screening the chunk at once fails, the chunk is screened again patient by patient (every claim:
    the pre-filter only ever saves work): an error while screening one patient (facts, the engine, a
    hit's evidence or message) makes that patient a `PatientFailure`, none of its hits are kept, and
    the other patients are screened.
    """
    if hasattr(screener, "screen_patients"):
        claims = sum(len(part.batch) for part in chunk)
        parts = ((part.patient_id, part.batch, part.history) for part in chunk)
        kept = screener.prefilter_stats().kept
        try:
            hits = (
                screener.screen_patients(parts, candidates)
                if candidates is not None
                else screener.screen_patients(parts)
            )
        except Exception as exc:  # noqa: BLE001 - found again, and reported per patient, below
            # A fault of one patient's data is found again below and reported as that patient's failure;
            # a fault of the chunk way itself would otherwise only show as a slow screen: say it.
            reason = _reason(exc)
            log.warning(
                "screening a chunk of %d patients at once failed (first %s); screening them one by one: %s",
                len(chunk),
                chunk[0].patient_id if chunk else "-",
                reason,
            )
            result = _one_by_one(screener, chunk)
            result.chunk_fallback = reason
            return result
        if candidates is not None:
            screened = len(candidates)
        else:
            screened = screener.prefilter_stats().kept - kept if screener.prefilter else claims
        return ChunkResult(hits, len(chunk), claims, screened)
    return _one_by_one(screener, chunk)


def _one_by_one(screener: Any, chunk: list[Partition]) -> ChunkResult:
    hits: list[Hit] = []
    failed: list[PatientFailure] = []
    claims = patients = 0
    for part in chunk:
        try:
            found = screener.screen_patient(part.patient_id, part.batch, part.history)
        except Exception as exc:  # noqa: BLE001 - isolated per patient, reported with its reason
            failed.append(patient_failure(part, exc))
            continue
        hits.extend(found)
        patients += 1
        claims += len(part.batch)
    return ChunkResult(hits, patients, claims, claims, failed)


def _reason(exc: BaseException) -> str:
    """An exception in one line of at most REASON_CHARS characters."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 1] + "…"
    return reason


def patient_failure(part: Partition, exc: BaseException) -> PatientFailure:
    """The record of a patient that could not be screened."""
    reason = _reason(exc)
    ids = tuple(str(claim.get("claim_id")) for claim in part.batch)
    return PatientFailure(str(part.patient_id), ids, reason)


def chunked(partitions: Iterable[Partition], size: int) -> Iterator[list[Partition]]:
    """Group partitions into lists of `size` patients."""
    chunk: list[Partition] = []
    for part in partitions:
        chunk.append(part)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def screen_tasks(
    tasks: Iterable[Task],
    setup: ScreenSetup,
    *,
    workers: int = 1,
    in_flight_per_worker: int = 3,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    packs: dict[str, RulePack] | None = None,
) -> Iterator[Hit]:
    """Every hit of every task (a chunk of partitions, or of patient ids for `setup.loader`), in task order.

    `packs` (folder -> loaded pack, as `ScreenSetup.screener` takes them) saves loading the setup's rule
    packs again here and in every worker (seconds per pack: the YAML is parsed in Python)."""
    if workers <= 1:
        screener = setup.screener(packs) if packs else setup.screener()  # a subclass may take none
        with bulkgc.relaxed():
            for task in tasks:
                result = setup.screen(screener, task)
                if on_chunk:
                    on_chunk(result)
                yield from result.hits
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    # A ProcessPoolExecutor, not a multiprocessing.Pool: the Pool's worker-handler thread also waits on the
    # results' pipe, so it spins while a result waits there to be read (1.4 s of this process's CPU at
    # 1M demo claims, competing with the workers for the cores); the executor's one thread waits, reads
    # the result and hands it on. A worker that dies fails the screen (the Pool waited for it forever).
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(setup, packs),
    )
    with bulkgc.relaxed():  # this process stores the hits meanwhile
        try:
            pending: deque[Future[ChunkResult]] = deque()
            limit = workers * in_flight_per_worker
            for task in tasks:
                pending.append(executor.submit(_screen_task, task))
                while len(pending) >= limit:
                    yield from _collect(pending.popleft().result(), on_chunk)
            while pending:
                yield from _collect(pending.popleft().result(), on_chunk)
        except BrokenProcessPool as exc:  # from a result, or from submitting once the pool knows
            _stop_feeding(executor)
            raise WorkerDiedError(
                "a screening worker process ended abruptly (killed, or out of memory?): the screen stopped "
                f"({exc})"
            ) from exc
        finally:
            # Tasks not started are dropped; a stop before the end (an error, the caller closing this
            # generator) waits for the ones running, at most one per worker.
            executor.shutdown(wait=True, cancel_futures=True)


def screen_partitions(
    partitions: Iterable[Partition],
    setup: ScreenSetup,
    *,
    workers: int = 1,
    chunk_size: int = 200,
    **options: Any,
) -> Iterator[Hit]:
    """Every hit of partitions already read, in partition order, screened by `workers` processes."""
    return screen_tasks(chunked(partitions, chunk_size), setup, workers=workers, **options)


def _collect(result: ChunkResult, on_chunk: Callable[[ChunkResult], None] | None) -> list[Hit]:
    if on_chunk:
        on_chunk(result)
    return result.hits
