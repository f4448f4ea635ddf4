"""Preparing an input file for writing, a chunk at a time: rows read, checked, fingerprinted, and their
values put in the form the database driver takes.

For a big claims file this runs in a worker process, so that reading and checking the next chunk
overlaps with writing the current one in the importing process (each is about half of the work).
What a chunk carries is plain picklable data; nothing here touches the database.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import marshal
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, repeat
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from sqlalchemy import Date, Dialect, Table
from sqlalchemy.engine import make_url

from drgaudit.casebook.models import TABLES
from drgaudit.contract import FIELDS_BY_KIND, LIST_SEPARATOR
from drgaudit.errors import DataFileError, DrgauditError
from drgaudit.i18n import _, ngettext
from drgaudit.ingest.readers import RAW_LINE, ColumnBlock, RowSource
from drgaudit.ingest.rows import Chunk, Column, RowConverter, pick

# What SQLAlchemy's SQLite DATE type stores, which is date.isoformat() for years 1 to 9999.
_SQLITE_DATE_FORMAT = "%(year)04d-%(month)02d-%(day)02d"


@dataclass
class PreparedChunk:
    """One chunk of a file: the good rows in database form, and the rejected rows with their reasons."""

    rows: list[int]
    # Values of the good rows by field, as the driver binds them (type processors applied, lists joined).
    columns: dict[str, Column]
    hashes: list[str]
    # (row, raw text, [(field, reason), …]) of the rejected rows, in row order.
    rejected: list[tuple[int, str, list[tuple[str, str]]]]
    rows_read: int
    fraction: float
    unknown_fields: list[str] = field(default_factory=list)


class DatabaseForm:
    """Turns canonical values of one kind into the values the database driver binds, a column at a time."""

    def __init__(self, kind: str, dialect: Dialect) -> None:
        table: Table = TABLES[kind]
        self._convert: dict[str, Callable[[Column], list[Any]]] = {}
        for spec in FIELDS_BY_KIND[kind]:
            column_type = table.c[spec.name].type
            if spec.type == "list":
                self._convert[spec.name] = _joined
            elif spec.type == "decimal":
                continue  # canonical values are floats already: the float processors change nothing
            elif (
                isinstance(column_type, Date)
                and dialect.name == "sqlite"
                and getattr(column_type.dialect_impl(dialect), "_storage_format", None) == _SQLITE_DATE_FORMAT
            ):
                self._convert[spec.name] = _iso_dates
            else:
                process = column_type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    self._convert[spec.name] = _mapped(process)

    def column(self, name: str, values: Column) -> Column:
        """The database form of one column of canonical values."""
        convert = self._convert.get(name)
        return values if convert is None else convert(values)

    def chunk_column(self, chunk: Chunk, name: str, positions: list[int]) -> Column:
        """The database form of one column of a converted chunk, at these positions."""
        iso = chunk.iso_dates.get(name)
        if iso is not None and self._convert.get(name) is _iso_dates:
            text = pick(iso, positions)
            return [v or None for v in text] if "" in text else list(text)
        joined = chunk.list_texts.get(name)
        if joined is not None and self._convert.get(name) is _joined:
            return [v or None for v in pick(joined, positions)]
        return self.column(name, chunk.column(name, positions))

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The database form of one canonical record."""
        return {name: self.column(name, [value])[0] for name, value in record.items()}


def _joined(values: Column) -> list[Any]:
    return [LIST_SEPARATOR.join(v) or None for v in values]


def _iso_dates(values: Column) -> list[Any]:
    return [None if v is None else date.isoformat(v) for v in values]


def _mapped(process: Callable[[Any], Any]) -> Callable[[Column], list[Any]]:
    def convert(values: Column) -> list[Any]:
        return [process(v) for v in values]

    return convert


def dialect_of(url_or_name: str) -> Dialect:
    """A dialect instance from a driver name such as `sqlite` or `postgresql+psycopg`."""
    return make_url(f"{url_or_name}://").get_dialect()()


class Preparer:
    """Prepares the chunks of one open file."""

    def __init__(self, source: RowSource, kind: str, dialect: Dialect, chunk_size: int) -> None:
        self.source = source
        self.converter = RowConverter(kind, source.name, excel_epoch=source.excel_epoch)
        self.form = DatabaseForm(kind, dialect)
        self.chunk_size = chunk_size
        self._seen_unknown: set[str] = set()

    def header_warnings(self) -> list[str]:
        """Problems of the header: raises DataFileError for missing required columns."""
        header = self.source.header
        if header is None:
            return []
        missing = self.converter.missing_columns(header)
        if missing:
            hint = self.converter.header_hint(header)
            text = ngettext(
                "missing required column: {names}", "missing required columns: {names}", len(missing)
            )
            raise DataFileError(self.source.name, text.format(names=", ".join(missing)) + hint)
        unknown = self.converter.unknown_columns(header)
        if not unknown:
            return []
        ignored = _("{file}: unknown columns ignored: {names}").format(
            file=self.source.name, names=column_names(unknown)
        )
        return [ignored + self.converter.header_hint(header)]

    def __iter__(self) -> Iterator[PreparedChunk]:
        read = 0
        for raw_rows in self.source.iter_blocks(self.chunk_size):
            read += len(raw_rows)
            prepared = self.prepare(raw_rows, read)
            # The raw rows go before the chunk is sent: its values are then held by it alone, which
            # marshal writes without looking each one up in its table of shared objects (3x faster).
            del raw_rows
            yield prepared

    def prepare(self, raw_rows: ColumnBlock | Sequence[tuple[int, Any]], read: int) -> PreparedChunk:
        """Convert one chunk of raw rows."""
        header = self.source.header
        chunk = self.converter.convert(raw_rows, header)
        good = chunk.good
        form = self.form
        columns = {name: form.chunk_column(chunk, name, good) for name in self.converter.names}
        rejected = [
            (chunk.rows[i], raw_text(raw_rows[i][1], header), [(e.field, e.reason) for e in errors])
            for i, errors in chunk.errors.items()
        ]
        unknown: list[str] = []
        if header is None:
            names = set(self.converter.names)
            fresh = {k for _row, raw in raw_rows for k in raw if isinstance(k, str) and k not in names}
            unknown = sorted(fresh - self._seen_unknown)
            self._seen_unknown |= fresh
        return PreparedChunk(
            rows=[chunk.rows[i] for i in good],
            columns=columns,
            hashes=chunk.hashes(good),
            rejected=rejected,
            rows_read=read,
            fraction=self.source.fraction_read(),
            unknown_fields=unknown,
        )


# The claim fields whose codes are also kept one per row in claim_code, with the kind they get there.
CODE_LISTS = (("secondary_dx", "dx"), ("procedures", "px"))


def code_columns(
    ids: Sequence[str], secondary: Sequence[str | None], procedures: Sequence[str | None]
) -> list[list[Any]]:
    """claim_code rows (code, claim_id, kind, seq) as columns, of claims whose code lists are given
    `|`-joined, as stored."""
    columns: list[list[Any]] = [[], [], [], []]
    for (_name, kind), joined in zip(CODE_LISTS, (secondary, procedures), strict=True):
        lists = [text.split(LIST_SEPARATOR) if text else () for text in joined]
        counts = list(map(len, lists))
        codes = list(chain.from_iterable(lists))
        columns[0] += codes
        columns[1] += chain.from_iterable(map(repeat, ids, counts))
        columns[2] += [kind] * len(codes)
        columns[3] += chain.from_iterable(map(range, repeat(1), [n + 1 for n in counts]))
    return columns


# Column names listed in a warning; the rest are counted.
NAMES_LISTED = 20


def column_names(names: Sequence[str]) -> str:
    """Column names for a message: unprintable ones (controls, surrogates) as escaped literals."""
    shown = [n if n.isprintable() and len(n) <= 60 else repr(n[:60]) for n in names[:NAMES_LISTED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (_(" and {n} more").format(n=more) if more > 0 else "")


# Longest raw text of a rejected row kept in the casebook (the rejects file names the row).
RAW_TEXT_CHARS = 10_000


def raw_text(raw: Any, header: list[str] | None) -> str:
    """The text of a row as it was in the file (a CSV line, or JSON for JSONL), in a form every
    database stores: NUL characters and unpaired surrogates escaped, cut at RAW_TEXT_CHARS."""
    if type(raw) is not dict:
        cells = list(raw)
    elif RAW_LINE in raw:
        return storable(str(raw[RAW_LINE]).rstrip("\r\n"))
    elif header is None:
        values = {k: v for k, v in raw.items() if isinstance(k, str)}
        return storable(json.dumps(values, ensure_ascii=False, default=str))
    else:
        cells = [raw.get(h) for h in header]
    line = io.StringIO()
    csv.writer(line).writerow(["" if v is None else v for v in cells])
    return storable(line.getvalue().rstrip("\r\n"))


def storable(text: str) -> str:
    """Text that SQLite and PostgreSQL both store: no NUL, no unpaired surrogate, at most RAW_TEXT_CHARS."""
    if len(text) > RAW_TEXT_CHARS:
        text = text[:RAW_TEXT_CHARS] + f"… ({len(text):,} characters)"
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# -- the worker process -------------------------------------------------------------------------------


def _encode(chunk: PreparedChunk) -> bytes:
    # marshal is several times faster than pickle for these plain lists; values it cannot take
    # (PostgreSQL's dates stay date objects) make it fall back to pickle.
    fields = astuple_shallow(chunk)
    try:
        return b"M" + marshal.dumps(fields)
    except ValueError:
        return b"P" + pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(data: bytes) -> PreparedChunk:
    fields = marshal.loads(data[1:]) if data[:1] == b"M" else pickle.loads(data[1:])
    return PreparedChunk(*fields)


def astuple_shallow(chunk: PreparedChunk) -> tuple[Any, ...]:
    """The fields of a chunk, in order, without copying them."""
    return tuple(getattr(chunk, f.name) for f in dataclasses.fields(chunk))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the importing process dies (even by SIGKILL), so a killed
    import leaves no worker behind; then check the parent did not die before the request was made."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the broken pipe ends the worker instead
        return
    if os.getppid() != _parent_pid:
        os._exit(1)


_PR_SET_PDEATHSIG = 1
_parent_pid = os.getpid()


def _work(pipe: Pipe, path: str, display: str, kind: str, dialect_name: str, chunk_size: int) -> None:
    """Worker process: prepare every chunk of the file and send it; then ("done",) or the error."""
    _die_with_parent()
    try:
        with RowSource(path) as source:
            source.name = display
            preparer = Preparer(source, kind, dialect_of(dialect_name), chunk_size)
            for prepared in preparer:
                pipe.send_bytes(_encode(prepared))
        pipe.send(("done",))
    except DataFileError as exc:
        pipe.send(("file-error", exc.path, exc.message))
    except BaseException:  # reported to the importing process, which raises
        pipe.send(("crash", traceback.format_exc()))
    finally:
        pipe.close()


def worker_available() -> bool:
    """Whether a worker process can be forked here: on Linux, from a process without other threads.

    Fork, not spawn: a spawned worker re-imports the caller's main module, which breaks scripts
    without an `if __name__ == "__main__"` guard. The forked worker only reads the input file; it never
    uses the database connections it inherits, and leaves with os._exit, so nothing of them is closed.
    A process with threads is not forked (a lock held by another thread would stay held in the child).
    """
    return sys.platform == "linux" and threading.active_count() == 1


class PreparedInWorker:
    """The prepared chunks of a file, made by a worker process one or two chunks ahead of the reader."""

    def __init__(self, path: Path, display: str, kind: str, dialect: Dialect, chunk_size: int) -> None:
        self._display = display
        global _parent_pid
        _parent_pid = os.getpid()
        context = multiprocessing.get_context("fork")
        self._pipe, child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_work,
            args=(child, str(path), display, kind, _driver_name(dialect), chunk_size),
            name=f"drgaudit-prepare-{path.name}",
            daemon=True,
        )
        self._process.start()
        child.close()

    def __iter__(self) -> Iterator[PreparedChunk]:
        while True:
            try:
                data = self._pipe.recv_bytes()
            except EOFError:
                raise DrgauditError(
                    _("{file}: the worker process reading the file stopped").format(file=self._display)
                ) from None
            if data[:1] in (b"M", b"P"):
                yield _decode(data)
                continue
            message = pickle.loads(data)
            if message[0] == "done":
                return
            elif message[0] == "file-error":
                raise DataFileError(message[1], message[2])
            else:
                raise DrgauditError(
                    _("{file}: the worker process reading the file failed:").format(file=self._display)
                    + f"\n{message[1]}"
                )

    def close(self) -> None:
        """Stop the worker (if still running) and release the pipe."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=10)
        self._pipe.close()


def _driver_name(dialect: Dialect) -> str:
    return f"{dialect.name}+{dialect.driver}"
