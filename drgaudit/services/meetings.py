"""Review meetings for a principal: create, schedule within the quota, attendees, close, read.

Access checks through `drgaudit.services.access`, then the casebook's data functions
(`casebook.meetings`) with the actor the audit log records. A meeting the principal may not see is
reported as missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook import meetings
from drgaudit.casebook.review_models import MeetingAttendee, ReviewMeeting, ReviewMeetingCreate
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.engine.pack import RulePack
from drgaudit.services.access import NotFound, Principal, Target, scopes, visible
from drgaudit.services.accounts import acting
from drgaudit.services.cases import find_case, scope_filter


def meeting_attendee_accounts(*, session: Session, meeting_id: int | None) -> frozenset[int]:
    """Accounts recorded as attending a meeting."""
    query = select(MeetingAttendee.account_id).where(
        MeetingAttendee.meeting_id == meeting_id, MeetingAttendee.account_id.is_not(None)
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
    return ReviewMeeting.id.in_(
        select(MeetingAttendee.meeting_id).where(MeetingAttendee.account_id == account_id)
    )


def list_meetings(
    *, session: Session, principal: Principal, region: str | None = None, status: str | None = None
) -> list[ReviewMeeting]:
    """The meetings the principal may see, newest first."""
    condition = scope_filter(
        scopes(principal, "meeting.view"), {"treatment_region": ReviewMeeting.region}, meeting_attending
    )
    rows = meetings.list_meetings(session=session, region=region, status=status)
    if condition is None:
        return rows
    allowed = set(session.execute(select(ReviewMeeting.id).where(condition)).scalars())
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
        session=session, meeting_id=meeting.id, pack=pack, actor=actor, refs=[c for c in cases if c is not None],
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
    return meetings.add_attendees(
        session=session, meeting_id=meeting.id, attendees=attendees, actor=actor, account_ids=account_ids
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
        session=session, meeting_id=meeting.id, actor=actor, note=note, expected_version=expected_version
    )
