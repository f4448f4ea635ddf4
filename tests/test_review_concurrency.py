"""Two reviewers at once, with two real connections: optimistic versions on cases, a serialised audit log.

SQLite runs on a database file (two connections to one in-memory database would share one connection's
transaction); PostgreSQL on the test's own database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from drgaudit.casebook import auditlog, meetings, review
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.review_models import ReviewCase, ReviewDecision, ReviewMeetingCreate
from drgaudit.casebook.reviewconfig import ConflictError
from tests.review_support import REGION, bundled_pack, claim, hit, import_claims, screen


@pytest.fixture
def two_engines(db_backend: str, db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    url = f"sqlite:///{tmp_path / 'casebook.sqlite'}" if db_backend == "sqlite" else db_url
    first, second = make_engine(url), make_engine(url)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


@pytest.fixture
def scheduled_case(two_engines: tuple[Engine, Engine], tmp_path: Path) -> int:
    """Case 1 (claim C000001) on the agenda of open meeting 1."""
    pack = bundled_pack()
    with Session(two_engines[0]) as session:
        batch = import_claims(session, tmp_path, [claim(n) for n in range(1, 41)])
        screen(session, batch, [hit("C000001", "OUT-HIGH-001", amount=5000.0)], pack)
        data = ReviewMeetingCreate(region=REGION, held_on=date(2026, 12, 1), title="会议", capacity=5)
        meeting = meetings.create_meeting(session=session, meeting=data, actor="秘书")
        meetings.schedule_cases(session=session, meeting_id=meeting.id, pack=pack, actor="秘书", refs=[1])
    return 1


def test_second_concurrent_decision_is_refused_and_nothing_overwritten(
    two_engines: tuple[Engine, Engine], scheduled_case: int
) -> None:
    pack = bundled_pack()
    with Session(two_engines[0]) as alice, Session(two_engines[1]) as bob:
        # Both open the case (same version) before either decides.
        seen_by_alice = review.get_case(session=alice, ref=scheduled_case)
        seen_by_bob = review.get_case(session=bob, ref=scheduled_case)
        assert seen_by_alice.version == seen_by_bob.version
        review.decide_case(
            session=alice,
            ref=scheduled_case,
            request=review.DecisionRequest("deduct", "重复收费", amount=800.0),
            actor="alice",
            pack=pack,
        )
        with pytest.raises(ConflictError) as caught:
            review.decide_case(
                session=bob,
                ref=scheduled_case,
                request=review.DecisionRequest("special", "新技术", amount=3000.0),
                actor="bob",
                pack=pack,
            )
        assert str(caught.value) == (
            f"case 1 was changed by someone else while you worked on it (it is now version {seen_by_alice.version}, decided); "
            "nothing was saved — look again with `drgaudit queue show 1`"
        )
    with Session(two_engines[0]) as check:
        decisions = check.exec(select(ReviewDecision)).scalars().all()
        assert [(d.kind, d.amount, d.decided_by) for d in decisions] == [("deduct", 800.0, "alice")]
        assert check.get(ReviewCase, 1).status == "decided"
        actions = [e.action for e in auditlog.entries_for(session=check, entity="review_case", entity_id=1)]
        assert actions == ["created", "scheduled", "decided"]
        assert auditlog.verify_log(session=check).ok


def test_deciding_a_decided_case_names_the_decision(
    two_engines: tuple[Engine, Engine], scheduled_case: int
) -> None:
    pack = bundled_pack()
    with Session(two_engines[0]) as alice:
        review.decide_case(
            session=alice,
            ref=1,
            request=review.DecisionRequest("deduct", "重复收费", amount=800.0),
            actor="alice",
            pack=pack,
        )
    with Session(two_engines[1]) as bob, pytest.raises(ConflictError) as caught:
        review.decide_case(
            session=bob, ref=1, request=review.DecisionRequest("standard", "x"), actor="bob", pack=pack
        )
    assert str(caught.value) == (
        "case 1 has already been decided by alice (round 1: deduct 800.00); nothing was saved — "
        "a decision is changed only after an appeal (`drgaudit queue appeal`)"
    )


def test_expected_version_guards_a_stale_screen(
    two_engines: tuple[Engine, Engine], scheduled_case: int
) -> None:
    with Session(two_engines[0]) as session:
        version = review.get_case(session=session, ref=1).version
        review.assign_case(session=session, ref=1, assignee="王医生", actor="科长", expected_version=version)
        with pytest.raises(
            ConflictError,
            match=rf"^case 1 changed since you read it \(you read version {version}, it is now version {version + 1}, scheduled\)",
        ):
            review.assign_case(
                session=session, ref=1, assignee="李医生", actor="科长", expected_version=version
            )
        assert review.get_case(session=session, ref=1).assignee == "王医生"


def test_concurrent_log_appends_wait_for_each_other(
    two_engines: tuple[Engine, Engine], scheduled_case: int
) -> None:
    with Session(two_engines[0]) as first:
        start = first.execute(select(func.max(auditlog.AuditEntry.seq))).scalar_one()
        auditlog.append(
            session=first, actor="a", entity="test", entity_id=1, action="one"
        )  # holds the head, uncommitted
        done: list[int] = []
        errors: list[BaseException] = []

        def second_writer() -> None:
            try:
                with Session(two_engines[1]) as second:
                    entry = auditlog.append(
                        session=second, actor="b", entity="test", entity_id=2, action="two"
                    )
                    second.commit()
                    done.append(entry.seq)
            except BaseException as exc:  # noqa: BLE001 (reported by the test thread)
                errors.append(exc)

        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not done, "the second append must wait for the first transaction"
        first.commit()
        thread.join(timeout=30)
    assert not errors, errors
    assert done == [start + 2]
    with Session(two_engines[0]) as check:
        report = auditlog.verify_log(session=check)
        assert report.ok and report.entries == start + 2
