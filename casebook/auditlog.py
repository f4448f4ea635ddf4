"""The audit log of the review work: append-only, hash-chained, verifiable.

Every change to review cases, decisions, meetings and investigation requests is appended here by the
function that makes it, in the same transaction. Entry `seq` n stores the hash of entry n-1
(`prev_hash`) and its own `entry_hash` = sha256 over the canonical JSON of
[seq, prev_hash, at, actor, entity, entity_id, action, before, after]; `at`, `before` and `after` are
stored as the exact text that was hashed. Entries written since accounts exist also record the `role`
the actor acted in and the `channel` (cli, web, api) the change came through; these two are hashed
after the nine fields above, and only when present, so entries written before them verify unchanged.
The single row of `audit_head` holds the newest seq and hash:
an append first bumps it (`UPDATE … RETURNING`), which takes a row lock on PostgreSQL and the write
lock on SQLite, so two writers can never take the same previous hash; `seq` is the primary key as a
second guard. `verify_log` walks the chain and names the first entry that was edited, deleted or
relinked, and notices entries cut off the end (the head no longer matches the last entry).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, insert, select, text
from sqlmodel import Field, Session, SQLModel

GENESIS_HASH = "0" * 64
CHANNELS = ("cli", "web", "api")


class Actor(str):
    """Who makes a change: the account name (a `str`, so it fits every `*_by` column as it is), with the
    role it acts in and the channel it came through, which the log records beside the name.

    `Actor("王审核", role="auditor", channel="web")`; a plain `str` actor is logged with neither.
    """

    role: str | None
    channel: str | None

    def __new__(cls, name: str, *, role: str | None = None, channel: str | None = None) -> Actor:
        if channel is not None and channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
        actor = super().__new__(cls, name)
        actor.role = role
        actor.channel = channel
        return actor

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_actor, (str(self), self.role, self.channel))


def _make_actor(name: str, role: str | None, channel: str | None) -> Actor:
    return Actor(name, role=role, channel=channel)


class AuditEntryBase(SQLModel):
    """One change: who made it, when, to what, and the state before and after (canonical JSON text)."""

    at: str
    actor: str
    entity: str = Field(index=True)
    entity_id: str = Field(index=True)
    action: str
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)
    role: str | None = None
    channel: str | None = None


class AuditEntry(AuditEntryBase, table=True):
    """An audit-log entry as stored; `seq` counts from 1 without gaps."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    prev_hash: str
    entry_hash: str


class AuditHead(SQLModel, table=True):
    """The newest entry of the log (one row, id 1, created by the migration with seq 0)."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str


def canonical(value: Any) -> str | None:
    """The JSON text of a value as the log stores and hashes it (sorted keys, no spaces); None stays None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    *,
    seq: int,
    prev_hash: str,
    at: str,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    before: str | None,
    after: str | None,
    role: str | None = None,
    channel: str | None = None,
) -> str:
    """The hash of one entry's content chained to the previous entry's hash."""
    fields: list[Any] = [seq, prev_hash, at, actor, entity, entity_id, action, before, after]
    if role is not None or channel is not None:
        fields += [role, channel]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def append(
    *,
    session: Session,
    actor: str | Actor,
    entity: str,
    entity_id: str | int,
    action: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry in the session's transaction (the caller commits, together with the change)."""
    return append_many(session=session, actor=actor, changes=[(entity, entity_id, action, before, after)])[0]


Change = tuple[str, "str | int | None", str, Any, Any]  # entity, entity_id, action, before, after


def append_many(*, session: Session, actor: str | Actor, changes: Sequence[Change]) -> list[AuditEntry]:
    """Append entries in order, in the session's transaction, taking the log's head once for all of them."""
    if not changes:
        return []
    row = session.execute(
        text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash"), {"n": len(changes)}
    ).one_or_none()
    if row is None:
        from drgaudit.errors import DatabaseError

        raise DatabaseError("the casebook has no audit_head row; was it migrated with drgaudit?")
    seq, prev = int(row[0]) - len(changes), str(row[1])
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    entries = []
    for entity, entity_id, action, before, after in changes:
        seq += 1
        content = {
            "at": at,
            "actor": str(actor),
            "entity": entity,
            "entity_id": str(entity_id),
            "action": action,
            "before": canonical(before),
            "after": canonical(after),
            "role": getattr(actor, "role", None),
            "channel": getattr(actor, "channel", None),
        }
        digest = entry_hash(seq=seq, prev_hash=prev, **content)
        entries.append(AuditEntry(seq=seq, prev_hash=prev, entry_hash=digest, **content))
        prev = digest
    rows = [entry.model_dump() for entry in entries]
    for start in range(0, len(rows), 2000):
        session.execute(insert(AuditEntry), rows[start : start + 2000])
    session.execute(text("UPDATE audit_head SET hash = :hash WHERE id = 1"), {"hash": prev})
    return entries


@dataclass
class VerifyReport:
    """What `verify_log` found: entries checked, and the first problem (None when the chain is intact)."""

    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _describe(entry: AuditEntry) -> str:
    return (
        f"entry {entry.seq} ({entry.entity} {entry.entity_id} {entry.action} by {who(entry)} at {entry.at})"
    )


def who(entry: AuditEntryBase) -> str:
    """The actor of an entry as people read it: `王审核 (auditor, web)`, or the bare name of older entries."""
    extra = ", ".join(part for part in (entry.role, entry.channel) if part)
    return f"{entry.actor} ({extra})" if extra else entry.actor


def verify_log(*, session: Session, chunk: int = 5000) -> VerifyReport:
    """Walk the whole chain in order; report the first edited, deleted or relinked entry."""
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    report = VerifyReport(0, head_seq, head_hash)
    expected_seq, prev = 1, GENESIS_HASH
    for entry in _entries(session, chunk):
        report.entries += 1
        if entry.seq != expected_seq:
            missing = (
                f"entry {expected_seq}"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq}–{entry.seq - 1}"
            )
            return _bad(
                report,
                expected_seq,
                f"{missing} deleted: the log jumps from entry {expected_seq - 1} to {entry.seq}",
            )
        if entry.prev_hash != prev:
            return _bad(
                report,
                entry.seq,
                f"{_describe(entry)}: link broken, its previous hash is not the hash of entry {entry.seq - 1} (entry {entry.seq - 1} or this link was changed)",
            )
        digest = entry_hash(
            seq=entry.seq, prev_hash=entry.prev_hash, at=entry.at, actor=entry.actor, entity=entry.entity,
            entity_id=entry.entity_id, action=entry.action, before=entry.before, after=entry.after,
            role=entry.role, channel=entry.channel,
        )  # fmt: skip
        if digest != entry.entry_hash:
            return _bad(report, entry.seq, f"{_describe(entry)}: content edited, its hash does not match")
        prev = entry.entry_hash
        expected_seq += 1
    last = expected_seq - 1
    if head_seq != last or head_hash != prev:
        if head_seq > last:
            return _bad(
                report,
                last + 1,
                f"entry {last + 1} deleted: the log ends at entry {last} but its head is entry {head_seq}",
            )
        return _bad(report, head_seq, f"the log head (entry {head_seq}) does not match the last entry {last}")
    return report


def _bad(report: VerifyReport, seq: int, problem: str) -> VerifyReport:
    report.problem = problem
    report.bad_seq = seq
    return report


def _entries(session: Session, chunk: int) -> Iterator[AuditEntry]:
    """Entries in seq order as detached copies read a chunk at a time (the session's identity map stays small)."""
    columns = [getattr(AuditEntry, name) for name in AuditEntry.model_fields]
    after = 0
    while True:
        rows = session.execute(
            select(*columns).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(chunk)
        ).all()
        if not rows:
            return
        for row in rows:
            yield AuditEntry.model_construct(**row._asdict())
        after = rows[-1].seq


def entries_for(*, session: Session, entity: str, entity_id: str | int) -> list[AuditEntry]:
    """The log entries about one entity, oldest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq)
    )
    return list(session.exec(query).scalars())
