"""Review meetings (特例单议会议): created for a date, filled with cases by priority up to capacity,
attended, decided (`review.decide_case`) and closed; `meeting_minutes` gathers everything the minutes need.

Closing a meeting closes its decided cases and sends the undecided ones back to the queue (deferred).
Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import MAX_STORED_INT, get_by_id, stored_id
from drgaudit.casebook.quota import QuotaStanding, quota_standing
from drgaudit.casebook.review import (
    CASE,
    case_state,
    current_decision,
    get_case,
    list_cases,
    now,
    save,
)
from drgaudit.casebook.review_models import (
    MeetingAttendee,
    MeetingCase,
    ReviewCase,
    ReviewDecision,
    ReviewMeeting,
    ReviewMeetingCreate,
)
from drgaudit.casebook.reviewconfig import ConflictError, QuotaError, ReviewError
from drgaudit.engine.pack import RulePack
from drgaudit.i18n import _
from drgaudit.labels import value_label

MEETING = "review_meeting"
SCHEDULABLE = ("new", "triaged", "appealed")


def meeting_state(meeting: ReviewMeeting) -> dict[str, object]:
    """What the audit log records of a meeting."""
    return {
        "region": meeting.region,
        "held_on": meeting.held_on,
        "title": meeting.title,
        "location": meeting.location,
        "capacity": meeting.capacity,
        "status": meeting.status,
        "minutes_note": meeting.minutes_note,
        "version": meeting.version,
    }


def create_meeting(*, session: Session, meeting: ReviewMeetingCreate, actor: str) -> ReviewMeeting:
    """Create an open meeting of a treatment region for a date, hearing up to `capacity` cases."""
    if not 1 <= meeting.capacity <= MAX_STORED_INT:
        raise ReviewError(
            f"a meeting's capacity is a number of cases from 1 to {MAX_STORED_INT:,}, got {meeting.capacity:,}"
        )
    if not (meeting.region.isdigit() and len(meeting.region) == 6):
        raise ReviewError(_("region `{region}` is not a 6-digit region code").format(region=meeting.region))
    if not meeting.title.strip():
        raise ReviewError("a meeting needs a title")
    stored = ReviewMeeting.model_validate(meeting, update={"created_by": actor, "created_at": now()})
    session.add(stored)
    session.flush()
    auditlog.append(
        session=session,
        actor=actor,
        entity=MEETING,
        entity_id=stored_id(stored),
        action="created",
        after=meeting_state(stored),
    )
    session.commit()
    return stored


def get_meeting(*, session: Session, meeting_id: int) -> ReviewMeeting:
    """A meeting by id; a clear error when there is none."""
    meeting = get_by_id(session, ReviewMeeting, meeting_id)
    if meeting is None:
        raise ReviewError(f"no meeting {meeting_id} (see `drgaudit meeting show`)")
    return meeting


def list_meetings(
    *, session: Session, region: str | None = None, status: str | None = None
) -> list[ReviewMeeting]:
    """Meetings, newest date first."""
    query = select(ReviewMeeting)
    if region is not None:
        query = query.where(col(ReviewMeeting.region) == region)
    if status is not None:
        query = query.where(col(ReviewMeeting.status) == status)
    return list(
        session.execute(
            query.order_by(col(ReviewMeeting.held_on).desc(), col(ReviewMeeting.id).desc())
        ).scalars()
    )


def _open(meeting: ReviewMeeting) -> None:
    if meeting.status != "open":
        raise ReviewError(_("meeting {meeting} is closed").format(meeting=meeting.id))


def _agenda(session: Session, meeting_id: int | None) -> list[MeetingCase]:
    query = (
        select(MeetingCase)
        .where(col(MeetingCase.meeting_id) == meeting_id)
        .order_by(col(MeetingCase.position))
    )
    return list(session.execute(query).scalars())


@dataclass
class Scheduled:
    """A case put on the agenda, with the quota standing shown when it was scheduled."""

    case: ReviewCase
    quota: QuotaStanding
    overridden: bool = False


@dataclass
class ScheduleReport:
    """What `schedule_cases` did: cases added, and (when filling) cases left out because of the quota."""

    meeting: ReviewMeeting
    added: list[Scheduled] = field(default_factory=list)
    over_quota: list[Scheduled] = field(default_factory=list)
    room: int = 0


def _chosen_cases(session: Session, meeting: ReviewMeeting, refs: Sequence[int | str]) -> list[ReviewCase]:
    """The cases named for a meeting, each once; all of its region and waiting to be scheduled."""
    chosen: list[ReviewCase] = []
    for ref in refs:
        case = get_case(session=session, ref=ref)
        if case.region != meeting.region:
            raise ReviewError(
                _("case {case} is of region {region}, meeting {meeting} hears region {heard}").format(
                    case=case.id, region=case.region, meeting=meeting.id, heard=meeting.region
                )
            )
        if case.status not in SCHEDULABLE:
            raise ReviewError(
                _("case {case} is {status}; only a new, triaged or appealed case can be scheduled").format(
                    case=case.id, status=case.status, status_name=value_label("case.status", case.status)
                )
            )
        if case not in chosen:
            chosen.append(case)
    return chosen


def schedule_cases(
    *,
    session: Session,
    meeting_id: int,
    pack: RulePack,
    actor: str,
    refs: Sequence[int | str] = (),
    fill: bool = False,
    quota_override: str | None = None,
) -> ScheduleReport:
    """Put cases on an open meeting's agenda: the given ones, and with `fill` the region's waiting cases
    by priority up to capacity. A case over its hospital's quota needs `quota_override` (a reason);
    given ones without it refuse the whole request, filling skips them and reports them."""
    meeting = get_meeting(session=session, meeting_id=meeting_id)
    _open(meeting)
    override = (quota_override or "").strip() or None
    if quota_override is not None and override is None:
        raise ReviewError(_("--override-quota needs a reason"))
    agenda = _agenda(session, meeting.id)
    taken = [row for row in agenda if row.outcome != "withdrawn"]
    room = meeting.capacity - len(taken)
    report = ScheduleReport(meeting)
    chosen = _chosen_cases(session, meeting, refs)
    if len(chosen) > room:
        raise ReviewError(
            _(
                "meeting {meeting} has room for {room} more case(s) (capacity {capacity}), not {chosen}"
            ).format(meeting=meeting.id, room=room, capacity=meeting.capacity, chosen=len(chosen))
        )
    position = max((row.position for row in agenda), default=0)
    stamp = now()

    def put(case: ReviewCase, standing: QuotaStanding) -> None:
        nonlocal position
        position += 1
        over = standing.exceeded
        before = case_state(case)
        case.status = "scheduled"
        case.updated_at = stamp
        session.add(case)
        save(session, case)
        session.add(
            MeetingCase(
                meeting_id=stored_id(meeting), case_id=stored_id(case), position=position, priority=case.priority,
                quota_used=standing.used, quota_limit=standing.limit, quota_override=override if over else None,
                scheduled_by=actor, scheduled_at=stamp,
            )
        )  # fmt: skip
        session.flush()
        after = case_state(case) | {
            "meeting_id": meeting.id,
            "position": position,
            "quota": standing.as_dict(),
        }
        if over:
            after["quota_override"] = override
        auditlog.append(
            session=session,
            actor=actor,
            entity=CASE,
            entity_id=stored_id(case),
            action="scheduled",
            before=before,
            after=after,
        )
        report.added.append(Scheduled(case, standing, over))

    for case in chosen:
        standing = quota_standing(session=session, case=case, pack=pack, counting="scheduled")
        if standing.exceeded and override is None:
            session.rollback()
            raise QuotaError(_("case {case}: ").format(case=case.id) + standing.refusal(_("scheduling it")))
        put(case, standing)
    room -= len(chosen)
    if fill and room > 0:
        for case in list_cases(session=session, statuses=SCHEDULABLE, region=meeting.region):
            if room == 0:
                break
            if case in chosen:
                continue
            standing = quota_standing(session=session, case=case, pack=pack, counting="scheduled")
            if standing.exceeded and override is None:
                report.over_quota.append(Scheduled(case, standing))
                continue
            put(case, standing)
            room -= 1
    report.room = room
    session.commit()
    return report


def add_attendees(
    *,
    session: Session,
    meeting_id: int,
    attendees: Sequence[tuple[str, str, str | None]],
    actor: str,
    account_ids: Mapping[str, int] | None = None,
) -> list[MeetingAttendee]:
    """Record who attends a meeting: (name, role, organisation); a name already recorded is an error.
    `account_ids` maps an attendee's name to their account (an expert reads the packet with it)."""
    meeting = get_meeting(session=session, meeting_id=meeting_id)
    _open(meeting)
    present = meeting_attendees(session=session, meeting_id=meeting.id)
    known = {a.name for a in present}
    linked = {a.account_id for a in present if a.account_id is not None}
    added = []
    for name, role, organisation in attendees:
        name, role = name.strip(), role.strip()
        if not name or not role:
            raise ReviewError(_("an attendee needs a name and a role, e.g. 张三:主审专家"))
        if name in known:
            raise ReviewError(
                _("{name} is already recorded as attending meeting {meeting}").format(
                    name=name, meeting=meeting.id
                )
            )
        known.add(name)
        account_id = (account_ids or {}).get(name)
        if account_id is not None and account_id in linked:
            raise ReviewError(
                _("that account is already recorded as attending meeting {meeting}").format(
                    meeting=meeting.id
                )
            )
        if account_id is not None:
            linked.add(account_id)
        attendee = MeetingAttendee(
            meeting_id=stored_id(meeting),
            name=name,
            role=role,
            organisation=organisation,
            account_id=account_id,
        )
        session.add(attendee)
        added.append(attendee)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=MEETING, entity_id=stored_id(meeting), action="attendees_added",
        after={"attendees": [_attendee_state(a) for a in added]},
    )  # fmt: skip
    session.commit()
    return added


def _attendee_state(attendee: MeetingAttendee) -> dict[str, object]:
    state: dict[str, object] = {
        "name": attendee.name,
        "role": attendee.role,
        "organisation": attendee.organisation,
    }
    if attendee.account_id is not None:
        state["account_id"] = attendee.account_id
    return state


def meeting_attendees(*, session: Session, meeting_id: int | None) -> list[MeetingAttendee]:
    """The attendees of a meeting in the order recorded."""
    query = (
        select(MeetingAttendee)
        .where(col(MeetingAttendee.meeting_id) == meeting_id)
        .order_by(col(MeetingAttendee.id))
    )
    return list(session.execute(query).scalars())


@dataclass
class CloseReport:
    """What closing a meeting did."""

    meeting: ReviewMeeting
    closed: int = 0
    deferred: int = 0


def close_meeting(
    *,
    session: Session,
    meeting_id: int,
    actor: str,
    note: str | None = None,
    expected_version: int | None = None,
) -> CloseReport:
    """Close an open meeting: decided cases are closed, undecided ones go back to the queue (deferred)."""
    meeting = get_meeting(session=session, meeting_id=meeting_id)
    _open(meeting)
    if expected_version is not None and meeting.version != expected_version:
        raise ConflictError(
            _(
                "meeting {meeting} changed since you read it (now version {version}); nothing was saved"
            ).format(meeting=meeting.id, version=meeting.version)
        )
    if not meeting_attendees(session=session, meeting_id=meeting.id):
        raise ReviewError(
            _(
                "meeting {meeting} has no attendees recorded; add them with "
                "`drgaudit meeting add {meeting} --attendee NAME:ROLE`"
            ).format(meeting=meeting.id)
        )
    report = CloseReport(meeting)
    stamp = now()
    for row in _agenda(session, meeting.id):
        if row.outcome not in ("pending", "decided"):
            continue
        case = session.get(ReviewCase, row.case_id)
        assert case is not None
        before = case_state(case)
        if row.outcome == "decided" and case.status == "decided":
            case.status = "closed"
            action = "closed"
            report.closed += 1
        elif row.outcome == "pending" and case.status == "scheduled":
            row.outcome = "deferred"
            session.add(row)
            appealed = current_decision(session=session, case_id=stored_id(case)) is not None
            case.status = "appealed" if appealed else ("triaged" if case.assignee else "new")
            action = "deferred"
            report.deferred += 1
        else:
            continue
        case.updated_at = stamp
        session.add(case)
        save(session, case)
        auditlog.append(
            session=session, actor=actor, entity=CASE, entity_id=stored_id(case), action=action,
            before=before, after=case_state(case) | {"meeting_id": meeting.id},
        )  # fmt: skip
    before = meeting_state(meeting)
    meeting.status = "closed"
    meeting.closed_by = actor
    meeting.closed_at = stamp
    if note:
        meeting.minutes_note = note
    session.add(meeting)
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise ConflictError(
            _("meeting {meeting} was changed by someone else at the same time; nothing was saved").format(
                meeting=meeting_id
            )
        ) from exc
    auditlog.append(
        session=session,
        actor=actor,
        entity=MEETING,
        entity_id=stored_id(meeting),
        action="closed",
        before=before,
        after=meeting_state(meeting),
    )
    session.commit()
    return report


@dataclass
class AgendaItem:
    """One case on a meeting's agenda with its outcome and the decision taken in the meeting."""

    position: int
    case: ReviewCase
    outcome: str
    quota_used: int
    quota_limit: int | None
    quota_override: str | None
    decision: ReviewDecision | None


@dataclass
class MeetingMinutes:
    """Everything the minutes of a meeting need."""

    meeting: ReviewMeeting
    attendees: list[MeetingAttendee]
    agenda: list[AgendaItem]

    @property
    def decided_amounts(self) -> dict[str, float]:
        """Sum of decided amounts by decision kind."""
        totals: dict[str, float] = {}
        for item in self.agenda:
            if item.decision is not None:
                totals[item.decision.kind] = round(
                    totals.get(item.decision.kind, 0.0) + item.decision.amount, 2
                )
        return totals


def meeting_minutes(*, session: Session, meeting_id: int) -> MeetingMinutes:
    """A meeting with its attendees and its agenda (cases in order, outcomes, decisions taken there)."""
    meeting = get_meeting(session=session, meeting_id=meeting_id)
    decisions = {
        d.case_id: d
        for d in session.execute(
            select(ReviewDecision)
            .where(col(ReviewDecision.meeting_id) == meeting.id)
            .order_by(col(ReviewDecision.id))
        ).scalars()
    }
    agenda = []
    for row in _agenda(session, meeting.id):
        case = session.get(ReviewCase, row.case_id)
        assert case is not None
        agenda.append(
            AgendaItem(
                row.position,
                case,
                row.outcome,
                row.quota_used,
                row.quota_limit,
                row.quota_override,
                decisions.get(case.id),
            )
        )
    return MeetingMinutes(meeting, meeting_attendees(session=session, meeting_id=meeting.id), agenda)


def agenda_size(*, session: Session, meeting_id: int) -> int:
    """How many cases a meeting's agenda holds (withdrawn ones not counted)."""
    query = select(func.count()).where(
        col(MeetingCase.meeting_id) == meeting_id, col(MeetingCase.outcome) != "withdrawn"
    )
    return int(session.execute(query).scalar_one())
