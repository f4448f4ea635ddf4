"""The hash-chained audit log (tampering found and named) and cross-region investigation requests."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from drgaudit.casebook import assist, auditlog
from drgaudit.casebook.reviewconfig import ReviewError
from tests.review_support import claim, import_claims


def three_entries(session: Session) -> list[auditlog.AuditEntry]:
    entries = [
        auditlog.append(
            session=session,
            actor="张三",
            entity="review_case",
            entity_id=n,
            action="decided",
            before={"n": n},
            after={"amount": 100.0 * n},
        )
        for n in (1, 2, 3)
    ]
    session.commit()
    return entries


def test_chain_links_each_entry_to_the_previous(session: Session) -> None:
    first, second, third = three_entries(session)
    assert (first.seq, first.prev_hash) == (1, auditlog.GENESIS_HASH)
    assert second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash
    assert first.after == '{"amount":100.0}'
    assert first.entry_hash == auditlog.entry_hash(
        seq=1, prev_hash=auditlog.GENESIS_HASH, at=first.at, actor="张三", entity="review_case", entity_id="1",
        action="decided", before='{"n":1}', after='{"amount":100.0}',
    )  # fmt: skip
    report = auditlog.verify_log(session=session)
    assert (report.ok, report.entries, report.head_seq, report.head_hash) == (True, 3, 3, third.entry_hash)


def test_an_edited_entry_is_named(session: Session) -> None:
    entries = three_entries(session)
    session.execute(
        text("UPDATE audit_log SET after = :after WHERE seq = 2"), {"after": json.dumps({"amount": 9999})}
    )
    session.commit()
    report = auditlog.verify_log(session=session)
    assert (report.ok, report.bad_seq) == (False, 2)
    assert (
        report.problem
        == f"entry 2 (review_case 2 decided by 张三 at {entries[1].at}): content edited, its hash does not match"
    )


def test_an_edited_actor_with_a_recomputed_hash_breaks_the_next_link(session: Session) -> None:
    three_entries(session)
    entry = session.get(auditlog.AuditEntry, 2)
    forged = auditlog.entry_hash(
        seq=2, prev_hash=entry.prev_hash, at=entry.at, actor="李四", entity=entry.entity, entity_id=entry.entity_id,
        action=entry.action, before=entry.before, after=entry.after,
    )  # fmt: skip
    session.execute(text("UPDATE audit_log SET actor = '李四', entry_hash = :h WHERE seq = 2"), {"h": forged})
    session.commit()
    report = auditlog.verify_log(session=session)
    # Its recomputed hash does not carry the seal only the audit key makes.
    assert report.bad_seq == 2
    assert "its seal does not match" in report.problem


def test_deleted_entries_are_found(session: Session) -> None:
    three_entries(session)
    session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    session.commit()
    report = auditlog.verify_log(session=session)
    assert (report.bad_seq, report.problem) == (2, "entry 2 deleted: the log jumps from entry 1 to 3")


def test_a_deleted_last_entry_is_found_by_the_head(session: Session) -> None:
    three_entries(session)
    session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    session.commit()
    report = auditlog.verify_log(session=session)
    assert (report.bad_seq, report.problem) == (
        3,
        "entry 3 deleted: the log ends at entry 2 but its head is entry 3",
    )


def test_empty_log_is_intact(session: Session) -> None:
    report = auditlog.verify_log(session=session)
    assert (report.ok, report.entries, report.head_seq) == (True, 0, 0)


def test_a_rolled_back_change_leaves_no_entry(session: Session) -> None:
    three_entries(session)
    auditlog.append(session=session, actor="x", entity="review_case", entity_id=9, action="decided")
    session.rollback()
    assert (
        auditlog.append(session=session, actor="x", entity="review_case", entity_id=9, action="decided").seq
        == 4
    )
    session.commit()
    assert auditlog.verify_log(session=session).ok


@pytest.fixture
def claims(session: Session, tmp_path: Path) -> int:
    """C000001 (insured 510700, treated 510100) and C000002 (insured 510100, treated 510300)."""
    return import_claims(
        session,
        tmp_path,
        [claim(1), claim(2, insured_region="510100", treatment_region="510300", hospital_id="H300")],
    )


def test_request_respond_and_list_both_sides(session: Session, claims: int) -> None:
    due = date.today() + timedelta(days=20)
    asked = assist.request_assist(
        session=session, claim_id="C000001", question="请核实是否挂床", actor="参保地经办", due_date=due
    )
    other = assist.request_assist(
        session=session, claim_id="C000002", question="请核实费用", actor="成都经办"
    )
    assert (asked.insured_region, asked.treatment_region, asked.hospital_id, asked.status) == (
        "510700",
        "510100",
        "H001",
        "open",
    )
    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(assist.list_requests(session=session, region="510100", side="treatment")) == [asked.id]
    assert ids(assist.list_requests(session=session, region="510100", side="insured")) == [other.id]
    assert ids(assist.list_requests(session=session, region="510100")) == [asked.id, other.id]
    assert ids(assist.list_requests(session=session, region="510700", side="insured")) == [asked.id]
    answered = assist.respond_assist(
        session=session,
        request_id=asked.id,
        answer="患者住院期间多日不在院",
        result="Confirmed",
        actor="就医地稽核",
    )
    assert (answered.status, answered.result, answered.answered_by) == ("closed", "confirmed", "就医地稽核")
    assert ids(assist.list_requests(session=session, region="510100", side="treatment")) == []
    assert ids(assist.list_requests(session=session, region="510100", side="treatment", status=None)) == [
        asked.id
    ]
    log = auditlog.entries_for(session=session, entity="assist_request", entity_id=asked.id)
    assert [(e.action, e.actor) for e in log] == [("requested", "参保地经办"), ("answered", "就医地稽核")]
    assert auditlog.verify_log(session=session).ok


def test_assist_errors(session: Session, claims: int) -> None:
    with pytest.raises(ReviewError, match="^no claim C999999 in the casebook$"):
        assist.request_assist(session=session, claim_id="C999999", question="?", actor="x")
    with pytest.raises(ReviewError, match="^a request needs a question"):
        assist.request_assist(session=session, claim_id="C000001", question=" ", actor="x")
    with pytest.raises(ReviewError, match="is in the past$"):
        assist.request_assist(
            session=session, claim_id="C000001", question="?", actor="x", due_date=date(2020, 1, 1)
        )
    asked = assist.request_assist(session=session, claim_id="C000001", question="?", actor="x")
    with pytest.raises(
        ReviewError, match="^unknown result `maybe`; one of confirmed, partly_confirmed, not_confirmed$"
    ):
        assist.respond_assist(session=session, request_id=asked.id, answer="a", result="maybe", actor="y")
    with pytest.raises(ReviewError, match="^side is one of insured, treatment, not `both`$"):
        assist.list_requests(session=session, region="510100", side="both")
    assist.respond_assist(session=session, request_id=asked.id, answer="a", result="not-confirmed", actor="y")
    with pytest.raises(ReviewError, match=r"^request 1 is already closed \(not_confirmed, by y\)$"):
        assist.respond_assist(session=session, request_id=asked.id, answer="b", result="confirmed", actor="z")
    with pytest.raises(ReviewError, match="^no investigation request 7 "):
        assist.respond_assist(session=session, request_id=7, answer="b", result="confirmed", actor="z")
