"""Writing converted chunks into the casebook: claims (new, unchanged, revised) and reference tables.

A writer gets the good rows of one chunk, finds which records are already stored (one chunked lookup),
and writes a chunk at a time. Claims are written column-wise with `BulkInsert`; a claim that comes again
with other content keeps its old content in `claim_revision`. Hospitals and group entries are small
reference tables and are simply updated when they change; the batch note names what was revised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from drgaudit.casebook.bulk import LOOKUP_KEYS, BulkInsert, lookup
from drgaudit.casebook.models import BatchClaim, Claim, ClaimCode, ClaimRevision, GroupEntry, Hospital
from drgaudit.casebook.rows import Chunk, Column, Record
from drgaudit.contract import FIELDS_BY_KIND, LIST_SEPARATOR
from drgaudit.errors import RowError

# Keys of revised records named in the batch note.
NOTE_KEYS = 20

CLAIM_FIELDS = tuple(f.name for f in FIELDS_BY_KIND["claims"])
CODE_LISTS = (("secondary_dx", "dx"), ("procedures", "px"))
LIST_FIELDS = tuple(name for name, _kind in CODE_LISTS)

_claim = Claim.__table__
_claim_code = ClaimCode.__table__
_claim_revision = ClaimRevision.__table__
_batch_claim = BatchClaim.__table__


def stored_claim(row: Any) -> Record:
    """The canonical record of a stored claim row (its `|`-joined code lists split again)."""
    record = {name: getattr(row, name) for name in CLAIM_FIELDS}
    for list_field, _kind in CODE_LISTS:
        text = record[list_field]
        record[list_field] = text.split(LIST_SEPARATOR) if text else []
    return record


class Writer:
    """Stores the good rows of each chunk of one batch, counting new, unchanged and revised records."""

    key_field = ""

    def __init__(self, conn: Connection, batch_id: int, path: str, version: str | None) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.path = path
        self.version = version
        self.now = datetime.now(UTC)
        self.new = self.unchanged = self.revised = 0
        self.revised_keys: list[str] = []

    def write(self, chunk: Chunk, positions: list[int]) -> dict[int, RowError]:
        """Store the rows of `chunk` at `positions`; returns the rows rejected as duplicates, by position."""
        raise NotImplementedError

    def note(self) -> str | None:
        """What the batch revised, for the batch record."""
        if not self.revised_keys:
            return None
        more = self.revised - len(self.revised_keys)
        return "revised: " + ", ".join(self.revised_keys) + (f" and {more} more" if more > 0 else "")

    def _duplicate(self, row: int, first_row: int) -> RowError:
        return RowError(self.path, row, self.key_field, f"duplicate of row {first_row}")

    def _noted(self, keys: Iterable[str]) -> None:
        for key in keys:
            if len(self.revised_keys) >= NOTE_KEYS:
                return
            self.revised_keys.append(key)


class ClaimWriter(Writer):
    """Claims: bulk inserts of new claims, revisions of changed ones, and the batch's claim list."""

    key_field = "claim_id"

    def __init__(self, conn: Connection, batch_id: int, path: str, version: str | None) -> None:
        super().__init__(conn, batch_id, path, version)
        self._claims = BulkInsert(conn, _claim, (*CLAIM_FIELDS, "content_hash", "revision", "batch_id"))
        self._codes = BulkInsert(conn, _claim_code, ("code", "claim_id", "kind", "seq"))
        self._links = BulkInsert(conn, _batch_claim, ("batch_id", "patient_id", "claim_id", "row"))

    def write(self, chunk: Chunk, positions: list[int]) -> dict[int, RowError]:
        ids, numbers = chunk.columns["claim_id"], chunk.rows
        first: dict[str, int] = {}
        duplicates: dict[int, RowError] = {}
        for i in positions:
            j = first.setdefault(ids[i], i)
            if j != i:
                duplicates[i] = self._duplicate(numbers[i], numbers[j])
        columns = (_claim.c.claim_id, _claim.c.patient_id, _claim.c.content_hash, _claim.c.revision)
        stored = {r.claim_id: r for r in lookup(self.conn, columns, _claim.c.claim_id, list(first))}
        if not stored:
            new = list(first.values())
            self._insert(chunk, new, chunk.hashes(new))
            self._link(chunk, new)
            return duplicates
        delivered = self._delivered(stored)
        accepted = []
        for claim_id, i in first.items():
            if claim_id in delivered:
                duplicates[i] = self._duplicate(numbers[i], delivered[claim_id])
            else:
                accepted.append(i)
        hashes = chunk.hashes(accepted)
        new, new_hashes, revised = [], [], []
        for i, digest in zip(accepted, hashes, strict=True):
            old = stored.get(ids[i])
            if old is None:
                new.append(i)
                new_hashes.append(digest)
            elif old.content_hash == digest:
                self.unchanged += 1
            else:
                revised.append((i, digest, old.revision))
        self._insert(chunk, new, new_hashes)
        self._revise(chunk, revised)
        self._link(chunk, accepted)
        return duplicates

    def _delivered(self, stored: dict[str, Any]) -> dict[str, int]:
        """Row numbers of the stored claims that this batch delivered already.

        A claim this batch delivered before is stored with the patient it had then (new and revised
        claims were written by this batch, unchanged ones did not change), so it is found under
        (batch, stored patient, claim) in batch_claim.
        """
        wanted = {(r.patient_id, r.claim_id) for r in stored.values()}
        found: dict[str, int] = {}
        ids = list(stored)
        link = _batch_claim.c
        for start in range(0, len(ids), LOOKUP_KEYS):
            part = ids[start : start + LOOKUP_KEYS]
            patients = sorted({stored[claim_id].patient_id for claim_id in part})
            rows = self.conn.execute(
                select(link.patient_id, link.claim_id, link.row).where(
                    link.batch_id == self.batch_id, link.patient_id.in_(patients), link.claim_id.in_(part)
                )
            )
            found.update((r.claim_id, r.row) for r in rows if (r.patient_id, r.claim_id) in wanted)
        return found

    def _insert(self, chunk: Chunk, positions: list[int], hashes: list[str]) -> None:
        if not positions:
            return
        data: list[Column] = []
        for name in CLAIM_FIELDS:
            values = chunk.column(name, positions)
            if name in LIST_FIELDS:
                values = [LIST_SEPARATOR.join(v) or None for v in values]
            data.append(values)
        count = len(positions)
        data += [hashes, [1] * count, [self.batch_id] * count]
        self._claims.run(data)
        self._insert_codes(*(chunk.column(name, positions) for name in ("claim_id", *LIST_FIELDS)))
        self.new += count

    def _insert_codes(
        self, ids: Sequence[str], secondary: Sequence[list[str]], procedures: Sequence[list[str]]
    ) -> None:
        self._codes.run(_code_columns(ids, secondary, procedures))

    def _link(self, chunk: Chunk, positions: list[int]) -> None:
        self._links.run(
            [
                [self.batch_id] * len(positions),
                chunk.column("patient_id", positions),
                chunk.column("claim_id", positions),
                [chunk.rows[i] for i in positions],
            ]
        )

    def _revise(self, chunk: Chunk, revised: list[tuple[int, str, int]]) -> None:
        """Keep the old content of changed claims in claim_revision, then store the new content."""
        if not revised:
            return
        ids = [chunk.columns["claim_id"][i] for i, _digest, _revision in revised]
        old_rows = {r.claim_id: r for r in lookup(self.conn, tuple(_claim.c), _claim.c.claim_id, ids)}
        self.conn.execute(
            insert(_claim_revision),
            [
                {
                    "claim_id": claim_id,
                    "revision": old_rows[claim_id].revision,
                    "content": _json_ready(stored_claim(old_rows[claim_id])),
                    "replaced_at": self.now,
                    "replaced_by_batch": self.batch_id,
                }
                for claim_id in ids
            ],
        )
        old_codes = _code_columns(
            ids, *([stored_claim(old_rows[claim_id])[name] for claim_id in ids] for name in LIST_FIELDS)
        )
        if old_codes[0]:
            code = _claim_code.c
            self.conn.execute(
                delete(_claim_code).where(
                    code.code == bindparam("k_code"),
                    code.claim_id == bindparam("k_claim_id"),
                    code.kind == bindparam("k_kind"),
                    code.seq == bindparam("k_seq"),
                ),
                [
                    {"k_code": c, "k_claim_id": i, "k_kind": k, "k_seq": n}
                    for c, i, k, n in zip(*old_codes, strict=True)
                ],
            )
        updates = []
        for i, digest, old_revision in revised:
            values = chunk.record(i)
            values["key_claim_id"] = values.pop("claim_id")
            for list_field, _kind in CODE_LISTS:
                values[list_field] = LIST_SEPARATOR.join(values[list_field]) or None
            values.update(content_hash=digest, revision=old_revision + 1, batch_id=self.batch_id)
            updates.append(values)
        _update_many(self.conn, _claim, updates)
        positions = [i for i, _digest, _revision in revised]
        self._insert_codes(ids, *(chunk.column(name, positions) for name in LIST_FIELDS))
        self.revised += len(revised)
        self._noted(ids)


def _code_columns(
    ids: Sequence[str], secondary: Sequence[list[str]], procedures: Sequence[list[str]]
) -> list[list[Any]]:
    """claim_code rows (code, claim_id, kind, seq) of these claims, as columns."""
    codes: list[str] = []
    claim_ids: list[str] = []
    kinds: list[str] = []
    seqs: list[int] = []
    for kind, lists in (("dx", secondary), ("px", procedures)):
        for claim_id, items in zip(ids, lists, strict=True):
            if items:
                n = len(items)
                codes += items
                claim_ids += [claim_id] * n
                kinds += [kind] * n
                seqs += range(1, n + 1)
    return [codes, claim_ids, kinds, seqs]


def _json_ready(record: Record) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in record.items()}


def _update_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows matched on their `key_<column>` entries, setting every other entry."""
    first = rows[0]
    keys = [name for name in first if name.startswith("key_")]
    where = [table.c[name.removeprefix("key_")] == bindparam(name) for name in keys]
    values = {name: bindparam(name) for name in first if name not in keys}
    conn.execute(update(table).where(*where).values(values), rows)


class KeyedWriter(Writer):
    """Hospitals and group entries: small reference tables, updated in place when they change."""

    table: Table
    kind = ""

    def __init__(self, conn: Connection, batch_id: int, path: str, version: str | None) -> None:
        super().__init__(conn, batch_id, path, version)
        # Reference tables have thousands of rows, so duplicates within a file are found in memory.
        self.seen: dict[Any, int] = {}

    def key(self, record: Any) -> Any:
        raise NotImplementedError

    def label(self, key: Any) -> str:
        return str(key)

    def stored(self, records: list[Record]) -> dict[Any, Any]:
        """The stored rows of these records, by key."""
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        """Columns the table has beyond the contract fields and bookkeeping."""
        return {}

    def write(self, chunk: Chunk, positions: list[int]) -> dict[int, RowError]:
        duplicates: dict[int, RowError] = {}
        fresh: list[tuple[Any, Record, str]] = []
        for i, digest in zip(positions, chunk.hashes(positions), strict=True):
            record = chunk.record(i)
            key = self.key(record)
            if key in self.seen:
                duplicates[i] = self._duplicate(chunk.rows[i], self.seen[key])
                continue
            self.seen[key] = chunk.rows[i]
            fresh.append((key, record, digest))
        stored = self.stored([record for _key, record, _digest in fresh])
        inserts, updates = [], []
        for key, record, digest in fresh:
            values = {**record, **self.extra(), "content_hash": digest, "batch_id": self.batch_id}
            old = stored.get(key)
            if old is None:
                inserts.append(values)
            elif old.content_hash == digest:
                self.unchanged += 1
            else:
                updates.append(self.matched(old, values))
                self._noted([self.label(key)])
        if inserts:
            self.conn.execute(insert(self.table), inserts)
            self.new += len(inserts)
        if updates:
            _update_many(self.conn, self.table, updates)
            self.revised += len(updates)
        return duplicates

    def matched(self, old: Any, values: dict[str, Any]) -> dict[str, Any]:
        """`values` made into an update of the stored row `old`."""
        raise NotImplementedError


class HospitalWriter(KeyedWriter):
    """Hospitals, keyed by hospital_id."""

    table = Hospital.__table__
    kind = "hospitals"
    key_field = "hospital_id"

    def key(self, record: Any) -> Any:
        return record["hospital_id"]

    def stored(self, records: list[Record]) -> dict[Any, Any]:
        ids = [r["hospital_id"] for r in records]
        return {
            r.hospital_id: r for r in lookup(self.conn, tuple(self.table.c), self.table.c.hospital_id, ids)
        }

    def matched(self, old: Any, values: dict[str, Any]) -> dict[str, Any]:
        values["key_hospital_id"] = values.pop("hospital_id")
        return values


class GroupWriter(KeyedWriter):
    """Group entries of one version, keyed by region, scheme and group code."""

    table = GroupEntry.__table__
    kind = "groups"
    key_field = "group_code"

    def key(self, record: Any) -> Any:
        return (record["region"], record["scheme"], record["group_code"])

    def label(self, key: Any) -> str:
        return "/".join(key)

    def extra(self) -> dict[str, Any]:
        return {"version": self.version}

    def stored(self, records: list[Record]) -> dict[Any, Any]:
        codes = sorted({r["group_code"] for r in records})
        rows = lookup(
            self.conn,
            tuple(self.table.c),
            self.table.c.group_code,
            codes,
            self.table.c.version == self.version,
        )
        return {self.key(r._mapping): r for r in rows}

    def matched(self, old: Any, values: dict[str, Any]) -> dict[str, Any]:
        values["key_id"] = old.id
        return values


WRITERS: dict[str, type[Writer]] = {"claims": ClaimWriter, "hospitals": HospitalWriter, "groups": GroupWriter}


def make_writer(kind: str, conn: Connection, batch_id: int, path: str, version: str | None) -> Writer:
    """The writer for one import kind."""
    return WRITERS[kind](conn, batch_id, path, version)
