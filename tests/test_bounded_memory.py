"""Storing hits and refreshing the review queue work a chunk at a time, with the same result as one piece."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from drgaudit.casebook import auditlog, review
from drgaudit.casebook.screening import ScreenHit
from tests.review_support import bundled_pack, claim, hit, import_claims, screen


def _hits(n: int, rescreen: bool = False) -> list:
    hits = []
    for i in range(1, n + 1):
        claim_id = f"C{i:06d}"
        if rescreen and i % 3 == 0:
            continue  # the flag is gone: its case is withdrawn
        action = "special_review" if i % 4 else "deduct"
        hits.append(
            hit(
                claim_id,
                "OUT-HIGH-001",
                action=action,
                amount=100.0 * i + (7 if rescreen and i % 5 == 0 else 0),
            )
        )
        if i % 2:
            hits.append(hit(claim_id, "LOS-001", severity="medium", amount=50.0))
    return hits


def _log_count(session: Session) -> int:
    return len(session.exec(select(auditlog.AuditEntry)).all())


def _queue(session: Session) -> list[tuple]:
    cases = review.list_cases(session=session, statuses=None)
    return sorted((c.claim_id, c.status, c.amount_at_risk, c.priority, c.rules, c.version) for c in cases)


@pytest.mark.parametrize("chunk", [5000, 1, 3, 7])
def test_refresh_in_chunks_gives_the_same_queue(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    pack = bundled_pack()
    batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 31)])
    whole = screen(session, batch, _hits(30), pack).as_dict()
    whole_queue = _queue(session)
    again = screen(session, batch, _hits(30, rescreen=True), pack).as_dict()
    again_queue = _queue(session)
    entries = _log_count(session)
    # The same screens on a fresh batch of other claims, the queue refreshed `chunk` claims at a time.
    monkeypatch.setattr(review, "REFRESH_CHUNK_CLAIMS", chunk)
    other = import_claims(session, tmp_path, [claim(n + 100) for n in range(1, 31)], name="other.csv")

    def renamed(hits):
        return [h.__class__(**{**h.__dict__, "claim_id": f"C{int(h.claim_id[1:]) + 100:06d}"}) for h in hits]  # noqa: E731

    assert screen(session, other, renamed(_hits(30)), pack).as_dict() == whole
    assert screen(session, other, renamed(_hits(30, rescreen=True)), pack).as_dict() == again
    chunked = [q for q in _queue(session) if int(q[0][1:]) > 100]
    assert [(f"C{int(q[0][1:]) - 100:06d}", *q[1:]) for q in chunked] == again_queue
    assert whole_queue != again_queue  # the re-screen did change the queue
    assert _log_count(session) == 2 * entries
    assert auditlog.verify_log(session=session).ok
    assert session.exec(select(ScreenHit).where(ScreenHit.batch_id == other)).first() is not None
