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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser


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
                "a formula with no computed value (the workbook was never calculated and saved): "
                "open and save it in a spreadsheet, or paste the values",
            )
        elif cell["data_type"] == "e":
            cell["value"] = CellProblem(element.get("r") or "", f"the spreadsheet error {cell['value']}")
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
        for number, cells in parser.parse():
            if not cells:
                continue
            values: list[Any] = [None] * max(cell["column"] for cell in cells)
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            yield number, tuple(values)
