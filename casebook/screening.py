"""Casebook tables and data functions for screening: code tables, screen runs and the hits they produced.

Re-screening a batch is idempotent: hits are keyed by (batch, claim, rule); a hit that comes out the same
(same rule file version, same content) is left as it is, a changed one is replaced, one that no longer
fires is removed, all in one transaction, and the run records how many of each.
"""

from __future__ import annotations

import getpass
import json
import os
import pickle
import socket
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlmodel import Field, Session, SQLModel, col

from drgaudit import bulkgc
from drgaudit.casebook.bulk import BulkInsert
from drgaudit.casebook.evidence import EvidenceDigests
from drgaudit.casebook.models import MONEY, stored_id, table_of
from drgaudit.engine.codes import CODE_FILES, CodeTables, resolve_codes_dir
from drgaudit.engine.hits import Hit, PatientFailure
from drgaudit.engine.loader import bundled_rules_dir
from drgaudit.jsontext import encoder


class CodeSetBase(SQLModel):
    """One set of national code tables (a grouping-scheme version) loaded into the casebook."""

    name: str = Field(index=True, unique=True)
    source: str
    digest: str
    imported_by: str | None = None
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)


class CodeSetCreate(CodeSetBase):
    """Input form of a code set."""


class CodeSet(CodeSetBase, table=True):
    """A code set as stored."""

    __tablename__ = "code_set"

    id: int | None = Field(default=None, primary_key=True)
    imported_at: datetime = Field(sa_type=DateTime(timezone=True))


class CodeEntry(SQLModel, table=True):
    """One row of one code table (diagnoses, procedures, mcc, cc, principal_exclusion, drg_groups)."""

    __tablename__ = "code_entry"
    __table_args__ = (PrimaryKeyConstraint("set_id", "table_name", "code"), {"sqlite_with_rowid": False})

    set_id: int = Field(foreign_key="code_set.id")
    table_name: str
    code: str
    value: str = Field(sa_type=Text)


class ScreenRunBase(SQLModel):
    """One screening run: what was screened, with which rules and code tables, and what came out."""

    batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    source: str
    rules_dir: str
    rules_version: str
    codes_source: str
    codes_version: str
    workers: int = 1
    status: str = "running"
    patients: int = 0
    claims: int = 0
    hits_total: int = 0
    hits_new: int = 0
    hits_unchanged: int = 0
    hits_removed: int = 0
    amount_at_risk: float = Field(default=0.0, sa_type=MONEY)
    run_by: str | None = None
    # Patients the engine failed on (isolated; their claims have no result), see ScreenFailure.
    patients_failed: int = 0
    claims_failed: int = 0
    # Why a run failed or was cut short (e.g. its process was killed), for a person to read.
    note: str | None = Field(default=None, sa_type=Text)
    # Where the run's process was, to tell a running run from one whose process died.
    host: str | None = None
    pid: int | None = None


# Statuses of a run that finished: `partial` when some patients could not be screened (their claims keep
# their earlier hits; see ScreenFailure), `done` otherwise.
FINISHED_STATUSES = ("done", "partial")


class ScreenRunCreate(ScreenRunBase):
    """Input form of a screen run."""


class ScreenRun(ScreenRunBase, table=True):
    """A screen run as stored."""

    __tablename__ = "screen_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ScreenFailureBase(SQLModel):
    """A patient a screen run could not screen: its claims of the batch and the reason."""

    run_id: int = Field(foreign_key="screen_run.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="import_batch.id")
    patient_id: str
    claim_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    reason: str = Field(sa_type=Text)


class ScreenFailure(ScreenFailureBase, table=True):
    """A patient not screened, as stored."""

    __tablename__ = "screen_failure"

    id: int | None = Field(default=None, primary_key=True)


class ScreenHitBase(SQLModel):
    """One hit as the casebook keeps it: the DATA-CONTRACT screening output plus where it came from."""

    batch_id: int = Field(foreign_key="import_batch.id")
    run_id: int = Field(foreign_key="screen_run.id")
    claim_id: str = Field(index=True)
    patient_id: str
    region: str
    rule_id: str = Field(index=True)
    rule_file: str
    rule_version: str
    family: str
    severity: str
    action: str = Field(index=True)
    amount_at_risk: float = Field(default=0.0, sa_type=MONEY)
    message: str = Field(sa_type=Text)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    ordinal: int
    content_hash: str
    # The rule pack (RulePack.version, the hash over every pack file) that produced the hit.
    pack_version: str = ""


class ScreenHitCreate(ScreenHitBase):
    """Input form of a stored hit."""


class ScreenHit(ScreenHitBase, table=True):
    """A stored hit; one per batch, claim and rule."""

    __tablename__ = "screen_hit"
    __table_args__ = (
        UniqueConstraint("batch_id", "claim_id", "rule_id", name="uq_screen_hit_key"),
        Index("ix_screen_hit_batch_ordinal", "batch_id", "ordinal"),
    )

    id: int | None = Field(default=None, primary_key=True)


def _now() -> datetime:
    return datetime.now(UTC)


_hit_table = table_of(ScreenHit)
# A stored hit's evidence as the JSON text it is stored as (`LazyEvidence` parses it when asked).
EVIDENCE_TEXT = cast(_hit_table.c.evidence, Text).label("evidence_text")


class LazyEvidence:
    """A stored hit read as a row with `EVIDENCE_TEXT`: its columns as attributes, and `evidence` parsed
    from the text only when first read (as the JSON column would give it). The review queue and the
    findings read every hit of a batch but need the evidence of only some: its parsing was most of
    their reading."""

    def __init__(self, row: Any, keys: Sequence[str] | None = None) -> None:
        self.digests: tuple[str, str] | None = None  # see `attach_evidence`
        # Plain attributes: read many times per hit. `keys`: the row's column names, read once for all
        # the rows of a result (a row's `_mapping` makes a key view per row).
        self.__dict__.update(row._mapping if keys is None else zip(keys, row, strict=True))

    def __getattr__(self, name: str) -> Any:  # the row's columns, set above
        raise AttributeError(name)

    @cached_property
    def evidence(self) -> Any:
        text = self.__dict__["evidence_text"]
        return None if text is None else json.loads(text)


# What a stored hit is read with instead of its evidence when a stored screen kept its evidence digests.
# Table columns, not the model's attributes: a query of these is read as plain rows, without the ORM's
# loading of each row.
HIT_DIGEST_READ: tuple[Any, ...] = (
    _hit_table.c.id.label("hit_id"),
    _hit_table.c.ordinal,
    _hit_table.c.content_hash,
)


def evidence_read(digests: EvidenceDigests | None) -> tuple[Any, ...]:
    """What the review queue and the findings read of a stored hit beside its columns: with the evidence
    digests its screen kept, `HIT_DIGEST_READ` (then `attach_evidence`); else its evidence text and ordinal."""
    return HIT_DIGEST_READ if digests is not None else (EVIDENCE_TEXT, _hit_table.c.ordinal)


def attach_evidence(session: Session, hits: Sequence[LazyEvidence], digests: EvidenceDigests | None) -> None:
    """Give each hit, read with `HIT_DIGEST_READ` and without its evidence, the evidence digests the
    screen that stored it kept (`digests`), or else its evidence text, read here (by id, a page at a time).
    Nothing to do without `digests`: the hits were read with their evidence text (`evidence_read`)."""
    if digests is None:
        return
    missing: dict[int, LazyEvidence] = {}
    for hit in hits:
        hit.digests = digests.get(hit.ordinal, hit.content_hash)
        if hit.digests is None:
            missing[hit.hit_id] = hit
    ids = list(missing)
    for start in range(0, len(ids), 500):
        query = select(_hit_table.c.id, EVIDENCE_TEXT).where(_hit_table.c.id.in_(ids[start : start + 500]))
        for hit_id, text in session.execute(query):
            missing[hit_id].__dict__["evidence_text"] = text


def hit_claim_pages(session: Session, batch_id: int, claims_per_page: int) -> Iterator[list[str]]:
    """The ids of the batch's claims that have hits, `claims_per_page` at a time in claim-id order (keyset
    pages: memory follows a page, not the batch, and no cursor stays open while the caller writes)."""
    after: str | None = None
    while True:
        claim = _hit_table.c.claim_id
        page = (
            select(claim)
            .where(_hit_table.c.batch_id == batch_id)
            .group_by(claim)
            .order_by(claim)
            .limit(max(1, claims_per_page))
        )
        if after is not None:
            page = page.where(claim > after)
        claim_ids = list(session.execute(page).scalars())
        if not claim_ids:
            return
        yield claim_ids
        after = claim_ids[-1]


def page_hits(batch_id: int, claim_ids: Sequence[str]) -> tuple[Any, ...]:
    """The conditions on `ScreenHit` of the batch's hits of one page of `hit_claim_pages`: its claim ids
    lie between the page's first and last, since a page holds every claim with hits in that range (one
    range of the (batch, claim, rule) index, instead of an `IN` of thousands of ids)."""
    claim = _hit_table.c.claim_id
    return _hit_table.c.batch_id == batch_id, claim >= claim_ids[0], claim <= claim_ids[-1]


def hit_content_hash(hit: Hit) -> str:
    """A digest of everything a person sees in a hit, to tell an unchanged hit from a changed one."""
    return hit.content_digest()


@dataclass
class CodeSetReport:
    """What `import_code_tables` did."""

    code_set_id: int
    name: str
    counts: dict[str, int]
    already_imported: bool


def import_code_tables(
    *, session: Session, directory: Path | str, name: str | None = None, imported_by: str | None = None
) -> CodeSetReport:
    """Load a folder of code tables into the casebook under `name` (default: the folder's name).

    Loading the same tables again changes nothing; a different content under an existing name is an error.
    """
    tables = CodeTables.from_dir(directory)
    name = name or Path(directory).resolve().name
    existing = session.execute(select(CodeSet).where(col(CodeSet.name) == name)).scalars().first()
    counts = {table: len(rows) for table, rows in tables.tables.items()}
    if existing is not None:
        if existing.digest != tables.digest:
            from drgaudit.errors import DataFileError

            raise DataFileError(
                str(directory),
                f"code set `{name}` is already loaded with other content; choose another --name",
            )
        return CodeSetReport(existing.id, name, existing.counts, True)
    code_set = CodeSet(
        name=name,
        source=str(directory),
        digest=tables.digest,
        imported_by=imported_by or getpass.getuser(),
        counts=counts,
        imported_at=_now(),
    )
    session.add(code_set)
    session.flush()
    rows = [
        {"set_id": code_set.id, "table_name": table, "code": code, "value": value}
        for table in CODE_FILES
        for code, value in tables.tables[table].items()
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(CodeEntry), rows[start : start + 5000])
    session.commit()
    return CodeSetReport(stored_id(code_set), name, counts, False)


def load_code_tables(*, session: Session, name: str | None = None) -> CodeTables | None:
    """Code tables from the casebook: the named set, else the most recently loaded one; None if there is none."""
    query = select(CodeSet)
    query = (
        query.where(col(CodeSet.name) == name)
        if name
        else query.order_by(col(CodeSet.imported_at).desc(), col(CodeSet.id).desc())
    )
    code_set = session.execute(query).scalars().first()
    if code_set is None:
        if name:
            from drgaudit.errors import DrgauditError

            raise DrgauditError(f"no code set named `{name}` in the casebook")
        return None
    tables: dict[str, dict[str, str]] = {table: {} for table in CODE_FILES}
    rows = session.execute(
        select(col(CodeEntry.table_name), col(CodeEntry.code), col(CodeEntry.value)).where(
            col(CodeEntry.set_id) == code_set.id
        )
    )
    for table, code, value in rows:
        tables[table][code] = value
    return CodeTables.from_rows(
        f"casebook code set `{code_set.name}` ({code_set.source})",
        tables,
        code_set.digest,
        name=code_set.name,
    )


def choose_codes(
    *, session: Session | None, codes_dir: Path | str | None, rules_dir: Path | None
) -> CodeTables:
    """The code tables of a screen, an explanation, a rule test or a report; the one place this is decided.

    In order: the folder given (`--codes DIR`); else the code set loaded last into the casebook of
    `session` (`drgaudit import codes`); else the rule pack's own `codes/` folder if it has one; else
    the national CHS-DRG 1.1 tables bundled with drgaudit. Screening files, a stored batch, `explain`
    and the API all come here, so the same claim is judged against the same tables in every mode.
    """
    if codes_dir is not None:
        return CodeTables.from_dir(codes_dir)
    if session is not None:
        loaded = load_code_tables(session=session)
        if loaded is not None:
            return loaded
    return CodeTables.from_dir(resolve_codes_dir(None, rules_dir or bundled_rules_dir()))


def start_run(*, session: Session, run: ScreenRunCreate) -> ScreenRun:
    """Record the start of a screening run (with this process's host and id)."""
    stored = ScreenRun.model_validate(
        run,
        update={
            "started_at": _now(),
            "run_by": run.run_by or getpass.getuser(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        },
    )
    session.add(stored)
    session.commit()
    session.refresh(stored)
    return stored


def store_hits(
    *,
    session: Session,
    run: ScreenRun,
    batch_id: int,
    hits: Iterable[Hit],
    commit: bool = True,
    not_screened: Collection[str] = (),
) -> ScreenRun:
    """Replace a batch's stored hits by this run's, keeping unchanged ones; returns the run.

    Claims in `not_screened` (of patients the run failed on) keep the hits they had: nothing is known
    about them now. With `commit=False` the changes are only flushed, so that the caller can commit
    them together with what follows from them (the review queue) in one transaction.
    """
    store = HitStore(session=session, run=run, batch_id=batch_id)
    for hit in hits:
        store.add(hit)
    return store.finish(commit=commit, not_screened=not_screened)


# The columns of a stored hit as `HitStore` writes them (`id` comes from the database).
_HIT_COLUMNS = (
    "batch_id", "run_id", "claim_id", "patient_id", "region", "rule_id", "rule_file", "rule_version", "family",
    "severity", "action", "amount_at_risk", "message", "evidence", "ordinal", "content_hash", "pack_version",
)  # fmt: skip
# New rows per write: a replaced row is deleted just before the group that replaces it is inserted.
_HIT_GROUP = 2000


class HitStore:
    """`store_hits` in two steps, so that a batch screen can prepare while its workers still screen and
    write only at the end (on SQLite the write lock is then held for the writing alone).

    `add` takes the hits in screening order and only reads: it compares each with the batch's stored
    hits (read once, when the store is made) and puts a new or changed one in the driver's form (the
    evidence as the JSON text the column stores). With a `spool` (a binary file) the prepared rows wait
    there, a group at a time, so that memory holds one group and not the batch's hits; without one they
    are written as each group fills, as `store_hits` always did. `finish` writes what waits, removes the
    hits that no longer fire and records the counts on the run: the same rows and ids either way.
    """

    def __init__(self, *, session: Session, run: ScreenRun, batch_id: int, spool: IO[bytes] | None = None):
        self.session = session
        self.run = run
        self.batch_id = batch_id
        self.spool = spool
        self.existing = {
            (claim_id, rule_id): (hit_id, digest, pack, stored_ordinal)
            for hit_id, claim_id, rule_id, digest, pack, stored_ordinal in session.execute(
                select(
                    col(ScreenHit.id),
                    col(ScreenHit.claim_id),
                    col(ScreenHit.rule_id),
                    col(ScreenHit.content_hash),
                    col(ScreenHit.pack_version),
                    col(ScreenHit.ordinal),
                ).where(col(ScreenHit.batch_id) == batch_id)
            )
        }
        self.seen: set[tuple[str, str]] = set()
        self.rows: list[tuple[Any, ...]] = []
        self.replaced: list[int] = []
        # Same content from another pack version: the row stays, and records the version (and run) of now.
        self.restamped: list[dict[str, Any]] = []
        self.unchanged = self.total = self.inserted = self.groups = 0
        self.amount = 0.0
        self._json = _json_text(session.get_bind().dialect)
        self._insert: BulkInsert | None = None
        # The evidence digests of the hits inserted and of the unchanged ones (under the ordinal their row
        # keeps), for the review queue and the findings refreshed after.
        self.digests = EvidenceDigests()

    def add(self, hit: Hit, evidence: str | None = None) -> None:
        """Take the next hit of the run (in screening order); nothing is written unless there is no spool.
        `evidence`: `evidence_json` of the hit's evidence, if the caller made it (for the screening output)."""
        key = (hit.claim_id, hit.rule_id)
        ordinal = self.total
        self.total += 1
        self.amount += hit.amount_at_risk
        digest = hit.digest or hit_content_hash(hit)  # worked out by the worker that screened it
        old = self.existing.get(key)
        if old is not None:
            self.seen.add(key)  # only stored keys: what is not seen of them is removed
        if old is not None and old[1] == digest:
            self.unchanged += 1
            if old[2] != hit.pack_version:
                self.restamped.append({"hit_id": old[0], "pack": hit.pack_version})
            # Under its row's ordinal: a hit of this run at that ordinal takes the slot after it, or before.
            self.digests.add(old[3], digest, hit)
            return
        if old is not None:
            self.replaced.append(old[0])
        self.rows.append(
            (
                self.batch_id, self.run.id, hit.claim_id, hit.patient_id, hit.region, hit.rule_id, hit.rule_file,
                hit.rule_version, hit.family, hit.severity, hit.action, float(hit.amount_at_risk), hit.message,
                self._json(hit.evidence, evidence), ordinal, digest, hit.pack_version,
            )
        )  # fmt: skip
        self.digests.add(ordinal, digest, hit)
        self.inserted += 1
        if len(self.rows) >= _HIT_GROUP:
            self._group()

    def _group(self) -> None:
        """Write the group of rows that has filled (and delete the rows it replaces), or spool it."""
        if self.spool is None:
            self._write(self.replaced, self.rows)
        else:
            pickle.dump((self.replaced, self.rows), self.spool, protocol=pickle.HIGHEST_PROTOCOL)
            self.groups += 1
        self.replaced, self.rows = [], []

    def _write(self, replaced: list[int], rows: list[tuple[Any, ...]]) -> None:
        # A replaced row goes first, since (batch, claim, rule) is unique.
        for start in range(0, len(replaced), 500):
            self.session.execute(
                delete(ScreenHit).where(col(ScreenHit.id).in_(replaced[start : start + 500]))
            )
        if rows:  # the driver's executemany (COPY on PostgreSQL): SQLAlchemy's per-row work costs more
            if self._insert is None:
                self._insert = BulkInsert(self.session.connection(), _hit_table, _HIT_COLUMNS)
            self._insert.run(list(zip(*rows, strict=True)))

    def finish(self, *, commit: bool = True, not_screened: Collection[str] = ()) -> ScreenRun:
        """Write the spooled and remaining rows, remove the hits no longer found (except on claims in
        `not_screened`), restamp the unchanged ones, record the counts on the run; commit or flush."""
        session, run = self.session, self.run
        # Bulk work (every row unpickled and written), no reference cycles: see `bulkgc`. It follows the
        # screen, whose end gave the collector back everything it had frozen (full passes over it all).
        with bulkgc.relaxed():
            if self.spool is not None:
                self.spool.seek(0)
                for _ in range(self.groups):
                    self._write(*pickle.load(self.spool))
            self._write(self.replaced, self.rows)
        self.replaced, self.rows = [], []
        kept = frozenset(not_screened)
        gone = [old[0] for key, old in self.existing.items() if key not in self.seen and key[0] not in kept]
        for start in range(0, len(gone), 500):
            session.execute(delete(ScreenHit).where(col(ScreenHit.id).in_(gone[start : start + 500])))
        if self.restamped:
            stamp = (
                update(ScreenHit)
                .where(col(ScreenHit.id) == bindparam("hit_id"))
                .values(pack_version=bindparam("pack"), run_id=run.id)
            )
            for start in range(0, len(self.restamped), 2000):
                session.connection().execute(stamp, self.restamped[start : start + 2000])
        run.hits_total = self.total
        run.hits_new = self.inserted
        run.hits_unchanged = self.unchanged
        run.hits_removed = len(gone)
        run.amount_at_risk = round(self.amount, 2)
        session.add(run)
        if commit:
            session.commit()
        else:
            session.flush()
        return run


# The JSON of a hit's evidence as the screening output writes it (DATA-CONTRACT): text as it is, not
# escaped to ASCII, and values JSON cannot hold (a date) as their text.
evidence_json: Callable[[Any], str] = encoder(ensure_ascii=False, default=str)


def _json_text(dialect: Any) -> Callable[[Any, str | None], str]:
    """A hit's evidence as the text its JSON column stores on this dialect: `evidence_json` (given as
    `encoded` when the caller made it already, for the screening output): the same JSON as the column's
    bind processor makes of the value (`json.dumps`, which escapes non-ASCII), shorter and made once.
    With an engine's own JSON serializer, or a text that is not valid UTF-8 (a lone surrogate): what the
    bind processor (or psycopg's adapter) makes of it. Values JSON cannot hold (a date) go through their
    text first, as a hit read back from JSON would have them."""
    custom: Callable[[Any], str] | None = getattr(dialect, "_json_serializer", None)
    dumps: Callable[[Any], str] = custom or json.dumps

    def text(value: Any, encoded: str | None = None) -> str:
        if custom is None:
            encoded = evidence_json(value) if encoded is None else encoded
            try:
                encoded.encode()
                return encoded
            except UnicodeEncodeError:
                pass
        try:
            return dumps(value)
        except (TypeError, ValueError):
            return dumps(json.loads(json.dumps(value, ensure_ascii=False, default=str)))

    return text


def finish_run(
    *,
    session: Session,
    run: ScreenRun,
    status: str,
    patients: int,
    claims: int,
    failures: Sequence[PatientFailure] = (),
    note: str | None = None,
) -> ScreenRun:
    """Record the end of a run, with the patients it could not screen (one row each) and a note."""
    run.status = status
    run.patients = patients
    run.claims = claims
    run.patients_failed = len(failures)
    run.claims_failed = sum(len(f.claim_ids) for f in failures)
    if note is not None:
        run.note = note
    run.finished_at = _now()
    session.add(run)
    rows = [
        {
            "run_id": run.id,
            "batch_id": run.batch_id,
            "patient_id": f.patient_id,
            "claim_ids": list(f.claim_ids),
            "reason": f.reason,
        }
        for f in failures
    ]
    for start in range(0, len(rows), 2000):
        session.execute(insert(ScreenFailure), rows[start : start + 2000])
    session.commit()
    session.refresh(run)
    return run


def latest_runs(*, session: Session) -> dict[int, ScreenRun]:
    """The newest screen run of every batch that has one, by batch id."""
    batch, run_id = col(ScreenRun.batch_id), col(ScreenRun.id)
    newest = select(batch, func.max(run_id).label("id")).where(batch.is_not(None)).group_by(batch).subquery()
    runs = session.execute(select(ScreenRun).join(newest, run_id == newest.c.id)).scalars()
    return {run.batch_id: run for run in runs if run.batch_id is not None}


def run_failures(*, session: Session, run_id: int) -> list[ScreenFailure]:
    """The patients a run could not screen, in the order they were met."""
    query = select(ScreenFailure).where(col(ScreenFailure.run_id) == run_id).order_by(col(ScreenFailure.id))
    return list(session.execute(query).scalars())


def hits_for_claim(*, session: Session, claim_id: str) -> list[ScreenHit]:
    """Every stored hit of one claim, newest batch first."""
    query = (
        select(ScreenHit)
        .where(col(ScreenHit.claim_id) == claim_id)
        .order_by(col(ScreenHit.batch_id).desc(), col(ScreenHit.ordinal))
    )
    return list(session.execute(query).scalars())


def hit_families(*, session: Session, batch_id: int) -> list[tuple[str, str]]:
    """(claim_id, family) of every stored hit of a batch, in screening order."""
    query = (
        select(col(ScreenHit.claim_id), col(ScreenHit.family))
        .where(col(ScreenHit.batch_id) == batch_id)
        .order_by(col(ScreenHit.ordinal))
    )
    return [(claim_id, family) for claim_id, family in session.execute(query)]
