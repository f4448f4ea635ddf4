"""`--format table|json|csv` for every listing command, declared once.

A listing builds plain rows (dicts keyed by stable English column keys) and hands them with its
`Column`s to `emit`:

    @app.command("list")
    def list_(fmt: FormatOption = OutputFormat.table, db: DbOption = None) -> None:
        rows = [{"id": b.id, "file": b.file_name} for b in ...]
        emit(rows, [Column("id", _("batch"), ">"), Column("file", _("file"))], fmt,
             empty=_("no batches yet"), footer=_("{n} batches").format(n=len(rows)))

- `table` (the default) aligns the columns for a person (Chinese characters count as two columns)
  and may add a footer line; an empty listing prints `empty`.
- `json` prints one JSON array of objects with the column keys, numbers as numbers, dates as ISO
  text; `csv` prints a header row of the keys and one row per object. Neither adds anything else to
  stdout, so they can be piped into other tools (`jq`, spreadsheets, sqlite-utils).

Only the standard library is imported here: the CLI must start quickly (see `drgaudit.cli`).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import typer

from drgaudit.i18n import _
from drgaudit.terminal import coded, pad, width


class OutputFormat(enum.StrEnum):
    """How a listing is printed."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="table for people (default), json or csv for other tools.",
    ),
]


@dataclass(frozen=True)
class Column:
    """One column of a listing: its key in the rows, its heading in a table, alignment and display."""

    key: str
    header: str
    align: str = "<"  # "<" left, ">" right
    show: Callable[[Any], str] | None = None  # how the table shows a value (json/csv get the raw value)
    table: bool = True  # shown in the table (a long text may be json/csv only)
    data: bool = True  # written to json/csv (a column made for people only is not)
    # The coded values' field in `drgaudit.labels.VALUE_LABELS` ("case.status"): a table in Chinese shows
    # their Chinese names (json/csv, and a table in English, keep the codes other tools and scripts match).
    values: str | None = None


def plain(value: Any) -> Any:
    """A value as JSON and CSV carry it: dates as ISO text, decimals as floats, enums as their value.

    A moment is written in UTC with its zone (`2026-12-08T11:31:00+00:00`): the casebook stores every
    moment in UTC, and SQLite gives it back without its zone, PostgreSQL with it, so the same casebook on
    either says the same."""
    if isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return moment.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def _cell(value: Any, column: Column) -> str:
    if column.show is not None:
        return column.show(value)
    if value is None:
        return "-"
    if column.values is not None:
        return coded(column.values, value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(plain(value))


def table_lines(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> list[str]:
    """The rows as aligned text lines, a heading line first."""
    headers = [_(c.header) for c in columns]  # declared with N_() where the columns are
    cells = [[_cell(row.get(c.key), c) for c in columns] for row in rows]
    sizes = [max([width(headers[i])] + [width(r[i]) for r in cells]) for i in range(len(columns))]
    lines = []
    for values in [headers, *cells]:
        parts = [pad(v, sizes[i], columns[i].align) for i, v in enumerate(values)]
        lines.append("  ".join(parts).rstrip())
    return lines


def render(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], fmt: OutputFormat | str) -> str:
    """The rows in one format, as text ending with a newline (empty for an empty table)."""
    rows = list(rows)
    fmt = OutputFormat(fmt)
    columns = [c for c in columns if (c.table if fmt is OutputFormat.table else c.data)]
    if fmt is OutputFormat.json:
        objects = [{c.key: plain(row.get(c.key)) for c in columns} for row in rows]
        return json.dumps(objects, ensure_ascii=False, indent=2) + "\n"
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        for row in rows:
            writer.writerow([_csv_value(plain(row.get(c.key))) for c in columns])
        return buffer.getvalue()
    return "".join(line + "\n" for line in table_lines(rows, columns)) if rows else ""


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return "|".join(str(v) for v in value)  # the DATA-CONTRACT list separator
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def emit(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: OutputFormat | str,
    *,
    empty: str | None = None,
    footer: str | None = None,
) -> None:
    """Print a listing in the chosen format; `empty` and `footer` are for people (table format only)."""
    rows = list(rows)
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.table and not rows:
        if empty:
            typer.echo(empty)
        return
    typer.echo(render(rows, columns, fmt), nl=False)
    if fmt is OutputFormat.table and footer:
        typer.echo(footer)


def emit_document(document: Mapping[str, Any], fmt: OutputFormat | str, *, table: Callable[[], None]) -> None:
    """A detail view (one case, one meeting): `table` prints it for people; json prints the whole
    document; csv prints its main list (the document's `rows` key, a list of flat objects)."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.table:
        table()
        return
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(plain(document), ensure_ascii=False, indent=2))
        return
    rows = [plain(r) for r in document.get("rows", [])]
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    typer.echo(render(rows, [Column(k, k) for k in keys], OutputFormat.csv), nl=False)
