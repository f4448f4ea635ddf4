"""The review queue's data functions: cases from hits, re-screening, lifecycle, decisions, quota, roll-up."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook import auditlog, meetings, replies, review
from drgaudit.casebook.quota import quota_standing
from drgaudit.casebook.review_models import MeetingCase, ReviewCase, ReviewDecision, ReviewMeetingCreate
from drgaudit.casebook.reviewconfig import QuotaError, ReviewError, review_settings
from drgaudit.engine.pack import RulePack
from tests.review_support import (
    HOSPITAL,
    REGION,
    bundled_pack,
    claim,
    hit,
    import_claims,
    pack_with_settings,
    screen,
)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return bundled_pack()


@pytest.fixture
def batch(session: Session, tmp_path: Path) -> int:
    """Claims C000001–C000040 of H001 (DRG, discharged 2025-03-10)."""
    return import_claims(session, tmp_path, [claim(n) for n in range(1, 41)])


def weight(pack: RulePack, severity: str) -> float:
    return float(pack.region(REGION).settings["review_severity_weights"][severity])


def log_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(auditlog.AuditEntry)).scalar_one()


def first_hits() -> list:
    return [
        hit("C000001", "OUT-HIGH-001", severity="medium", amount=5000.0),
        hit("C000001", "COST-001", action="deduct", severity="high", amount=300.0),
        hit("C000002", "LOS-001", severity="high", amount=2000.0),
        hit("C000003", "COST-001", action="deduct", amount=700.0),
    ]


def meeting(session: Session, capacity: int = 5) -> int:
    data = ReviewMeetingCreate(
        region=REGION, held_on=date(2026, 12, 1), title="特例单议会议", capacity=capacity
    )
    return meetings.create_meeting(session=session, meeting=data, actor="秘书").id


def test_cases_from_hits(session: Session, batch: int, pack: RulePack) -> None:
    report = screen(session, batch, first_hits(), pack)
    assert report.as_dict() == {"created": 2, "refreshed": 0, "reopened": 0, "withdrawn": 0, "unchanged": 0}
    cases = review.list_cases(session=session)
    assert [c.claim_id for c in cases] == ["C000001", "C000002"]
    first = cases[0]
    assert first.amount_at_risk == 5300.0
    assert first.severity == "high"
    assert first.priority == pytest.approx(5000 * weight(pack, "medium") + 300 * weight(pack, "high"))
    assert first.rules == "OUT-HIGH-001,COST-001"
    assert (first.status, first.hospital_id, first.region, first.period, first.version) == (
        "new",
        HOSPITAL,
        REGION,
        "2025-03",
        1,
    )
    due_days = review_settings(pack, REGION).due_days
    assert first.due_date == date.today() + timedelta(days=due_days)
    assert [h.rule_id for h in review.case_hits(session=session, case_id=first.id)] == [
        "OUT-HIGH-001",
        "COST-001",
    ]
    assert log_count(session) == 2
    assert auditlog.verify_log(session=session).ok


def test_rescreen_is_idempotent(session: Session, batch: int, pack: RulePack) -> None:
    screen(session, batch, first_hits(), pack)
    versions = {c.id: c.version for c in review.list_cases(session=session)}
    report = screen(session, batch, first_hits(), pack)
    assert report.as_dict() == {"created": 0, "refreshed": 0, "reopened": 0, "withdrawn": 0, "unchanged": 2}
    assert {c.id: c.version for c in review.list_cases(session=session)} == versions
    assert log_count(session) == 2


def decide_first(
    session: Session, pack: RulePack, kind: str = "deduct", amount: float | None = 1200.0
) -> ReviewCase:
    case = review.get_case(session=session, ref="C000001")
    meetings.schedule_cases(
        session=session, meeting_id=meeting(session), pack=pack, actor="秘书", refs=[case.id]
    )
    review.decide_case(
        session=session,
        ref=case.id,
        request=review.DecisionRequest(kind, "重复收费", amount=amount),
        actor="张三",
        pack=pack,
    )
    return case


def test_rescreen_keeps_decisions_and_reopens_only_on_new_evidence(
    session: Session, batch: int, pack: RulePack
) -> None:
    screen(session, batch, first_hits(), pack)
    case = decide_first(session, pack)
    # Same evidence, other wording: the decision stands.
    reworded = first_hits()
    reworded[0].message = "措辞改了"
    assert screen(session, batch, reworded, pack).unchanged == 2
    session.refresh(case)
    assert case.status == "decided"
    assert review.case_hits(session=session, case_id=case.id)[0].message == "措辞改了"
    # The amount at risk of one hit changed: new evidence, the case reopens and says why.
    changed = first_hits()
    changed[0].amount_at_risk = 6500.0
    report = screen(session, batch, changed, pack)
    assert (report.reopened, report.unchanged) == (1, 1)
    session.refresh(case)
    assert case.status == "new"
    assert case.reopen_reason == "re-screen of batch 1: evidence of OUT-HIGH-001 changed (was decided)"
    assert case.amount_at_risk == 6800.0
    decisions = review.case_decisions(session=session, case_id=case.id)
    assert [(d.kind, d.amount, d.superseded) for d in decisions] == [("deduct", 1200.0, False)]
    assert review.current_decision(session=session, case_id=case.id).id == decisions[0].id
    actions = [
        e.action for e in auditlog.entries_for(session=session, entity="review_case", entity_id=case.id)
    ]
    assert actions == ["created", "scheduled", "decided", "reopened"]


def test_a_new_rule_reopens_a_closed_case(session: Session, batch: int, pack: RulePack) -> None:
    screen(session, batch, first_hits(), pack)
    case = decide_first(session, pack)
    meetings.add_attendees(
        session=session, meeting_id=1, attendees=[("张三", "主审专家", None)], actor="秘书"
    )
    meetings.close_meeting(session=session, meeting_id=1, actor="秘书")
    session.refresh(case)
    assert case.status == "closed"
    screen(session, batch, [*first_hits(), hit("C000001", "UPC-001", action="deduct", amount=100.0)], pack)
    session.refresh(case)
    assert (case.status, case.reopen_reason) == ("new", "re-screen of batch 1: new hit UPC-001 (was closed)")


def test_flags_that_disappear(session: Session, batch: int, pack: RulePack) -> None:
    screen(session, batch, first_hits(), pack)
    decide_first(session, pack)
    report = screen(session, batch, [first_hits()[3]], pack)
    assert (report.withdrawn, report.refreshed) == (1, 1)
    assert review.get_case(session=session, ref="C000002").status == "withdrawn"
    decided = review.get_case(session=session, ref="C000001")
    assert decided.status == "decided"
    assert not any(h.present for h in review.case_hits(session=session, case_id=decided.id))
    # Flagged again: the withdrawn case comes back.
    screen(session, batch, first_hits(), pack)
    back = review.get_case(session=session, ref="C000002")
    assert (back.status, back.reopen_reason) == (
        "new",
        "re-screen of batch 1: new hit LOS-001 (was withdrawn)",
    )


def test_region_setting_chooses_which_actions_make_cases(
    session: Session, batch: int, tmp_path: Path
) -> None:
    pack = pack_with_settings(tmp_path, review_case_actions=["special_review", "deduct"])
    screen(session, batch, first_hits(), pack)
    assert [c.claim_id for c in review.list_cases(session=session)] == ["C000001", "C000002", "C000003"]


def test_unknown_severity_is_a_configuration_error(session: Session, batch: int, pack: RulePack) -> None:
    with pytest.raises(
        ReviewError, match="severity `grave` has no weight in settings review_severity_weights"
    ):
        screen(session, batch, [hit("C000001", "X-1", severity="grave")], pack)


def test_lifecycle_errors(session: Session, batch: int, pack: RulePack) -> None:
    screen(session, batch, first_hits(), pack)
    request = review.DecisionRequest("standard", "按病组支付")
    with pytest.raises(ReviewError, match=r"^case 1 is new; only a case that is scheduled can be decided"):
        review.decide_case(session=session, ref=1, request=request, actor="张三", pack=pack)
    with pytest.raises(
        ReviewError, match=r"^case 1 is new; only a case that is decided or closed can be appealed$"
    ):
        review.appeal_case(session=session, ref=1, reason="不服", actor="医院")
    with pytest.raises(ReviewError, match=r"^no review case C999999 "):
        review.get_case(session=session, ref="C999999")
    assigned = review.assign_case(
        session=session, ref="C000002", assignee="王医生", actor="科长", due_date=date(2026, 12, 31)
    )
    assert (assigned.status, assigned.assignee, assigned.due_date) == (
        "triaged",
        "王医生",
        date(2026, 12, 31),
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            review.DecisionRequest("pay", "x"),
            "unknown decision `pay`; one of standard, special, deduct, merge, refer",
        ),
        (review.DecisionRequest("deduct", " "), "a decision needs a reason"),
        (review.DecisionRequest("deduct", "x"), "a deduction needs an amount above 0"),
        (
            review.DecisionRequest("deduct", "x", amount=25000.0),
            "deduction 25,000.00 is more than the claim's total cost 20,000.00",
        ),
        (review.DecisionRequest("standard", "x", amount=5.0), "paying by the group standard takes no amount"),
        # Amounts that are not money (a float option or form field reads "nan" and "inf"), and more than
        # the case cost: the fund pays a case at most its total cost (20,000.00 here), to the cent.
        (review.DecisionRequest("special", "x", amount=math.nan), "amount nan is not a number of yuan"),
        (review.DecisionRequest("special", "x", amount=math.inf), "amount inf is not a number of yuan"),
        (review.DecisionRequest("refer", "x", amount=math.nan), "amount nan is not a number of yuan"),
        (
            review.DecisionRequest("special", "x", items=[("ECMO", math.inf)]),
            "every approved item needs an amount above 0",
        ),
        (
            review.DecisionRequest("special", "x", amount=20000.01),
            "special payment 20,000.01 is more than the claim's total cost 20,000.00",
        ),
        (
            review.DecisionRequest("special", "x", items=[("ECMO", 15000.0), ("CRRT", 5000.01)]),
            "special payment 20,000.01 is more than the claim's total cost 20,000.00",
        ),
        (
            review.DecisionRequest("refer", "x", amount=1e13),
            "amount at issue 10,000,000,000,000.00 is more than the claim's total cost 20,000.00",
        ),
        (
            review.DecisionRequest("special", "x"),
            "approving a special payment needs an amount above 0 or items with amounts",
        ),
        (
            review.DecisionRequest("special", "x", amount=10.0, items=[("ECMO", 8.0)]),
            "--amount 10.00 is not the sum of the items, 8.00",
        ),
        (review.DecisionRequest("merge", "x"), "merging needs the other claim (--merge-with CLAIM)"),
        (
            review.DecisionRequest("merge", "x", merged_with="C000002"),
            "claim C000002 is of patient P00002, not P00001; only one patient's stays merge",
        ),
        (
            review.DecisionRequest("merge", "x", merged_with="C999999"),
            "no claim C999999 in the casebook to merge with",
        ),
    ],
)
def test_bad_decisions_are_refused_and_nothing_is_saved(
    session: Session, batch: int, pack: RulePack, request_: review.DecisionRequest, message: str
) -> None:
    screen(session, batch, first_hits(), pack)
    meetings.schedule_cases(session=session, meeting_id=meeting(session), pack=pack, actor="秘书", refs=[1])
    before = log_count(session)
    with pytest.raises(ReviewError) as caught:
        review.decide_case(session=session, ref=1, request=request_, actor="张三", pack=pack)
    assert str(caught.value) == message
    assert review.get_case(session=session, ref=1).status == "scheduled"
    assert review.case_decisions(session=session, case_id=1) == []
    assert log_count(session) == before


@pytest.mark.parametrize("kind", ["special", "refer"])
def test_an_amount_of_the_whole_cost_is_decided(
    session: Session, batch: int, pack: RulePack, kind: str
) -> None:
    screen(session, batch, first_hits(), pack)
    meetings.schedule_cases(session=session, meeting_id=meeting(session), pack=pack, actor="秘书", refs=[1])
    request = review.DecisionRequest(kind, "按项目付费", amount=20000.0)  # the claim's total cost, exactly
    review.decide_case(session=session, ref=1, request=request, actor="张三", pack=pack)
    assert [d.amount for d in review.case_decisions(session=session, case_id=1)] == [20000.0]


def test_an_experts_amount_is_money(session: Session, batch: int, pack: RulePack) -> None:
    screen(session, batch, first_hits(), pack)
    meeting_id = meeting(session)
    meetings.schedule_cases(session=session, meeting_id=meeting_id, pack=pack, actor="秘书", refs=[1])
    for amount in (math.nan, math.inf, -0.01):
        with pytest.raises(ReviewError, match="^金额须为不小于 0 的数$"):
            replies.record_opinion(
                session=session, meeting_id=meeting_id, case_id=1, suggestion="special", text="新技术",
                actor="专家甲", amount=amount,
            )  # fmt: skip
    opinion = replies.record_opinion(
        session=session, meeting_id=meeting_id, case_id=1, suggestion="special", text="新技术", actor="专家甲",
        amount=0.0,
    )  # fmt: skip
    assert opinion.amount == 0.0


def test_meeting_fill_decide_close_appeal_and_rollup(
    session: Session, tmp_path: Path, pack: RulePack
) -> None:
    # 40 DRG claims of H001 in 2025-03: quota ⌊5% × 40⌋ = 2 (national special_review_quota_drg); H002: 20, quota 1.
    batch = import_claims(
        session,
        tmp_path,
        [claim(n) for n in range(1, 41)] + [claim(n, hospital_id="H002") for n in range(41, 61)],
    )
    limit = int(pack.region(REGION).settings["special_review_quota_drg"] * 40)
    hits = [hit(f"C{n:06d}", "OUT-HIGH-001", amount=1000.0 * n) for n in range(1, 6)] + [
        hit("C000041", "LOS-001", amount=50.0)
    ]
    screen(session, batch, hits, pack)
    meeting_id = meeting(session, capacity=4)
    report = meetings.schedule_cases(
        session=session, meeting_id=meeting_id, pack=pack, actor="秘书", fill=True
    )
    # By priority: C000005 and C000004 fill H001's quota, C000003..1 are left out, C000041 (H002) goes in.
    assert [s.case.claim_id for s in report.added] == ["C000005", "C000004", "C000041"]
    assert [s.quota.used for s in report.added] == [0, 1, 0]
    assert [s.case.claim_id for s in report.over_quota] == ["C000003", "C000002", "C000001"]
    assert (
        report.over_quota[0].quota.describe()
        == f"quota H001 2025 DRG: {limit} of {limit} cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far)"
    )
    with pytest.raises(
        QuotaError,
        match=r"^case 3: quota H001 2025 DRG: 2 of 2 .* give --override-quota REASON to go over it$",
    ):
        meetings.schedule_cases(
            session=session, meeting_id=meeting_id, pack=pack, actor="秘书", refs=["C000003"]
        )
    assert review.get_case(session=session, ref="C000003").status == "new"
    done = meetings.schedule_cases(
        session=session,
        meeting_id=meeting_id,
        pack=pack,
        actor="秘书",
        refs=["C000003"],
        quota_override="危重抢救病例，经处长同意",
    )
    assert done.added[0].overridden
    row = session.exec(select(MeetingCase).where(MeetingCase.case_id == 3)).scalars().one()
    assert (row.quota_used, row.quota_limit, row.quota_override) == (2, 2, "危重抢救病例，经处长同意")
    logged = auditlog.entries_for(session=session, entity="review_case", entity_id=3)[-1]
    assert logged.action == "scheduled" and '"quota_override":"危重抢救病例，经处长同意"' in logged.after
    with pytest.raises(ReviewError, match=r"^meeting 1 has room for 0 more case\(s\) \(capacity 4\), not 1$"):
        meetings.schedule_cases(
            session=session, meeting_id=meeting_id, pack=pack, actor="秘书", refs=["C000002"]
        )

    decide = review.decide_case
    decide(
        session=session,
        ref="C000005",
        request=review.DecisionRequest("special", "ECMO", items=[("ECMO", 1800.0), ("人工肝", 200.5)]),
        actor="张三",
        pack=pack,
    )
    out = decide(
        session=session,
        ref="C000004",
        request=review.DecisionRequest("special", "新技术", amount=900.0),
        actor="张三",
        pack=pack,
    )
    assert (
        out.quota.describe()
        == "quota H001 2025 DRG: 1 of 2 special payments approved (5.0% of 40 DRG cases discharged in 2025 so far)"
    )
    with pytest.raises(QuotaError, match="special payments approved"):
        decide(
            session=session,
            ref="C000003",
            request=review.DecisionRequest("special", "x", amount=10.0),
            actor="张三",
            pack=pack,
        )
    decide(
        session=session,
        ref="C000003",
        request=review.DecisionRequest("deduct", "重复收费", amount=300.0),
        actor="张三",
        pack=pack,
    )
    with pytest.raises(ReviewError, match="no attendees recorded"):
        meetings.close_meeting(session=session, meeting_id=meeting_id, actor="秘书")
    meetings.add_attendees(
        session=session,
        meeting_id=meeting_id,
        attendees=[("张三", "主审专家", "省医院"), ("李四", "秘书", None)],
        actor="秘书",
    )
    closed = meetings.close_meeting(session=session, meeting_id=meeting_id, actor="秘书", note="实到2人")
    assert (closed.closed, closed.deferred) == (3, 1)
    assert review.get_case(session=session, ref="C000041").status == "new"  # deferred back to the queue
    minutes = meetings.meeting_minutes(session=session, meeting_id=meeting_id)
    assert [(i.case.claim_id, i.outcome) for i in minutes.agenda] == [
        ("C000005", "decided"), ("C000004", "decided"), ("C000041", "deferred"), ("C000003", "decided")
    ]  # fmt: skip
    assert minutes.decided_amounts == {"special": 2900.5, "deduct": 300.0}
    assert [a.name for a in minutes.attendees] == ["张三", "李四"]

    rows = review.rollup(session=session)
    assert [
        (r.hospital_id, r.period, r.cases, r.open, r.decided, r.special, r.special_amount, r.deducted_amount)
        for r in rows
    ] == [
        ("H001", "2025-03", 5, 2, 3, 2, 2900.5, 300.0),
        ("H002", "2025-03", 1, 1, 0, 0, 0.0, 0.0),
    ]

    # The hospital appeals the deduction; a second meeting re-decides it (round 2 supersedes round 1).
    review.appeal_case(session=session, ref="C000003", reason="补充材料", actor="医院")
    assert [r.decided for r in review.rollup(session=session)] == [2, 0]
    second = meeting(session, capacity=2)
    meetings.schedule_cases(
        session=session,
        meeting_id=second,
        pack=pack,
        actor="秘书",
        refs=["C000003"],
        quota_override="申诉复议",
    )
    decide(
        session=session,
        ref="C000003",
        request=review.DecisionRequest("standard", "申诉成立"),
        actor="王五",
        pack=pack,
    )
    rounds = [(d.round, d.kind, d.superseded) for d in review.case_decisions(session=session, case_id=3)]
    assert rounds == [(1, "deduct", True), (2, "standard", False)]
    top = review.rollup(session=session, period="2025-03")[0]
    assert (top.decided, top.standard, top.deducted_amount) == (3, 1, 0.0)
    assert auditlog.verify_log(session=session).ok


def test_merge_and_refer_amounts(session: Session, tmp_path: Path, pack: RulePack) -> None:
    batch = import_claims(
        session,
        tmp_path,
        [claim(1), claim(2, patient_id="P00001", admit_date="2025-03-12", discharge_date="2025-03-20")],
    )
    screen(
        session,
        batch,
        [hit("C000002", "SPLIT-001", amount=4000.0), hit("C000001", "OUT-HIGH-001", amount=700.0)],
        pack,
    )
    meetings.schedule_cases(
        session=session,
        meeting_id=meeting(session),
        pack=pack,
        actor="秘书",
        fill=True,
        quota_override="测试",
    )
    merged = review.decide_case(
        session=session,
        ref="C000002",
        request=review.DecisionRequest("merge", "分解住院", merged_with="C000001"),
        actor="张三",
        pack=pack,
    ).decision
    assert (merged.kind, merged.merged_with, merged.amount) == ("merge", "C000001", 0.0)
    referred = review.decide_case(
        session=session,
        ref="C000001",
        request=review.DecisionRequest("refer", "移交稽核"),
        actor="张三",
        pack=pack,
    ).decision
    assert referred.amount == 700.0
    row = review.rollup(session=session)[0]
    assert (row.deducted, row.referred, row.referred_amount) == (1, 1, 700.0)
    assert session.execute(select(func.count()).select_from(ReviewDecision)).scalar_one() == 2


def test_quota_by_scheme(session: Session, tmp_path: Path, pack: RulePack) -> None:
    # 200 DIP claims of H100 in 2025-03: ⌊5‰ × 200⌋ = 1 (special_review_quota_dip); per-diem claims have no quota.
    rows = [claim(n, hospital_id="H100", payment_scheme="DIP", group_code="DIP01") for n in range(1, 201)]
    rows.append(claim(201, hospital_id="H100", payment_scheme="PER_DIEM", group_code=""))
    batch = import_claims(session, tmp_path, rows)
    screen(session, batch, [hit("C000001", "OUT-HIGH-001"), hit("C000201", "LOS-001")], pack)
    ratio = pack.region(REGION).settings["special_review_quota_dip"]
    dip = quota_standing(
        session=session, case=review.get_case(session=session, ref="C000001"), pack=pack, counting="scheduled"
    )
    assert (dip.scheme, dip.base, dip.limit, dip.used, dip.exceeded) == (
        "DIP",
        200,
        int(ratio * 200),
        0,
        False,
    )
    assert (
        dip.describe()
        == "quota H100 2025 DIP: 0 of 1 cases scheduled for review (0.5% of 200 DIP cases discharged in 2025 so far)"
    )
    per_diem = quota_standing(
        session=session, case=review.get_case(session=session, ref="C000201"), pack=pack, counting="special"
    )
    assert (per_diem.limit, per_diem.exceeded, per_diem.describe()) == (
        None,
        False,
        "quota H100 2025 PER_DIEM: none for PER_DIEM cases",
    )


@pytest.mark.parametrize(
    ("unit", "label", "base", "limit", "used"),
    [
        # 40 DIP claims a month, January to May: per month ⌊5‰ × 40⌋ = 0, no case could ever be reviewed.
        ("month", "2025-05", 40, 0, 0),
        # Q2 so far: April and May, 80 claims: still 0.
        ("quarter", "2025Q2", 80, 0, 0),
        # The year so far: 200 claims, ⌊1.0⌋ = 1; the January case already scheduled counts against it.
        ("year", "2025", 200, 1, 1),
    ],
)
def test_quota_is_counted_over_the_settlement_period_cumulatively(
    session: Session, tmp_path: Path, unit: str, label: str, base: int, limit: int, used: int
) -> None:
    pack = pack_with_settings(tmp_path, special_review_quota_period=unit)
    rows = []
    for month in range(1, 6):
        for k in range(40):
            n = month * 100 + k
            day = f"2025-{month:02d}-{1 + k % 20:02d}"
            rows.append(
                claim(
                    n,
                    hospital_id="H100",
                    payment_scheme="DIP",
                    group_code="DIP01",
                    admit_date=day,
                    discharge_date=day,
                )
            )
    batch = import_claims(session, tmp_path, rows)
    screen(session, batch, [hit("C000100", "OUT-HIGH-001"), hit("C000500", "OUT-HIGH-001")], pack)
    january = review.get_case(session=session, ref="C000100")
    meetings.schedule_cases(
        session=session, meeting_id=meeting(session), pack=pack, actor="秘书", refs=[january.id],
        quota_override="测试：一月病例已上会",
    )  # fmt: skip
    may = quota_standing(
        session=session, case=review.get_case(session=session, ref="C000500"), pack=pack, counting="scheduled"
    )
    assert (may.period, may.base, may.limit, may.used) == (label, base, limit, used)
    assert may.describe().startswith(f"quota H100 {label} DIP: {used} of {limit} cases scheduled for review")
    assert may.describe().endswith(f"(0.5% of {base} DIP cases discharged in {label} so far)")


def test_settlement_periods() -> None:
    from drgaudit.casebook.quota import settlement_period

    assert settlement_period("2025-05", "quarter") == settlement_period("2025-04", "quarter")
    q4 = settlement_period("2025-12", "quarter")
    assert (q4.label, q4.start.isoformat(), q4.end.isoformat(), q4.first_month, q4.last_month) == (
        "2025Q4", "2025-10-01", "2026-01-01", "2025-10", "2025-12",
    )  # fmt: skip
    year = settlement_period("2025-02", "year")
    assert (year.label, year.start.isoformat(), year.end.isoformat()) == ("2025", "2025-01-01", "2026-01-01")
    assert settlement_period("2025-02", "month").label == "2025-02"
