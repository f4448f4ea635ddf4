"""The audit log is tamper-evident (issue 14 "Audit log"): entries sealed with an HMAC under a key kept
outside the database, anchors that catch a log cut back, and a check of the review tables against the
log's latest state of each row."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook import assist, auditcheck, auditkey, auditlog
from drgaudit.casebook.auditkey import AuditKey, AuditKeyError
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.cli.root import app
from tests import report_casebook

runner = CliRunner()


def entries(session: Session, n: int = 4) -> list[AuditEntry]:
    made = [
        auditlog.append(
            session=session, actor="张三", entity="review_case", entity_id=k, action="note", after={"k": k}
        )
        for k in range(1, n + 1)
    ]
    session.commit()
    return made


def rewrite_from(session: Session, seq: int, key: AuditKey | None = None) -> None:
    """What someone with write access to the database (and, if given, the key) can do: change entry
    `seq` and recompute every hash and link from there to the head."""
    rows = (
        session.exec(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)).scalars().all()
    )
    prev = session.get(AuditEntry, seq - 1).entry_hash if seq > 1 else auditlog.GENESIS_HASH
    for row in rows:
        actor = "李四" if row.seq == seq else row.actor
        digest = auditlog.entry_hash(
            seq=row.seq, prev_hash=prev, at=row.at, actor=actor, entity=row.entity, entity_id=row.entity_id,
            action=row.action, before=row.before, after=row.after, role=row.role, channel=row.channel,
        )  # fmt: skip
        mac = key.seal(digest) if key else row.mac
        session.execute(
            text("UPDATE audit_log SET actor = :a, prev_hash = :p, entry_hash = :h, mac = :m WHERE seq = :s"),
            {"a": actor, "p": prev, "h": digest, "m": mac, "s": row.seq},
        )
        prev = digest
    last = rows[-1].seq
    head_mac = key.seal(auditlog.head_text(last, prev)) if key else None
    session.execute(
        text("UPDATE audit_head SET hash = :h, mac = COALESCE(:m, mac) WHERE id = 1"),
        {"h": prev, "m": head_mac},
    )
    session.commit()


def test_entries_and_head_are_sealed(session: Session) -> None:
    made = entries(session)
    key = auditkey.audit_key()
    assert all(key.check(e.entry_hash, e.mac) for e in made)
    report = auditlog.verify_log(session=session)
    assert report.ok and report.entries == 4 and report.key_source == "DRGAUDIT_AUDIT_KEY"


def test_a_chain_rewritten_without_the_key_does_not_verify(session: Session) -> None:
    entries(session)
    rewrite_from(session, 2)  # every hash and link recomputed: the hash chain alone would pass
    report = auditlog.verify_log(session=session)
    assert report.bad_seq == 2
    assert "its seal does not match: the log was written or rewritten from here on without the audit key" in (
        report.problem
    )
    # With the key, the same rewrite would pass: the seal is what tells.
    rewrite_from(session, 2, auditkey.audit_key())
    assert auditlog.verify_log(session=session).ok


def test_another_key_neither_verifies_nor_writes(session: Session) -> None:
    entries(session, 2)
    other = AuditKey(b"another-key-0123456789", "test")
    report = auditlog.verify_log(session=session, key=other)
    assert (
        report.bad_seq == 2
        and f"sealed with another key (id {auditkey.audit_key().key_id})" in report.problem
    )
    os.environ["DRGAUDIT_AUDIT_KEY"], saved = "another-key-0123456789", os.environ["DRGAUDIT_AUDIT_KEY"]
    try:
        with pytest.raises(AuditKeyError, match="sealed with another key .* nothing was saved"):
            auditlog.append(session=session, actor="x", entity="review_case", entity_id=9, action="note")
    finally:
        os.environ["DRGAUDIT_AUDIT_KEY"] = saved
    assert session.exec(select(AuditEntry)).scalars().all()[-1].seq == 2
    assert auditlog.verify_log(session=session).ok


def test_a_log_cut_back_is_caught_by_the_head_seal_and_by_an_anchor(session: Session) -> None:
    entries(session)
    anchor = auditlog.head_anchor(session=session)
    assert anchor.seq == 4 and auditlog.check_anchor(session=session, anchor=anchor) is None
    last = session.get(AuditEntry, 2)
    session.execute(text("DELETE FROM audit_log WHERE seq > 2"))
    session.execute(text("UPDATE audit_head SET seq = 2, hash = :h WHERE id = 1"), {"h": last.entry_hash})
    session.commit()
    report = auditlog.verify_log(session=session)
    assert (
        report.problem
        == "the log head (entry 2) is not sealed with the audit key: the log was cut or rewritten"
    )
    # Someone who also has the key can reseal the head; the anchor taken before still catches the cut.
    key = auditkey.audit_key()
    session.execute(
        text("UPDATE audit_head SET mac = :m WHERE id = 1"),
        {"m": key.seal(auditlog.head_text(2, last.entry_hash))},
    )
    session.commit()
    assert auditlog.verify_log(session=session).ok
    assert auditlog.check_anchor(session=session, anchor=anchor) == (
        f"the log was cut: the anchor taken at {anchor.at} names entry 4, but the log ends at entry 2"
    )


def test_anchor_and_verify_from_the_command_line(db_url: str, session: Session, tmp_path: Path) -> None:
    entries(session, 3)
    anchors = tmp_path / "anchors" / "drgaudit.jsonl"
    result = runner.invoke(app, ["casebook", "anchor", "--out", str(anchors), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit log head: entry 3, hash ")
    assert json.loads(anchors.read_text().splitlines()[0])["seq"] == 3
    result = runner.invoke(app, ["casebook", "verify", "--anchor", str(anchors), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "anchors: 1 checked, the log still holds each" in result.stdout
    rewrite_from(session, 3, auditkey.audit_key())  # entry 3 rewritten by someone with the key
    result = runner.invoke(app, ["casebook", "verify", "--anchor", str(anchors), "--db", db_url])
    assert result.exit_code == 1
    assert (
        "audit log BROKEN: the log was rewritten: entry 3 is not the one the anchor taken at" in result.stderr
    )


def test_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRGAUDIT_AUDIT_KEY")
    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    key = auditkey.audit_key()  # created on first use, readable by its owner only
    path = tmp_path / "home" / "audit.key"
    assert key.source == str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64 and auditkey.audit_key() == key
    loose = tmp_path / "loose.key"
    loose.write_text("x" * 40)
    loose.chmod(0o644)
    monkeypatch.setenv("DRGAUDIT_AUDIT_KEY_FILE", str(loose))
    with pytest.raises(
        AuditKeyError, match=r"can be read or written by others \(mode 0644\); run: chmod 600"
    ):
        auditkey.audit_key()
    monkeypatch.setenv("DRGAUDIT_AUDIT_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(AuditKeyError, match="no audit key file"):
        auditkey.audit_key()
    monkeypatch.setenv("DRGAUDIT_AUDIT_KEY", "short")
    with pytest.raises(AuditKeyError, match="has 5 characters; it needs at least 16"):
        auditkey.audit_key()


# -- the review tables against the log -------------------------------------------------------------------


@pytest.fixture
def reviewed(session: Session, tmp_path: Path) -> int:
    """Cases, decisions, an appeal-free closed meeting with attendees, and an investigation request."""
    book = report_casebook.build(session, tmp_path / "data")
    meeting = report_casebook.add_meeting(session, book)
    assist.request_assist(session=session, claim_id=book.cross_claim, question="请核实", actor="参保地")
    return meeting


def problems(session: Session) -> list[str]:
    session.expire_all()
    report = auditcheck.check_state(session=session)
    return report.problems


def test_untouched_tables_match_the_log(session: Session, reviewed: int) -> None:
    report = auditcheck.check_state(session=session)
    assert report.ok, report.problems
    assert report.checked["case"] == 2 and report.checked["decision"] == 2 and report.checked["attendee"] == 3
    assert (
        report.checked["meeting"] == 1
        and report.checked["request"] == 1
        and report.checked["agenda item"] == 2
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE review_decision SET amount = 1 WHERE kind = 'deduct'", "was changed outside the log (logged in entry"),
        ("UPDATE review_case SET status = 'closed', priority = 0 WHERE claim_id = 'CB-Q3-5'",
         "was changed outside the log (its latest entry is"),
        ("UPDATE review_meeting SET title = '另一个会'", "title is '另一个会', the log says"),
        ("UPDATE assist_request SET answer = '已核实', status = 'closed'", "request 1 was changed outside the log"),
        ("DELETE FROM meeting_attendee WHERE name = '赵强'", "lost an attendee the log recorded"),
        ("INSERT INTO meeting_attendee (meeting_id, name, role) SELECT id, '外人', '专家' FROM review_meeting",
         "has an attendee the log never recorded"),
        ("DELETE FROM meeting_case WHERE position = 2", "is no longer on its agenda (removed outside the log)"),
    ],
)  # fmt: skip
def test_rows_changed_outside_the_log_are_named(
    session: Session, reviewed: int, sql: str, expected: str
) -> None:
    assert problems(session) == []
    session.execute(text(sql))
    session.commit()
    found = problems(session)
    assert any(expected in p for p in found), found


def test_a_decision_added_outside_the_log_is_named(session: Session, reviewed: int) -> None:
    session.execute(
        text(
            "INSERT INTO review_decision (case_id, round, kind, amount, items, reason, decided_by, decided_at, superseded) "
            "SELECT case_id, round + 1, 'special', 50000, '[]', '后补', '某人', decided_at, false FROM review_decision "
            "WHERE kind = 'deduct'"
        )
    )
    session.commit()
    found = problems(session)
    assert any(
        "has no entry in the audit log: it was added outside the log" in p and p.startswith("decision ")
        for p in found
    ), found


def test_cli_verify_names_the_changed_rows(db_url: str, session: Session, reviewed: int) -> None:
    result = runner.invoke(app, ["casebook", "verify", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "review tables match the log: 2 cases, 1 meeting, 1 request, 2 decisions" in result.stdout
    session.execute(text("UPDATE review_decision SET reason = '改过了' WHERE kind = 'standard'"))
    session.commit()
    result = runner.invoke(app, ["casebook", "verify", "--db", db_url])
    assert result.exit_code == 1
    assert "review tables CHANGED OUTSIDE THE LOG: 1 problem(s)" in result.stderr
    assert "reason is '改过了', the log says '费用与病情相符，按病组标准支付'" in result.stderr


def test_entries_written_in_bulk_are_those_written_one_by_one(session: Session) -> None:
    """`append_many` writes many entries through the driver (`auditlog.BULK_ENTRIES`): the same columns,
    NULLs and chain as the Core insert of a few."""
    changes: list[auditlog.Change] = [
        (
            "review_case",
            k,
            "created" if k % 3 else "refreshed",
            None if k % 3 else {"v": k - 1},
            {"v": k, "名": "张"},
        )
        for k in range(1, auditlog.BULK_ENTRIES + 21)
    ]
    assert auditlog.append_many(session=session, actor="张三", changes=changes[:20]) == 20
    assert auditlog.append_many(session=session, actor="张三", changes=changes[20:]) == auditlog.BULK_ENTRIES
    session.commit()
    rows = session.exec(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    assert [(r.entity_id, r.action, r.before, r.after, r.role, r.channel) for r in rows] == [
        (str(k), action, auditlog.canonical(before), auditlog.canonical(after), None, None)
        for _, k, action, before, after in changes
    ]
    assert all(r.mac for r in rows) and [r.seq for r in rows] == list(range(1, len(changes) + 1))
    report = auditlog.verify_log(session=session)
    assert report.ok and report.entries == len(changes)
