"""What people say about a case besides deciding it: a hospital's (or an auditor's) replies, and the
review experts' opinions in a meeting.

A reply (`case_reply`) is free text with optional attachments, written by the hospital about its own
case (explanations, evidence for the meeting) or by an auditor answering it. An expert's opinion
(`expert_opinion`) is what one attending expert suggests for one case of one meeting: a decision kind,
an amount where it has one, and the reasoning; an expert may revise it until the meeting closes. The
secretary sees every opinion in the meeting room before recording the meeting's decision.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import DateTime, Text, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import MONEY, get_by_id
from drgaudit.casebook.review_models import DECISION_KINDS, ReviewCase, ReviewMeeting
from drgaudit.casebook.reviewconfig import ReviewError

REPLY = "case_reply"
OPINION = "expert_opinion"


def _now() -> datetime:
    return datetime.now(UTC)


class CaseReply(SQLModel, table=True):
    """A reply written on a case."""

    __tablename__ = "case_reply"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="review_case.id", index=True)
    text: str = Field(sa_type=Text)
    written_by: str
    role: str | None = None
    written_at: datetime = Field(sa_type=DateTime(timezone=True))


def add_reply(*, session: Session, case_id: int, text: str, actor: str, commit: bool = True) -> CaseReply:
    """Write a reply on a case (logged); with `commit=False` the caller commits it with its attachments."""
    text = text.strip()
    if not text:
        raise ReviewError("回复内容不能为空")
    if len(text) > 20000:
        raise ReviewError("回复内容过长（上限 20000 字）")
    reply = CaseReply(
        case_id=case_id,
        text=text,
        written_by=str(actor),
        role=getattr(actor, "role", None),
        written_at=_now(),
    )
    session.add(reply)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity="review_case", entity_id=case_id, action="replied",
        after={"reply_id": reply.id, "text": text},
    )  # fmt: skip
    if commit:
        session.commit()
    return reply


def case_replies(*, session: Session, case_id: int) -> list[CaseReply]:
    """The replies on a case, oldest first."""
    query = select(CaseReply).where(col(CaseReply.case_id) == case_id).order_by(col(CaseReply.id))
    return list(session.execute(query).scalars())


class ExpertOpinion(SQLModel, table=True):
    """One expert's opinion on one case of one meeting (the latest version; earlier ones are in the log)."""

    __tablename__ = "expert_opinion"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", "expert", name="uq_expert_opinion"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="review_meeting.id", index=True)
    case_id: int = Field(foreign_key="review_case.id", index=True)
    expert: str
    account_id: int | None = Field(default=None, foreign_key="account.id")
    suggestion: str
    amount: float | None = Field(default=None, sa_type=MONEY)
    text: str = Field(sa_type=Text)
    written_at: datetime = Field(sa_type=DateTime(timezone=True))


def record_opinion(
    *,
    session: Session,
    meeting_id: int,
    case_id: int,
    suggestion: str,
    text: str,
    actor: str,
    account_id: int | None = None,
    amount: float | None = None,
) -> ExpertOpinion:
    """Record (or revise) an expert's opinion on a case of an open meeting."""
    meeting = get_by_id(session, ReviewMeeting, meeting_id)
    if meeting is None or meeting.status != "open":
        raise ReviewError("会议已结束或不存在，不能再发表意见")
    if suggestion not in DECISION_KINDS:
        raise ReviewError(f"意见须为以下之一：{', '.join(DECISION_KINDS)}")
    text = text.strip()
    if not text:
        raise ReviewError("请写明意见理由")
    if amount is not None and not (math.isfinite(amount) and amount >= 0):
        raise ReviewError("金额须为不小于 0 的数")
    case = get_by_id(session, ReviewCase, case_id)
    if amount is not None and case is not None and round(amount, 2) > case.total_cost:
        # As for the meeting's decision: the fund pays a case at most what it cost (and a MONEY column
        # holds at most 12 digits before the point: PostgreSQL refused a larger one with a server error).
        raise ReviewError(
            f"建议金额不能超过该结算清单的医疗费用总额 {case.total_cost:,.2f} 元，请核对后重新填写"
        )
    existing = (
        session.execute(
            select(ExpertOpinion).where(
                col(ExpertOpinion.meeting_id) == meeting_id,
                col(ExpertOpinion.case_id) == case_id,
                col(ExpertOpinion.expert) == str(actor),
            )
        )
        .scalars()
        .first()
    )
    before = _opinion_state(existing) if existing else None
    opinion = existing or ExpertOpinion(meeting_id=meeting_id, case_id=case_id, expert=str(actor), account_id=account_id,
                                        suggestion=suggestion, text=text, written_at=_now())  # fmt: skip
    opinion.suggestion, opinion.text, opinion.written_at = suggestion, text, _now()
    opinion.amount = round(amount, 2) if amount is not None else None
    session.add(opinion)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity="review_case", entity_id=case_id,
        action="opinion_revised" if existing else "opinion_given", before=before, after=_opinion_state(opinion),
    )  # fmt: skip
    session.commit()
    return opinion


def _opinion_state(opinion: ExpertOpinion) -> dict[str, object]:
    return {
        "meeting_id": opinion.meeting_id,
        "expert": opinion.expert,
        "suggestion": opinion.suggestion,
        "amount": opinion.amount,
        "text": opinion.text,
    }


def case_opinions(*, session: Session, case_id: int, meeting_id: int | None = None) -> list[ExpertOpinion]:
    """Experts' opinions on a case (of one meeting if given), in the order first given."""
    query = select(ExpertOpinion).where(col(ExpertOpinion.case_id) == case_id)
    if meeting_id is not None:
        query = query.where(col(ExpertOpinion.meeting_id) == meeting_id)
    return list(session.execute(query.order_by(col(ExpertOpinion.id))).scalars())
