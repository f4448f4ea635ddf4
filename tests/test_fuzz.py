"""A short run of bench/fuzz.py (issue 14): mutated claims files in CSV, JSONL and XLSX give no traceback
and no silent acceptance; the full run (2,000 tries or more) is `python bench/fuzz.py`."""

from __future__ import annotations

from bench.fuzz import fuzz


def test_short_fuzz_finds_no_traceback_and_no_silent_acceptance(db_backend: str, db_url: str) -> None:
    tries = 150 if db_backend == "sqlite" else 45
    summary = fuzz(tries=tries, seed=20261205, url=db_url)
    assert summary.tries == tries
    assert summary.findings == [], summary.findings[:3]
    assert (summary.tracebacks, summary.silent) == (0, 0)
    # The run did meet both kinds of input: bad values refused, harmless ones accepted unchanged.
    assert summary.counts["clean"] > tries // 2 and summary.counts["neutral"] > 0
    assert summary.misnamed == []
