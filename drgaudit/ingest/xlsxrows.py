"""The rows of an XLSX sheet as the importer needs them, read with openpyxl's own sheet parser.

openpyxl's read-only `iter_rows` is not used because of what it does with three kinds of cell and row:
- a formula never calculated (a workbook written by a program, not saved by a spreadsheet) has no
  cached value and reads as an empty cell, so a required field read "missing" and an optional one was
  dropped without a word;
- an error value (`#N/A`, `#DIV/0!`) reads as that text, which a text field would have kept;
- a row numbered far past the last one (`<row r="900000000">`, as a hostile file may have it) was
  reached by yielding every empty row in between: minutes of CPU for a file of a few kilobytes.
Here such a cell becomes a `CellProblem` (the row is reported with the cell and why, the rest goes in),
and rows are given with their own numbers, nothing made for the gaps.

What no spreadsheet writes (a cell reference past column ZZZ, a row number that is not a number or
past what the casebook stores, a shared string that is not in the table, a malformed date or XML) makes
the sheet unreadable: `SheetError`, which the reader reports as the file's error; it was a ValueError,
IndexError or OverflowError from deep inside openpyxl or the database, reported as a bug.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from drgaudit.i18n import _

# openpyxl warns of each such date cell on stderr; the row's rejection says it (`_Parser.parse_cell`).
warnings.filterwarnings("ignore", message=r"Cell \S* is marked as a date", category=UserWarning)

# A workbook's day 0 for date serial numbers: the 1900 date system (Excel's own day 0, 1899-12-30), and
# the 1904 one (older Mac Excel; a workbook setting), whose serials are 1,462 days smaller for a date.
EXCEL_EPOCH = date(1899, 12, 30)
EXCEL_EPOCH_1904 = date(1904, 1, 1)

# The largest row number kept with a rejected row: the casebook's INTEGER columns hold up to 2**31 - 1
# (casebook.models.MAX_STORED_INT, a layer this one may not import). An XLSX sheet has at most
# 1,048,576 rows; a larger number is a hand-made file's.
LAST_ROW = 2**31 - 1

# What openpyxl's parser raises on a sheet no spreadsheet writes (SyntaxError: ElementTree's ParseError).
_PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError, SyntaxError)


class SheetError(Exception):
    """The sheet holds what no spreadsheet writes: no row after the last one read can be trusted."""


@dataclass(frozen=True)
class CellProblem:
    """A cell whose value cannot be read as data: where it is and why."""

    coordinate: str
    reason: str


class _Parser(WorkSheetParser):  # type: ignore[misc]
    """openpyxl's sheet parser, keeping what an empty value means (see the module docstring)."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
            cell["value"] = CellProblem(
                element.get("r") or "",
                _(
                    "a formula with no computed value (the workbook was never calculated and saved): "
                    "open and save it in a spreadsheet, or paste the values"
                ),
            )
        elif cell["data_type"] == "e" and element.get("t") != "e":
            # openpyxl's own #VALUE! for a number in a date format that no date has (99999999, 1e300):
            # the spreadsheet shows the number (or ####), not an error.
            cell["value"] = CellProblem(
                element.get("r") or "",
                _(
                    "{value} is formatted as a date, but no date has that serial number: type the date (2025-03-01)"
                ).format(value=element.findtext(VALUE_TAG)),
            )
        elif cell["data_type"] == "e":
            cell["value"] = CellProblem(
                element.get("r") or "", _("the spreadsheet error {error}").format(error=cell["value"])
            )
        return cell


def sheet_rows(workbook: Any, sheet: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of each row the sheet holds that has cells, in order, up to its last cell
    (cells it leaves out are None); rows the sheet does not hold are not given."""
    with sheet._get_source() as source:  # openpyxl's read-only sheet: its XML part, opened on demand
        parser = _Parser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        last = 0  # the number of the last row read, for the error's place
        try:
            for number, cells in parser.parse():
                if not 1 <= number <= LAST_ROW:
                    raise SheetError(
                        _("row number {number} is outside 1 to {last}").format(
                            number=number, last=f"{LAST_ROW:,}"
                        )
                    )
                last = number
                if not cells:
                    continue
                values: list[Any] = [None] * max(cell["column"] for cell in cells)
                for cell in cells:
                    values[cell["column"] - 1] = cell["value"]
                yield number, tuple(values)
        except _PARSE_ERRORS as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if last:
                message = _("the sheet cannot be read after row {row} ({problem})").format(
                    row=last, problem=problem
                )
            else:
                message = _("the sheet cannot be read in its first row ({problem})").format(problem=problem)
            raise SheetError(message) from exc
