"""What every report hands to the renderers: a template with its context, and optionally XLSX sheets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("html", "pdf", "xlsx")
# The forms each report has: XLSX only where the report is a table someone works through.
REPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "summary": ("html", "pdf", "xlsx"),
    "monitoring": ("html", "pdf", "xlsx"),
    "feedback": ("html", "pdf", "xlsx"),
    "packet": ("html", "pdf"),
    "minutes": ("html", "pdf"),
    "impact": ("html", "xlsx"),
    "clearing": ("html", "pdf", "xlsx"),
}


@dataclass(frozen=True)
class Column:
    """One XLSX column: its heading, kind (text, int, yuan, percent, decimal, date) and width in characters."""

    title: str
    kind: str = "text"
    width: float = 14
    choices: tuple[str, ...] = ()  # values offered in a drop-down (a column the reader fills in)


@dataclass
class Sheet:
    """One XLSX sheet: columns and a row iterable (may be a generator, written in write-only mode)."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


@dataclass
class Report:
    """A rendered-to-be report: the HTML template and its context, and the sheets of its XLSX form."""

    kind: str
    title: str
    template: str
    context: dict[str, Any]
    sheets: Callable[[], list[Sheet]] | None = None
    formats: tuple[str, ...] = field(default=("html", "pdf"))
