"""特例单议审核队列: cases from stored hits, re-screening, quota overrides, concurrent decisions.

The scenarios run on a real casebook (a SQLite file, so two experts can hold two connections), with
hits stored as a screening run stores them and the queue refreshed by `review.refresh_cases`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from sqlalchemy import Engine
from sqlmodel import Session

from drgaudit.casebook import auditlog, meetings, review
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.quota import quota_standing
from drgaudit.casebook.review_models import ReviewMeetingCreate
from drgaudit.casebook.reviewconfig import ConflictError, ReviewError
from drgaudit.engine.hits import Hit
from drgaudit.engine.pack import RulePack
from features.conftest import money, step
from tests.review_support import bundled_pack, claim, hit, import_claims, pack_with_settings, screen

scenarios("review_queue.feature")


@dataclass
class Queue:
    """The casebook of one scenario and what happened in it."""

    engine: Engine
    session: Session
    pack: RulePack
    folder: Path
    batch_id: int = 0
    hits: list[Hit] = field(default_factory=list)
    meeting_id: int | None = None
    error: Exception | None = None
    experts: dict[str, Session] = field(default_factory=dict)
    case_ref: str = ""
    opened: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Queue]:
    engine = make_engine(f"sqlite:///{tmp_path / 'casebook.sqlite'}")
    with Session(engine) as session:
        world = Queue(engine, session, bundled_pack(), tmp_path)
        yield world
        for other in world.experts.values():
            other.close()
    engine.dispose()


@given(step("病例库中有医院 {医院} 在 {月份} 出院的 {份数:d} 份按病组付费的结算清单 C000001 至 C{末号:d}"))
def claims_of_hospital(queue: Queue, 医院: str, 月份: str, 份数: int, 末号: int) -> None:
    assert 末号 == 份数
    rows = [
        claim(n, hospital_id=医院, admit_date=f"{月份}-01", discharge_date=f"{月份}-10", payment_scheme="DRG")
        for n in range(1, 份数 + 1)
    ]
    queue.batch_id = import_claims(queue.session, queue.folder, rows)


@given(step("就医地 {统筹区} 的特例单议比例按 {周期} 计算"))
def quota_period(queue: Queue, 统筹区: str, 周期: str) -> None:
    assert 统筹区 == "510100"
    queue.pack = pack_with_settings(queue.folder, special_review_quota_period=周期)


@given(
    step(
        "病例库中还有医院 {医院} 在 {年:d} 年 {起:d} 至 {止:d} 月每月出院 {份数:d} 份按病种分值付费的结算清单"
    )
)
def dip_claims_by_month(queue: Queue, 医院: str, 年: int, 起: int, 止: int, 份数: int) -> None:
    rows = []
    for month in range(起, 止 + 1):
        for k in range(份数):
            day = f"{年}-{month:02d}-{1 + k % 20:02d}"
            rows.append(
                claim(month * 100 + k, hospital_id=医院, payment_scheme="DIP", group_code="DIP01",
                      admit_date=day, discharge_date=day)
            )  # fmt: skip
    queue.batch_id = import_claims(queue.session, queue.folder, rows, name="dip.csv")


@then(step("病例 {病例} 的特例单议额度为“{额度}”"))
def quota_of_case(queue: Queue, 病例: str, 额度: str) -> None:
    case = review.get_case(session=queue.session, ref=病例)
    standing = quota_standing(session=queue.session, case=case, pack=queue.pack, counting="scheduled")
    assert standing.describe() == 额度


@given(step("第 {批次:d} 批次的筛查结果如下"))
def screening_results(queue: Queue, 批次: int, datatable: list[list[str]]) -> None:
    assert 批次 == queue.batch_id
    header, *rows = datatable
    queue.hits = []
    for row in rows:
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        queue.hits.append(
            hit(
                cells["病例"],
                cells["规则"],
                severity=cells["严重程度"],
                action=cells["处理方式"],
                amount=money(cells["疑点金额"]),
            )
        )
    screen(queue.session, queue.batch_id, queue.hits, queue.pack)


@when(step("第 {批次:d} 批次重新筛查，结果不变"))
def rescreen_same(queue: Queue, 批次: int) -> None:
    screen(queue.session, 批次, queue.hits, queue.pack)


@when(step("第 {批次:d} 批次重新筛查，病例 {病例} 的 {规则} 疑点金额变为 {金额:money} 元"))
def rescreen_changed(queue: Queue, 批次: int, 病例: str, 规则: str, 金额: float) -> None:
    for h in queue.hits:
        if (h.claim_id, h.rule_id) == (病例, 规则):
            h.amount_at_risk = 金额
    screen(queue.session, 批次, queue.hits, queue.pack)


def _case(queue: Queue, claim_id: str):
    queue.session.expire_all()
    return review.get_case(session=queue.session, ref=claim_id)


@then(step("审核队列中只有病例 {病例}，状态为 {状态}"))
def only_case(queue: Queue, 病例: str, 状态: str) -> None:
    cases = review.list_cases(session=queue.session, statuses=None)
    assert [(c.claim_id, c.status) for c in cases] == [(病例, 状态)]


@then(step("病例 {病例} 的状态为 {状态}"))
def case_status(queue: Queue, 病例: str, 状态: str) -> None:
    assert _case(queue, 病例).status == 状态


@given(step("已创建 {统筹区} 的特例单议会议，可审议 {容量:d} 例"))
def a_meeting(queue: Queue, 统筹区: str, 容量: int) -> None:
    data = ReviewMeetingCreate(region=统筹区, held_on=date(2026, 12, 1), title="特例单议会议", capacity=容量)
    queue.meeting_id = meetings.create_meeting(session=queue.session, meeting=data, actor="秘书").id


def _schedule(queue: Queue, ids: list[str], reason: str | None = None) -> None:
    if queue.meeting_id is None:
        a_meeting(queue, "510100", 10)
    queue.error = None
    try:
        meetings.schedule_cases(
            session=queue.session,
            meeting_id=queue.meeting_id,
            pack=queue.pack,
            actor="秘书",
            refs=ids,
            quota_override=reason,
        )
    except ReviewError as exc:
        queue.error = exc


@given(step("特例单议会议审议病例 {病例}，决定扣减 {金额:money} 元，理由为“{理由}”"))
def decided_in_meeting(queue: Queue, 病例: str, 金额: float, 理由: str) -> None:
    _schedule(queue, [病例])
    assert queue.error is None, queue.error
    request = review.DecisionRequest("deduct", 理由, amount=金额)
    review.decide_case(session=queue.session, ref=病例, request=request, actor="专家", pack=queue.pack)


@given(step("病例 {病例} 已排入会议"))
@when(step("把病例 {病例:ids} 排入会议"))
def schedule(queue: Queue, 病例: list[str] | str) -> None:
    _schedule(queue, [病例] if isinstance(病例, str) else 病例)


@when(step("把病例 {病例} 排入会议，超额理由为“{理由}”"))
def schedule_with_override(queue: Queue, 病例: str, 理由: str) -> None:
    _schedule(queue, [病例], 理由)


@then(step("排入被拒绝，提示为“{提示}”"))
def refused(queue: Queue, 提示: str) -> None:
    assert queue.error is not None, "应当被拒绝"
    assert str(queue.error) == 提示


@then(step("病例 {病例} 的决定仍为扣减 {金额:money} 元"))
def decision_kept(queue: Queue, 病例: str, 金额: float) -> None:
    case = _case(queue, 病例)
    decisions = review.case_decisions(session=queue.session, case_id=case.id)
    assert [(d.kind, d.amount, d.superseded) for d in decisions] == [("deduct", 金额, False)]


@then(step("审核日志中病例 {病例} 的记录依次为 {动作:ids}"))
def log_actions(queue: Queue, 病例: str, 动作: list[str]) -> None:
    case = _case(queue, 病例)
    entries = auditlog.entries_for(session=queue.session, entity="review_case", entity_id=case.id)
    assert [e.action for e in entries] == 动作


@then(step("病例 {病例} 重新打开的原因为“{原因}”"))
def reopen_reason(queue: Queue, 病例: str, 原因: str) -> None:
    assert _case(queue, 病例).reopen_reason == 原因


@then(step("审核日志记录了病例 {病例} 的超额理由“{理由}”"))
def override_logged(queue: Queue, 病例: str, 理由: str) -> None:
    case = _case(queue, 病例)
    last = auditlog.entries_for(session=queue.session, entity="review_case", entity_id=case.id)[-1]
    assert last.action == "scheduled"
    assert f'"quota_override":"{理由}"' in (last.after or "")


@when(parsers.parse("专家甲和专家乙同时打开病例 {病例}"))
def both_open(queue: Queue, 病例: str) -> None:
    for name in ("专家甲", "专家乙"):
        queue.experts[name] = Session(queue.engine)
        # Each expert keeps the case on screen as read (the version they saw).
        queue.opened[name] = review.get_case(session=queue.experts[name], ref=病例)
    queue.case_ref = 病例


def _expert_decides(queue: Queue, name: str, request: review.DecisionRequest) -> None:
    try:
        review.decide_case(
            session=queue.experts[name], ref=queue.case_ref, request=request, actor=name, pack=queue.pack
        )
    except ConflictError as exc:
        queue.error = exc


@when(step("专家甲决定扣减 {金额:money} 元"))
def first_decides(queue: Queue, 金额: float) -> None:
    _expert_decides(queue, "专家甲", review.DecisionRequest("deduct", "重复收费", amount=金额))
    assert queue.error is None, queue.error


@when(step("专家乙决定批准特例支付 {金额:money} 元"))
def second_decides(queue: Queue, 金额: float) -> None:
    _expert_decides(queue, "专家乙", review.DecisionRequest("special", "新技术", amount=金额))


@then(step("专家乙被告知冲突，提示包含“{甲}”和“{乙}”"))
def told_conflict(queue: Queue, 甲: str, 乙: str) -> None:
    assert isinstance(queue.error, ConflictError), queue.error
    assert 甲 in str(queue.error) and 乙 in str(queue.error), str(queue.error)


@then(step("病例 {病例} 只有一个决定：{专家}扣减 {金额:money} 元"))
def one_decision(queue: Queue, 病例: str, 专家: str, 金额: float) -> None:
    case = _case(queue, 病例)
    decisions = review.case_decisions(session=queue.session, case_id=case.id)
    assert [(d.decided_by, d.kind, d.amount) for d in decisions] == [(专家, "deduct", 金额)]


@then("审核日志完整")
def log_intact(queue: Queue) -> None:
    report = auditlog.verify_log(session=queue.session)
    assert report.ok, report.problem
