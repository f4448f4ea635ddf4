"""Streaming row readers for CSV, JSONL and XLSX input files.

A reader yields `(row_number, {column: raw value})`, one row at a time, never the whole file (and,
cheaper, `iter_raw()` the rows as lists of values in header order). Row
numbers are what a person sees: for CSV and XLSX the header is row 1 and the first data row is row 2
(a CSV record spanning several lines gets the number of its first line); for JSONL the line number.
Values are raw: strings from CSV, JSON values from JSONL, cell values from XLSX. A row that cannot
be read as a whole (bad JSON, more values than the header has columns) carries the reason under the
`ROW_PROBLEM` key, so the row can be reported with the others instead of stopping the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import operator
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import chain, compress, islice, repeat
from pathlib import Path
from typing import IO, Any

from drgaudit.errors import DataFileError
from drgaudit.i18n import _
from drgaudit.ingest.xlsxrows import EXCEL_EPOCH, EXCEL_EPOCH_1904, CellProblem, SheetError, sheet_rows

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}
# Bytes looked at to tell UTF-8 from GB18030 and to estimate the number of rows.
SAMPLE_BYTES = 64 * 1024
# A line of a CSV or JSONL file longer than this is not read (its row is rejected); a CSV cell longer
# than the csv module's field limit (128 KiB) rejects its row too. No valid row comes near either.
MAX_LINE_CHARS = 1024 * 1024
# An XLSX workbook is a zip archive whose parts declare their unpacked sizes, and zipfile never unpacks a
# part past what it declares. A few megabytes can declare gigabytes (a "zip bomb"), and openpyxl holds a
# workbook's shared-strings table in memory whole: a part declared more than XLSX_MAX_RATIO times its
# packed size, once past XLSX_RATIO_FROM bytes, or larger than XLSX_MAX_PART, refuses the workbook before
# any part is read. Real sheets pack 5-25 times (a sheet of 200,000 rows of zeros: 23 times).
XLSX_MAX_RATIO = 100
XLSX_RATIO_FROM = 16 * 1024 * 1024
XLSX_MAX_PART = 4 * 1024**3


def check_xlsx_parts(path: Path | str, name: str) -> None:
    """DataFileError when a part of the XLSX workbook at `path` would unpack to more than it may (see
    `XLSX_MAX_RATIO`); nothing when it is not a zip archive (openpyxl then says what it is not)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    for part in parts:
        ratio = part.file_size / max(1, part.compress_size)
        if part.file_size > XLSX_MAX_PART or (part.file_size > XLSX_RATIO_FROM and ratio > XLSX_MAX_RATIO):
            raise DataFileError(
                name,
                _(
                    "part {part} of the workbook would unpack to {size} bytes from {packed} ({ratio} times;"
                    " a sheet packs at most about 25 times): not read. Save the sheet again from Excel or"
                    " WPS, or as CSV"
                ).format(
                    part=part.filename,
                    size=f"{part.file_size:,}",
                    packed=f"{part.compress_size:,}",
                    ratio=f"{ratio:,.0f}",
                ),
            )


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ROW_PROBLEM: Any = _Sentinel("ROW_PROBLEM")
# Present (with the line's text) only in a row that could not be parsed at all.
RAW_LINE: Any = _Sentinel("RAW_LINE")
# {field: reason} of an XLSX row's cells that hold no data (a formula never calculated, an error value).
CELL_PROBLEMS: Any = _Sentinel("CELL_PROBLEMS")


def file_format(path: Path) -> str:
    """`csv`, `jsonl` or `xlsx`, from the file name's extension."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(
            str(path),
            _("unknown file type {suffix}; use .csv, .jsonl or .xlsx").format(
                suffix=repr(path.suffix or _("(none)"))
            ),
        )
    return fmt


def detect_encoding(sample: bytes) -> str:
    """`utf-8-sig` (BOM), `utf-16` (a UTF-16 BOM, as Excel's "Unicode text" writes), `utf-8`, or
    `gb18030` for text that is not UTF-8 (Chinese Excel/HIS exports).

    `sample` is the start of a file; a multibyte character cut at its end is allowed. UTF-32, and
    UTF-16 without a byte-order mark, are refused by name.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UnicodeError(_("UTF-32 text is not supported; save the file as UTF-8 (CSV UTF-8 in Excel)"))
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(b"PK\x03\x04"):
        raise UnicodeError(
            _("this is a ZIP archive (an XLSX workbook?), not text; an XLSX file must be named .xlsx")
        )
    head = sample[:4096]
    if len(head) >= 4 and max(head[0::2].count(0), head[1::2].count(0)) * 3 >= len(head):
        raise UnicodeError(
            _(
                "the file looks like UTF-16 text without a byte-order mark; save it as UTF-8 (CSV UTF-8 in Excel)"
            )
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnicodeError(_("the file is neither UTF-8 nor GB18030 text"))


class ColumnBlock:
    """Rows of a CSV file read a block of mostly plain lines at a time: their numbers, their values
    by column (in header order) and their lines joined, each the row's values joined by commas and
    ended with LF (None when a value holds a comma or a line end, or a row does not fit the header).
    A row that does not fit the header (`iter_raw` gives it as a dict) is in `misfits` by position,
    its values in the columns being the dict's (None for a column it lacks). Indexing gives
    `(row_number, values)` as `RowSource.iter_raw` would."""

    def __init__(
        self,
        numbers: list[int],
        columns: list[list[Any]],
        text: str | None,
        misfits: dict[int, dict[Any, Any]] | None = None,
    ) -> None:
        self.numbers = numbers
        self.columns = columns
        self.text = text
        self.misfits = misfits or {}

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, position: int) -> tuple[int, Any]:
        if self.misfits and position in self.misfits:
            return self.numbers[position], self.misfits[position]
        return self.numbers[position], [column[position] for column in self.columns]

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return map(self.__getitem__, range(len(self.numbers)))


class _Lines:
    """The lines of a text file, some of which can be put back to be read again."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.source = lines  # the lines after those put back
        self.back: list[str] = []  # put back, last first

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.back:
            return self.back.pop()
        return next(self.source)

    def put_back(self, lines: list[str]) -> None:
        self.back.extend(reversed(lines))


class RowSource:
    """An open input file: its format, encoding and header, iterable as `(row_number, raw row)`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.format = file_format(self.path)
        self.encoding: str | None = None
        self.header: list[str] | None = None
        self.estimated_rows = 0
        self._binary: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None
        self._size = 0
        self._workbook: Any = None
        # An XLSX workbook's day 0 for date numbers (its 1900 or 1904 date system); None for text files.
        self.excel_epoch: date | None = None
        self._rows: Iterator[tuple[int, Any]]
        # A comma-separated text file: its lines and the csv reader over them, for `iter_blocks`.
        self._lines: _Lines | None = None
        self._reader: Any = None
        # Lines read by `iter_blocks` past the csv reader (the reader counts only its own).
        self._lines_taken = 0
        try:
            if self.format == "xlsx":
                self._open_xlsx()
            else:
                self._open_text()
        except OSError as exc:
            self.close()
            raise DataFileError(
                self.name, _("cannot read: {problem}").format(problem=exc.strerror or exc)
            ) from exc
        except Exception:
            self.close()
            raise

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        header = self.header
        for number, row in self._rows:
            yield number, row if type(row) is dict else dict(zip(header or (), row, strict=True))

    def iter_raw(self) -> Iterator[tuple[int, Sequence[Any] | dict[Any, Any]]]:
        """The rows as read, cheaper than iterating: a row of a file with a header is the sequence of
        its values in header order; a JSONL row, or a row that does not fit the header, is a dict."""
        return self._rows

    def iter_blocks(self, size: int) -> Iterator[ColumnBlock | list[tuple[int, Any]]]:
        """The rows of `iter_raw()` in chunks of `size` (the last one shorter). A chunk of a CSV file
        whose lines are all plain (no quotes, the header's number of commas, not blank, each ending in
        LF, or each in CRLF with no other CR) is a `ColumnBlock`, read without the csv module: those
        lines are exactly their values joined by commas, so splitting them gives what the csv reader
        would. So are lines whose every field is quoted, none holding a quote or comma (read without
        their quotes). In a chunk with a few other lines, the plain ones are split so and the others
        read by the csv reader (still a ColumnBlock); a chunk mostly of other lines is read by the csv
        reader as a list of rows.

        The iterator keeps no reference to a chunk it gave (its values can then be held by their
        converted chunk alone, which marshal sends faster)."""
        return iter(lambda: self._next_chunk(size), [])

    def _next_chunk(self, size: int) -> ColumnBlock | list[tuple[int, Any]]:
        lines_source = self._lines
        if lines_source is None or lines_source.back:
            return list(islice(self._rows, size))
        try:
            lines = list(islice(lines_source, size))
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from exc
        if not lines:
            return list(islice(self._rows, size))
        block = self._plain_block(lines)
        return block if block is not None else self._mixed_chunk(size, lines)

    def _plain_block(self, lines: list[str]) -> ColumnBlock | None:
        """The next lines, `lines`, as a ColumnBlock when they are all plain; else None."""
        assert self.header is not None
        width = len(self.header)
        text = "".join(lines)
        # The characters of a line beyond its values, commas and LF (a CR, quotes).
        extra = 0
        if "\r" in text:
            # Every line ends in CRLF (a file saved on Windows): the csv reader ends a record at the CR,
            # so the line without it reads the same. A line holds no other CR: reading with newline=""
            # ends a line at a lone CR too. (Replacing "\r" is several times faster than "\r\n".)
            if not all(map(str.endswith, lines, repeat("\r\n"))):
                return None
            text = text.replace("\r", "")
            extra = 1
        if '"' in text:
            # Every field quoted ("a","b": some systems quote them all), none holding a quote, a comma
            # or a line end: read as the line without its quotes. Each line has 2 quotes a field and
            # none is left once a line's first and last and those of the '","' between fields are
            # dropped (a line that does not start or end with one keeps one); the line's commas (one
            # fewer than fields) are then all between fields.
            quotes = list(map(str.count, lines, repeat('"')))
            # (A last line without its end would lose a character to the slice below.)
            if not text.endswith('"\n') or quotes.count(2 * width) != len(lines):
                return None
            text = text[1:-2].replace('"\n"', "\n").replace('","', ",")
            if '"' in text:
                return None
            text += "\n"
            extra += 2 * width
        if (
            "\x00" in text  # NUL marks a line too long to read (_LONG_LINE)
            or text[-1] != "\n"  # a last line without its end
            or min(map(len, lines)) <= width + extra  # a line of commas only (a blank row) or shorter
            or max(map(len, lines)) > csv.field_size_limit()
            or list(map(str.count, lines, repeat(","))).count(width - 1) != len(lines)
        ):
            return None
        cells, numbers = self._split_plain(text, len(lines))
        return ColumnBlock(list(numbers), [cells[k::width] for k in range(width)], text)

    def _split_plain(self, text: str, count: int) -> tuple[list[str], range]:
        """The values of `count` plain lines taken from the file (`text`: the lines joined, LF ends, no
        quotes), row after row, and their line numbers (counted with the lines the csv reader read)."""
        cells = text.replace("\n", ",").split(",")
        cells.pop()  # after the last line's end
        start = self._reader.line_num + self._lines_taken + 1
        self._lines_taken += count
        return cells, range(start, start + count)

    def _mixed_chunk(self, size: int, lines: list[str]) -> ColumnBlock | list[tuple[int, Any]]:
        """The next `size` rows, from the next lines `lines` on, as `islice(iter_raw(), size)` gives
        them: each plain line split as in `_plain_block`, each other line read by the csv reader (with
        the lines after it when its record goes on: a quoted field can hold a line end)."""
        lines_source = self._lines
        assert lines_source is not None and self.header is not None
        width = len(self.header)
        header = self.header
        numbers: list[int] = []
        cells: list[Any] = []  # the rows' values, row after row
        misfits: dict[int, dict[Any, Any]] = {}  # the rows that do not fit the header, by position
        # The rows' lines with LF ends and the values joined by commas (None once a value holds a
        # comma or a line end: ColumnBlock.text is then left out).
        texts: list[str] | None = []
        first = True
        while (wanted := size - len(numbers)) > 0:
            if not first:
                # One row per plain line: no more lines than rows wanted, as islice(iter_raw()) reads.
                try:
                    lines = list(islice(lines_source, wanted))
                except UnicodeDecodeError as exc:
                    raise self._decode_error(exc) from exc
                if not lines:
                    break
            # Mostly odd lines (every field quoted?): the csv reader reads the rest, faster than
            # line by line.
            odd = (
                None
                if sum(map(str.__contains__, lines, repeat('"'))) * 4 > len(lines)
                else _odd_lines(lines, width)
            )
            if odd is None or len(odd) * 4 > len(lines):
                lines_source.put_back(lines)
                if first:
                    return list(islice(self._rows, size))
                rows = list(islice(self._rows, wanted))
                if not rows:
                    break
                for number, row in rows:
                    texts = _take_row(number, row, header, numbers, cells, misfits, texts)
                continue
            first = False
            at = 0  # the first line not read yet
            odd.append(len(lines))
            for end in odd:
                if end < at:  # read with an earlier odd line's record
                    continue
                if end > at:  # plain lines at..end-1
                    plain = "".join(lines[at:end])
                    if "\r" in plain:
                        plain = plain.replace("\r", "")
                    run, run_numbers = self._split_plain(plain, end - at)
                    cells += run
                    numbers.extend(run_numbers)
                    if texts is not None:
                        texts.append(plain)
                    at = end
                if end == len(lines):
                    break
                # The csv reader reads the odd line, going on with the lines after it.
                underlying = lines_source.source
                lines_source.source = chain(map(lines.__getitem__, range(end, len(lines))), underlying)
                read_before = self._reader.line_num
                try:
                    got = next(self._rows, None)
                finally:
                    lines_source.source = underlying
                at = end + self._reader.line_num - read_before
                if got is None:  # the end of the file
                    break
                texts = _take_row(*got, header, numbers, cells, misfits, texts)
        if not numbers:
            return []  # the end of the file
        # A row that does not fit the header has no line of values: no text.
        text = None if texts is None or misfits else "".join(texts)
        return ColumnBlock(numbers, [cells[k::width] for k in range(width)], text, misfits)

    def close(self) -> None:
        """Release the file."""
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._binary is not None:
            self._binary.close()
            self._binary = None
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None

    def fraction_read(self) -> float:
        """How much of the file has been read, 0 to 1."""
        if self._binary is not None and self._size:
            if self._binary.closed:
                return 1.0
            return min(1.0, self._binary.tell() / self._size)
        return self._xlsx_fraction

    # -- text formats -------------------------------------------------------------------------------

    def _open_text(self) -> None:
        self._binary = open(self.path, "rb")  # closed by close()
        self._size = self.path.stat().st_size
        sample = self._binary.read(SAMPLE_BYTES)
        self._binary.seek(0)
        try:
            self.encoding = detect_encoding(sample)
        except UnicodeError as exc:
            raise DataFileError(self.name, str(exc)) from exc
        lines = sample.count(b"\n")
        if lines and len(sample) < self._size:
            self.estimated_rows = int(self._size / (len(sample) / lines))
        else:
            self.estimated_rows = lines
        # Kept on self: the wrapper closes the file when it is collected.
        self._text = text = io.TextIOWrapper(self._binary, encoding=self.encoding, newline="")
        if self.format == "csv":
            self._rows = self._csv_rows(text)
        else:
            self._rows = self._jsonl_rows(text)

    def _decode_error(self, exc: UnicodeDecodeError) -> DataFileError:
        line = _first_undecodable_line(self.path, self.encoding or "utf-8")
        return DataFileError(
            self.name,
            _(
                "line {line}: bytes that are not {encoding} text ({reason}); save the whole file as UTF-8 or"
                " GB18030"
            ).format(line=line, encoding=self.encoding, reason=exc.reason),
        )

    def _csv_rows(self, text: io.TextIOWrapper) -> Iterator[tuple[int, Any]]:
        try:
            dialect = self._dialect(text)
            lines = _Lines(_bounded_lines(text))
            reader = csv.reader(lines, dialect=dialect)
            first = next(reader, None)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from exc
        except csv.Error as exc:
            raise DataFileError(self.name, _("row {row}: {problem}").format(row=1, problem=exc)) from exc
        if first is None or not any(cell.strip() for cell in first):
            raise DataFileError(self.name, _("no header row"))
        if first[0] == _LONG_LINE:
            raise DataFileError(
                self.name,
                _("row 1: the header is longer than {n} characters").format(n=f"{MAX_LINE_CHARS:,}"),
            )
        header = self._set_header(first)
        if dialect is csv.excel:
            self._lines, self._reader = lines, reader
        return self._csv_data_rows(reader, header)

    def _dialect(self, text: io.TextIOWrapper) -> type[csv.Dialect]:
        """Commas; tabs for UTF-16 text whose header has tabs and no commas (Excel's "Unicode text")."""
        if self.encoding == "utf-16":
            sample = text.readline(MAX_LINE_CHARS)
            text.seek(0)
            if "\t" in sample and "," not in sample:
                return csv.excel_tab
        return csv.excel

    def _csv_data_rows(self, reader: Any, header: list[str]) -> Iterator[tuple[int, Any]]:
        width = len(header)
        while True:
            # Lines read by iter_blocks between two rows count too.
            line = reader.line_num + self._lines_taken
            start = line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from exc
            except csv.Error as exc:  # a cell over the field limit: the reader goes on after it
                if reader.line_num + self._lines_taken <= line:
                    raise DataFileError(
                        self.name, _("row {row}: {problem}").format(row=start, problem=exc)
                    ) from exc
                yield (
                    start,
                    {ROW_PROBLEM: _("cannot be read: {problem}").format(problem=exc), RAW_LINE: _NOT_KEPT},
                )
                continue
            if len(values) == width:
                if any(values):
                    yield start, values
                continue
            if len(values) == 1 and values[0] == _LONG_LINE:
                yield start, {ROW_PROBLEM: _long_line_problem(), RAW_LINE: _NOT_KEPT}
                continue
            if not any(v.strip() for v in values):
                continue
            yield start, _ragged(header, values, short_is_problem=True)

    def _jsonl_rows(self, text: io.TextIOWrapper) -> Iterator[tuple[int, dict[str, Any]]]:
        decoder = json.JSONDecoder(object_pairs_hook=_object_without_repeats)
        loads = decoder.decode
        number = 0
        try:
            for number, line in enumerate(_bounded_lines(text), start=1):  # noqa: B007 (read after the loop)
                if not line.strip():
                    continue
                if line == _LONG_LINE_READ:
                    yield number, {ROW_PROBLEM: _long_line_problem(), RAW_LINE: _NOT_KEPT}
                    continue
                try:
                    value = loads(line)
                except _RepeatedKey as exc:
                    yield number, {ROW_PROBLEM: str(exc), RAW_LINE: line}
                    continue
                except (ValueError, RecursionError) as exc:
                    reason = _("nested too deeply") if isinstance(exc, RecursionError) else str(exc)
                    yield (
                        number,
                        {ROW_PROBLEM: _("not valid JSON ({reason})").format(reason=reason), RAW_LINE: line},
                    )
                    continue
                if not isinstance(value, dict):
                    yield (
                        number,
                        {
                            ROW_PROBLEM: _("a JSON {kind}, not an object").format(kind=type(value).__name__),
                            RAW_LINE: line,
                        },
                    )
                    continue
                yield number, value
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from exc

    # -- XLSX ---------------------------------------------------------------------------------------

    _xlsx_fraction = 0.0

    def _open_xlsx(self) -> None:
        from openpyxl import load_workbook

        check_xlsx_parts(self.path, self.name)
        try:
            self._workbook = load_workbook(self.path, read_only=True, data_only=True)
        except OSError:
            raise
        except zipfile.BadZipFile as exc:
            # The library's words ('File is not a zip file') are of no use to whoever saved the file.
            raise DataFileError(
                self.name, _("not a readable XLSX workbook (an XLSX file is a ZIP archive; this is not one)")
            ) from exc
        except Exception as exc:  # openpyxl's InvalidFileException, KeyError …
            raise DataFileError(
                self.name, _("not a readable XLSX workbook ({problem})").format(problem=exc)
            ) from exc
        self.excel_epoch = EXCEL_EPOCH_1904 if self._workbook.epoch.year == 1904 else EXCEL_EPOCH
        sheet = self._workbook.worksheets[0]
        self.estimated_rows = max(0, (sheet.max_row or 1) - 1)
        rows = sheet_rows(self._workbook, sheet)
        try:
            number, first = next(rows, (0, ()))
        except SheetError as exc:
            raise DataFileError(self.name, str(exc)) from exc
        if all(_blank(v) for v in first):
            raise DataFileError(self.name, _("no header row on the first sheet"))
        problem = next((v for v in first if isinstance(v, CellProblem)), None)
        if problem is not None:
            raise DataFileError(
                self.name,
                _("header cell {cell}: {reason}").format(cell=problem.coordinate, reason=problem.reason),
            )
        header = self._set_header(["" if v is None else str(v) for v in first])
        self._rows = self._xlsx_rows(rows, header, sheet.max_row or 0)

    def _xlsx_rows(
        self, rows: Iterator[tuple[int, tuple[Any, ...]]], header: list[str], max_row: int
    ) -> Iterator[tuple[int, Any]]:
        width = len(header)
        try:
            for number, cells in rows:
                if max_row:
                    self._xlsx_fraction = min(1.0, number / max_row)
                if all(_blank(v) for v in cells):
                    continue
                if any(isinstance(v, CellProblem) for v in cells):
                    yield number, _with_cell_problems(header, cells)
                elif len(cells) <= width:
                    # Cells left out are empty (a sheet holds only the cells that have something).
                    yield number, cells + (None,) * (width - len(cells))
                else:
                    # More cells than the header: a problem unless blank.
                    yield number, _ragged(header, list(cells), short_is_problem=False)
        except SheetError as exc:
            raise DataFileError(self.name, str(exc)) from exc
        self._xlsx_fraction = 1.0

    # -- header -------------------------------------------------------------------------------------

    def _set_header(self, cells: list[str]) -> list[str]:
        header = [cell.strip().lower() for cell in cells]
        while header and not header[-1]:
            header.pop()
        seen: set[str] = set()
        for name in header:
            if name and name in seen:
                raise DataFileError(
                    self.name, _("column {name} appears twice in the header").format(name=repr(name))
                )
            seen.add(name)
        self.header = header
        return header


def _first_undecodable_line(path: Path, encoding: str) -> int | str:
    """The number of the first line of a text file that does not decode (text decoders work in blocks,
    so the line being read when decoding failed can be far before the bad bytes).

    Decodes block by block, counting decoded newlines (bytes cannot be split at b"\\n" in UTF-16); the
    failing block again a byte at a time, from the decoder's state before it.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    with open(path, "rb") as f:
        while block := f.read(SAMPLE_BYTES):
            state = decoder.getstate()
            try:
                newlines += decoder.decode(block).count("\n")
                continue
            except UnicodeDecodeError:
                decoder.setstate(state)
            for byte in range(len(block)):
                try:
                    newlines += decoder.decode(block[byte : byte + 1]).count("\n")
                except UnicodeDecodeError:
                    return newlines + 1
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return newlines + 1
    return "?"


# Stands for a line longer than MAX_LINE_CHARS, which is skipped, not read.
_LONG_LINE = "\x00drgaudit: line too long\x00"
_LONG_LINE_READ = _LONG_LINE + "\n"  # as `_bounded_lines` gives it


def _long_line_problem() -> str:
    return _("the line is longer than {limit:,} characters; not read").format(limit=MAX_LINE_CHARS)


_NOT_KEPT = "(not kept)"


def _bounded_lines(text: IO[str]) -> Iterator[str]:
    """The lines of a text file, a line longer than MAX_LINE_CHARS replaced by `_LONG_LINE` (the rest
    of it read and dropped), so that memory stays bounded whatever a line holds."""
    readline = text.readline
    limit = MAX_LINE_CHARS
    while line := readline(limit):
        if len(line) == limit and not line.endswith("\n"):
            while (rest := readline(limit)) and not rest.endswith("\n"):
                pass
            yield _LONG_LINE_READ
            continue
        yield line


def _odd_lines(lines: list[str], width: int) -> list[int]:
    """Positions, in order, of the lines that are not plain as `RowSource._plain_block` takes them (a
    quote, a NUL, a CR but for a CRLF end, no line end, not the header's number of commas, blank, too
    long). Each check is one C-level pass over the lines: most lines are plain."""
    count = len(lines)
    positions = range(count)
    odd: set[int] = set()
    commas = list(map(str.count, lines, repeat(",")))
    if commas.count(width - 1) != count:
        odd.update(compress(positions, map((width - 1).__ne__, commas)))
    for character in ('"', "\x00"):  # NUL marks a line too long to read (_LONG_LINE)
        odd.update(compress(positions, map(str.__contains__, lines, repeat(character))))
    if not lines[-1].endswith("\n"):  # the last line of a file without its end
        odd.add(count - 1)
    lengths = list(map(len, lines))
    crs = list(map(str.__contains__, lines, repeat("\r")))
    if True in crs:
        # A line that holds a CR is plain when it ends in CRLF (reading with newline="", a CR is
        # always the end of a line); the CR is not counted in its length.
        odd.update(compress(positions, map(operator.gt, crs, map(str.endswith, lines, repeat("\r\n")))))
        lengths = list(map(operator.sub, lengths, crs))
    if min(lengths) <= width:  # a line of commas only (a blank row) or shorter
        odd.update(compress(positions, map(width.__ge__, lengths)))
    limit = csv.field_size_limit()
    if max(lengths) > limit:
        odd.update(compress(positions, map(limit.__lt__, lengths)))
    return sorted(odd)


def _take_row(
    number: int,
    row: Any,
    header: Sequence[str],
    numbers: list[int],
    cells: list[Any],
    misfits: dict[int, dict[Any, Any]],
    texts: list[str] | None,
) -> list[str] | None:
    """Add a row the csv reader read (`iter_raw`'s `(number, row)`) to a chunk being made: its number,
    its values (a row that does not fit the header, a dict: its values by name, and the row kept among
    the `misfits`); returns `texts` with its line, or None when the line cannot be kept (`_add_line`)."""
    if type(row) is dict:
        misfits[len(numbers)] = row
        cells += map(row.get, header)
    else:
        cells += row
        if texts is not None:
            texts = _add_line(texts, row)
    numbers.append(number)
    return texts


def _add_line(texts: list[str], values: list[str]) -> list[str] | None:
    """`texts` with the line of `values` (joined by commas) added, or None when a value holds a comma
    or a line end (the line would not split back into the values)."""
    line = ",".join(values)
    if "\n" in line or line.count(",") != len(values) - 1:
        return None
    texts.append(line + "\n")
    return texts


class _RepeatedKey(ValueError):
    pass


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a key given twice is an error (which of the two values was meant?)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(f"key {key!r} appears twice in the object")
            seen.add(key)
    return value


def estimate_rows(path: Path | str) -> int:
    """About how many data rows a file holds (from its first bytes, or an XLSX sheet's dimensions)."""
    with RowSource(path) as source:
        return source.estimated_rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _with_cell_problems(header: list[str], cells: tuple[Any, ...]) -> dict[Any, Any]:
    """An XLSX row holding cells that cannot be read as data (`CellProblem`): each is its field's error
    (`CELL_PROBLEMS`; in a column the header does not name, the row's problem); the other values are
    read and checked as usual."""
    row = _ragged(header, [None if isinstance(v, CellProblem) else v for v in cells], short_is_problem=False)
    named: dict[str, str] = {}
    unnamed: list[str] = []
    for i, value in enumerate(cells):
        if isinstance(value, CellProblem):
            text = _("cell {cell}: {reason}").format(cell=value.coordinate, reason=value.reason)
            if i < len(header) and header[i]:
                named[header[i]] = text
            else:
                unnamed.append(text)
    row[CELL_PROBLEMS] = named
    if unnamed:
        row.setdefault(ROW_PROBLEM, "; ".join(unnamed))
    return row


def _ragged(header: list[str], values: list[Any], *, short_is_problem: bool) -> dict[Any, Any]:
    """A row with more values than the header (a problem unless the extra ones are blank) or fewer
    (a problem in a CSV file, where it means a cut or broken line; the rest are missing otherwise)."""
    row: dict[Any, Any] = dict(zip(header, values, strict=False))
    extra = [v for v in values[len(header) :] if not _blank(v)]
    if extra:
        row[ROW_PROBLEM] = _("{count} values but the header has {columns} columns").format(
            count=len(values), columns=len(header)
        )
    elif short_is_problem and len(values) < len(header):
        row[ROW_PROBLEM] = _(
            "{count} values but the header has {columns} columns (a short row: was the file cut off?)"
        ).format(count=len(values), columns=len(header))
    if ROW_PROBLEM in row:
        # The values do not line up with the columns: only the row's problem is reported.
        line = io.StringIO()
        csv.writer(line).writerow(["" if v is None else v for v in values])
        row[RAW_LINE] = line.getvalue()
    return row
