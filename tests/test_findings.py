"""Hospital findings (疑点): made from hold/deduct hits, answered by their hospital before the due date,
confirmed when unanswered, re-reviewed (with separation of duties) or escalated to a meeting."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from drgaudit.casebook import auditlog, packs
from drgaudit.casebook.findings import Finding, Rereview, refresh_findings
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.casebook.screening import ScreenHit
from drgaudit.services import findings as finding_service
from drgaudit.services.access import NotFound
from drgaudit.services.accounts import cli_principal
from tests import web_casebook
from tests.review_support import bundled_pack, hit, pack_with_settings, screen

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def book(session: Session, tmp_path: Path) -> web_casebook.Book:
    return web_casebook.build(session, tmp_path)


def who(session: Session, name: str):
    return cli_principal(session=session, user=name)


def test_hold_and_deduct_hits_become_findings_due_in_the_region_s_days(session: Session, book) -> None:
    rows = list(session.exec(select(Finding).order_by(Finding.id)).scalars())
    assert [(f.claim_id, f.rule_id, f.action, f.amount, f.state) for f in rows] == [
        ("C000002", "COST-001", "deduct", 700.0, "open"),
        ("C000003", "UPC-001", "deduct", 900.0, "open"),
        ("C000042", "COST-001", "deduct", 600.0, "open"),
    ]
    days = bundled_pack().region("510100").settings["finding_reply_days"]
    assert all(f.due_date == date.today() + timedelta(days=days) for f in rows)
    assert [
        e.action for e in auditlog.entries_for(session=session, entity="finding", entity_id=rows[0].id)
    ] == ["created"]


def test_rescreening_refreshes_open_findings_and_withdraws_vanished_ones(
    session: Session, book, tmp_path: Path
) -> None:
    batch = session.execute(select(ScreenHit.batch_id)).scalars().first()
    screen(
        session,
        batch,
        [hit("C000002", "COST-001", action="deduct", amount=750.0)],
        bundled_pack(),
        findings=True,
    )
    rows = {f.claim_id: f for f in session.exec(select(Finding)).scalars()}
    assert (rows["C000002"].amount, rows["C000002"].state) == (750.0, "open")
    assert rows["C000003"].state == "withdrawn" and rows["C000042"].state == "withdrawn"
    again = refresh_findings(session=session, batch_id=batch, pack=bundled_pack(), actor="x")
    assert (again.created, again.refreshed, again.withdrawn) == (0, 0, 0)


def test_findings_are_refreshed_a_page_of_claims_at_a_time(
    session: Session, book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages of one claim (memory bounded by a page, whatever the batch), a re-screen gives the same
    findings: refreshed, kept, and withdrawn where the claim has no hit any more."""
    from drgaudit.casebook import findings as findings_module

    monkeypatch.setattr(findings_module, "PAGE_CLAIMS", 1)
    batch = session.execute(select(ScreenHit.batch_id)).scalars().first()
    screen(
        session,
        batch,
        [
            hit("C000002", "COST-001", action="deduct", amount=750.0),
            hit("C000003", "UPC-001", action="deduct", amount=900.0),
        ],
        bundled_pack(),
        findings=True,
    )
    rows = {f.claim_id: f for f in session.exec(select(Finding)).scalars()}
    assert (rows["C000002"].amount, rows["C000002"].state) == (750.0, "open")
    assert (rows["C000003"].amount, rows["C000003"].state) == (900.0, "open")
    assert rows["C000042"].state == "withdrawn"
    again = refresh_findings(session=session, batch_id=batch, pack=bundled_pack(), actor="x")
    assert (again.created, again.refreshed, again.withdrawn) == (0, 0, 0)


def test_the_hospital_accepts_or_appeals_its_own_findings_only(session: Session, book) -> None:
    h001, h002 = who(session, "h001"), who(session, "h002")
    with pytest.raises(NotFound):
        finding_service.answer(session=session, principal=h002, finding_id=book.finding_h001, accept=True)
    with pytest.raises(ReviewError, match="申诉须写明理由"):
        finding_service.answer(session=session, principal=h001, finding_id=book.finding_h001, accept=False)
    done = finding_service.answer(session=session, principal=h001, finding_id=book.finding_h001, accept=True)
    assert (done.state, done.final_amount) == ("accepted", 700.0)
    with pytest.raises(ReviewError, match="不能再答复"):
        finding_service.answer(
            session=session, principal=h001, finding_id=book.finding_h001, accept=False, reason="x"
        )
    rows, total = finding_service.list_findings(session=session, principal=h002)
    assert total == 1 and rows[0].hospital_id == "H002"


def test_unanswered_findings_are_confirmed_at_their_due_date(session: Session, book) -> None:
    session.execute(
        update(Finding)
        .where(Finding.id == book.finding_h001)
        .values(due_date=date.today() - timedelta(days=1))
    )
    session.commit()
    with pytest.raises(ReviewError, match="已过"):
        finding_service.answer(
            session=session,
            principal=who(session, "h001"),
            finding_id=book.finding_h001,
            accept=False,
            reason="x",
        )
    actor = auditlog.Actor("审核员", role="auditor", channel="cli")
    confirmed = finding_service.confirm_overdue(session=session, actor=actor)
    assert [f.id for f in confirmed] == [book.finding_h001]
    assert finding_service.confirm_overdue(session=session, actor=actor) == []
    finding = session.get(Finding, book.finding_h001)
    assert (finding.state, finding.final_amount) == ("confirmed", 700.0)
    trail = auditlog.entries_for(session=session, entity="finding", entity_id=finding.id)
    assert [(e.action, e.actor, e.role) for e in trail][-1] == ("confirmed", "审核员", "auditor")


def appeal(session: Session, finding_id: int) -> None:
    finding_service.answer(
        session=session, principal=who(session, "h001"), finding_id=finding_id, accept=False, reason="有医嘱"
    )


def test_an_auditor_re_reviews_an_appeal_and_the_trail_is_logged(session: Session, book) -> None:
    appeal(session, book.finding_h001)
    for amount in (math.nan, math.inf, -0.01, 700.01):  # not money, or more than the finding's 700.00
        with pytest.raises(ReviewError, match="调整金额须为不小于 0 的数|不能超过原疑点金额"):
            finding_service.rereview(
                session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
                decision=Rereview("adjusted", "部分有依据", amount), pack=bundled_pack(),
            )  # fmt: skip
    done = finding_service.rereview(
        session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
        decision=Rereview("adjusted", "部分有依据", 300.0), pack=bundled_pack(),
    )  # fmt: skip
    assert done.final and (done.finding.state, done.finding.final_amount) == ("adjusted", 300.0)
    trail = auditlog.entries_for(session=session, entity="finding", entity_id=book.finding_h001)
    assert [(e.action, e.role, e.channel) for e in trail] == [
        ("created", None, None), ("appealed", "hospital:H001", "cli"), ("rereviewed", "auditor", "cli"),
    ]  # fmt: skip
    with pytest.raises(ReviewError, match="只有医院申诉中的疑点"):
        finding_service.rereview(
            session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
            decision=Rereview("upheld", "x"), pack=bundled_pack(),
        )  # fmt: skip


def _authored_by(session: Session, finding_id: int, registered_by: str) -> None:
    """Make the finding's hit come from a pack version registered by `registered_by`."""
    version = "f" * 64
    packs.register_version(
        session=session,
        version=version,
        name="test",
        files={"a.yaml": "x"},
        source="test",
        registered_by=registered_by,
    )
    session.execute(update(Finding).where(Finding.id == finding_id).values(pack_version=version))
    session.commit()


def test_the_author_of_a_pack_version_needs_a_second_reviewer(session: Session, book) -> None:
    from tests.web_support import make_accounts

    make_accounts(session, ("审核员乙", "auditor"))
    _authored_by(session, book.finding_h001, "审核员")
    appeal(session, book.finding_h001)
    first = finding_service.rereview(
        session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
        decision=Rereview("overturned", "不应扣减"), pack=bundled_pack(),
    )  # fmt: skip
    assert not first.final and first.finding.state == "appealed" and first.finding.proposed_by == "审核员"
    again = finding_service.rereview(  # the author may revise the proposal, never make it final
        session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
        decision=Rereview("adjusted", "部分不应扣减", 100.0), pack=bundled_pack(),
    )  # fmt: skip
    assert not again.final and again.finding.proposed_outcome == "adjusted"
    second = finding_service.rereview(
        session=session, principal=who(session, "审核员乙"), finding_id=book.finding_h001,
        decision=Rereview("overturned", "同意撤销"), pack=bundled_pack(),
    )  # fmt: skip
    assert second.final and (second.finding.state, second.finding.final_amount) == ("overturned", 0.0)
    actions = [
        e.action for e in auditlog.entries_for(session=session, entity="finding", entity_id=book.finding_h001)
    ]
    assert actions[-3:] == ["rereview_proposed", "rereview_proposed", "rereview_confirmed"]


def test_where_only_a_meeting_will_do_the_author_must_escalate(
    session: Session, book, tmp_path: Path
) -> None:
    pack = pack_with_settings(tmp_path / "p", rule_author_decisions=["meeting"])
    _authored_by(session, book.finding_h001, "审核员")
    appeal(session, book.finding_h001)
    with pytest.raises(ReviewError, match="请提交评议会议"):
        finding_service.rereview(
            session=session, principal=who(session, "审核员"), finding_id=book.finding_h001,
            decision=Rereview("upheld", "维持"), pack=pack,
        )  # fmt: skip
    case = finding_service.escalate(
        session=session,
        principal=who(session, "审核员"),
        finding_id=book.finding_h001,
        reason="需专家评议",
        pack=pack,
    )
    finding = session.get(Finding, book.finding_h001)
    assert (finding.state, finding.case_id) == ("escalated", case.id)
    assert case.claim_id == "C000002" and case.status == "new" and "需专家评议" in case.reopen_reason
    assert [
        e.action for e in auditlog.entries_for(session=session, entity="review_case", entity_id=case.id)
    ] == ["escalated"]


def test_findings_settings_are_checked(tmp_path: Path) -> None:
    from drgaudit.engine.exceptions import RulePackError

    with pytest.raises(RulePackError, match="finding_reply_days` must be at least 1"):
        pack_with_settings(tmp_path / "a", finding_reply_days=0)
    with pytest.raises(RulePackError, match="must include meeting"):
        pack_with_settings(tmp_path / "b", rule_author_decisions=["second_reviewer"])
    with pytest.raises(RulePackError, match="finding_actions"):
        pack_with_settings(tmp_path / "c", finding_actions=["remind"])


def test_a_hospital_reads_other_hospitals_related_claims_masked_an_auditor_reads_them(
    session: Session, book
) -> None:
    from drgaudit.reports.otherhospitals import OTHER_HOSPITAL_CLAIM

    finding = session.exec(select(Finding).where(Finding.claim_id == "C000002")).scalars().one()  # H001's
    finding.message = "C000002 与 C000001、C000041（H002，甲市示例中医医院）相关，本院甲市示例人民医院"
    session.add(finding)
    stored = session.exec(
        select(ScreenHit).where(ScreenHit.claim_id == "C000002", ScreenHit.rule_id == "COST-001")
    ).scalars()
    for row in stored:
        row.evidence = {**row.evidence, "related_claims": ["C000001", "C000041"]}  # H001's, H002's
        session.add(row)
    session.commit()
    hospital = finding_service.readable_message(
        session=session, principal=who(session, "h001"), finding=finding
    )
    # The other hospital's claim, code and name are hidden; its own claim and name are not.
    assert hospital == f"C000002 与 C000001、{OTHER_HOSPITAL_CLAIM}（他院，他院）相关，本院甲市示例人民医院"
    auditor = finding_service.readable_message(
        session=session, principal=who(session, "审核员"), finding=finding
    )
    assert auditor == finding.message
