"""Hostile and broken input files (issue 14 "Ids and text fields", "Numbers and rows"; issue 15 "Import
results"): every bad value is rejected per row with `file:row: field: reason`, the rest goes in, and
nothing import accepts can make screening fail."""

from __future__ import annotations

import codecs
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import Claim, Hospital, ImportBatch, RejectedRow
from drgaudit.cli.root import app
from drgaudit.contract import CLAIM_FIELDS, EARLIEST_DATE, LATEST_DATE, MAX_ID_CHARS, MAX_LIST_ITEMS
from drgaudit.errors import DataFileError
from drgaudit.ingest.readers import MAX_LINE_CHARS, XLSX_RATIO_FROM, check_xlsx_parts
from drgaudit.ingest.rows import _FORBIDDEN_RE, RowConverter
from drgaudit.ingest.xlsxrows import EXCEL_EPOCH
from tests.conftest import claim_row, write_table

runner = CliRunner()


def errors_of(raw: dict, *, path: str = "f.csv", excel: bool = False) -> list[str]:
    result = RowConverter("claims", path, excel_epoch=EXCEL_EPOCH if excel else None)(7, raw)
    assert isinstance(result, list), f"accepted: {raw}"
    return [str(e) for e in result]


def record_of(raw: dict, *, excel: bool = False) -> dict:
    result = RowConverter(
        "claims", "f.xlsx" if excel else "f.csv", excel_epoch=EXCEL_EPOCH if excel else None
    )(2, raw)
    assert isinstance(result, dict), [str(e) for e in result]
    return result


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()[0]


# -- ids and text --------------------------------------------------------------------------------------

HOSTILE_IDS = [
    ('C"1', "holds a quote"),
    ("C'1", "holds a quote"),
    ("C\\1", "holds a backslash"),
    ("C\n1", "holds a control character (U+000A)"),
    ("C\x001", "holds a control character (U+0000)"),
    ("C\x1b[31m1", "holds a control character (U+001B)"),
    ("C\x7f1", "holds a control character (U+007F)"),
    ("C\u202e1", "holds a bidirectional control character (U+202E)"),
    ("C 1", "holds a blank"),
    ("C１", "holds a non-ASCII digit '１' (U+FF11)"),
    ("C٣", "holds a non-ASCII digit"),
    ("病人1", "an id holds only ASCII letters, digits"),
    ("=HYPERLINK(1)", "holds '=' (U+003D)"),
    ("5.10101E+19", "is a number in scientific notation"),
    ("X" * (MAX_ID_CHARS + 1), f"is {MAX_ID_CHARS + 1} characters long; at most {MAX_ID_CHARS}"),
]


@pytest.mark.parametrize("field", ["claim_id", "patient_id", "hospital_id", "group_code"])
@pytest.mark.parametrize(("value", "reason"), HOSTILE_IDS)
def test_hostile_ids_are_rejected_naming_field_and_reason(field: str, value: str, reason: str) -> None:
    [error] = errors_of(claim_row(1, **{field: value}))
    assert error.startswith(f"f.csv:7: {field}: ")
    assert reason in error


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("insured_region", "５１０１００", "is not a 6-digit region code (non-ASCII digits; write 0-9)"),
        ("treatment_region", "51010٠", "is not a 6-digit region code (non-ASCII digits"),
        ("principal_dx", "I２1.000", "is not an ICD-10 code (non-ASCII digits"),
        ("secondary_dx", "I10.x05|E１1.900", "item 2 'E１1.900' is not an ICD-10 code (non-ASCII digits"),
        ("procedures", "３6.0600", "item 1 '３6.0600' is not an ICD-9-CM-3 code (non-ASCII digits"),
        ("gender", "１", "is not one of 1, 2 (non-ASCII digits"),
        # Amounts as spreadsheets and reports show them: refused, saying what to write
        ("total_cost", "12,000.50", "'12,000.50' is not a number (no thousands separators: write 12000.50)"),
        ("fee_drug", "-1,234", "'-1,234' is not a number (no thousands separators: write -1234)"),
        ("total_cost", "￥12000", "'￥12000' is not a number (no currency sign or unit: write 12000)"),
        ("self_pay", "300 元", "'300 元' is not a number (no currency sign or unit: write 300)"),
        ("age", "1,000", "'1,000' is not a whole number (no thousands separators: write 1000)"),
        ("dept_code", "心内\u202e科", "holds a bidirectional control character (U+202E)"),
        ("dept_code", "心内\x00科", "holds a control character (U+0000)"),
        ("dept_code", "心内\t科", "holds a control character (U+0009)"),
        ("dept_code", "\ud800", "holds an unpaired surrogate (U+D800)"),
        ("dept_code", "科" * 201, "is 201 characters long; at most 200"),
        (
            "secondary_dx",
            "|".join(["I10.x05"] * (MAX_LIST_ITEMS + 1)),
            f"{MAX_LIST_ITEMS + 1} codes; at most",
        ),
    ],
)
def test_codes_regions_and_text(field: str, value: str, reason: str) -> None:
    [error] = errors_of(claim_row(1, **{field: value}))
    assert error.startswith(f"f.csv:7: {field}: ") and reason in error


def test_no_amount_hint_where_none_fits() -> None:
    assert errors_of(claim_row(1, insured_region="51010", total_cost="1,2")) == [
        "f.csv:7: insured_region: '51010' is not a 6-digit region code",
        "f.csv:7: total_cost: '1,2' is not a number",
    ]


def test_ids_at_their_limits_and_plain_text_are_accepted() -> None:
    longest = ("A0._:/*+-" * 8)[:MAX_ID_CHARS]
    record = record_of(claim_row(1, claim_id=longest, patient_id="P-0001/02", dept_code="心内科（一病区）"))
    assert (record["claim_id"], record["patient_id"], record["dept_code"]) == (
        longest,
        "P-0001/02",
        "心内科（一病区）",
    )


def test_numbers_from_excel_and_json_as_ids() -> None:
    # An exact integer is an id; a double past 2**53 has lost its last digits already.
    assert record_of({**claim_row(1), "patient_id": 510101198001011234}, excel=True)["patient_id"] == (
        "510101198001011234"
    )
    [error] = errors_of({**claim_row(1), "patient_id": 5.10101e19}, excel=True)
    assert "is a number too long to be an exact id; store the column as text" in error
    [error] = errors_of({**claim_row(1), "claim_id": datetime(2025, 1, 2)})
    assert error == "f.csv:7: claim_id: 2025-01-02 00:00:00 is a date, not text"


# -- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", "1_000", "'1_000' is not a whole number (no _ between digits)"),
        ("age", "４２", "'４２' is not a whole number (non-ASCII digits; write 0-9)"),
        ("age", "4e1", "'4e1' is not a whole number"),
        ("age", "151", "151 is above the limit of 150"),
        ("age", "9" * 30, f"'{'9' * 30}' is above the limit of 150"),
        ("age", "9" * 5000, f"'{'9' * 37}...' is above the limit of 150"),
        ("age_days", "366", "366 is above the limit of 365"),
        ("newborn_weight_g", "10001", "10,001 is above the limit of 10,000"),
        ("total_cost", "1_000.5", "'1_000.5' is not a number (no _ between digits)"),
        ("total_cost", "1e400", "'1e400' is not a finite number"),
        ("total_cost", "inf", "'inf' is not a number"),
        ("total_cost", "100000000.01", "100,000,000.01 is above the limit of 100,000,000"),
        ("fee_drug", "1e12", "1,000,000,000,000 is above the limit of 100,000,000"),
        ("icu_hours", "87841", "87,841 is above the limit of 87,840"),
        ("ventilator_hours", "-1", "-1 is negative"),
    ],
)
def test_numbers_beyond_sane_bounds_are_rejected(field: str, value: str, message: str) -> None:
    assert errors_of(claim_row(1, **{field: value})) == [f"f.csv:7: {field}: {message}"]


def test_numbers_at_the_bounds_are_accepted() -> None:
    record = record_of(claim_row(1, age="150", total_cost="100000000", fee_drug="", icu_hours="87840"))
    assert (record["age"], record["total_cost"], record["icu_hours"]) == (150, 100_000_000.0, 87_840.0)
    assert record_of(claim_row(1, total_cost="1.5E+04"))["total_cost"] == 15_000.0


def test_json_numbers_that_overflow_are_rejected() -> None:
    assert errors_of({**claim_row(1), "age": 10**400}) == [
        "f.csv:7: age: a number of about 401 digits is above the limit of 150"
    ]
    assert errors_of({**claim_row(1), "total_cost": 10**400}) == [
        "f.csv:7: total_cost: a number of about 401 digits is above the limit of 100,000,000"
    ]
    assert errors_of({**claim_row(1), "total_cost": float("nan")}) == [
        "f.csv:7: total_cost: nan is not a finite number"
    ]
    assert errors_of({**claim_row(1), "age": 1e300}) == ["f.csv:7: age: 1e+300 is above the limit of 150"]


# -- dates (issue 15: common Excel forms read when unambiguous) ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-28",
        "2025/1/28",
        "2025/01/28",
        "2025-1-28",
        "2025.1.28",
        "20250128",
        "2025年1月28日",
        "2025/1/28 8:05",
    ],
)
def test_unambiguous_date_forms_are_read(text: str) -> None:
    record = record_of(claim_row(1, admit_date=text, discharge_date="2025-02-01"))
    assert record["admit_date"] == date(2025, 1, 28)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1/28/2025",
            "'1/28/2025' is not a date: day and month may be either way round; write YYYY-MM-DD; "
            "also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日",
        ),
        ("28.01.25", "day and month may be either way round"),
        ("2025/1-28", "'2025/1-28' is not a date (YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日)"),
        ("Jan 28 2025", "is not a date (YYYY-MM-DD; also read"),
        ("20251328", "'20251328' is not a valid date"),
        ("2025/2/30", "'2025/2/30' is not a valid date"),
        ("1899-12-31", "1899-12-31 is not between 1900-01-01 and 2099-12-31"),
        ("2100-01-01", "2100-01-01 is not between 1900-01-01 and 2099-12-31"),
        ("0001-01-01", "0001-01-01 is not between"),
    ],
)
def test_other_date_forms_name_the_expected_format(text: str, message: str) -> None:
    [error] = errors_of(claim_row(1, admit_date=text, discharge_date="2025-02-01"))
    assert error.startswith("f.csv:7: admit_date: ") and message in error


def test_excel_serial_dates_are_read_from_xlsx_only() -> None:
    record = record_of({**claim_row(1), "admit_date": 45685, "discharge_date": 45689.75}, excel=True)
    assert (record["admit_date"], record["discharge_date"]) == (date(2025, 1, 28), date(2025, 2, 1))
    later = {"discharge_date": "2025-02-01"}
    # A number in a CSV or JSONL date column is not taken for a serial (45685 could mean anything) …
    [error] = errors_of({**claim_row(1), "admit_date": 45685, **later})
    assert "45685 is not a date (YYYY-MM-DD" in error
    # … but eight digits are a date wherever they come from.
    assert record_of({**claim_row(1), "admit_date": 20250128, **later})["admit_date"] == date(2025, 1, 28)
    [error] = errors_of({**claim_row(1), "admit_date": 3_000_000, **later}, excel=True)
    assert "as an Excel date number it is not between 1900-01-01 and 2099-12-31" in error


def test_dates_in_an_xlsx_workbook(session: Session, tmp_path: Path) -> None:
    rows = [
        claim_row(1, admit_date="2025/1/28", discharge_date="20250201"),
        {**claim_row(2), "admit_date": 45685, "discharge_date": datetime(2025, 2, 3, 9, 30)},
        claim_row(3, admit_date="28/01/2025"),
    ]
    path = write_table(tmp_path / "claims.xlsx", rows)
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (2, 1)
    assert "day and month may be either way round" in str(report.first_errors[0])
    stored = dict(session.execute(select(Claim.claim_id, Claim.admit_date)).all())
    assert stored == {"C000001": date(2025, 1, 28), "C000002": date(2025, 1, 28)}


def _with_shared_strings(path: Path, size: int) -> Path:
    """The XLSX workbook at `path` with a shared-strings part of `size` bytes that packs to a few KiB (one
    letter over and over, as a zip bomb's does), declared in the workbook so that openpyxl reads it."""
    source = zipfile.ZipFile(path)
    bomb = path.with_name("bomb.xlsx")
    head = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    tail = b"</t></si></sst>"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType='
                    b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')  # fmt: skip
            elif part.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" Id="rId99"/></Relationships>')  # fmt: skip
            if part.filename != "xl/sharedStrings.xml":
                out.writestr(part, data)
        out.writestr("xl/sharedStrings.xml", head + b"A" * (size - len(head) - len(tail)) + tail)
    return bomb


def test_a_workbook_that_unpacks_to_far_more_than_it_packs_is_not_read(
    session: Session, tmp_path: Path
) -> None:
    """A zip bomb: openpyxl would hold its shared strings in memory whole (a 4 MB file took 1.8 GB)."""
    workbook = write_table(tmp_path / "claims.xlsx", [claim_row(n) for n in range(3)])
    at_floor = _with_shared_strings(workbook, XLSX_RATIO_FROM)  # not past the floor: read
    check_xlsx_parts(at_floor, "at-floor.xlsx")
    bomb = _with_shared_strings(workbook, XLSX_RATIO_FROM + 1)
    with pytest.raises(DataFileError, match=r"^bomb.xlsx: part xl/sharedStrings.xml of the workbook would unpack "
                       r"to 16,777,217 bytes from [0-9,]+ \([0-9,]+ times; a sheet packs at most about 25 times\): not read"):  # fmt: skip
        check_xlsx_parts(bomb, "bomb.xlsx")
    with pytest.raises(DataFileError, match="would unpack to 16,777,217 bytes"):
        import_file(bomb, kind="claims", session=session)
    assert session.execute(select(func.count()).select_from(Claim)).scalar_one() == 0
    result = runner.invoke(
        app,
        [
            "import",
            "replies",
            str(bomb),
            "--db",
            session.get_bind().url.render_as_string(hide_password=False),
        ],
    )
    assert result.exit_code == 1 and "would unpack to 16,777,217 bytes" in result.output, result.output
    assert import_file(workbook, kind="claims", session=session).rows_ok == 3  # a real workbook is read


# -- rows and files ----------------------------------------------------------------------------------------


def test_a_truncated_csv_rejects_its_short_last_row(session: Session, tmp_path: Path) -> None:
    path = write_table(tmp_path / "claims.csv", [claim_row(n) for n in range(5)])
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b",", 0, len(data) - 60)])  # cut inside the last row
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (4, 1)
    first = report.first_errors[0]
    assert (first.row, first.field) == (6, "row")
    assert f"values but the header has {len(CLAIM_FIELDS)} columns (a short row: was the file cut off?)" in (
        first.reason
    )
    assert count(session, Claim) == 4


def test_one_oversized_cell_rejects_its_row_not_the_file(session: Session, tmp_path: Path) -> None:
    rows = [claim_row(n) for n in range(4)]
    rows[1]["dept_code"] = "科" * 200_000  # over the csv module's field limit
    rows[2]["dept_code"] = "x" * (MAX_LINE_CHARS + 10)  # a line over the reader's limit
    rows[3]["dept_code"] = "y" * 5_000  # a long cell the reader takes, the check refuses
    path = write_table(tmp_path / "claims.csv", rows)
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_total, report.rows_ok, report.rows_rejected) == (4, 1, 3)
    reasons = {e.row: (e.field, e.reason) for e in report.first_errors}
    assert reasons[3] == ("row", "cannot be read: field larger than field limit (131072)")
    assert reasons[4] == ("row", f"the line is longer than {MAX_LINE_CHARS:,} characters; not read")
    assert reasons[5][0] == "dept_code" and "is 5,000 characters long" in reasons[5][1]
    assert count(session, Claim) == 1
    raws = session.execute(select(RejectedRow.raw).order_by(RejectedRow.row)).scalars().all()
    assert raws[:2] == ["(not kept)", "(not kept)"] and len(raws[2]) < 10_100


def test_a_jsonl_line_over_the_limit_rejects_its_row_with_the_reason(
    session: Session, tmp_path: Path
) -> None:
    rows = [claim_row(n) for n in range(3)]
    rows[1]["secondary_dx"] = ["I10.x00"] * (MAX_LINE_CHARS // 10)  # valid JSON, over the reader's limit
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_total, report.rows_ok, report.rows_rejected) == (3, 2, 1)
    [error] = report.first_errors
    assert (error.row, error.field) == (2, "row")
    assert error.reason == f"the line is longer than {MAX_LINE_CHARS:,} characters; not read"
    assert session.execute(select(RejectedRow.raw)).scalars().all() == ["(not kept)"]


def test_rejected_rows_with_nul_and_surrogates_are_stored_on_every_database(
    session: Session, tmp_path: Path
) -> None:
    rows = [claim_row(1), {**claim_row(2), "dept_code": "a\x00b"}, {**claim_row(3), "claim_id": "C\ud800"}]
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (1, 2)
    raws = session.execute(select(RejectedRow.raw).order_by(RejectedRow.row)).scalars().all()
    assert "a\\u0000b" in raws[0] and "\\ud800" in raws[1]


def test_an_encoding_error_names_its_line(session: Session, tmp_path: Path) -> None:
    path = write_table(tmp_path / "claims.csv", [claim_row(n) for n in range(3000)])
    path.write_bytes(path.read_bytes() + b"C9,\xff\xfe\n")
    with pytest.raises(DataFileError, match=r"line 3002: bytes that are not utf-8 text"):
        import_file(path, kind="claims", session=session)
    assert count(session, ImportBatch) == 0


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_utf16_files_are_read(session: Session, tmp_path: Path, delimiter: str) -> None:
    rows = [claim_row(n, dept_code="心内科") for n in range(3)]
    header = [f.name for f in CLAIM_FIELDS]
    text = "\n".join(delimiter.join(r.get(h, "") for h in header) for r in [{h: h for h in header}, *rows])
    path = tmp_path / "claims.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + (text + "\n").encode("utf-16-le"))
    report = import_file(path, kind="claims", session=session)
    assert (report.encoding, report.rows_ok, report.rows_rejected) == ("utf-16", 3, 0)
    assert session.execute(select(Claim.dept_code)).scalars().all() == ["心内科"] * 3


def test_utf16_errors_name_their_line(session: Session, tmp_path: Path) -> None:
    text = "".join(",".join(claim_row(n).values()) + "\n" for n in range(3))
    header = ",".join(claim_row(0)) + "\n"
    data = codecs.BOM_UTF16_LE + (header + text).encode("utf-16-le") + b"\x00\xdc"  # a lone low surrogate
    path = tmp_path / "claims.csv"
    path.write_bytes(data + "C1\n".encode("utf-16-le"))
    with pytest.raises(DataFileError, match=r"line 5: bytes that are not utf-16 text"):
        import_file(path, kind="claims", session=session)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("claim_id,age\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        ("claim_id,age\n".encode("utf-32"), "UTF-32 text is not supported"),
        (b"PK\x03\x04\x14\x00\x00\x00", r"this is a ZIP archive \(an XLSX workbook\?\)"),
    ],
)
def test_unreadable_encodings_are_refused_by_name(
    session: Session, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "claims.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message):
        import_file(path, kind="claims", session=session)


def test_jsonl_hostile_lines(session: Session, tmp_path: Path) -> None:
    good = json.dumps(claim_row(1))
    lines = [
        good,
        json.dumps(claim_row(2))[:-1] + ', "age": "30"}',  # a key given twice
        "[" * 100_000 + "]" * 100_000,  # nested too deeply
        json.dumps({**claim_row(3), "total_cost": 1e400}).replace("Infinity", "1e400"),
        json.dumps({**claim_row(4), "fee_drug": float("nan")}),  # NaN
        json.dumps({**claim_row(5), "secondary_dx": [["I10.x05"]]}),
        '"just a string"',
    ]
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(path, kind="claims", session=session)
    assert (report.rows_ok, report.rows_rejected) == (1, 6)
    errors = [str(e) for e in report.first_errors]
    assert errors[0] == f"{path}:2: row: key 'age' appears twice in the object"
    assert errors[1] == f"{path}:3: row: not valid JSON (nested too deeply)"
    assert errors[2] == f"{path}:4: total_cost: inf is not a finite number"
    assert errors[3] == f"{path}:5: fee_drug: nan is not a finite number"
    assert errors[4] == f"{path}:6: secondary_dx: ['I10.x05'] is not a single value"
    assert errors[5] == f"{path}:7: row: a JSON str, not an object"


def test_unprintable_unknown_columns_are_shown_escaped(session: Session, tmp_path: Path) -> None:
    row = {**claim_row(1), "x\x1b[2J": "1", "note": "2"}
    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    report = import_file(path, kind="claims", session=session)
    assert report.warnings == [f"{path}: unknown fields ignored: note, 'x\\x1b[2J'"]


# -- all rows rejected (issue 15) ---------------------------------------------------------------------


def test_every_row_rejected_records_no_batch(session: Session, tmp_path: Path) -> None:
    path = write_table(tmp_path / "claims.csv", [claim_row(n, age="x") for n in range(3)])
    report = import_file(path, kind="claims", session=session)
    assert report.batch_id is None
    assert report.nothing_imported == "every row was rejected (3 of 3)"
    assert report.rejects_path == tmp_path / "claims.rejects.csv"
    assert len(report.rejects_path.read_text(encoding="utf-8-sig").splitlines()) == 4
    for model in (ImportBatch, Claim, RejectedRow):
        assert count(session, model) == 0
    # Nothing was recorded, so the same file is not "already imported".
    assert import_file(path, kind="claims", session=session).already_imported is False


def test_cli_exits_1_when_every_row_is_rejected(db_url: str, session: Session, tmp_path: Path) -> None:
    write_table(tmp_path / "claims.csv", [claim_row(n, gender="7") for n in range(2)])
    write_table(
        tmp_path / "hospitals.csv", [{"hospital_id": "H'1", "name": "x", "region": "510100", "level": "3"}]
    )
    header_only = tmp_path / "empty.csv"
    header_only.write_text(",".join(claim_row(0)) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["import", "claims", str(tmp_path / "claims.csv"), str(header_only), "--db", db_url]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{tmp_path / 'claims.csv'}: nothing imported: every row was rejected (2 of 2); no batch was recorded"
        f" → {tmp_path / 'claims.rejects.csv'}"
    )
    assert lines[1] == f"{tmp_path / 'claims.csv'}:2: gender: '7' is not one of 1, 2"
    assert f"{header_only}: nothing imported: the file has no data rows; no batch was recorded" in lines
    result = runner.invoke(app, ["import", "hospitals", str(tmp_path / "hospitals.csv"), "--db", db_url])
    assert result.exit_code == 1 and "holds a quote" in result.stderr
    assert count(session, ImportBatch) == 0 and count(session, Hospital) == 0


def test_screen_files_refuses_a_claims_file_with_nothing_to_screen(tmp_path: Path) -> None:
    write_table(tmp_path / "claims.csv", [claim_row(1, age="x")])
    write_table(
        tmp_path / "hospitals.csv", [{"hospital_id": "H000", "name": "x", "region": "510100", "level": "3"}]
    )
    groups = [{"region": "510100", "scheme": "DRG", "group_code": "FM19", "weight": "1", "avg_cost": "9000"}]
    write_table(tmp_path / "groups.csv", groups)
    result = runner.invoke(
        app,
        [
            "screen",
            str(tmp_path / "claims.csv"),
            "--hospitals",
            str(tmp_path / "hospitals.csv"),
            "--groups",
            str(tmp_path / "groups.csv"),
        ],
    )
    assert result.exit_code == 1
    assert "nothing to screen: every row was rejected (1 of 1); first:" in result.stderr
    assert "age: 'x' is not a whole number" in result.stderr


# -- the fast column paths agree with the per-value converters on anything ------------------------------

_HOSTILE_CHARS = st.sampled_from(
    ["", " ", "0", "9", "５", "٣", "_", ".", "e", "E+", "-", "+", "|", "x", "A", "Z", ",", '"', "'", "\\", "\n",
     "\t", "\x00", "\x1b", "\u202e", "\ud800", "科", "/", ":", "*", "年", "月", "日", "T", "1e400"]
)  # fmt: skip


def _cell(base: str) -> st.SearchStrategy[str]:
    mutated = st.tuples(st.integers(0, len(base)), st.integers(0, 3), st.lists(_HOSTILE_CHARS, max_size=3))
    return st.one_of(
        st.just(base),
        mutated.map(lambda m: base[: m[0]] + "".join(m[2]) + base[m[0] + m[1] :]),
        st.text(max_size=12),
    )


@st.composite
def _column_rows(draw: st.DrawFn) -> list[list[str]]:
    rows = []
    for n in range(draw(st.integers(1, 6))):
        base = claim_row(n)
        fields = draw(st.lists(st.sampled_from(list(base)), max_size=4, unique=True))
        rows.append([draw(_cell(base[name])) if name in fields else base[name] for name in base])
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_column_rows())
def test_fast_paths_never_accept_what_the_per_value_path_rejects(rows: list[list[str]]) -> None:
    converter = RowConverter("claims", "f.csv")
    header = list(claim_row(0))
    chunk = converter.convert(list(enumerate(rows, start=2)), header)
    for position, values in enumerate(rows):
        single = converter(position + 2, dict(zip(header, values, strict=True)))
        if isinstance(single, list):
            assert [str(e) for e in chunk.errors[position]] == [str(e) for e in single]
        else:
            assert position not in chunk.errors
            assert chunk.record(position) == single
            _assert_canonical(single)


def _assert_canonical(record: dict) -> None:
    """What the importer accepts: ids of the id alphabet, no control characters, dates and numbers in range."""
    for spec in CLAIM_FIELDS:
        value = record[spec.name]
        if value is None:
            continue
        if spec.type in ("id", "text", "region", "dx", "px", "enum"):
            assert _FORBIDDEN_RE.search(value) is None and value == value.strip(), (spec.name, value)
        if spec.type == "date":
            assert EARLIEST_DATE <= value <= LATEST_DATE
        if spec.type in ("int", "decimal"):
            assert spec.minimum <= value <= spec.maximum, (spec.name, value)
