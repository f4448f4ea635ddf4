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

Every entry and the head are also sealed: `mac` is an HMAC-SHA256, under the audit key kept outside
the database (`casebook.auditkey`), of the entry's hash (for the head, of `seq:hash`). The hash chain
shows an edit; the seals show a chain rewritten by someone without the key. `head_anchor` gives the
head to keep elsewhere (`drgaudit casebook anchor`), so that a log cut back to an earlier entry is
caught against an anchor taken before (`check_anchor`). `casebook.auditcheck` compares the current
rows with the log's latest state of each.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import Text, func, insert, select, text
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook.auditkey import AuditKey, AuditKeyError, audit_key
from drgaudit.casebook.bulk import BulkInsert
from drgaudit.casebook.models import bindable, get_by_id, table_of
from drgaudit.jsontext import encoder

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
    # HMAC of entry_hash under the audit key (see casebook.auditkey).
    mac: str | None = None


class AuditHead(SQLModel, table=True):
    """The newest entry of the log (one row, id 1, created by the migration with seq 0)."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str
    # HMAC of "seq:hash" under the audit key, and the key's public id.
    mac: str | None = None
    key_id: str | None = None


# The encoders of `canonical` and `entry_hash`, made once (`drgaudit.jsontext`): json.dumps with options
# makes one per call, most of the cost of a small value (the same text: json.dumps is
# JSONEncoder(options).encode).
encode_canonical = encoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_compact = encoder(ensure_ascii=False, separators=(",", ":"))


def canonical(value: Any) -> str | None:
    """The JSON text of a value as the log stores and hashes it (sorted keys, no spaces); None stays None."""
    if value is None:
        return None
    return encode_canonical(value)


class _Content(TypedDict):
    """What an entry says (the columns its hash covers besides `seq` and `prev_hash`)."""

    at: str
    actor: str
    entity: str
    entity_id: str
    action: str
    before: str | None
    after: str | None
    role: str | None
    channel: str | None


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
    payload = _compact(fields)
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
    rows = _append_rows(session=session, actor=actor, changes=[(entity, entity_id, action, before, after)])
    return AuditEntry(**rows[0])


Change = tuple[str, "str | int | None", str, Any, Any]  # entity, entity_id, action, before, after
# Entries from which `append_many` writes through `bulk.BulkInsert` (a stored screen logs thousands).
BULK_ENTRIES = 100


def append_many(*, session: Session, actor: str | Actor, changes: Sequence[Change]) -> int:
    """Append entries in order, in the session's transaction, taking the log's head once for all of them;
    returns how many. The rows are written with Core inserts (no ORM object per entry: a stored screen
    logs thousands of case changes at once)."""
    return len(_append_rows(session=session, actor=actor, changes=changes))


def _append_rows(*, session: Session, actor: str | Actor, changes: Sequence[Change]) -> list[dict[str, Any]]:
    if not changes:
        return []
    key = audit_key()
    row = session.execute(
        text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash, key_id"),
        {"n": len(changes)},
    ).one_or_none()
    if row is None:
        from drgaudit.errors import DatabaseError

        raise DatabaseError("the casebook has no audit_head row; was it migrated with drgaudit?")
    if row[2] is not None and row[2] != key.key_id:
        session.rollback()
        raise AuditKeyError(
            f"this casebook's audit log is sealed with another key (id {row[2]}) than this process has "
            f"(id {key.key_id}, from {key.source}); nothing was saved. Give every process that writes the "
            "casebook the same key (DRGAUDIT_AUDIT_KEY or DRGAUDIT_AUDIT_KEY_FILE)"
        )
    seq, prev = int(row[0]) - len(changes), str(row[1])
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    name, role, channel = str(actor), getattr(actor, "role", None), getattr(actor, "channel", None)
    rows: list[dict[str, Any]] = []
    for entity, entity_id, action, before, after in changes:
        seq += 1
        content: _Content = {
            "at": at,
            "actor": name,
            "entity": entity,
            "entity_id": str(entity_id),
            "action": action,
            "before": canonical(before),
            "after": canonical(after),
            "role": role,
            "channel": channel,
        }
        digest = entry_hash(seq=seq, prev_hash=prev, **content)
        rows.append({"seq": seq, "prev_hash": prev, "entry_hash": digest, "mac": key.seal(digest), **content})
        prev = digest
    table = table_of(AuditEntry)  # a Core insert: the ORM's bulk insert costs more per row
    if len(rows) < BULK_ENTRIES:
        session.execute(insert(table), rows)
    else:  # the driver's executemany (COPY on PostgreSQL): the values are text and integers already
        names = tuple(rows[0])
        writer = BulkInsert(session.connection(), table, names)
        for start in range(0, len(rows), 2000):
            part = rows[start : start + 2000]
            writer.run([[row[name] for row in part] for name in names])
    session.execute(
        text("UPDATE audit_head SET hash = :hash, mac = :mac, key_id = :key_id WHERE id = 1"),
        {"hash": prev, "mac": key.seal(head_text(seq, prev)), "key_id": key.key_id},
    )
    return rows


def head_text(seq: int, digest: str) -> str:
    """What the head's seal covers."""
    return f"{seq}:{digest}"


@dataclass
class VerifyReport:
    """What `verify_log` found: entries checked, and the first problem (None when the chain is intact)."""

    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None
    key_source: str = ""

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


def verify_log(*, session: Session, chunk: int = 5000, key: AuditKey | None = None) -> VerifyReport:
    """Walk the whole chain in order; report the first edited, deleted, relinked or unsealed entry.

    `key` (default: this process's, `auditkey.audit_key`) must be the key the log was sealed with.
    """
    key = key or audit_key()
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    report = VerifyReport(0, head_seq, head_hash, key_source=key.source)
    if head is not None and head.key_id is not None and head.key_id != key.key_id:
        return _bad(
            report,
            head_seq,
            f"the log is sealed with another key (id {head.key_id}) than this one (id {key.key_id}, from "
            f"{key.source}): verify with the key the casebook was written with",
        )
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
        if not key.check(entry.entry_hash, entry.mac):
            return _bad(
                report,
                entry.seq,
                f"{_describe(entry)}: its seal does not match: the log was written or rewritten from here "
                "on without the audit key",
            )
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
    if head is not None and last > 0 and not key.check(head_text(head.seq, head.hash), head.mac):
        return _bad(
            report,
            head_seq,
            f"the log head (entry {head_seq}) is not sealed with the audit key: the log was cut or rewritten",
        )
    return report


@dataclass(frozen=True)
class Anchor:
    """The log's head at one moment, kept outside the casebook to catch a log cut back later."""

    seq: int
    hash: str
    seal: str
    at: str

    def line(self) -> str:
        """The anchor as one JSON line (what `drgaudit casebook anchor --out FILE` appends)."""
        return json.dumps({"seq": self.seq, "hash": self.hash, "seal": self.seal, "at": self.at})

    @classmethod
    def parse(cls, line: str) -> Anchor:
        data = json.loads(line)
        return cls(int(data["seq"]), str(data["hash"]), str(data.get("seal", "")), str(data.get("at", "")))


def head_anchor(*, session: Session, key: AuditKey | None = None) -> Anchor:
    """The current head as an anchor, sealed with the audit key."""
    key = key or audit_key()
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    return Anchor(
        seq, digest, key.seal(head_text(seq, digest)), datetime.now(UTC).isoformat(timespec="seconds")
    )


def check_anchor(*, session: Session, anchor: Anchor, key: AuditKey | None = None) -> str | None:
    """Whether the log still holds the entry an earlier anchor recorded: None, or what is wrong."""
    key = key or audit_key()
    taken = f"the anchor taken at {anchor.at or '?'}"
    if anchor.seal and not key.check(head_text(anchor.seq, anchor.hash), anchor.seal):
        return f"{taken} (entry {anchor.seq}) is not sealed with this audit key"
    if anchor.seq == 0:
        return None
    entry = get_by_id(session, AuditEntry, anchor.seq)
    if entry is None:
        last = session.execute(select(func.max(AuditEntry.seq))).scalar() or 0
        return f"the log was cut: {taken} names entry {anchor.seq}, but the log ends at entry {last}"
    if entry.entry_hash != anchor.hash:
        return f"the log was rewritten: entry {anchor.seq} is not the one {taken} recorded"
    return None


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
            select(*columns).where(col(AuditEntry.seq) > after).order_by(col(AuditEntry.seq)).limit(chunk)
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
        .where(col(AuditEntry.entity) == entity, col(AuditEntry.entity_id) == str(entity_id))
        .order_by(col(AuditEntry.seq))
    )
    return list(session.execute(query).scalars())


def newest_entries(*, session: Session, count: int) -> list[AuditEntry]:
    """The newest `count` entries, oldest of them first."""
    query = select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(bindable(count))
    return list(reversed(list(session.execute(query).scalars())))
