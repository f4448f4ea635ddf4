"""Row validation: every check, exact messages, all errors of a row, and fast path = per-value path."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drgaudit.ingest.rows as rows_module
from drgaudit.contract import CLAIM_FIELDS
from drgaudit.ingest.readers import ColumnBlock, RowSource
from drgaudit.ingest.rows import (
    FEE_SUM_TOLERANCE_RATIO,
    FEE_SUM_TOLERANCE_YUAN,
    RowConverter,
    fee_sum_limit,
)


def errors_of(raw: dict, kind: str = "claims", row: int = 7) -> list[str]:
    result = RowConverter(kind, "f.csv")(row, raw)
    assert isinstance(result, list), result
    return [str(e) for e in result]


def record_of(raw: dict, kind: str = "claims") -> dict:
    result = RowConverter(kind, "f.csv")(2, raw)
    assert isinstance(result, dict), result
    return result


def test_valid_claim_becomes_the_canonical_record(make_claim) -> None:
    record = record_of(make_claim(4, dept_code=" 心内科 ", secondary_dx="I10.x05|E11.900", icu_hours="12.5"))
    assert list(record) == [f.name for f in CLAIM_FIELDS]
    assert record["claim_id"] == "C000004"
    assert record["gender"] == "1"
    assert record["age"] == 24
    assert record["age_days"] is None
    assert record["dept_code"] == "心内科"
    assert record["admit_date"] == date(2025, 1, 5)
    assert record["secondary_dx"] == ["I10.x05", "E11.900"]
    assert record["procedures"] == []
    assert record["icu_hours"] == 12.5
    assert record["total_cost"] == 3148.0
    assert record["fee_lab"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"claim_id": "  "}, "claim_id: missing (required)"),
        ({"age": "abc"}, "age: 'abc' is not a whole number"),
        ({"age": "41.5"}, "age: '41.5' is not a whole number"),
        ({"age": "-1"}, "age: -1 is negative"),
        ({"gender": "M"}, "gender: 'M' is not one of 1, 2"),
        ({"insurance_type": "other"}, "insurance_type: 'other' is not one of employee, resident"),
        ({"insured_region": "51010"}, "insured_region: '51010' is not a 6-digit region code"),
        (
            {"admit_date": "03/01/2025"},
            "admit_date: '03/01/2025' is not a date: day and month may be either way round; "
            "write YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日",
        ),
        ({"admit_date": "2025-02-30"}, "admit_date: '2025-02-30' is not a valid date"),
        (
            {"admit_date": "2025-03"},
            "admit_date: '2025-03' is not a date (YYYY-MM-DD; also read: YYYY/M/D, YYYYMMDD, YYYY年M月D日)",
        ),
        (
            {"admit_date": "2025-03-05", "discharge_date": "2025-03-01"},
            "discharge_date: 2025-03-01 is before admit_date 2025-03-05",
        ),
        ({"principal_dx": "i21.000"}, "principal_dx: 'i21.000' is not an ICD-10 code"),
        ({"secondary_dx": "I10.x05|K2"}, "secondary_dx: item 2 'K2' is not an ICD-10 code"),
        ({"secondary_dx": "X|I10.x05|Y"}, "secondary_dx: items 1 'X', 3 'Y' are not ICD-10 codes"),
        ({"procedures": "36.0600|AB.12"}, "procedures: item 2 'AB.12' is not an ICD-9-CM-3 code"),
        ({"icu_hours": "nan"}, "icu_hours: 'nan' is not a number"),
        (
            {"total_cost": "1,000"},
            "total_cost: '1,000' is not a number (no thousands separators: write 1000)",
        ),
        ({"fee_drug": "-0.5"}, "fee_drug: -0.5 is negative"),
        ({"payment_scheme": "DIP", "group_code": ""}, "group_code: missing (required for DIP claims)"),
        ({"discharge_mode": "7"}, "discharge_mode: '7' is not one of 1, 2, 3, 4, 5, 9"),
    ],
)
def test_one_error(overrides: dict, message: str, make_claim) -> None:
    assert errors_of(make_claim(1, **overrides)) == [f"f.csv:7: {message}"]


def test_every_error_of_a_row_is_reported(make_claim) -> None:
    raw = make_claim(1, patient_id="", age="x", treatment_region="ABCDEF", procedures="1", total_cost="")
    assert errors_of(raw) == [
        "f.csv:7: patient_id: missing (required)",
        "f.csv:7: age: 'x' is not a whole number",
        "f.csv:7: treatment_region: 'ABCDEF' is not a 6-digit region code",
        "f.csv:7: procedures: item 1 '1' is not an ICD-9-CM-3 code",
        "f.csv:7: total_cost: missing (required)",
    ]


def test_group_code_only_required_for_drg_and_dip(make_claim) -> None:
    assert record_of(make_claim(1, payment_scheme="FFS", group_code=""))["group_code"] is None
    assert record_of(make_claim(1, payment_scheme="PER_DIEM", group_code=""))["group_code"] is None


def test_enums_ignore_case_and_blanks(make_claim) -> None:
    record = record_of(make_claim(1, payment_scheme=" drg ", insurance_type="Employee"))
    assert (record["payment_scheme"], record["insurance_type"]) == ("DRG", "employee")


def test_datetime_is_accepted_and_its_date_used(make_claim) -> None:
    record = record_of(make_claim(1, admit_date="2025-01-02T08:30:00", discharge_date="2025-01-04 17:05"))
    assert (record["admit_date"], record["discharge_date"]) == (date(2025, 1, 2), date(2025, 1, 4))


def test_money_is_rounded_to_two_places(make_claim) -> None:
    record = record_of(make_claim(1, total_cost="3037.456", fee_bed=" 100.004 "))
    assert (record["total_cost"], record["fee_bed"]) == (3037.46, 100.0)


def test_fee_sum_tolerance(make_claim) -> None:
    assert (FEE_SUM_TOLERANCE_RATIO, FEE_SUM_TOLERANCE_YUAN) == (0.01, 1.0)
    assert fee_sum_limit(1000.0) == 1011.0
    fees = {
        f"fee_{name}": "" for name in ("drug", "material", "lab", "exam", "treatment", "surgery", "nursing")
    }
    at_limit = make_claim(1, total_cost="1000.00", **fees, fee_bed="600.00", fee_other="411.00")
    assert record_of(at_limit)["fee_other"] == 411.0
    over = make_claim(1, total_cost="1000.00", **fees, fee_bed="600.00", fee_other="411.01")
    assert errors_of(over) == [
        "f.csv:7: total_cost: 1000.00 is below the sum of the fee_* categories, 1011.01"
    ]


def test_hospital_and_group_rows() -> None:
    hospital = record_of(
        {
            "hospital_id": "H1",
            "name": "华西",
            "region": "510100",
            "level": "3",
            "designated_on": "2024-07-01",
            "regional_center": "是",
            "coaching_until": "2025-07-31",
        },
        "hospitals",
    )
    assert hospital == {
        "hospital_id": "H1",
        "name": "华西",
        "region": "510100",
        "level": "3",
        "designated_on": date(2024, 7, 1),
        "regional_center": True,
        "coaching_until": date(2025, 7, 31),
    }
    assert errors_of(
        {"hospital_id": "H1", "name": "", "region": "5101", "level": "4", "regional_center": "maybe"},
        "hospitals",
    ) == [
        "f.csv:7: name: missing (required)",
        "f.csv:7: region: '5101' is not a 6-digit region code",
        "f.csv:7: level: '4' is not one of 1, 2, 3",
        "f.csv:7: regional_center: 'maybe' is not yes/no (1/0, true/false)",
    ]
    group = record_of(
        {
            "region": "510100",
            "scheme": "DRG",
            "group_code": "FM19",
            "weight": "1.2345",
            "avg_cost": "23456.789",
        },
        "groups",
    )
    assert (group["weight"], group["avg_cost"], group["avg_los"], group["name"]) == (
        1.2345,
        23456.79,
        None,
        None,
    )


def test_values_from_json_and_excel(make_claim) -> None:
    raw = {
        **make_claim(1),
        "age": 33,
        "gender": 2.0,
        "insured_region": 510100,
        "admit_date": datetime(2025, 1, 2, 9, 0),
        "discharge_date": date(2025, 1, 3),
        "total_cost": 5000,
        "secondary_dx": ["I10.x05", " E11.900 "],
        "icu_hours": None,
    }
    record = record_of(raw)
    assert (record["age"], record["gender"], record["insured_region"]) == (33, "2", "510100")
    assert (record["admit_date"], record["discharge_date"]) == (date(2025, 1, 2), date(2025, 1, 3))
    assert (record["total_cost"], record["secondary_dx"], record["icu_hours"]) == (
        5000.0,
        ["I10.x05", "E11.900"],
        None,
    )
    assert errors_of({**make_claim(1), "age": True, "claim_id": ["a"]}) == [
        "f.csv:7: claim_id: ['a'] is not a single value",
        "f.csv:7: age: True is not a whole number",
    ]
    # A TRUE/FALSE cell where a code or a number is wanted is named for what it is.
    assert errors_of({**make_claim(1), "gender": True, "principal_dx": False}) == [
        "f.csv:7: gender: True is a true/false value, not text or a number",
        "f.csv:7: principal_dx: False is a true/false value, not text or a number",
    ]
    # JSON's NaN and Infinity (or 1e400) are no id or code: refused, never stored as 'nan' or 'inf'.
    nan, inf = float("nan"), float("inf")
    assert errors_of({**make_claim(1), "claim_id": nan, "patient_id": inf, "dept_code": -inf}) == [
        "f.csv:7: claim_id: nan is not text or a finite number",
        "f.csv:7: patient_id: inf is not text or a finite number",
        "f.csv:7: dept_code: -inf is not text or a finite number",
    ]


def test_a_whole_chunk_gives_the_same_records_as_one_row_at_a_time(make_claim) -> None:
    # Rows that take every column's fast path, and rows that make some columns fall back.
    rows = [make_claim(n) for n in range(40)]
    rows += [
        make_claim(
            40,
            age=" 41 ",
            secondary_dx=" I10.x05 | E11.900",
            total_cost="4480.456",
            admit_date="2025-01-01 08:00",
        ),
        make_claim(41, gender=" 2", payment_scheme="dip", procedures="36.0600||96.0800x005", fee_bed="7"),
        make_claim(42, age="x", insured_region="123"),
    ]
    converter = RowConverter("claims", "f.csv")
    header = list(rows[0])
    as_dicts = converter.convert(list(enumerate(rows, start=2)), header)
    as_lists = converter.convert([(n, list(raw.values())) for n, raw in enumerate(rows, start=2)], header)
    assert as_lists.raw is not None and as_dicts.raw is None
    one_by_one = [converter(n, raw) for n, raw in enumerate(rows, start=2)]
    for chunk in (as_dicts, as_lists):
        for position, single in enumerate(one_by_one):
            if isinstance(single, list):
                assert [str(e) for e in chunk.errors[position]] == [str(e) for e in single]
            else:
                assert position not in chunk.errors
                assert chunk.record(position) == single
        assert chunk.record(40)["secondary_dx"] == ["I10.x05", "E11.900"]
        assert chunk.record(41)["procedures"] == ["36.0600", "96.0800x005"]
        assert chunk.good == list(range(42))


def test_columns_blank_in_the_whole_chunk_are_missing_values(make_claim) -> None:
    # Optional fields of every type blank (or absent) in every row, and a required one: the same
    # records and errors as one row at a time.
    blank = {"age_days": "", "fee_lab": "", "secondary_dx": "", "dept_code": "", "readmit_plan_31d": ""}
    rows = [make_claim(n, **blank, icu_hours=None, principal_dx=" ") for n in range(5)]
    rows += [make_claim(n, **blank, icu_hours=None) for n in range(5, 9)]
    converter = RowConverter("claims", "f.csv")
    header = list(rows[0])
    assert "icu_hours" not in header
    for chunk_rows in (rows[:5], rows[5:]):
        chunk = converter.convert(
            [(n, list(raw.values())) for n, raw in enumerate(chunk_rows, start=2)], header
        )
        for position, raw in enumerate(chunk_rows):
            single = converter(position + 2, raw)
            if isinstance(single, list):
                assert [str(e) for e in chunk.errors[position]] == [str(e) for e in single]
                assert [e.field for e in single] == ["principal_dx"]
            else:
                assert chunk.record(position) == single
                assert (
                    single["secondary_dx"] == []
                    and single["age_days"] is None
                    and single["icu_hours"] is None
                )


def test_fingerprints_follow_the_content(make_claim) -> None:
    converter = RowConverter("claims", "f.csv")
    rows = [
        make_claim(3),
        make_claim(3, total_cost="3111.0", admit_date="2025-01-04T00:00:00"),
        make_claim(3, dept_code="D9"),
    ]
    header = list(rows[0])
    as_text = converter.convert([(n, list(r.values())) for n, r in enumerate(rows)], header).hashes([0, 1, 2])
    as_values = converter.convert(list(enumerate(rows)), header).hashes([0, 1, 2])
    assert as_values[0] == as_values[1]  # the same values as canonical text
    assert as_text[0] != as_text[1]  # the same values written differently: then compared value by value
    assert as_text[2] not in (as_text[0], as_text[1]) and as_values[2] != as_values[0]
    assert len(as_text[0]) == 32


# Texts near the edges of the numeric, id and code-list fast paths.
_EDGE_TEXTS = [
    *["0", "007", "12", "12.0", "12.", ".5", ".", "5..", "1.2.3", "12.345", "12.34", "12.3456", "0.10"],
    *["-5", "+3", "1e3", "1E+12", "2.5e-3", "nan", "inf", " 12 ", "1_000", "12,5", "１２", "٣", "9" * 25],
    *["C0001", "a" * 64, "a" * 65, "P:1/2*3+4~5-6_7", "C 1", "c'1", "é", "Ｐ1", "5.10101E+19", "x\x01"],
    *["I10.x05", "I10.x05|E11.900", "I10.x05||E11.900", "I10.x05|", " I10.x05", "|".join(["I10"] * 101)],
    *["36.0600", "|".join(["36.0600"] * 100), "96.0800x005|36.0600", "2025-01-28", ""],
    *["2025-02-30", "2025-01-29", "1800-01-01", "2999-01-01", "2025-1-28", "2025-01-28 08:00", "20250128"],
]


_FAST_FIELDS = [f for f in CLAIM_FIELDS if f.type in ("int", "decimal", "id", "list", "date")]


def _well_formed(field) -> str:
    """A value of the field that the fast path takes."""
    if field.type == "list":
        return "36.0600|96.0800x005" if field.item == "px" else "I10.x05|E11.900"
    return {"int": "42", "decimal": "3111.50", "id": "C000000001", "date": "2025-01-28"}[field.type]


def _check_column_fast_path(field, texts: list[str]) -> None:
    """Whenever the fast path takes a column of well-formed values and these texts, every value is
    what the per-value converter makes of it."""
    column = [_well_formed(field)] * 3 + texts
    plan = next(p for p in RowConverter("claims", "f.csv")._plan if p.name == field.name)
    values, errors, fast = plan.column(column)
    if fast:
        assert not errors
        assert values == [plan.convert(v) if v else ([] if plan.is_list else None) for v in column]


@pytest.mark.parametrize("field", _FAST_FIELDS, ids=lambda f: f.name)
def test_a_column_fast_path_reads_what_the_per_value_converter_reads(field) -> None:
    for text in _EDGE_TEXTS:
        _check_column_fast_path(field, [text])


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(_FAST_FIELDS),
    texts=st.lists(
        st.one_of(st.sampled_from(_EDGE_TEXTS), st.text(alphabet="0123456789.+-eE _|xI", max_size=8)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_column_fast_path_reads_what_the_per_value_converter_reads_generated(field, texts) -> None:
    _check_column_fast_path(field, texts)


def test_a_column_block_converts_and_fingerprints_as_its_rows(make_claim, tmp_path) -> None:
    # Plain CSV lines read as a ColumnBlock: the same records, errors and fingerprints as the rows
    # read one by one (fingerprints from the lines themselves when the header is the fields in order).
    rows = [make_claim(n) for n in range(30)] + [make_claim(30, age="x"), make_claim(31, total_cost="")]
    header = [f.name for f in CLAIM_FIELDS]
    for names in (header, header[::-1]):
        path = tmp_path / "f.csv"
        lines = [",".join(names)] + [",".join(str(raw.get(name, "")) for name in names) for raw in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with RowSource(path) as source:
            (block,) = list(source.iter_blocks(100))
            assert isinstance(block, ColumnBlock)
            converter = RowConverter("claims", "f.csv")
            as_block = converter.convert(block, source.header)
            as_rows = converter.convert(list(block), source.header)
        assert (as_block.lines_text is not None) == (names == header)
        assert as_block.good == as_rows.good == list(range(30))
        assert [str(e) for e in as_block.errors[30]] == [str(e) for e in as_rows.errors[30]]
        assert as_block.hashes(as_block.good) == as_rows.hashes(as_rows.good)
        assert [as_block.record(i) for i in as_block.good] == [as_rows.record(i) for i in as_rows.good]


@pytest.mark.parametrize("quoted", ['"D,1"', '"D\n1"', '"D1"'])
def test_a_column_block_with_quoted_lines_fingerprints_as_its_rows(make_claim, tmp_path, quoted: str) -> None:
    # A chunk of plain lines with a few quoted ones read by the csv reader: its text (the values
    # joined by commas) is left out when a value holds a comma or a line end; the same fingerprints.
    header = [f.name for f in CLAIM_FIELDS]
    rows = [make_claim(n) for n in range(30)]
    lines = [",".join(header)] + [",".join(str(raw.get(name, "")) for name in header) for raw in rows]
    for n in (5, 17):  # the claim_id of rows 4 and 16
        lines[n] = quoted + lines[n][lines[n].index(",") :]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with RowSource(path) as source:
        (block,) = list(source.iter_blocks(100))
        assert isinstance(block, ColumnBlock)
        converter = RowConverter("claims", "f.csv")
        as_block = converter.convert(block, source.header)
        as_rows = converter.convert(list(block), source.header)
    assert block[4][1][0] == quoted[1:-1]
    assert (as_block.lines_text is None) == (quoted != '"D1"')
    assert as_block.good == as_rows.good
    assert as_block.hashes(as_block.good) == as_rows.hashes(as_rows.good)


def test_a_column_block_with_rows_that_do_not_fit_converts_as_its_rows(make_claim, tmp_path) -> None:
    # Rows that do not fit the header (too many values, too few, extra blank ones) among plain lines:
    # the block keeps them by position and converts as its rows do, fingerprints from the values.
    header = [f.name for f in CLAIM_FIELDS]
    rows = [make_claim(n) for n in range(30)]
    lines = [",".join(header)] + [",".join(str(raw.get(name, "")) for name in header) for raw in rows]
    lines[3] += ",extra"  # a problem: more values than columns
    lines[9] = lines[9].rsplit(",", 2)[0]  # a problem: a short row
    lines[12] += ",,"  # extra blank values: a row like the others
    lines[20] = lines[20].replace(",", ",x", 1)  # a field error (patient_id "x…")
    age = header.index("age")
    cells = lines[25].split(",")
    cells[age] = "040"  # a text other than the value's: a fingerprint from the values differs
    lines[25] = ",".join(cells)
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with RowSource(path) as source:
        (block,) = list(source.iter_blocks(100))
        assert isinstance(block, ColumnBlock) and sorted(block.misfits) == [2, 8, 11]
        converter = RowConverter("claims", "f.csv")
        as_block = converter.convert(block, source.header)
        as_rows = converter.convert(list(block), source.header)
    assert as_block.good == as_rows.good
    assert {i: [str(e) for e in errors] for i, errors in as_block.errors.items()} == {
        i: [str(e) for e in errors] for i, errors in as_rows.errors.items()
    }
    assert 2 in as_block.errors and 8 in as_block.errors and 11 not in as_block.errors
    assert as_block.hashes(as_block.good) == as_rows.hashes(as_rows.good)
    assert [as_block.record(i) for i in as_block.good] == [as_rows.record(i) for i in as_rows.good]


def _value_by_value(plan, column):
    """What converting each value on its own gives: the values, and the reason of each bad one."""
    values, errors = [], {}
    for i, value in enumerate(column):
        if value in ("", None):
            values.append([] if plan.is_list else None)
            continue
        try:
            values.append(plan.convert(value))
        except rows_module._Invalid as exc:
            errors[i] = exc.reason
            values.append([] if plan.is_list else None)
    return values, errors


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(_FAST_FIELDS),
    texts=st.lists(
        st.one_of(
            st.just("good"),
            st.just("good"),
            st.just("good"),
            st.sampled_from(_EDGE_TEXTS),
        ),
        min_size=0,
        max_size=120,
    ),
    parts=st.integers(min_value=2, max_value=5),
    small_run=st.integers(min_value=1, max_value=9),
)
def test_a_column_with_a_few_bad_values_reads_as_its_values_one_by_one(
    field, texts, parts, small_run
) -> None:
    # A column the fast path refuses is cut in parts, the parts it takes read that way and the others
    # cut again (`_FieldPlan._parts`): the same values and the same errors, at the same positions, as
    # each value converted on its own, however the column is cut.
    column = [_well_formed(field) if text == "good" else text for text in texts]
    plan = next(p for p in RowConverter("claims", "f.csv")._plan if p.name == field.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rows_module, "PARTS", parts)
        patch.setattr(rows_module, "SMALL_RUN", small_run)
        values, errors, fast = plan.column(column)
    expected_values, expected_errors = _value_by_value(plan, column)
    assert errors == expected_errors
    assert values == expected_values
    if expected_errors:
        assert not fast  # a column with a bad value: its raw texts are not canonical


def test_a_chunk_with_a_bad_value_converts_most_of_its_column_the_fast_way(monkeypatch) -> None:
    # One bad date among 10,000: the per-value converter sees a short run around it, not the column.
    column = ["2025-01-28"] * 10_000
    column[6_789] = "2025-02-30"
    plan = next(p for p in RowConverter("claims", "f.csv")._plan if p.name == "admit_date")
    seen: list[int] = []  # how many values each run converted value by value
    real = rows_module._FieldPlan._each

    def each(self, raw, offset, values, errors) -> None:
        seen.append(len(raw))
        real(self, raw, offset, values, errors)

    monkeypatch.setattr(rows_module._FieldPlan, "_each", each)
    values, errors, fast = plan.column(column)
    assert errors == {6_789: _value_by_value(plan, ["2025-02-30"])[1][0]}
    assert values[6_789] is None and values[0] == date(2025, 1, 28) and len(values) == 10_000
    assert not fast
    assert len(seen) == 1 and 0 < seen[0] <= rows_module.SMALL_RUN


def test_bad_values_crowded_in_one_part_keep_their_positions() -> None:
    # Cut in 4, one part refused (not many); cut again, most of its parts refused (many): those go
    # value by value, their errors at their places in the whole column.
    column = ["2025-01-28"] * 64
    for i in (33, 37, 41, 50):
        column[i] = "2025-02-30"
    plan = next(p for p in RowConverter("claims", "f.csv")._plan if p.name == "discharge_date")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rows_module, "PARTS", 4)
        patch.setattr(rows_module, "SMALL_RUN", 2)
        values, errors, fast = plan.column(column)
    assert (values, errors) == _value_by_value(plan, column)
    assert sorted(errors) == [33, 37, 41, 50] and not fast
