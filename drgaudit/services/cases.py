"""The review queue for a principal: the cases they may see, and the changes they may make to them.

Every function takes the `principal` (who asks, through which channel) and checks the action with
`drgaudit.services.access` before calling the casebook's data functions (`casebook.review`) with the
actor the audit log records. A case outside the principal's scope is reported as missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from sqlalchemy import false, or_, select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from drgaudit.casebook import accounts, review
from drgaudit.casebook.attachments import Attachment, Upload, add_attachments, get_attachment
from drgaudit.casebook.models import stored_id
from drgaudit.casebook.replies import CaseReply, ExpertOpinion, add_reply, record_opinion
from drgaudit.casebook.review_models import MeetingAttendee, MeetingCase, ReviewAppeal, ReviewCase
from drgaudit.casebook.reviewconfig import ConflictError, ReviewError
from drgaudit.engine.pack import RulePack
from drgaudit.i18n import _
from drgaudit.services.access import NotFound, Principal, Scope, Target, may, scopes, visible
from drgaudit.services.accounts import acting, principal_of


def case_attendees(*, session: Session, case_id: int | None) -> frozenset[int]:
    """Accounts attending a meeting whose agenda holds the case."""
    query = (
        select(col(MeetingAttendee.account_id))
        .join(MeetingCase, col(MeetingCase.meeting_id) == col(MeetingAttendee.meeting_id))
        .where(col(MeetingCase.case_id) == case_id, col(MeetingAttendee.account_id).is_not(None))
    )
    return frozenset(int(row) for row in session.execute(query).scalars())


def case_target(*, session: Session, case: ReviewCase, attendees: bool = True) -> Target:
    """What the access policy needs to know of a case."""
    return Target(
        hospital_id=case.hospital_id, treatment_region=case.region, insured_region=case.insured_region,
        attendees=case_attendees(session=session, case_id=case.id) if attendees else frozenset(),
    )  # fmt: skip


def find_case(
    *, session: Session, principal: Principal, ref: int | str, action: str = "case.view"
) -> ReviewCase:
    """A case the principal may do `action` on (default: see), by number or claim id; `NotFound` when
    there is none or it is out of their scope (the same answer)."""
    try:
        case = review.get_case(session=session, ref=ref)
    except ReviewError:
        raise NotFound(f"no review case {ref}") from None
    visible(principal, action, case_target(session=session, case=case), f"review case {ref}")
    return case


def scope_filter(found: list[Scope], columns: dict[str, Any], attending: Any) -> Any:
    """The SQL condition matching the objects within any of the scopes (`false()` for none).

    `columns` maps hospital_id / insured_region / treatment_region to the query's columns; `attending`
    is a function of an account id giving the condition "on a meeting this account attends".
    """
    conditions = []
    for scope in found:
        parts = []
        if scope.column is not None:
            parts.append(columns[scope.column] == scope.value)
        if scope.attending is not None:
            parts.append(attending(scope.attending))
        if not parts:
            return None  # one unrestricted scope: everything
        conditions.append(parts[0] if len(parts) == 1 else parts[0] & parts[1])
    return or_(*conditions) if conditions else false()


class Placed(Protocol):
    """A stored object placed like its claim: a finding, an assist request."""

    @property
    def hospital_id(self) -> str: ...
    @property
    def insured_region(self) -> str: ...
    @property
    def treatment_region(self) -> str: ...


PLACE_FIELDS = ("hospital_id", "insured_region", "treatment_region")


def place_target(placed: Placed) -> Target:
    """What the access policy needs to know of an object placed like its claim."""
    return Target(
        hospital_id=placed.hospital_id,
        treatment_region=placed.treatment_region,
        insured_region=placed.insured_region,
    )


def place_scope(principal: Principal, action: str, model: type[Any]) -> Any:
    """The SQL condition of the rows of a model placed like its claim (columns named as the claim's) that
    the principal may `action` (None: all)."""
    columns = {name: col(getattr(model, name)) for name in PLACE_FIELDS}
    return scope_filter(scopes(principal, action), columns, lambda _id: None)


CASE_COLUMNS = {
    "hospital_id": col(ReviewCase.hospital_id),
    "insured_region": col(ReviewCase.insured_region),
    "treatment_region": col(ReviewCase.region),
}


def case_attending(account_id: int) -> Any:
    """Cases on the agenda of a meeting the account attends."""
    meetings = select(col(MeetingAttendee.meeting_id)).where(col(MeetingAttendee.account_id) == account_id)
    return col(ReviewCase.id).in_(
        select(col(MeetingCase.case_id)).where(col(MeetingCase.meeting_id).in_(meetings))
    )


def case_scope(principal: Principal, action: str = "case.view") -> Any:
    """The SQL condition on `review_case` of the cases the principal may do `action` on (None: all)."""
    return scope_filter(scopes(principal, action), CASE_COLUMNS, case_attending)


def list_cases(
    *,
    session: Session,
    principal: Principal,
    statuses: Iterable[str] | None,
    region: str | None = None,
    hospital_id: str | None = None,
    assignee: str | None = None,
    period: str | None = None,
) -> list[ReviewCase]:
    """The cases the principal may see, by priority (see `casebook.review.list_cases` for the filters)."""
    condition = case_scope(principal)
    cases = review.list_cases(
        session=session, statuses=statuses, region=region, hospital_id=hospital_id, assignee=assignee,
        period=period, where=condition,
    )  # fmt: skip
    return cases


# ---------------------------------------------------------------------------------------------------
# Changes


def assign(
    *,
    session: Session,
    principal: Principal,
    ref: int | str,
    assignee: str,
    due_date: date | None = None,
    expected_version: int | None = None,
) -> ReviewCase:
    """Assign a case to a reviewer (auditors): on a casebook with accounts, an active account that may
    handle the case (`case.handle`: an auditor of its region), so a mistyped name assigns it to nobody."""
    case = find_case(session=session, principal=principal, ref=ref)
    target = case_target(session=session, case=case)
    actor = acting(principal, "case.assign", target)
    if assignee.strip() and assignee.strip() not in assignees(
        session=session, target=target, among=[assignee.strip()]
    ):
        raise ReviewError(
            _(
                "“{name}” is not an active auditor's account of this case's region: assign the case to one"
            ).format(name=assignee.strip())
        )
    return review.assign_case(
        session=session, ref=stored_id(case), assignee=assignee, actor=actor, due_date=due_date,
        expected_version=expected_version,
    )  # fmt: skip


def assignees(*, session: Session, target: Target, among: list[str] | None = None) -> list[str]:
    """The accounts a case with this target may be assigned to (of `among`, when given): active accounts
    allowed `case.handle` on it. On a private casebook (no accounts) any name is one."""
    if accounts.count_accounts(session=session) == 0:
        return list(among or [])
    if among is not None:
        found = [accounts.find_account(session=session, username=name) for name in among]
        candidates = [a for a in found if a is not None]
    else:
        candidates = accounts.list_accounts(session=session)
    return [
        a.username
        for a in candidates
        if a.status == "active"
        and may(principal_of(session=session, account=a, channel="web"), "case.handle", target)
    ]


def decide(
    *,
    session: Session,
    principal: Principal,
    ref: int | str,
    request: review.DecisionRequest,
    pack: RulePack,
    expected_version: int | None = None,
    quota_override: str | None = None,
) -> review.DecisionOutcome:
    """Record a meeting's decision on a scheduled case (secretaries)."""
    case = find_case(session=session, principal=principal, ref=ref)
    actor = acting(principal, "case.decide", case_target(session=session, case=case))
    return review.decide_case(
        session=session, ref=stored_id(case), request=request, actor=actor, pack=pack, expected_version=expected_version,
        quota_override=quota_override,
    )  # fmt: skip


def appeal(
    *,
    session: Session,
    principal: Principal,
    ref: int | str,
    reason: str,
    expected_version: int | None = None,
    uploads: list[Upload] | None = None,
    max_upload_bytes: int = 10 * 1024 * 1024,
) -> ReviewAppeal:
    """File the hospital's appeal against the decision in force (the hospital, or an auditor for it), with
    its evidence files, in one transaction."""
    case = find_case(session=session, principal=principal, ref=ref)
    actor = acting(principal, "case.appeal", case_target(session=session, case=case))
    try:
        filed = review.appeal_case(
            session=session,
            ref=stored_id(case),
            reason=reason,
            actor=actor,
            expected_version=expected_version,
            commit=False,
        )
        if uploads:
            add_attachments(
                session=session, uploads=uploads, actor=actor, max_bytes=max_upload_bytes, case_id=case.id,
                appeal_id=filed.id, commit=False,
            )  # fmt: skip
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise ConflictError(f"case {case.id} was changed by someone else; nothing was saved") from exc
    except BaseException:
        session.rollback()
        raise
    return filed


def reply(
    *,
    session: Session,
    principal: Principal,
    ref: int | str,
    text: str,
    uploads: list[Upload] | None = None,
    max_upload_bytes: int = 10 * 1024 * 1024,
) -> CaseReply:
    """Write a reply on a case (its hospital, or an auditor), with files, in one transaction."""
    case = find_case(session=session, principal=principal, ref=ref)
    actor = acting(principal, "case.reply", case_target(session=session, case=case))
    try:
        written = add_reply(session=session, case_id=stored_id(case), text=text, actor=actor, commit=False)
        if uploads:
            add_attachments(
                session=session, uploads=uploads, actor=actor, max_bytes=max_upload_bytes, case_id=case.id,
                reply_id=written.id, commit=False,
            )  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return written


def opinion(
    *,
    session: Session,
    principal: Principal,
    meeting_id: int,
    ref: int | str,
    suggestion: str,
    text: str,
    amount: float | None = None,
) -> ExpertOpinion:
    """An attending expert's opinion on a case of the meeting's agenda."""
    case = find_case(session=session, principal=principal, ref=ref)
    agenda = session.execute(
        select(MeetingCase).where(
            col(MeetingCase.meeting_id) == meeting_id, col(MeetingCase.case_id) == case.id
        )
    ).first()
    if agenda is None:
        raise NotFound(f"case {case.id} is not on meeting {meeting_id}'s agenda")
    attendees = frozenset(
        int(a)
        for a in session.execute(
            select(col(MeetingAttendee.account_id)).where(
                col(MeetingAttendee.meeting_id) == meeting_id, col(MeetingAttendee.account_id).is_not(None)
            )
        ).scalars()
    )
    target = Target(
        hospital_id=case.hospital_id,
        treatment_region=case.region,
        insured_region=case.insured_region,
        attendees=attendees,
    )
    actor = acting(principal, "case.opinion", target)
    return record_opinion(
        session=session, meeting_id=meeting_id, case_id=stored_id(case), suggestion=suggestion, text=text, actor=actor,
        account_id=principal.account_id, amount=amount,
    )  # fmt: skip


def attachment(*, session: Session, principal: Principal, attachment_id: int) -> Attachment:
    """An attachment the principal may see (through its case or finding); `NotFound` otherwise."""
    stored = get_attachment(session=session, attachment_id=attachment_id)
    if stored is None:
        raise NotFound(f"no attachment {attachment_id}")
    if stored.case_id is not None:
        find_case(session=session, principal=principal, ref=stored.case_id)
    else:
        from drgaudit.services.findings import find_finding

        find_finding(session=session, principal=principal, finding_id=stored.finding_id or 0)
    return stored
