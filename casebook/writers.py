"""Writing prepared chunks into the casebook: claims (new, unchanged, revised) and reference tables.

A writer gets the good rows of one chunk (`drgaudit.casebook.prepare.PreparedChunk`, values in the
driver's form), finds which records are stored already (one chunked lookup), and writes the chunk with
`BulkInsert` / `BulkUpdate`. A record whose fingerprint equals the stored one is unchanged; one whose
fingerprint differs is compared value by value (the same content may be written differently) and is
revised only when a value differs. A revised claim keeps its old content in `claim_revision`.
Hospitals and group entries are small reference tables and are updated in place; the batch note names
what was revised.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select

from drgaudit.casebook.bulk import LOOKUP_KEYS, BulkInsert, BulkUpdate, KeyLookup, lookup
from drgaudit.casebook.models import (
    BatchClaim,
    Claim,
    ClaimCode,
    ClaimRevision,
    GroupEntry,
    Hospital,
    table_of,
)
from drgaudit.casebook.prepare import CODE_LISTS, DatabaseForm, PreparedChunk, code_columns
from drgaudit.contract import FIELDS_BY_KIND, LIST_SEPARATOR
from drgaudit.errors import RowError
from drgaudit.i18n import _
from drgaudit.ingest.rows import Column, pick

# Keys of revised records named in the batch note.
NOTE_KEYS = 20

CLAIM_FIELDS = tuple(f.name for f in FIELDS_BY_KIND["claims"])
LIST_FIELDS = tuple(name for name, _kind in CODE_LISTS)

_claim = table_of(Claim)
_claim_code = table_of(ClaimCode)
_claim_revision = table_of(ClaimRevision)
_batch_claim = table_of(BatchClaim)

Record = dict[str, Any]

# A character that a code list's text cannot hold if SQLite is to read it as a JSON array of strings
# (the contract's code shapes never have one; a list that did would take the Python path).
_NOT_JSON_SAFE = re.compile(r'["\\\x00-\x1f\x7f]')
# Rowids of the claim table at or past this would no longer be handed out in order (SQLite picks
# random ones once the largest is taken), so the claims just inserted could not be told by rowid.
_ROWID_LIMIT = 2**62


def stored_claim(row: Any) -> Record:
    """The canonical record of a stored claim row (its `|`-joined code lists split again)."""
    return claim_from_values([getattr(row, name) for name in CLAIM_FIELDS])


def claim_from_values(values: Sequence[Any]) -> Record:
    """The canonical record of a claim's stored values given in CLAIM_FIELDS order (the fast path)."""
    record = dict(zip(CLAIM_FIELDS, values, strict=True))
    for list_field in LIST_FIELDS:
        text = record[list_field]
        record[list_field] = text.split(LIST_SEPARATOR) if text else []
    return record


class Writer:
    """Stores the good rows of each chunk of one batch, counting new, unchanged and revised records."""

    kind = ""
    key_field = ""

    def __init__(self, conn: Connection, batch_id: int, path: str, version: str | None) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.path = path
        self.version = version
        self.form = DatabaseForm(self.kind, conn.dialect)
        self.names = tuple(f.name for f in FIELDS_BY_KIND[self.kind])
        self.now = datetime.now(UTC)
        self.new = self.unchanged = self.revised = 0
        self.revised_keys: list[str] = []

    def write(self, chunk: PreparedChunk) -> list[tuple[RowError, str]]:
        """Store a chunk's good rows; returns the rows rejected as duplicates, with their text."""
        raise NotImplementedError

    def finish(self) -> None:
        """Write what the writer kept back until the end of the batch (call before committing)."""

    def note(self) -> str | None:
        """What the batch revised, for the batch record."""
        if not self.revised_keys:
            return None
        more = self.revised - len(self.revised_keys)
        return "revised: " + ", ".join(self.revised_keys) + (f" and {more} more" if more > 0 else "")

    def _duplicate(self, chunk: PreparedChunk, position: int, first_row: int) -> tuple[RowError, str]:
        reason = _("duplicate of row {row}").format(row=first_row)
        error = RowError(self.path, chunk.rows[position], self.key_field, reason)
        return error, self.row_text(chunk, position)

    def row_text(self, chunk: PreparedChunk, position: int) -> str:
        """A row's values as a CSV line in field order (the row itself was valid, so it is not kept)."""
        line = io.StringIO()
        values = [chunk.columns[name][position] for name in self.names]
        csv.writer(line).writerow(["" if v is None else v for v in values])
        return line.getvalue().rstrip("\r\n")

    def _same_content(self, stored: Record, chunk: PreparedChunk, position: int) -> bool:
        """Whether a stored canonical record holds the same values as a row of the chunk."""
        return self.form.record(stored) == {name: chunk.columns[name][position] for name in self.names}

    def _noted(self, keys: Iterable[str]) -> None:
        for key in keys:
            if len(self.revised_keys) >= NOTE_KEYS:
                return
            self.revised_keys.append(key)


class ClaimWriter(Writer):
    """Claims: bulk inserts of new claims, revisions of changed ones, and the batch's claim list."""

    kind = "claims"
    key_field = "claim_id"

    def __init__(
        self, conn: Connection, batch_id: int, path: str, version: str | None, *, defer_links: bool = False
    ) -> None:
        """`defer_links`: on SQLite, keep the batch links of new claims in a temporary table until
        `finish()` (which must then be called before the commit)."""
        super().__init__(conn, batch_id, path, version)
        self._claims = BulkInsert(conn, _claim, (*CLAIM_FIELDS, "content_hash", "revision", "batch_id"))
        self._codes = BulkInsert(conn, _claim_code, ("code", "claim_id", "kind", "seq"))
        self._links = BulkInsert(conn, _batch_claim, ("batch_id", "patient_id", "claim_id", "row"))
        self._update = BulkUpdate(
            conn, _claim, ["claim_id"], [*CLAIM_FIELDS[1:], "content_hash", "revision", "batch_id"]
        )
        columns = (_claim.c.claim_id, _claim.c.patient_id, _claim.c.content_hash)
        self._stored = KeyLookup(conn, columns, _claim.c.claim_id)
        # On SQLite the code rows of new claims are made by SQLite itself from the claim rows just
        # inserted (their `|`-joined lists read as JSON arrays): a quarter of the import's work in
        # the importing process went to splitting the lists in Python and binding the code rows one
        # by one. Elsewhere (PostgreSQL's COPY) they are sent as rows.
        self._codes_sql = (
            [_codes_from_claims_sql(name, kind) for name, kind in CODE_LISTS]
            if conn.dialect.name == "sqlite"
            else None
        )
        # batch_claim is keyed by (batch, patient, claim): links written as the claims come (in file
        # order, patients at random) land all over its B-tree, which at a million claims cost the
        # importing process several times what appending them does. A bulk import on SQLite keeps them
        # in a temporary table (appended; on disk beyond SQLite's small temp cache) and writes them in
        # key order when the batch is finished, or before anything reads this batch's links.
        self._defer_links = defer_links and self._codes_sql is not None
        self._pending_links = 0
        if self._defer_links:
            conn.exec_driver_sql(_PENDING_LINKS_TABLE)
            conn.exec_driver_sql(f"DELETE FROM {_PENDING_LINKS}")

    def write(self, chunk: PreparedChunk) -> list[tuple[RowError, str]]:
        ids, numbers = chunk.columns["claim_id"], chunk.rows
        # Each id's first position; the dict of every position is right when no id comes twice.
        first: dict[str, int] = dict(zip(ids, range(len(ids)), strict=True))
        duplicates = []
        if len(first) != len(ids):
            first = {}
            for i, claim_id in enumerate(ids):
                j = first.setdefault(claim_id, i)
                if j != i:
                    duplicates.append(self._duplicate(chunk, i, numbers[j]))
        stored = {r.claim_id: r for r in self._stored(list(first))}
        if not stored:
            new = list(first.values())
            after = self._insert(chunk, new)
            if after is None:
                self._link(chunk, new)
            else:
                self._link_from_claims(after, pick(numbers, new))
            return duplicates
        delivered = self._delivered(stored)
        accepted, new, differing = [], [], []
        for claim_id, i in first.items():
            old = stored.get(claim_id)
            if old is None:
                new.append(i)
            elif claim_id in delivered:
                duplicates.append(self._duplicate(chunk, i, delivered[claim_id]))
                continue
            elif old.content_hash == chunk.hashes[i]:
                self.unchanged += 1
            else:
                differing.append(i)
            accepted.append(i)
        self._insert(chunk, new)
        self._compare_and_revise(chunk, differing)
        self._link(chunk, accepted)
        duplicates.sort(key=lambda item: item[0].row)
        return duplicates

    def _delivered(self, stored: dict[str, Any]) -> dict[str, int]:
        """Row numbers of the stored claims that this batch delivered already.

        A claim this batch delivered before is stored with the patient it had then (new and revised
        claims were written by this batch, unchanged ones did not change), so it is found under
        (batch, stored patient, claim) in batch_claim.
        """
        self._write_pending_links()
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

    def _insert(self, chunk: PreparedChunk, positions: list[int]) -> int | None:
        """Insert the claims at these positions with their codes; returns the claim table's rowid
        before them when they were given the rowids after it, in order (SQLite), else None."""
        if not positions:
            return None
        count = len(positions)
        data = [pick(chunk.columns[name], positions) for name in CLAIM_FIELDS]
        data += [pick(chunk.hashes, positions), [1] * count, [self.batch_id] * count]
        after = self._last_rowid(data)
        self._claims.run(data)
        if after is not None and self._codes_from_claims(after, count):
            self.new += count
            return after
        self._insert_codes(chunk, positions)
        self.new += count
        return None

    def _last_rowid(self, data: list[Column]) -> int | None:
        """The claim table's largest rowid before `data` (columns in CLAIM_FIELDS order) is inserted,
        when their code rows can be made by SQLite from the claim rows (else None)."""
        if self._codes_sql is None:
            return None
        for name in LIST_FIELDS:
            texts = data[CLAIM_FIELDS.index(name)]
            if _NOT_JSON_SAFE.search("".join(filter(None, texts))):
                return None
        last = self.conn.exec_driver_sql("SELECT max(rowid) FROM claim").scalar() or 0
        return last if last < _ROWID_LIMIT else None

    def _codes_from_claims(self, after: int, count: int) -> bool:
        """Insert the code rows of the `count` claims just inserted past rowid `after`, in SQLite;
        False (nothing done) unless those claims are exactly the rowids after it."""
        last = self.conn.exec_driver_sql("SELECT max(rowid) FROM claim").scalar()
        if last != after + count:
            return False
        assert self._codes_sql is not None
        for sql in self._codes_sql:
            self.conn.exec_driver_sql(sql, (after,))
        return True

    def _insert_codes(self, chunk: PreparedChunk, positions: list[int]) -> None:
        ids = pick(chunk.columns["claim_id"], positions)
        self._codes.run(code_columns(ids, *(pick(chunk.columns[name], positions) for name in LIST_FIELDS)))

    def _link_from_claims(self, after: int, rows: Sequence[int]) -> None:
        """Link the claims just inserted past rowid `after` to the batch, with their `rows` (SQLite):
        one bound JSON array instead of a bound row per claim."""
        if self._defer_links:
            self.conn.exec_driver_sql(_PENDING_LINKS_FROM_CLAIMS_SQL, (json.dumps(list(rows)), after))
            self._pending_links += len(rows)
        else:
            self.conn.exec_driver_sql(_LINKS_FROM_CLAIMS_SQL, (self.batch_id, json.dumps(list(rows)), after))

    def _write_pending_links(self) -> None:
        """Move the links kept back into batch_claim, in key order."""
        if self._pending_links:
            self.conn.exec_driver_sql(_PENDING_LINKS_TO_BATCH_SQL, (self.batch_id,))
            self.conn.exec_driver_sql(f"DELETE FROM {_PENDING_LINKS}")
            self._pending_links = 0

    def finish(self) -> None:
        self._write_pending_links()
        if self._defer_links:
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_PENDING_LINKS}")
            self._defer_links = False

    def _link(self, chunk: PreparedChunk, positions: list[int]) -> None:
        self._links.run(
            [
                [self.batch_id] * len(positions),
                pick(chunk.columns["patient_id"], positions),
                pick(chunk.columns["claim_id"], positions),
                pick(chunk.rows, positions),
            ]
        )

    def _compare_and_revise(self, chunk: PreparedChunk, differing: list[int]) -> None:
        """Claims whose fingerprint differs from the stored one: unchanged when every value is the same
        (the same content written differently), else revised."""
        if not differing:
            return
        ids = chunk.columns["claim_id"]
        old_rows = {
            r.claim_id: r for r in lookup(self.conn, tuple(_claim.c), _claim.c.claim_id, pick(ids, differing))
        }
        revised = []
        for i in differing:
            if self._same_content(stored_claim(old_rows[ids[i]]), chunk, i):
                self.unchanged += 1
            else:
                revised.append(i)
        if revised:
            self._revise(chunk, revised, old_rows)

    def _revise(self, chunk: PreparedChunk, positions: list[int], old_rows: dict[str, Any]) -> None:
        """Keep the old content of changed claims in claim_revision, then store the new content."""
        ids = pick(chunk.columns["claim_id"], positions)
        old = {claim_id: stored_claim(old_rows[claim_id]) for claim_id in ids}
        self.conn.execute(
            insert(_claim_revision),
            [
                {
                    "claim_id": claim_id,
                    "revision": old_rows[claim_id].revision,
                    "content": _json_ready(old[claim_id]),
                    "replaced_at": self.now,
                    "replaced_by_batch": self.batch_id,
                }
                for claim_id in ids
            ],
        )
        old_codes = code_columns(
            ids, *([getattr(old_rows[claim_id], name) for claim_id in ids] for name in LIST_FIELDS)
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
        for i in positions:
            values = {name: chunk.columns[name][i] for name in CLAIM_FIELDS}
            claim_id = values.pop("claim_id")
            values.update(
                key_claim_id=claim_id,
                content_hash=chunk.hashes[i],
                revision=old_rows[claim_id].revision + 1,
                batch_id=self.batch_id,
            )
            updates.append(values)
        self._update.run(updates)
        self._insert_codes(chunk, positions)
        self.revised += len(positions)
        self._noted(ids)


# SQLite: the batch_claim rows of claims inserted past a rowid in the order of their file rows.
_LINKS_FROM_CLAIMS_SQL = (
    "INSERT INTO batch_claim (batch_id, patient_id, claim_id, row) "
    "SELECT ?, claim.patient_id, claim.claim_id, item.value "
    "FROM json_each(?) AS item JOIN claim ON claim.rowid = ? + 1 + item.key"
)
# SQLite: links of a bulk import kept back until the batch is finished (see ClaimWriter).
_PENDING_LINKS = "temp.drgaudit_pending_link"
_PENDING_LINKS_TABLE = f"CREATE TABLE IF NOT EXISTS {_PENDING_LINKS} (patient_id TEXT NOT NULL, claim_id TEXT NOT NULL, row INTEGER)"
_PENDING_LINKS_FROM_CLAIMS_SQL = (
    f"INSERT INTO {_PENDING_LINKS} (patient_id, claim_id, row) "
    "SELECT claim.patient_id, claim.claim_id, item.value "
    "FROM json_each(?) AS item JOIN claim ON claim.rowid = ? + 1 + item.key"
)
_PENDING_LINKS_TO_BATCH_SQL = (
    "INSERT INTO batch_claim (batch_id, patient_id, claim_id, row) "
    f"SELECT ?, patient_id, claim_id, row FROM {_PENDING_LINKS} ORDER BY patient_id, claim_id"
)


def _codes_from_claims_sql(name: str, kind: str) -> str:
    """SQLite: insert the claim_code rows of one code list of the claims past a rowid (the parameter).

    The stored list `A|B|C` becomes the JSON array `["A","B","C"]`; each item is one row with its
    position from 1, as `prepare.code_columns` makes them.
    """
    column = _claim.c[name].name
    array = f"""'["' || replace(claim.{column}, '{LIST_SEPARATOR}', '","') || '"]'"""
    return (
        f"INSERT INTO claim_code (code, claim_id, kind, seq) "
        f"SELECT item.value, claim.claim_id, '{kind}', item.key + 1 FROM claim, json_each({array}) AS item "
        f"WHERE claim.rowid > ? AND claim.{column} IS NOT NULL AND claim.{column} != ''"
    )


def _json_ready(record: Record) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in record.items()}


class KeyedWriter(Writer):
    """Hospitals and group entries: small reference tables, updated in place when they change."""

    table: Table
    keys: tuple[str, ...] = ()

    def __init__(self, conn: Connection, batch_id: int, path: str, version: str | None) -> None:
        super().__init__(conn, batch_id, path, version)
        extra = self.extra()
        self._columns = (*self.names, *extra, "content_hash", "batch_id")
        self._insert = BulkInsert(conn, self.table, self._columns)
        self._update = BulkUpdate(
            conn, self.table, self.keys, [name for name in self._columns if name not in self.keys]
        )
        # Reference tables have thousands of rows, so duplicates within a file are found in memory.
        self.seen: dict[tuple[Any, ...], int] = {}

    def extra(self) -> dict[str, Any]:
        """Columns the table has beyond the contract fields and bookkeeping, with their values."""
        return {}

    def label(self, key: tuple[Any, ...]) -> str:
        return "/".join(map(str, key))

    def write(self, chunk: PreparedChunk) -> list[tuple[RowError, str]]:
        duplicates = []
        fresh: list[int] = []
        key_columns = [chunk.columns[name] for name in self.keys if name in chunk.columns]
        keys = list(zip(*key_columns, strict=True))
        for i, key in enumerate(keys):
            if key in self.seen:
                duplicates.append(self._duplicate(chunk, i, self.seen[key]))
                continue
            self.seen[key] = chunk.rows[i]
            fresh.append(i)
        stored = self.stored([keys[i] for i in fresh])
        inserts, updates = [], []
        for i in fresh:
            old = stored.get(keys[i])
            if old is None:
                inserts.append(i)
            elif old.content_hash == chunk.hashes[i] or self._same_content(
                {name: old._mapping[name] for name in self.names}, chunk, i
            ):
                self.unchanged += 1
            else:
                updates.append(self._values(chunk, i))
                self._noted([self.label(keys[i])])
        if inserts:
            extra = self.extra()
            data = [pick(chunk.columns[name], inserts) for name in self.names]
            data += [[value] * len(inserts) for value in extra.values()]
            data += [pick(chunk.hashes, inserts), [self.batch_id] * len(inserts)]
            self._insert.run(data)
            self.new += len(inserts)
        self._update.run(updates)
        self.revised += len(updates)
        return duplicates

    def _values(self, chunk: PreparedChunk, position: int) -> dict[str, Any]:
        values = {name: chunk.columns[name][position] for name in self.names}
        values.update(self.extra(), content_hash=chunk.hashes[position], batch_id=self.batch_id)
        for key in self.keys:
            values[f"key_{key}"] = values.pop(key)
        return values

    def stored(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        """The stored rows with these keys."""
        raise NotImplementedError


class HospitalWriter(KeyedWriter):
    """Hospitals, keyed by hospital_id."""

    table = table_of(Hospital)
    kind = "hospitals"
    key_field = "hospital_id"
    keys = ("hospital_id",)

    def stored(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        ids = [key[0] for key in keys]
        rows = lookup(self.conn, tuple(self.table.c), self.table.c.hospital_id, ids)
        return {(r.hospital_id,): r for r in rows}


class GroupWriter(KeyedWriter):
    """Group entries of one version, keyed by region, scheme, version and group code."""

    table = table_of(GroupEntry)
    kind = "groups"
    key_field = "group_code"
    keys = ("region", "scheme", "group_code", "version")

    def write(self, chunk: PreparedChunk) -> list[tuple[RowError, str]]:
        chunk.columns.setdefault("version", [self.version] * len(chunk.rows))
        return super().write(chunk)

    def extra(self) -> dict[str, Any]:
        return {"version": self.version}

    def label(self, key: tuple[Any, ...]) -> str:
        return "/".join(key[:3])

    def stored(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        codes = sorted({key[2] for key in keys})
        table = self.table.c
        rows = lookup(self.conn, tuple(self.table.c), table.group_code, codes, table.version == self.version)
        return {(r.region, r.scheme, r.group_code, r.version): r for r in rows}


WRITERS: dict[str, type[Writer]] = {"claims": ClaimWriter, "hospitals": HospitalWriter, "groups": GroupWriter}


def make_writer(kind: str, conn: Connection, batch_id: int, path: str, version: str | None) -> Writer:
    """The writer for one import kind (of claims: one that keeps links back until `finish()`)."""
    if kind == "claims":
        return ClaimWriter(conn, batch_id, path, version, defer_links=True)
    return WRITERS[kind](conn, batch_id, path, version)
