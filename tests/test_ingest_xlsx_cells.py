"""XLSX cells and rows that openpyxl's read-only rows read as something else: a formula never calculated
(read as an empty cell), an error value (read as its text), a row numbered far past the others (every
empty row in between made, minutes of CPU). Each row with such a cell is rejected naming the cell and
why, the rest goes in; a far row costs nothing; row numbers are the sheet's own."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import Claim
from drgaudit.errors import DataFileError
from tests.conftest import claim_row

FIELDS = list(claim_row(0))


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    """A workbook written by openpyxl, as a program writes one: formulas are stored with no value."""
    book = Workbook()
    sheet = book.active
    sheet.append(FIELDS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _with_sheet(path: Path, out: Path, edit: Callable[[str], str]) -> Path:
    """A copy of the workbook at `path` whose first sheet's XML went through `edit`."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as copy:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = edit(data.decode()).encode()
            copy.writestr(name, data)
    return out


def _values(n: int, **overrides: object) -> list[object]:
    row: dict[str, object] = dict(claim_row(n))
    row.update(overrides)
    return [row[name] for name in FIELDS]


def test_a_formula_with_no_computed_value_rejects_its_row(session: Session, tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "claims.xlsx",
        [_values(1), _values(2, fee_other="=1+2"), _values(3, total_cost="=SUM(A1:A2)"), _values(4)],
    )
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (2, 2)
    from openpyxl.utils import get_column_letter

    fee_other = get_column_letter(FIELDS.index("fee_other") + 1)
    first, second = report.first_errors
    assert (first.row, first.field) == (3, "fee_other")
    assert first.reason.startswith(f"cell {fee_other}3: a formula with no computed value")
    assert "paste the values" in first.reason
    # The cell's own reason, not "missing (required)" for the value it lacks.
    assert (second.row, second.field) == (4, "total_cost") and second.reason.startswith("cell ")
    assert sorted(session.exec(select(Claim.claim_id)).all()) == ["C000001", "C000004"]


def test_an_error_value_rejects_its_row(session: Session, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "claims.xlsx", [_values(1), _values(2)])

    def error_cell(text: str) -> str:
        # An error cell as a spreadsheet stores it: t="e" with the error's text as the cached value.
        cell = re.search(r'<c r="(D3)"[^>]*>.*?</c>', text)
        assert cell is not None
        return text.replace(cell.group(0), '<c r="D3" t="e"><v>#N/A</v></c>')

    book_path = _with_sheet(path, tmp_path / "errors.xlsx", error_cell)
    report = import_file(book_path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (1, 1)
    error = report.first_errors[0]
    assert (error.row, error.field) == (3, FIELDS[3])
    assert error.reason == "cell D3: the spreadsheet error #N/A"


def test_a_far_row_number_costs_nothing_and_rows_keep_their_numbers(session: Session, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "claims.xlsx", [_values(1), _values(2, claim_id=""), _values(3)])

    def far_rows(text: str) -> str:
        text = re.sub(r"<dimension[^>]*/>", "", text)
        text = re.sub(r'r="([A-Z]*)3"', r'r="\g<1>7"', text)  # row 3 becomes row 7
        return re.sub(r'r="([A-Z]*)4"', r'r="\g<1>900000000"', text)

    far = _with_sheet(path, tmp_path / "far.xlsx", far_rows)
    started = time.perf_counter()
    report = import_file(far, kind="claims", session=session)
    assert time.perf_counter() - started < 30  # was minutes: every empty row up to 900,000,000 made
    assert (report.rows_ok, report.rows_rejected) == (2, 1)
    assert [(e.row, e.field) for e in report.first_errors] == [(7, "claim_id")]


# The first data row's claim id as openpyxl writes it.
_A2 = '<c r="A2" t="inlineStr"><is><t>C000001</t></is></c>'


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('<c r="D3"', '<c r="ZZZZ3"', "the sheet cannot be read after row 2 (ValueError: 'ZZZZ'"),
        ('<row r="3"', '<row r="abc"', "the sheet cannot be read after row 2 (ValueError"),
        ('<row r="3"', '<row r="9223372036854775808"', "row number 9223372036854775808 is outside 1 to"),
        ('<row r="3"', '<row r="0"', "row number 0 is outside 1 to 2,147,483,647"),
        (_A2, '<c r="A2" t="s"><v>99999</v></c>', "after row 1 (IndexError"),  # no such shared string
        (_A2, '<c r="A2" t="d"><v>not a date</v></c>', "after row 1 (ValueError"),
        ("</sheetData>", '<row r="9"><c r="A9"><v>1</v></row></sheetData>', "after row 3 (ParseError"),
    ],
)
def test_a_sheet_no_spreadsheet_writes_is_the_file_s_error_not_a_bug(
    session: Session, tmp_path: Path, old: str, new: str, said: str
) -> None:
    """A cell past column ZZZ, a row number that is not one (or past what the casebook stores: it was an
    OverflowError writing the rejected row), a shared string not in the table, a malformed date or XML
    escaped openpyxl as ValueError/IndexError, which the CLI and the page reported as a bug."""
    path = _workbook(tmp_path / "claims.xlsx", [_values(1), _values(2, total_cost="abc")])

    def broken(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    bad = _with_sheet(path, tmp_path / "bad.xlsx", broken)
    with pytest.raises(DataFileError) as caught:
        import_file(bad, kind="claims", session=session)
    assert said in str(caught.value)
    assert session.exec(select(Claim.claim_id)).all() == []


def test_a_number_in_a_date_format_that_no_date_has_is_not_called_a_spreadsheet_error(
    session: Session, tmp_path: Path
) -> None:
    """99999999 in a date-formatted cell read as 'the spreadsheet error #VALUE!' (openpyxl's stand-in),
    which the user looked for in vain in the sheet."""
    path = _workbook(tmp_path / "claims.xlsx", [_values(1, admit_date=99999999), _values(2)])
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    column = get_column_letter(FIELDS.index("admit_date") + 1)
    book = load_workbook(path)
    book.active[f"{column}2"].number_format = "yyyy-mm-dd"
    book.save(path)
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (1, 1)
    error = report.first_errors[0]
    assert (error.row, error.field) == (2, "admit_date")
    assert error.reason == (
        f"cell {column}2: 99999999 is formatted as a date, but no date has that serial number: type the date "
        "(2025-03-01)"
    )


@pytest.mark.parametrize("system", ["1900", "1904"])
def test_date_numbers_count_from_the_workbooks_own_day_0(
    session: Session, tmp_path: Path, system: str
) -> None:
    # A date typed as a plain number (no date format) is a serial counted from the workbook's day 0:
    # 1899-12-30, or 1904-01-01 in the 1904 date system (a workbook setting of older Mac Excel), where
    # read as the 1900 one every date would move 4 years and a day, silently.
    from datetime import date

    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    admit, discharge = date(2025, 3, 1), date(2025, 3, 9)
    day_0 = date(1904, 1, 1) if system == "1904" else date(1899, 12, 30)
    book = Workbook()
    if system == "1904":
        book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(FIELDS)
    sheet.append(_values(1, admit_date=(admit - day_0).days, discharge_date=(discharge - day_0).days))
    # A date-formatted cell (openpyxl converts it with the same day 0) beside a number.
    sheet.append(_values(2, admit_date=admit, discharge_date=(discharge - day_0).days))
    path = tmp_path / f"claims-{system}.xlsx"
    book.save(path)
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (2, 0), report.first_errors
    stored = session.exec(select(Claim.claim_id, Claim.admit_date, Claim.discharge_date)).all()
    assert sorted(stored) == [("C000001", admit, discharge), ("C000002", admit, discharge)]


def test_serial_bounds_follow_the_date_system() -> None:
    from datetime import date

    from drgaudit.ingest.rows import RowConverter
    from drgaudit.ingest.xlsxrows import EXCEL_EPOCH, EXCEL_EPOCH_1904

    def dates(epoch: date, admit: int, discharge: int) -> object:
        raw = {**claim_row(1), "admit_date": admit, "discharge_date": discharge}
        result = RowConverter("claims", "f.xlsx", excel_epoch=epoch)(2, raw)
        return (
            [str(e) for e in result]
            if isinstance(result, list)
            else (result["admit_date"], result["discharge_date"])
        )

    # 1904 system: day 0 and 1904-02-29 (a real leap day, serial 59) are dates.
    assert dates(EXCEL_EPOCH_1904, 0, 59) == (date(1904, 1, 1), date(1904, 2, 29))
    assert dates(EXCEL_EPOCH_1904, 44986, 44994) == (date(2027, 3, 2), date(2027, 3, 10))
    # 1900 system: serial 60 is Excel's 1900-02-29, a day that never was; 61 is 1900-03-01.
    refused = dates(EXCEL_EPOCH, 60, 61)
    assert isinstance(refused, list) and any("admit_date" in e and "Excel" in e for e in refused), refused
    assert dates(EXCEL_EPOCH, 61, 45716) == (date(1900, 3, 1), date(2025, 2, 28))
