"""Evidence digests kept by a stored screen (`casebook.evidence`) are those the queue and the findings would
work out from the stored hits themselves."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from typer.testing import CliRunner

from drgaudit.casebook import screening as casebook_screening
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.evidence import EvidenceDigests, both_hashes, case_hash, finding_hash
from drgaudit.casebook.findings import Finding
from drgaudit.casebook.review_models import ReviewCase, ReviewCaseHit
from drgaudit.casebook.screening import EVIDENCE_TEXT, ScreenHit, evidence_json
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from drgaudit.services.screening import screen_batch

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
EVIDENCE = st.fixed_dictionaries(
    {},
    optional={
        "facts": JSON_VALUES,
        "thresholds": JSON_VALUES,
        "related_claims": JSON_VALUES,
        "other": JSON_VALUES,
    },
)
AMOUNTS = st.integers(min_value=0, max_value=10**12).map(lambda cents: cents / 100)


def as_read(severity: str, action: str, amount: float, evidence: dict[str, Any]) -> SimpleNamespace:
    """A hit as the queue reads it back: the evidence through its stored JSON text."""
    return SimpleNamespace(
        severity=severity, action=action, amount_at_risk=amount, evidence=json.loads(json.dumps(evidence))
    )


@settings(max_examples=300, deadline=None)
@given(severity=st.text(), action=st.text(), amount=AMOUNTS, evidence=EVIDENCE)
def test_both_hashes_are_the_queue_s_and_the_findings_digests(
    severity: str, action: str, amount: float, evidence: dict[str, Any]
) -> None:
    hit = SimpleNamespace(severity=severity, action=action, amount_at_risk=amount, evidence=evidence)
    assert both_hashes(severity, action, amount, evidence) == (case_hash(hit), finding_hash(hit))


@settings(max_examples=200, deadline=None)
@given(severity=st.text(), action=st.text(), amount=AMOUNTS, evidence=EVIDENCE, ordinal=st.integers(0, 50))
def test_kept_digests_are_those_of_the_stored_hit(
    severity: str, action: str, amount: float, evidence: dict[str, Any], ordinal: int
) -> None:
    digests = EvidenceDigests()
    hit = SimpleNamespace(severity=severity, action=action, amount_at_risk=amount, evidence=evidence)
    digests.add(ordinal, "ab" * 16, hit)
    if digests.kept:
        stored = as_read(severity, action, amount, evidence)
        assert digests.get(ordinal, "ab" * 16) == (case_hash(stored), finding_hash(stored))


def test_what_would_not_read_back_as_it_is_is_not_kept() -> None:
    digests = EvidenceDigests()
    plain = {"facts": {"total_cost": 1.5, "codes": ("A", "B")}, "thresholds": {"x": 1}, "related_claims": []}
    cases = {
        0: (12.34, plain),
        1: (12.345, plain),  # PostgreSQL stores the amount rounded to cents
        2: (1.0, {"facts": {1: "an integer key"}}),  # a text key once read back: sorted otherwise
        3: (1.0, {"facts": {"day": dt.date(2025, 1, 2)}}),  # text once read back
        4: (1.0, {"thresholds": {"nested": [{"ok": None}, {2: "no"}]}}),
        5: (7, {"other": object()}),  # only facts, thresholds and related claims count
    }
    for ordinal, (amount, evidence) in cases.items():
        digests.add(
            ordinal,
            f"{ordinal:032x}",
            SimpleNamespace(severity="高", action="hold", amount_at_risk=amount, evidence=evidence),
        )
    assert [ordinal for ordinal in cases if digests.get(ordinal, f"{ordinal:032x}")] == [0, 5]
    assert digests.kept == 2
    # A row is found only by its ordinal with its content hash (a row of an earlier run keeps its ordinal).
    assert digests.get(0, f"{1:032x}") is None
    assert digests.get(6, f"{6:032x}") is None
    assert digests.get(None, f"{0:032x}") is None
    stored = as_read("高", "hold", 12.34, plain)
    assert digests.get(0, f"{0:032x}") == (case_hash(stored), finding_hash(stored))


runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=7, claims=1500)
    return out


def test_a_stored_screen_s_queue_and_findings_have_the_digests_of_its_stored_hits(
    demo_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First screen (the digests kept for every hit) and a re-screen with a changed hit and two rows under
    one ordinal (one of them not found: its evidence is read): every digest is the stored hit's own."""
    for kind in ("hospitals", "groups", "claims"):
        result = runner.invoke(app, ["import", kind, str(demo_dir / f"{kind}.csv"), "--db", db_url])
        assert result.exit_code == 0, result.output
    attached: list[tuple[int, int]] = []  # (hits with kept digests, hits) per call
    real = casebook_screening.attach_evidence

    def counting(session: Session, hits: Any, digests: EvidenceDigests) -> None:
        real(session, hits, digests)
        attached.append((sum(hit.digests is not None for hit in hits), len(hits)))

    for module in ("drgaudit.casebook.review", "drgaudit.casebook.findings"):
        monkeypatch.setattr(f"{module}.attach_evidence", counting)
    engine = make_engine(db_url)
    try:
        for run in (1, 2):
            attached.clear()
            with Session(engine) as session:
                if run == 2:
                    # One hit changes: the second run inserts it. Two unchanged rows share an ordinal:
                    # one of them is not found under it, and its evidence is read.
                    first, second, third = session.exec(
                        select(ScreenHit).order_by(ScreenHit.id).limit(3)
                    ).all()
                    first.content_hash = "0" * 32
                    first.amount_at_risk = first.amount_at_risk + 1
                    second.ordinal = third.ordinal
                    session.add_all([first, second])
                    session.commit()
                output = io.StringIO()
                summary = screen_batch(session=session, batch_id=3, workers=1, store=True, output=output)
                assert summary.review_cases["created" if run == 1 else "unchanged"] > 0
            with Session(engine) as session:
                hits = {(h.claim_id, h.rule_id): h for h in session.exec(select(ScreenHit)).all()}
                cases = {c.id: c.claim_id for c in session.exec(select(ReviewCase)).all()}
                case_hits = session.exec(select(ReviewCaseHit)).all()
                findings = session.exec(select(Finding)).all()
                assert case_hits and findings
                for row in case_hits:
                    assert row.evidence_hash == case_hash(hits[(cases[row.case_id], row.rule_id)])
                for finding in findings:
                    assert finding.evidence_hash == finding_hash(hits[(finding.claim_id, finding.rule_id)])
                if run == 1:  # the evidence is stored as the output wrote it, not escaped to ASCII
                    stored = dict(
                        session.exec(
                            select(ScreenHit.claim_id + ":" + ScreenHit.rule_id, EVIDENCE_TEXT)
                        ).all()
                    )
                    lines = [json.loads(line) for line in output.getvalue().splitlines()]
                    assert len(lines) == len(stored) == len(hits)
                    assert any(not text.isascii() for text in stored.values())
                    for line in lines:
                        text = stored[f"{line['claim_id']}:{line['rule_id']}"]
                        assert text == evidence_json(line["evidence"])
                        assert json.loads(text) == hits[(line["claim_id"], line["rule_id"])].evidence
            kept, read = (sum(column) for column in zip(*attached, strict=True))
            assert read >= len(hits)
            if run == 1:  # every hit is new
                assert kept == read
            else:  # every hit is found but one of the two under one ordinal (in the queue, maybe the findings)
                assert 1 <= read - kept <= 2
    finally:
        engine.dispose()


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES | st.dates() | st.tuples(st.text(), st.datetimes()))
def test_the_log_s_encoders_write_what_json_dumps_writes(value: Any) -> None:
    """`canonical` and the entry hash's encoding are made once, not per call: the same text."""
    from drgaudit.casebook import auditlog
    from drgaudit.services.screening import _jsonl

    options: dict[str, Any] = dict(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    assert auditlog.canonical(value) == (None if value is None else json.dumps(value, **options))
    assert _jsonl(value) == json.dumps(value, ensure_ascii=False, default=str)
    fields = [1, "prev", str(value), "actor", "entity", "1", "created", auditlog.canonical(value), None]
    expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert auditlog.entry_hash(
        seq=1, prev_hash="prev", at=str(value), actor="actor", entity="entity", entity_id="1", action="created",
        before=auditlog.canonical(value), after=None,
    ) == hashlib.sha256(expected.encode()).hexdigest()  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(evidence=st.dictionaries(st.text(max_size=6), JSON_VALUES | st.dates(), max_size=5), message=st.text())
def test_a_jsonl_line_written_around_the_evidence_s_json_is_the_same(
    evidence: dict[str, Any], message: str
) -> None:
    from drgaudit.engine.hits import Hit
    from drgaudit.services.screening import write_jsonl

    hit = Hit(
        "C1", "R-1", "family", "高", "hold", 12.5, message, evidence, rule_version="v", code_set="codes"
    )
    whole, around = io.StringIO(), io.StringIO()
    write_jsonl(hit, whole)
    write_jsonl(hit, around, evidence_json(hit.evidence))
    assert (
        around.getvalue()
        == whole.getvalue()
        == json.dumps(hit.to_dict(), ensure_ascii=False, default=str) + "\n"
    )
