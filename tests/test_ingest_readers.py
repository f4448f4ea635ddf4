"""Streaming readers: formats, encodings, row numbers as a person counts them, broken rows and files."""

from __future__ import annotations

import codecs
import tempfile
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from drgaudit.errors import DataFileError
from drgaudit.ingest.readers import (
    RAW_LINE,
    ROW_PROBLEM,
    ColumnBlock,
    RowSource,
    detect_encoding,
    estimate_rows,
)


def rows_of(path: Path) -> list[tuple[int, dict]]:
    with RowSource(path) as source:
        return list(source)


def test_detect_encoding() -> None:
    text = "claim_id,dept_code\nC1,心内科\n"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("gb18030")) == "gb18030"
    assert detect_encoding(text.encode("gbk")) == "gb18030"
    assert detect_encoding(b"claim_id\nC1\n") == "utf-8"
    # A sample that ends inside a multibyte character is still UTF-8.
    assert detect_encoding(text.encode("utf-8")[:-3]) == "utf-8"
    assert detect_encoding(text.encode("utf-16")) == "utf-16"  # with its byte-order mark
    with pytest.raises(UnicodeError, match="UTF-16 text without a byte-order mark"):
        detect_encoding(text.encode("utf-16-le"))
    with pytest.raises(UnicodeError, match="UTF-32"):
        detect_encoding(text.encode("utf-32"))
    with pytest.raises(UnicodeError, match="ZIP archive"):
        detect_encoding(b"PK\x03\x04\x14\x00\x06\x00")


def test_csv_rows_are_numbered_as_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,x\n\n2,"two\nlines"\n3,y\n,\n4,z\n', encoding="utf-8")
    assert rows_of(path) == [
        (2, {"a": "1", "b": "x"}),
        (4, {"a": "2", "b": "two\nlines"}),
        (6, {"a": "3", "b": "y"}),
        (8, {"a": "4", "b": "z"}),
    ]


def test_csv_header_is_trimmed_and_lowercased(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(codecs.BOM_UTF8 + b" Claim_ID ,Age,,\r\nC1,5,,\r\n")
    with RowSource(path) as source:
        assert source.header == ["claim_id", "age"]
        assert source.encoding == "utf-8-sig"
        assert list(source) == [(2, {"claim_id": "C1", "age": "5"})]


def test_ragged_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2\n1,2,3,4\n1,2,3,,\n", encoding="utf-8")
    rows = rows_of(path)
    assert rows[0] == (
        2,
        {
            "a": "1",
            "b": "2",
            ROW_PROBLEM: "2 values but the header has 3 columns (a short row: was the file cut off?)",
            RAW_LINE: "1,2\r\n",
        },
    )
    assert rows[1] == (
        3,
        {
            "a": "1",
            "b": "2",
            "c": "3",
            ROW_PROBLEM: "4 values but the header has 3 columns",
            RAW_LINE: "1,2,3,4\r\n",
        },
    )
    assert rows[2] == (4, {"a": "1", "b": "2", "c": "3"})


def test_gb18030_csv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("hospital_id,name\nH1,四川大学华西医院\n".encode("gb18030"))
    with RowSource(path) as source:
        assert source.encoding == "gb18030"
        assert list(source) == [(2, {"hospital_id": "H1", "name": "四川大学华西医院"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no header row"),
        (b"\n\n", "no header row"),
        (b"a,b,a\n1,2,3\n", "column 'a' appears twice in the header"),
        (b"\xff\xfe\x00\x00a\x00\x00\x00", "UTF-32 text is not supported"),
        (b"a\x00,\x00b\x00\n\x00", "UTF-16 text without a byte-order mark"),
    ],
)
def test_broken_csv_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as caught:
        rows_of(path)
    assert caught.value.path == str(path)


def test_unknown_file_type(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"unknown file type '\.txt'; use \.csv, \.jsonl or \.xlsx"):
        RowSource(tmp_path / "x.txt")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot read: No such file or directory"):
        RowSource(tmp_path / "nope.csv")


def test_jsonl_rows_are_numbered_by_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": [1, 2], "b": null}\nnot json\n"text"\n', encoding="utf-8")
    rows = rows_of(path)
    assert rows[0] == (1, {"a": 1})
    assert rows[1] == (3, {"a": [1, 2], "b": None})
    assert rows[2][0] == 4 and rows[2][1][ROW_PROBLEM].startswith("not valid JSON (")
    assert rows[2][1][RAW_LINE] == "not json\n"
    assert rows[3] == (5, {ROW_PROBLEM: "a JSON str, not an object", RAW_LINE: '"text"\n'})


def test_xlsx_first_sheet_with_gaps(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Claim_ID", "age", None])
    sheet.append(["C1", 40])
    sheet.append([])
    sheet.append([None, None])
    sheet.append(["C2", 41.0, "extra"])
    sheet.cell(row=8, column=1, value="C3")
    book.create_sheet("other").append(["ignored"])
    path = tmp_path / "x.xlsx"
    book.save(path)
    with RowSource(path) as source:
        assert source.header == ["claim_id", "age"]
        assert source.encoding is None
        rows = list(source)
        assert source.fraction_read() == 1.0
    assert rows == [
        (2, {"claim_id": "C1", "age": 40}),
        (
            5,
            {
                "claim_id": "C2",
                "age": 41.0,
                ROW_PROBLEM: "3 values but the header has 2 columns",
                RAW_LINE: "C2,41,extra\r\n",
            },
        ),
        (8, {"claim_id": "C3", "age": None}),
    ]


def test_not_an_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("a,b\n")
    with pytest.raises(DataFileError, match="not a readable XLSX workbook"):
        RowSource(path)


def test_reading_streams_and_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n" + "".join(f"{n}\n" for n in range(200_000)), encoding="utf-8")
    with RowSource(path) as source:
        rows = iter(source)
        for _ in range(1000):
            next(rows)
        early = source.fraction_read()
        remaining = sum(1 for _ in rows)
        assert early < 0.1
        assert source.fraction_read() == 1.0
    assert remaining == 199_000
    assert 140_000 < estimate_rows(path) < 260_000


def _chunks_both_ways(path: Path, size: int) -> tuple[list[list], list[list], list[float], list[float]]:
    """A file's rows in chunks of `size`, by iter_blocks and by iter_raw, and the fraction read after each."""
    with RowSource(path) as source:
        by_blocks, fractions_blocks = [], []
        for chunk in source.iter_blocks(size):
            by_blocks.append([(n, list(raw) if type(raw) is not dict else raw) for n, raw in chunk])
            fractions_blocks.append(source.fraction_read())
    with RowSource(path) as source:
        rows, by_rows, fractions_rows = source.iter_raw(), [], []
        while chunk := list(islice(rows, size)):
            by_rows.append([(n, list(raw) if type(raw) is not dict else raw) for n, raw in chunk])
            fractions_rows.append(source.fraction_read())
    return by_blocks, by_rows, fractions_blocks, fractions_rows


_PLAIN_LINES = ["a,b,c\n", "1,2,3\n", "x,,z\n", ",,\n", "\n", "1,2\n", "1,2,3,4\n", " , ,\n", "é,ü,中\n"]
_ODD_LINES = [
    '"q,1",2,3\n',
    '"multi\nline",2,3\n',
    "1,2,3\r\n",
    "1,2,3\r",
    "1,\x002,3\n",
    'a"b,2,3\n',
    "1,2,3",
    '"x",2,3\n',
    'x,"",3\n',
]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_PLAIN_LINES * 3 + _ODD_LINES), max_size=30),
    size=st.integers(min_value=1, max_value=7),
)
def test_blocks_of_plain_lines_read_as_the_csv_reader_reads_them(lines: list[str], size: int) -> None:
    # Runs of plain lines become ColumnBlocks, anything else takes the csv reader: the same rows,
    # numbers, chunks and progress either way.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_text("h1,h2,h3\n" + "".join(lines), encoding="utf-8", newline="")
        by_blocks, by_rows, fractions_blocks, fractions_rows = _chunks_both_ways(path, size)
    assert by_blocks == by_rows
    assert fractions_blocks == fractions_rows


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_PLAIN_LINES * 3 + _ODD_LINES), max_size=30),
    size=st.integers(min_value=1, max_value=7),
    odd=st.lists(st.integers(min_value=0, max_value=29), max_size=3),
)
def test_crlf_blocks_read_as_the_csv_reader_reads_them(lines: list[str], size: int, odd: list[int]) -> None:
    # A file saved on Windows: every line ends in CRLF but a few (at `odd`) left as they were, so
    # that chunks of CRLF lines only, of LF and CRLF lines, and with a lone CR all occur.
    crlf = [line[:-1] + "\r\n" if line.endswith("\n") and "\r" not in line else line for line in lines]
    for at in odd:
        if at < len(crlf):
            crlf[at] = lines[at]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_text("h1,h2,h3\r\n" + "".join(crlf), encoding="utf-8", newline="")
        by_blocks, by_rows, fractions_blocks, fractions_rows = _chunks_both_ways(path, size)
    assert by_blocks == by_rows
    assert fractions_blocks == fractions_rows


def test_crlf_lines_are_column_blocks_with_lf_text(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\r\n" + b"1,2\r\n" * 3 + b"3,\r\n" + b"4,5\r\n" * 2 + b"6,7\r\n")
    with RowSource(path) as source:
        blocks = list(source.iter_blocks(3))
    assert [type(block) for block in blocks] == [ColumnBlock, ColumnBlock, ColumnBlock]
    assert [block.text for block in blocks] == ["1,2\n1,2\n1,2\n", "3,\n4,5\n4,5\n", "6,7\n"]
    assert [list(block) for block in blocks][1] == [(5, ["3", ""]), (6, ["4", "5"]), (7, ["4", "5"])]
    # A lone CR (a line end to the csv reader) or a last line without its LF: the csv reader reads
    # that line.
    path.write_bytes(b"a,b\r\n1,2\r\n3,4\r5,6\r\n7,8\r")
    with RowSource(path) as source:
        blocks = list(source.iter_blocks(4))
    assert [list(block) for block in blocks] == [
        [(2, ["1", "2"]), (3, ["3", "4"]), (4, ["5", "6"]), (5, ["7", "8"])]
    ]


_GOOD_LINES = ["1,2,3\n", "x,,z\n", "é,ü,中\n", " , ,\n"]


@settings(max_examples=300, deadline=None)
@given(
    good=st.lists(st.sampled_from(_GOOD_LINES), min_size=1, max_size=60),
    odd=st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), st.sampled_from(_ODD_LINES + _PLAIN_LINES)),
        max_size=4,
    ),
    size=st.integers(min_value=1, max_value=70),
    crlf=st.booleans(),
)
def test_a_few_odd_lines_among_plain_ones_read_as_the_csv_reader_reads_them(
    good: list[str], odd: list[tuple[int, str]], size: int, crlf: bool
) -> None:
    # Mostly plain lines (LF or CRLF) with a few odd ones anywhere: the plain lines are split, the odd
    # ones read by the csv reader (a quoted field's line end can take the record into the next lines,
    # past a chunk's end); the same rows, numbers, chunks and progress as the csv reader's.
    lines = [line[:-1] + "\r\n" for line in good] if crlf else list(good)
    for at, line in odd:
        lines.insert(at, line)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_text("h1,h2,h3\n" + "".join(lines), encoding="utf-8", newline="")
        by_blocks, by_rows, fractions_blocks, fractions_rows = _chunks_both_ways(path, size)
    assert by_blocks == by_rows
    assert fractions_blocks == fractions_rows


def test_odd_lines_in_a_chunk_of_plain_ones(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    lines = [f"{n},2,3\r\n" for n in range(60)]
    lines[3] = '"q,1",2,3\r\n'  # a quoted comma: the block has no text
    lines[8:10] = ['"multi\r\n', 'line",2,3\r\n']  # a record of two lines
    lines[24:26] = ['"x\r\n', 'y",2,3\r\n']  # a record that goes on past the chunk's last line
    path.write_text("h1,h2,h3\r\n" + "".join(lines), encoding="utf-8", newline="")
    with RowSource(path) as source:
        blocks = list(source.iter_blocks(25))
    assert [type(block) for block in blocks] == [ColumnBlock, ColumnBlock, ColumnBlock]
    assert [len(block) for block in blocks] == [25, 25, 8]
    assert blocks[0][3] == (5, ["q,1", "2", "3"]) and blocks[0].text is None
    assert blocks[0][8] == (10, ["multi\r\nline", "2", "3"])
    assert blocks[0][9] == (12, ["10", "2", "3"])
    assert blocks[0][23] == (26, ["x\r\ny", "2", "3"])
    assert blocks[0][24] == (28, ["26", "2", "3"])
    assert blocks[1][0] == (29, ["27", "2", "3"])
    assert blocks[2].numbers == list(range(54, 62))
    assert blocks[1].text is not None and blocks[1].text.startswith("27,2,3\n28,2,3\n")
    # Quoted values without commas or line ends: the lines are the values joined by commas.
    path.write_text('h1,h2\n1,2\n1,2\n1,2\n"3",4\n5,6\n', encoding="utf-8", newline="")
    with RowSource(path) as source:
        (block,) = list(source.iter_blocks(10))
    assert isinstance(block, ColumnBlock) and block.text == "1,2\n1,2\n1,2\n3,4\n5,6\n"


def _quoted_line(values: list[str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' for value in values) + "\n"


# Lines that look like every field quoted but are not quite (a quote inside, a field not quoted, a
# separator at the start, ...).
_ALMOST_QUOTED = [
    '","x""\n',
    '"a"b,"c","d"\n',
    '"a,"b","c"\n',
    '"a","b",c\n',
    'a,"b","c"\n',
    '"a","b","c""\n',
]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.lists(st.sampled_from(["", "a", "中"]), min_size=3, max_size=3).map(_quoted_line),
            st.lists(
                st.sampled_from(["", "a", " ", "中", "a,b", 'a"b', "a\nb", "\r"]), min_size=2, max_size=4
            ).map(_quoted_line),
            st.sampled_from(_ALMOST_QUOTED + _GOOD_LINES),
        ),
        max_size=12,
    ),
    size=st.integers(min_value=1, max_value=14),
    crlf=st.booleans(),
    cut=st.booleans(),
)
def test_quoted_lines_read_as_the_csv_reader_reads_them(
    lines: list[str], size: int, crlf: bool, cut: bool
) -> None:
    # Lines with every field quoted, mostly (a chunk of them only, with no quote, comma or line end
    # in a value, is split without the csv reader): the same rows, numbers, chunks and progress.
    # `cut`: the last line without its end.
    if crlf:
        lines = [line[:-1] + "\r\n" for line in lines]
    if cut and lines:
        lines[-1] = lines[-1].rstrip("\r\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_text("h1,h2,h3\n" + "".join(lines), encoding="utf-8", newline="")
        by_blocks, by_rows, fractions_blocks, fractions_rows = _chunks_both_ways(path, size)
    assert by_blocks == by_rows
    assert fractions_blocks == fractions_rows


def test_a_chunk_of_quoted_lines_is_a_column_block(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        '"h1","h2","h3"\r\n"1","","中"\r\n"x","y","z"\r\n"","","w"\r\n', encoding="utf-8", newline=""
    )
    with RowSource(path) as source:
        (block,) = list(source.iter_blocks(10))
    assert isinstance(block, ColumnBlock)
    assert list(block) == [(2, ["1", "", "中"]), (3, ["x", "y", "z"]), (4, ["", "", "w"])]
    assert block.text == "1,,中\nx,y,z\n,,w\n"


def test_plain_blocks_are_column_blocks_and_bad_bytes_are_found(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 20_000 + b"3,\xff\n" + b"4,5\n" * 10)
    with RowSource(path) as source:
        blocks = source.iter_blocks(1000)
        assert isinstance(next(blocks), ColumnBlock)
        with pytest.raises(DataFileError, match="line 20002: bytes that are not utf-8 text"):
            list(blocks)


@pytest.mark.parametrize("odd", _PLAIN_LINES + _ODD_LINES)
def test_one_odd_line_among_plain_ones_reads_as_the_csv_reader_reads_it(tmp_path: Path, odd: str) -> None:
    path = tmp_path / "f.csv"
    for size in (1, 2, 5):
        for at in range(4):
            lines = ["1,2,3\n"] * 4
            lines.insert(at, odd)
            path.write_text("h1,h2,h3\n" + "".join(lines), encoding="utf-8", newline="")
            by_blocks, by_rows, fractions_blocks, fractions_rows = _chunks_both_ways(path, size)
            assert by_blocks == by_rows
            assert fractions_blocks == fractions_rows
