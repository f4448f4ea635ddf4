"""The tables of the special-review work (特例单议): review cases and their hits, decisions, appeals,
review meetings with their agenda and attendees, and cross-region investigation requests (协查).

Rows are written only through the data functions of `review`, `meetings` and `assist`, which append
to the audit log (`auditlog`) in the same transaction. Reports read these tables directly; see
casebook/README.md "Review queue" for what each column means.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, DateTime, Index, Integer, PrimaryKeyConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from drgaudit.casebook.models import MONEY
from drgaudit.casebook.states import ASSIST_RESULTS as ASSIST_RESULTS
from drgaudit.casebook.states import CASE_STATUSES as CASE_STATUSES
from drgaudit.casebook.states import DECISION_KINDS as DECISION_KINDS
from drgaudit.casebook.states import OPEN_STATUSES as OPEN_STATUSES


def _when() -> Any:
    return Field(sa_type=DateTime(timezone=True))


# Optimistic concurrency: every UPDATE says `WHERE version = <the version read>` and raises
# StaleDataError on 0 rows, which the data functions turn into a ConflictError.
_CASE_VERSION = Column("version", Integer, nullable=False)
_MEETING_VERSION = Column("version", Integer, nullable=False)
_ASSIST_VERSION = Column("version", Integer, nullable=False)


class ReviewCaseBase(SQLModel):
    """One claim under special review: where it was treated, what it is flagged for, and where it stands."""

    claim_id: str = Field(foreign_key="claim.claim_id", unique=True)
    batch_id: int = Field(foreign_key="import_batch.id")
    patient_id: str
    hospital_id: str = Field(index=True)
    region: str = Field(index=True)
    insured_region: str
    payment_scheme: str
    group_code: str | None = None
    discharge_date: date
    period: str = Field(index=True)
    total_cost: float = Field(sa_type=MONEY)
    status: str = Field(default="new", index=True)
    severity: str
    amount_at_risk: float = Field(default=0.0, sa_type=MONEY)
    priority: float = 0.0
    rules: str = ""
    assignee: str | None = None
    due_date: date | None = None
    reopen_reason: str | None = Field(default=None, sa_type=Text)


class ReviewCaseCreate(ReviewCaseBase):
    """Input form of a review case."""


class ReviewCase(ReviewCaseBase, table=True):
    """A review case as stored; `version` goes up with every change (optimistic concurrency)."""

    __tablename__ = "review_case"
    # The queue page (casebook.queue_search) counts and sums the open cases and picks one page of their
    # ids from this index alone (it covers status, priority, amount and id), then reads only that page's
    # rows; (priority, id) gives the order of a search over every status without sorting.
    __table_args__ = (
        Index("ix_review_case_queue", "status", "priority", "amount_at_risk", "id"),
        Index("ix_review_case_priority_id", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    version: int = Field(default=1, sa_column=_CASE_VERSION)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _CASE_VERSION}


class ReviewCaseHit(SQLModel, table=True):
    """A hit attached to a case, as last screened; `present` is false once re-screening no longer finds it."""

    __tablename__ = "review_case_hit"
    __table_args__ = (PrimaryKeyConstraint("case_id", "rule_id"),)

    case_id: int = Field(foreign_key="review_case.id")
    rule_id: str
    batch_id: int = Field(foreign_key="import_batch.id")
    family: str
    severity: str
    action: str
    amount_at_risk: float = Field(default=0.0, sa_type=MONEY)
    message: str = Field(sa_type=Text)
    evidence_hash: str
    present: bool = True


class ReviewDecisionBase(SQLModel):
    """A decision on a case: its kind, amount (yuan), reason and decider; `items` for special payments by item."""

    case_id: int = Field(foreign_key="review_case.id", index=True)
    round: int = 1
    kind: str
    amount: float = Field(default=0.0, sa_type=MONEY)
    items: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    merged_with: str | None = None
    reason: str = Field(sa_type=Text)
    decided_by: str
    meeting_id: int | None = Field(default=None, foreign_key="review_meeting.id", index=True)
    quota_override: str | None = Field(default=None, sa_type=Text)
    superseded: bool = False


class ReviewDecisionCreate(ReviewDecisionBase):
    """Input form of a decision."""


class ReviewDecision(ReviewDecisionBase, table=True):
    """A decision as stored; a later decision on the same case (after an appeal or a reopening) supersedes it."""

    __tablename__ = "review_decision"

    id: int | None = Field(default=None, primary_key=True)
    decided_at: datetime = _when()


class ReviewAppeal(SQLModel, table=True):
    """A hospital's appeal against a decision."""

    __tablename__ = "review_appeal"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="review_case.id", index=True)
    decision_id: int = Field(foreign_key="review_decision.id")
    reason: str = Field(sa_type=Text)
    filed_by: str
    filed_at: datetime = _when()


class ReviewMeetingBase(SQLModel):
    """A review meeting of a treatment region on a date, with the number of cases it can hear."""

    region: str = Field(index=True)
    held_on: date
    title: str
    location: str | None = None
    capacity: int


class ReviewMeetingCreate(ReviewMeetingBase):
    """Input form of a meeting."""


class ReviewMeeting(ReviewMeetingBase, table=True):
    """A meeting as stored: open until closed; `minutes_note` is the secretary's free text."""

    __tablename__ = "review_meeting"

    id: int | None = Field(default=None, primary_key=True)
    status: str = "open"
    created_by: str
    created_at: datetime = _when()
    closed_by: str | None = None
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    minutes_note: str | None = Field(default=None, sa_type=Text)
    version: int = Field(default=1, sa_column=_MEETING_VERSION)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _MEETING_VERSION}


class MeetingCase(SQLModel, table=True):
    """A case on a meeting's agenda, with the quota standing shown when it was scheduled and its outcome."""

    __tablename__ = "meeting_case"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", name="uq_meeting_case"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="review_meeting.id", index=True)
    case_id: int = Field(foreign_key="review_case.id", index=True)
    position: int
    priority: float
    quota_used: int
    quota_limit: int | None = None
    quota_override: str | None = Field(default=None, sa_type=Text)
    outcome: str = "pending"
    scheduled_by: str
    scheduled_at: datetime = _when()


class MeetingAttendee(SQLModel, table=True):
    """Someone who attended a meeting, in a role (主审专家, 秘书, 医院代表…)."""

    __tablename__ = "meeting_attendee"
    __table_args__ = (UniqueConstraint("meeting_id", "name", name="uq_meeting_attendee"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="review_meeting.id", index=True)
    name: str
    role: str
    organisation: str | None = None
    # The attendee's account, when they have one (experts read the packet and give opinions with it).
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)


class AssistRequestBase(SQLModel):
    """A request of the insured region's staff to the treatment region to investigate a claim (协查)."""

    claim_id: str = Field(foreign_key="claim.claim_id", index=True)
    insured_region: str = Field(index=True)
    treatment_region: str = Field(index=True)
    hospital_id: str
    question: str = Field(sa_type=Text)
    due_date: date | None = None


class AssistRequestCreate(AssistRequestBase):
    """Input form of an investigation request."""


class AssistRequest(AssistRequestBase, table=True):
    """An investigation request as stored: open until answered with a result."""

    __tablename__ = "assist_request"

    id: int | None = Field(default=None, primary_key=True)
    # Which side asked: "insured" (the insured region asks the treatment region, the usual 协查) or
    # "treatment" (the treatment region asks the insured region); the other side answers.
    asked_by: str = "insured"
    status: str = Field(default="open", index=True)
    requested_by: str
    requested_at: datetime = _when()
    answer: str | None = Field(default=None, sa_type=Text)
    result: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    version: int = Field(default=1, sa_column=_ASSIST_VERSION)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _ASSIST_VERSION}
