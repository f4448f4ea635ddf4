"""bench/ingest.py: the same claims in every CSV style it writes, and each style imports them all."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench import ingest

STYLES = [("lf", "minimal"), ("crlf", "minimal"), ("lf", "all"), ("crlf", "all")]


def test_every_style_holds_the_same_rows(tmp_path: Path) -> None:
    rows = {}
    for line_end, quote in STYLES:
        path = tmp_path / f"{line_end}-{quote}.csv"
        ingest.generate(path, 400, line_end=line_end, quote=quote)
        raw = path.read_bytes()
        # The style is what was asked: every line ends so, every field quoted or none.
        assert raw.count(b"\r\n") == (401 if line_end == "crlf" else 0)
        assert raw.count(b"\n") == 401
        header = raw.split(b"\n", 1)[0].rstrip(b"\r")
        assert header.startswith(b'"claim_id","patient_id"') == (quote == "all")
        assert (b'"' in raw) == (quote == "all")
        with open(path, encoding="utf-8", newline="") as f:
            rows[(line_end, quote)] = list(csv.reader(f))
    first = rows[STYLES[0]]
    assert len(first) == 401 and first[0][0] == "claim_id"
    assert all(r == first for r in rows.values())


@pytest.mark.parametrize(("line_end", "quote"), STYLES[1:])
def test_each_style_imports_every_claim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line_end: str, quote: str
) -> None:
    argv = ["--rows", "300", "--dir", str(tmp_path), "--line-end", line_end, "--quote", quote]
    assert ingest.main(argv) == 0
    out = capsys.readouterr()
    assert "rows imported:  300 of 300" in out.out
    assert "rejected" not in out.err
    assert (tmp_path / f"claims-300-{line_end}-{quote}.csv").exists()
