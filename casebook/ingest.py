"""Importing claims, hospitals and group tables from CSV / JSONL / XLSX files into the casebook.

One file is one import batch and one transaction: good rows go in, bad rows are reported (in the
`rejected_row` table and a rejects CSV), and a crash leaves nothing behind. The same file (same bytes,
same kind; for groups also the same version) imported again changes nothing. A record that comes again
with the same key and the same content is unchanged; with different content it is revised (see
`drgaudit.casebook.writers`). Rows are read, converted and written a chunk (`CHUNK_ROWS`) at a time, so
memory stays bounded whatever the size of the file; big claims files are read and converted in a worker
process while this one writes (`drgaudit.casebook.prepare`).
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import operator
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from drgaudit import bulkgc
from drgaudit.casebook.db import database_problem, pause_foreign_keys
from drgaudit.casebook.importscope import outside_rows, without
from drgaudit.casebook.models import ImportBatch, RejectedRow, table_of
from drgaudit.casebook.prepare import (
    PreparedChunk,
    PreparedInWorker,
    Preparer,
    column_names,
    worker_available,
)
from drgaudit.casebook.writers import Writer, make_writer
from drgaudit.contract import FIELDS_BY_KIND
from drgaudit.errors import DatabaseError, DataFileError, RowError
from drgaudit.i18n import _
from drgaudit.ingest.readers import RowSource
from drgaudit.settings import home_dir

KINDS: tuple[str, ...] = tuple(FIELDS_BY_KIND)
# Rows read, converted and written per round.
CHUNK_ROWS = 10_000
# Errors an ImportReport keeps to show; all of them go to the rejects file and table.
FIRST_ERRORS_KEPT = 10
# Claims files with at least this many rows (estimated) are read and checked in a worker process.
PARALLEL_ROWS = 50_000

Progress = Callable[[int, float], None]

_batch = table_of(ImportBatch)
_rejected = table_of(RejectedRow)


@dataclass
class ImportReport:
    """What importing one file did.

    `batch_id` is None when nothing was recorded: every row was rejected, or the file had no data rows
    (`nothing_imported` says which). `rejects_path` is where the rejects file was written; when the
    place asked for could not be written (after the rows were committed), `rejects_problem` says why
    and `rejects_path` is the fallback used, or None if none could be written either (the rejected
    rows are then only in the casebook's `rejected_row` table).
    """

    batch_id: int | None
    path: str
    kind: str
    encoding: str | None
    rows_total: int = 0
    rows_ok: int = 0
    rows_rejected: int = 0
    new: int = 0
    unchanged: int = 0
    revised: int = 0
    already_imported: bool = False
    first_errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    rejects_path: Path | None = None
    version: str | None = None
    warnings: list[str] = field(default_factory=list)
    nothing_imported: str | None = None
    rejects_problem: str | None = None


def default_rejects_path(path: Path) -> Path:
    """Where the rejected rows of `path` go unless told otherwise: `<stem>.rejects.csv` beside it."""
    return path.with_name(f"{path.stem}.rejects.csv")


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of an imported file."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise DataFileError(
            str(path), _("cannot read: {problem}").format(problem=exc.strerror or exc)
        ) from exc


def import_file(
    path: Path | str,
    *,
    kind: str,
    session: Session,
    imported_by: str | None = None,
    version: str | None = None,
    rejects_path: Path | str | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_ROWS,
    parallel: bool | None = None,
    regions: Collection[str] | None = None,
) -> ImportReport:
    """Import one claims, hospitals or groups file as one batch, in one transaction, and commit it.

    `version` names the version of a group table (default: the file name's stem). Rejected rows go
    to `rejects_path` (default `<stem>.rejects.csv` beside the file), written only when there are any.
    `progress(rows_read, fraction_of_file_read)` is called after every chunk. `parallel` reads and
    checks the file in a worker process while this one writes (default: for claims files of at least
    `PARALLEL_ROWS` rows on a machine with more than one CPU); never where no worker can be forked
    (`prepare.worker_available`), whatever `parallel` says. Raises `DataFileError` for a file that
    cannot be imported at all (then nothing is written) and `DatabaseError` when the database fails;
    any error rolls the whole import back. `regions`: the only regions the import may write into (the
    importer's scope; `drgaudit.casebook.importscope`), None for any.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    display = str(path)
    path = Path(path)
    if kind == "groups":
        version = version or path.stem
    digest = file_hash(path)
    try:
        earlier = _earlier_batch(session.connection(), kind, digest, version)
    except SQLAlchemyError as exc:
        session.rollback()
        raise DatabaseError(f"cannot read the casebook: {exc}") from exc
    session.rollback()
    if earlier is not None:
        return _already_imported(earlier, display)
    with RowSource(path) as source:
        source.name = display
        preparer = Preparer(source, kind, session.connection().dialect, chunk_size)
        warnings = preparer.header_warnings()
        if parallel is None:
            parallel = (
                kind == "claims" and source.estimated_rows >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1
            )
        parallel = parallel and worker_available()
        job = _Import(
            source=source,
            preparer=preparer,
            parallel=parallel,
            session=session,
            kind=kind,
            digest=digest,
            imported_by=imported_by or _os_user(),
            version=version,
            rejects_path=Path(rejects_path) if rejects_path else default_rejects_path(path),
            progress=progress,
            regions=frozenset(regions) if regions is not None else None,
        )
        job.report.warnings = warnings
        return job.run()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _identity(kind: str, digest: str, version: str | None) -> Any:
    cond = (_batch.c.kind == kind) & (_batch.c.content_hash == digest)
    if kind == "groups":
        cond &= _batch.c.version == version
    return cond


def _earlier_batch(conn: Connection, kind: str, digest: str, version: str | None) -> Any:
    return conn.execute(
        select(_batch).where(_identity(kind, digest, version)).order_by(_batch.c.id).limit(1)
    ).first()


def _already_imported(batch: Any, display: str) -> ImportReport:
    return ImportReport(
        batch_id=batch.id,
        path=display,
        kind=batch.kind,
        encoding=batch.encoding,
        rows_total=batch.rows_total,
        rows_ok=batch.rows_ok,
        rows_rejected=batch.rows_rejected,
        new=batch.rows_new,
        unchanged=batch.rows_unchanged,
        revised=batch.rows_revised,
        already_imported=True,
        version=batch.version,
    )


class _Rejects:
    """The rejects CSV (file,row,field,reason): spooled to an anonymous temporary file while the import
    runs (a killed import leaves nothing behind), written in place once the rows are committed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._spool: IO[str] | None = None
        self._writer: Any = None

    def write(self, errors: list[RowError]) -> None:
        if self._spool is None:
            # Removed by the OS when closed or when this process dies.
            self._spool = tempfile.TemporaryFile(
                "w+", encoding="utf-8", errors="backslashreplace", newline=""
            )
            self._writer = csv.writer(self._spool)
            self._writer.writerow(("file", "row", "field", "reason"))
        self._writer.writerows((e.path, e.row, e.field, e.reason) for e in errors)

    @property
    def written(self) -> bool:
        return self._spool is not None

    def finish(self, fallback_name: str) -> tuple[Path | None, str | None]:
        """Write the rejects file; returns where it went and, if not to `path`, why not.

        A file that cannot be written where asked goes to `$DRGAUDIT_HOME/rejects/fallback_name`.
        """
        if self._spool is None:
            return None, None
        try:
            _write_atomically(self.path, self._spool)
            return self.path, None
        except OSError as exc:
            problem = f"cannot write {self.path}: {exc.strerror or exc}"
        fallback = home_dir() / "rejects" / fallback_name
        try:
            fallback.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(fallback, self._spool)
            return fallback, problem
        except OSError as exc:
            return None, f"{problem}; nor {fallback}: {exc.strerror or exc}"
        finally:
            self.abort()

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def _write_atomically(path: Path, spool: IO[str]) -> None:
    """Copy the spooled rejects to `path` through a temporary name beside it (removed on failure)."""
    spool.seek(0)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # utf-8-sig: Excel, where people open these, needs the BOM to read Chinese correctly.
        with open(fd, "w", encoding="utf-8-sig", errors="backslashreplace", newline="") as out:
            shutil.copyfileobj(spool, out)
        os.chmod(name, 0o666 & ~_umask())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Import:
    """One run of import_file once the file is open and its header checked."""

    def __init__(
        self,
        *,
        source: RowSource,
        preparer: Preparer,
        parallel: bool,
        session: Session,
        kind: str,
        digest: str,
        imported_by: str,
        version: str | None,
        rejects_path: Path,
        progress: Progress | None,
        regions: frozenset[str] | None,
    ) -> None:
        self.source = source
        self.regions = regions
        self.preparer = preparer
        self.parallel = parallel
        self.session = session
        self.kind = kind
        self.digest = digest
        self.imported_by = imported_by
        self.version = version
        self.rejects = _Rejects(rejects_path)
        self.progress = progress
        self.report = ImportReport(
            batch_id=0, path=source.name, kind=kind, encoding=source.encoding, version=version
        )

    def run(self) -> ImportReport:
        with bulkgc.paused():
            return self._run()

    def _run(self) -> ImportReport:
        report = self.report
        try:
            conn = self.session.connection()
            if self.kind == "claims":
                # Every row written refers to the batch or a claim written just before it.
                pause_foreign_keys(conn)
            batch_id: int | None = self._start(conn)
            if batch_id is None:
                self.session.rollback()
                earlier = _earlier_batch(self.session.connection(), self.kind, self.digest, self.version)
                self.session.rollback()
                return _already_imported(earlier, self.source.name)
            writer = make_writer(self.kind, conn, batch_id, self.source.name, self.version)
            self._chunks(conn, batch_id, writer)
            self._finish(conn, batch_id, writer)
            if report.rows_ok == 0:
                # Nothing to keep: no batch is recorded (not even an empty one marked done).
                self.session.rollback()
                batch_id = None
                report.nothing_imported = (
                    _("every row was rejected ({rejected} of {total})").format(
                        rejected=f"{report.rows_rejected:,}", total=f"{report.rows_total:,}"
                    )
                    if report.rows_total
                    else _("the file has no data rows")
                )
            else:
                self.session.commit()
        except BaseException as exc:
            self.session.rollback()
            self.rejects.abort()
            if isinstance(exc, SQLAlchemyError):
                raise DatabaseError(
                    _("{file}: the import failed and was rolled back: {problem}").format(
                        file=self.source.name, problem=database_problem(exc)
                    )
                ) from exc
            raise
        fallback = (
            f"{self.source.path.stem}-batch{batch_id}.rejects.csv" if batch_id else self.rejects.path.name
        )
        report.rejects_path, report.rejects_problem = self.rejects.finish(fallback)
        report.batch_id = batch_id
        return report

    def _start(self, conn: Connection) -> int | None:
        """Insert the batch row; None when the same file was imported meanwhile by someone else."""
        if conn.dialect.name == "postgresql":
            # Serialise concurrent imports of the same file; released at commit or rollback.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(self.digest[:15], 16)})
        counts = dict.fromkeys(
            ("rows_total", "rows_ok", "rows_rejected", "rows_new", "rows_unchanged", "rows_revised"), 0
        )
        key = conn.execute(
            insert(_batch).values(
                kind=self.kind,
                file_name=self.source.path.name,
                content_hash=self.digest,
                imported_by=self.imported_by,
                imported_at=datetime.now(UTC),
                encoding=self.source.encoding,
                version=self.version,
                **counts,
            )
        ).inserted_primary_key
        assert key is not None  # an INSERT of one row has its key
        batch_id = int(key[0])
        # This transaction now holds SQLite's write lock (or the advisory lock): look again.
        same = _identity(self.kind, self.digest, self.version)
        other = conn.execute(select(_batch.c.id).where(same, _batch.c.id != batch_id)).first()
        return None if other is not None else batch_id

    def _chunks(self, conn: Connection, batch_id: int, writer: Writer) -> None:
        if not self.parallel:
            self._write_all(conn, batch_id, writer, self.preparer)
            return
        worker = PreparedInWorker(
            self.source.path, self.source.name, self.kind, conn.dialect, self.preparer.chunk_size
        )
        try:
            self._write_all(conn, batch_id, writer, worker)
        finally:
            worker.close()

    def _write_all(
        self, conn: Connection, batch_id: int, writer: Writer, chunks: Iterable[PreparedChunk]
    ) -> None:
        report = self.report
        unknown: list[str] = []
        for whole in chunks:
            chunk, outside = self._within_regions(conn, writer, whole)
            duplicates = writer.write(chunk)
            rejected = [
                (row, text, [RowError(self.source.name, row, f, r) for f, r in errors])
                for row, text, errors in chunk.rejected
            ]
            rejected += outside
            if duplicates:
                rejected += [(error.row, text, [error]) for error, text in duplicates]
            if duplicates or outside:
                rejected.sort(key=operator.itemgetter(0))
            report.rows_total = chunk.rows_read
            unknown += chunk.unknown_fields
            if rejected:
                self._reject(conn, batch_id, rejected)
            if self.progress is not None:
                self.progress(report.rows_total, chunk.fraction)
        if unknown:
            hint = self.preparer.converter.header_hint(unknown, whole=False)
            report.warnings.append(
                _("{file}: unknown fields ignored: {names}").format(
                    file=self.source.name, names=column_names(unknown)
                )
                + hint
            )

    def _within_regions(
        self, conn: Connection, writer: Writer, chunk: PreparedChunk
    ) -> tuple[PreparedChunk, list[tuple[int, str, list[RowError]]]]:
        """The chunk without its rows outside the import's regions, and those rows as rejected ones."""
        if self.regions is None or not chunk.rows:
            return chunk, []
        outside = outside_rows(conn, self.kind, chunk, self.regions)
        if not outside:
            return chunk, []
        rejected = [
            (chunk.rows[i], writer.row_text(chunk, i), [RowError(self.source.name, chunk.rows[i], f, r)])
            for i, f, r in outside
        ]
        return without(chunk, [i for i, _f, _r in outside]), rejected

    def _reject(
        self, conn: Connection, batch_id: int, rejected: list[tuple[int, str, list[RowError]]]
    ) -> None:
        report = self.report
        records = []
        errors: list[RowError] = []
        for _row, raw, row_errors in rejected:
            for e in row_errors:
                records.append(
                    {"batch_id": batch_id, "row": e.row, "field": e.field, "reason": e.reason, "raw": raw}
                )
            errors.extend(row_errors)
        conn.execute(insert(_rejected), records)
        self.rejects.write(errors)
        report.rows_rejected += len(rejected)
        report.errors_total += len(errors)
        room = FIRST_ERRORS_KEPT - len(report.first_errors)
        if room > 0:
            report.first_errors.extend(errors[:room])

    def _finish(self, conn: Connection, batch_id: int, writer: Writer) -> None:
        writer.finish()
        report = self.report
        report.new, report.unchanged, report.revised = writer.new, writer.unchanged, writer.revised
        report.rows_ok = writer.new + writer.unchanged + writer.revised
        conn.execute(
            update(_batch)
            .where(_batch.c.id == batch_id)
            .values(
                rows_total=report.rows_total,
                rows_ok=report.rows_ok,
                rows_rejected=report.rows_rejected,
                rows_new=report.new,
                rows_unchanged=report.unchanged,
                rows_revised=report.revised,
                note=writer.note(),
            )
        )
