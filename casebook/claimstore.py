"""Storing claims screened one request at a time (pre-settlement screening), with their hits and cases.

A request that stores is one import batch of kind `claims` (file name `<source>`, e.g. `api:<request
id>`) with one screen run, its hits and the review cases made from them, all in one transaction. The
claims go through the importer's writer, so a claim that comes again with other content becomes a
revision (`claim_revision`) and an identical one is unchanged. The batch's identity
(`import_batch.content_hash`) is a digest of the request's canonical claims and of the rule pack and
code tables that screened them: the same request again finds the earlier batch and changes nothing,
as long as the casebook still holds those claims as the request sends them. A claim sent as A, then
corrected to B, then sent as A again is stored again (a revision back to A): the last word of the
settlement system is what the casebook keeps, never an older batch's answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, text, update
from sqlmodel import Session, col

from drgaudit.casebook.models import Claim, ImportBatch, table_of
from drgaudit.casebook.prepare import DatabaseForm, PreparedChunk
from drgaudit.casebook.queries import places_of_claims
from drgaudit.casebook.review import refresh_cases
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screening import ScreenRun, store_hits
from drgaudit.casebook.shadow import store_shadow_hits
from drgaudit.casebook.writers import CLAIM_FIELDS, ClaimWriter
from drgaudit.contract import FIELDS_BY_KIND
from drgaudit.engine.hits import Hit
from drgaudit.engine.pack import RulePack
from drgaudit.errors import DrgauditError
from drgaudit.ingest.rows import Chunk, Column

_batch = table_of(ImportBatch)
# Called with the stored claims among those a request stores (claim id -> (hospital, treatment region,
# insured region)) once the store holds its locks; raises to refuse them.
Guard = Callable[[dict[str, tuple[str, str, str]]], None]
_claim = table_of(Claim)


@dataclass
class StoredScreen:
    """What storing one screened request did (or found already done)."""

    batch_id: int
    already_stored: bool
    claims: dict[str, int] = field(default_factory=dict)  # new, unchanged, revised
    hits: dict[str, int] = field(default_factory=dict)  # new, unchanged, removed
    review_cases: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "already_stored": self.already_stored,
            "claims": self.claims,
            "hits": self.hits,
            "review_cases": self.review_cases,
        }


@dataclass(frozen=True)
class ScreenedBy:
    """The rule pack and code tables that screened the claims, as the screen run records them."""

    pack: RulePack
    rules_dir: str
    rules_version: str
    codes_source: str
    codes_version: str


def request_digest(records: Sequence[dict[str, Any]], screened_by: ScreenedBy) -> str:
    """The identity of a stored request: its canonical claims in order, the pack and code versions."""
    digest = hashlib.sha256(b"drgaudit screened claims\n")
    digest.update(f"{screened_by.rules_version}\n{screened_by.codes_version}\n".encode())
    for record in records:
        digest.update(orjson.dumps({name: _plain(record.get(name)) for name in CLAIM_FIELDS}))
        digest.update(b"\n")
    return "request:" + digest.hexdigest()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def store_screened_claims(
    *,
    session: Session,
    records: Sequence[dict[str, Any]],
    hits: Iterable[Hit],
    screened_by: ScreenedBy,
    source: str,
    actor: str,
    shadow: Mapping[str, list[Hit]] | None = None,
    guard: Guard | None = None,
) -> StoredScreen:
    """Store canonical claim records (already checked) with their hits and review cases, and commit.

    `shadow`: the hits of the regions' shadow versions (pack version -> hits), stored apart, never queued.

    Idempotent: a request with the same claims, screened by the same pack and code tables, finds the
    batch stored before and changes nothing. Any error rolls everything back. On PostgreSQL concurrent
    stores of the same request are serialised by an advisory lock; on SQLite by the write lock.
    """
    digest = request_digest(records, screened_by)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(digest[-15:], 16)})
        # And each claim, in one order: requests storing the same claims with other content (a correction
        # sent while the first is being stored) revised the claim's codes at once and collided on their
        # keys, past every retry. SQLite's write lock serialises them already.
        for claim_id in sorted({r["claim_id"] for r in records}):
            lock = int(hashlib.sha256(f"claim {claim_id}".encode()).hexdigest()[-15:], 16)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    prepared = _prepared(records, DatabaseForm("claims", conn.dialect))
    current = dict(zip((r["claim_id"] for r in records), prepared.hashes, strict=True))
    earlier = _earlier(session, digest, current)
    if earlier is not None:
        session.rollback()
        return StoredScreen(earlier, True)
    now = datetime.now(UTC)
    key = conn.execute(
        insert(_batch).values(
            kind="claims", file_name=source, content_hash=digest, imported_by=actor, imported_at=now,
            encoding=None, version=None, rows_total=len(records), rows_ok=0, rows_rejected=0,
            rows_new=0, rows_unchanged=0, rows_revised=0,
        )
    ).inserted_primary_key  # fmt: skip
    assert key is not None  # an INSERT of one row has its key
    batch_id = int(key[0])
    # This transaction now holds SQLite's write lock: someone may have stored the same request meanwhile.
    earlier = _earlier(session, digest, current, other_than=batch_id)
    if earlier is not None:
        session.rollback()
        return StoredScreen(earlier, True)
    if guard is not None:  # under the locks: what the guard sees stays so until commit
        try:
            guard(places_of_claims(session=session, claim_ids=current))
        except Exception:
            session.rollback()
            raise
    writer = ClaimWriter(conn, batch_id, source, None)
    duplicates = writer.write(prepared)
    if duplicates:
        session.rollback()
        raise DrgauditError(f"{source}: {duplicates[0][0]}")
    conn.execute(
        update(_batch)
        .where(_batch.c.id == batch_id)
        .values(
            rows_ok=len(records),
            rows_new=writer.new,
            rows_unchanged=writer.unchanged,
            rows_revised=writer.revised,
            note=writer.note(),
        )
    )
    run = ScreenRun(
        batch_id=batch_id,
        source=source,
        rules_dir=screened_by.rules_dir,
        rules_version=screened_by.rules_version,
        codes_source=screened_by.codes_source,
        codes_version=screened_by.codes_version,
        workers=1,
        status="done",
        patients=len({r["patient_id"] for r in records}),
        claims=len(records),
        run_by=actor,
        started_at=now,
        finished_at=datetime.now(UTC),
    )
    session.add(run)
    session.flush()
    stored_run = store_hits(session=session, run=run, batch_id=batch_id, hits=hits, commit=False)
    for version, shadow_hits in sorted((shadow or {}).items()):
        store_shadow_hits(session=session, run=run, batch_id=batch_id, pack_version=version, hits=shadow_hits)
    # Hits, claims, batch and the cases made from them commit together here.
    review = refresh_cases(session=session, batch_id=batch_id, pack=screened_by.pack, actor=actor)
    return StoredScreen(
        batch_id=batch_id,
        already_stored=False,
        claims={"new": writer.new, "unchanged": writer.unchanged, "revised": writer.revised},
        hits={
            "new": stored_run.hits_new,
            "unchanged": stored_run.hits_unchanged,
            "removed": stored_run.hits_removed,
        },
        review_cases=review.as_dict(),
        run_id=stored_run.id,
    )


def _earlier(
    session: Session, digest: str, current: Mapping[str, str], other_than: int | None = None
) -> int | None:
    """The last batch that stored this request, when the casebook still holds its claims as sent
    (`current`: claim id -> content hash); None when there is none, or a claim changed since."""
    query = select(_batch.c.id).where(_batch.c.kind == "claims", _batch.c.content_hash == digest)
    if other_than is not None:
        query = query.where(_batch.c.id != other_than)
    conn = session.connection()
    row = conn.execute(query.order_by(_batch.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    stored = dict(
        conn.execute(
            select(_claim.c.claim_id, _claim.c.content_hash).where(_claim.c.claim_id.in_(list(current)))
        ).all()
    )
    return int(row[0]) if stored == current else None


def _prepared(records: Sequence[dict[str, Any]], form: DatabaseForm) -> PreparedChunk:
    """Canonical records as the chunk the importer's writer takes (rows numbered from 1)."""
    fields = FIELDS_BY_KIND["claims"]
    rows = list(range(1, len(records) + 1))
    columns: dict[str, Column] = {f.name: [record.get(f.name) for record in records] for f in fields}
    chunk = Chunk(fields, rows, columns)
    positions = list(range(len(records)))
    return PreparedChunk(
        rows=rows,
        columns={name: form.column(name, values) for name, values in columns.items()},
        hashes=chunk.hashes(positions),
        rejected=[],
        rows_read=len(records),
        fraction=1.0,
    )


def cases_of_claims(*, session: Session, claim_ids: Sequence[str]) -> dict[str, ReviewCase]:
    """The review case of each of these claims that has one."""
    if not claim_ids:
        return {}
    query = select(ReviewCase).where(col(ReviewCase.claim_id).in_(list(claim_ids)))
    return {case.claim_id: case for case in session.execute(query).scalars()}
