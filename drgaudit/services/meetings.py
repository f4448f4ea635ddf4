"""Review meetings for a principal: create, schedule within the quota, attendees, close, read.

Access checks through `drgaudit.services.access`, then the casebook's data functions
(`casebook.meetings`) with the actor the audit log records. A meeting the principal may not see is
reported as missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook import accounts, meetings
from drgaudit.casebook.models import MAX_STORED_INT, stored_id
from drgaudit.casebook.quota import QuotaStanding, quota_standing
from drgaudit.casebook.review_models import (
    MeetingAttendee,
    MeetingCase,
    ReviewCase,
    ReviewMeeting,
    ReviewMeetingCreate,
)
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.engine.pack import RulePack
from drgaudit.labels import value_label
from drgaudit.services.access import NotFound, Principal, Target, may, scopes, unrestricted, visible
from drgaudit.services.accounts import acting
from drgaudit.services.cases import find_case, list_cases, scope_filter


def meeting_attendee_accounts(*, session: Session, meeting_id: int | None) -> frozenset[int]:
    """Accounts recorded as attending a meeting."""
    query = select(col(MeetingAttendee.account_id)).where(
        col(MeetingAttendee.meeting_id) == meeting_id, col(MeetingAttendee.account_id).is_not(None)
    )
    return frozenset(int(row) for row in session.execute(query).scalars())


def meeting_target(*, session: Session, meeting: ReviewMeeting) -> Target:
    """What the access policy needs to know of a meeting."""
    return Target(
        treatment_region=meeting.region,
        attendees=meeting_attendee_accounts(session=session, meeting_id=meeting.id),
    )


def find_meeting(
    *, session: Session, principal: Principal, meeting_id: int, action: str = "meeting.view"
) -> ReviewMeeting:
    """A meeting the principal may do `action` on (default: see); `NotFound` otherwise."""
    try:
        meeting = meetings.get_meeting(session=session, meeting_id=meeting_id)
    except ReviewError:
        raise NotFound(f"no meeting {meeting_id}") from None
    visible(principal, action, meeting_target(session=session, meeting=meeting), f"meeting {meeting_id}")
    return meeting


def meeting_attending(account_id: int) -> Any:
    return col(ReviewMeeting.id).in_(
        select(col(MeetingAttendee.meeting_id)).where(col(MeetingAttendee.account_id) == account_id)
    )


def list_meetings(
    *, session: Session, principal: Principal, region: str | None = None, status: str | None = None
) -> list[ReviewMeeting]:
    """The meetings the principal may see, newest first."""
    condition = scope_filter(
        scopes(principal, "meeting.view"), {"treatment_region": col(ReviewMeeting.region)}, meeting_attending
    )
    rows = meetings.list_meetings(session=session, region=region, status=status)
    if condition is None:
        return rows
    allowed = set(session.execute(select(col(ReviewMeeting.id)).where(condition)).scalars())
    return [m for m in rows if m.id in allowed]


def create(*, session: Session, principal: Principal, meeting: ReviewMeetingCreate) -> ReviewMeeting:
    """Create a meeting (secretaries of the region)."""
    actor = acting(principal, "meeting.create", Target(treatment_region=meeting.region))
    return meetings.create_meeting(session=session, meeting=meeting, actor=actor)


def schedule(
    *,
    session: Session,
    principal: Principal,
    meeting_id: int,
    pack: RulePack,
    refs: Sequence[int | str] = (),
    fill: bool = False,
    quota_override: str | None = None,
) -> meetings.ScheduleReport:
    """Put cases on a meeting's agenda within the quota (secretaries)."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    actor = acting(principal, "meeting.schedule", meeting_target(session=session, meeting=meeting))
    cases = [find_case(session=session, principal=principal, ref=ref).id for ref in refs]
    return meetings.schedule_cases(
        session=session, meeting_id=stored_id(meeting), pack=pack, actor=actor, refs=[c for c in cases if c is not None],
        fill=fill, quota_override=quota_override,
    )  # fmt: skip


def add_attendees(
    *,
    session: Session,
    principal: Principal,
    meeting_id: int,
    attendees: Sequence[tuple[str, str, str | None]],
    account_ids: Mapping[str, int] | None = None,
) -> list[MeetingAttendee]:
    """Record who attends (secretaries); `account_ids` links attendees to their accounts (experts)."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    actor = acting(principal, "meeting.attendees", meeting_target(session=session, meeting=meeting))
    # Only an expert's account is linked (it reads the packet, gives opinions); the form lists no other,
    # and a forged one (a hospital's account) was recorded as an attending account all the same.
    grants = accounts.account_grants(session=session, account_ids=list((account_ids or {}).values()))
    for person, account_id in (account_ids or {}).items():
        if not any(grant.role == "expert" for grant in grants.get(account_id, [])):
            raise ReviewError(f"“{person}”的账户不是评审专家账户，不能关联；其他参会人员只填写姓名即可")
    return meetings.add_attendees(
        session=session,
        meeting_id=stored_id(meeting),
        attendees=attendees,
        actor=actor,
        account_ids=account_ids,
    )


def close(
    *,
    session: Session,
    principal: Principal,
    meeting_id: int,
    note: str | None = None,
    expected_version: int | None = None,
) -> meetings.CloseReport:
    """Close a meeting (secretaries)."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    actor = acting(principal, "meeting.close", meeting_target(session=session, meeting=meeting))
    return meetings.close_meeting(
        session=session,
        meeting_id=stored_id(meeting),
        actor=actor,
        note=note,
        expected_version=expected_version,
    )


@dataclass
class Candidate:
    """A case that could go on the agenda, with its hospital's quota standing if it did."""

    case: ReviewCase
    quota: QuotaStanding


@dataclass
class MeetingPage:
    """A meeting as its page shows it: the minutes' data, the quota standings and what may be done."""

    meeting: ReviewMeeting
    minutes: meetings.MeetingMinutes
    candidates: list[Candidate] = field(default_factory=list)
    can: dict[str, bool] = field(default_factory=dict)
    experts: list[tuple[str, str]] = field(default_factory=list)  # (username, display name) to invite

    @property
    def taken(self) -> int:
        return sum(1 for item in self.minutes.agenda if item.outcome != "withdrawn")


MEETING_ACTIONS = (
    "meeting.schedule",
    "meeting.attendees",
    "meeting.close",
    "case.decide",
    "report.packet",
    "report.minutes",
)


def meeting_page(
    *, session: Session, principal: Principal, meeting_id: int, pack: RulePack, candidates: int = 30
) -> MeetingPage:
    """A meeting with its agenda and, for those who schedule, the waiting cases with their quota standing."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    target = meeting_target(session=session, meeting=meeting)
    page = MeetingPage(meeting, meetings.meeting_minutes(session=session, meeting_id=stored_id(meeting)))
    page.can = {action: may(principal, action, target) for action in MEETING_ACTIONS}
    if page.can["meeting.schedule"] and meeting.status == "open":
        waiting = list_cases(
            session=session, principal=principal, statuses=meetings.SCHEDULABLE, region=meeting.region
        )[:candidates]
        page.candidates = [
            Candidate(case, quota_standing(session=session, case=case, pack=pack, counting="scheduled"))
            for case in waiting
        ]
    if page.can["meeting.attendees"]:
        page.experts = [
            (account.username, account.display_name)
            for account in accounts.list_accounts(session=session, role="expert")
            if account.status == "active"
        ]
    return page


def agenda_case(
    *, session: Session, principal: Principal, meeting_id: int, position: int
) -> tuple[ReviewMeeting, meetings.AgendaItem, int]:
    """(the meeting, its agenda item at `position` (clamped to the agenda), how many items) for the room."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    agenda = [
        item
        for item in meetings.meeting_minutes(session=session, meeting_id=stored_id(meeting)).agenda
        if item.outcome != "withdrawn"
    ]
    if not agenda:
        raise NotFound(f"meeting {meeting_id} has no case on its agenda yet")
    index = min(max(position, 1), len(agenda)) - 1
    return meeting, agenda[index], len(agenda)


def waiting_for_decision(
    *, session: Session, principal: Principal, meeting_id: int, case_id: int
) -> ReviewMeeting:
    """The open meeting whose agenda holds the case waiting for its decision. A decision sent again (a
    form sent twice, or again after going back in the browser) for a case already decided, deferred or
    withdrawn, or for a meeting since closed, is refused saying so (it was “not found”); a case the
    meeting never had on its agenda is missing."""
    meeting = find_meeting(session=session, principal=principal, meeting_id=meeting_id)
    if not 0 <= case_id <= MAX_STORED_INT:  # an id no row can have (and no database takes past 2**63)
        raise NotFound(f"no case {case_id}")
    row = (
        session.execute(
            select(MeetingCase).where(
                col(MeetingCase.meeting_id) == stored_id(meeting), col(MeetingCase.case_id) == case_id
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound(f"case {case_id} is not on meeting {meeting_id}'s agenda")
    if meeting.status != "open":
        raise ReviewError(
            f"会议 {meeting_id} 已结束，不能再记录决定，本次提交未保存（会议结束时未决定的案件已退回审核队列）"
        )
    if row.outcome != "pending":
        outcome = value_label("meeting.outcome", row.outcome)
        raise ReviewError(
            f"案件 {case_id} 在本次会议中已是“{outcome}”，本次提交未保存；已作出的决定只有在医院申诉后才能重新审议"
        )
    return meeting


def regions_to_create(principal: Principal, regions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (code, name) of `regions` the principal may create a meeting for: a secretary bound to a region
    was offered every region, and refused (无权操作) for all but its own."""
    found = scopes(principal, "meeting.create")
    if unrestricted(found):
        return list(regions)
    allowed = {s.value for s in found if s.column == "treatment_region"}
    return [(code, label) for code, label in regions if code in allowed]
