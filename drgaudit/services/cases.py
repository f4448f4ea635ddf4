"""The review queue for a principal: the cases they may see, and the changes they may make to them.

Every function takes the `principal` (who asks, through which channel) and checks the action with
`drgaudit.services.access` before calling the casebook's data functions (`casebook.review`) with the
actor the audit log records. A case outside the principal's scope is reported as missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import false, or_, select
from sqlmodel import Session

from drgaudit.casebook import review
from drgaudit.casebook.review_models import MeetingAttendee, MeetingCase, ReviewAppeal, ReviewCase
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.engine.pack import RulePack
from drgaudit.services.access import NotFound, Principal, Scope, Target, scopes, visible
from drgaudit.services.accounts import acting


def case_attendees(*, session: Session, case_id: int | None) -> frozenset[int]:
    """Accounts attending a meeting whose agenda holds the case."""
    query = (
        select(MeetingAttendee.account_id)
        .join(MeetingCase, MeetingCase.meeting_id == MeetingAttendee.meeting_id)
        .where(MeetingCase.case_id == case_id, MeetingAttendee.account_id.is_not(None))
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


CASE_COLUMNS = {
    "hospital_id": ReviewCase.hospital_id,
    "insured_region": ReviewCase.insured_region,
    "treatment_region": ReviewCase.region,
}


def case_attending(account_id: int) -> Any:
    """Cases on the agenda of a meeting the account attends."""
    meetings = select(MeetingAttendee.meeting_id).where(MeetingAttendee.account_id == account_id)
    return ReviewCase.id.in_(select(MeetingCase.case_id).where(MeetingCase.meeting_id.in_(meetings)))


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
    """Assign a case to a reviewer (auditors)."""
    case = find_case(session=session, principal=principal, ref=ref)
    actor = acting(principal, "case.assign", case_target(session=session, case=case))
    return review.assign_case(
        session=session, ref=case.id, assignee=assignee, actor=actor, due_date=due_date,
        expected_version=expected_version,
    )  # fmt: skip


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
        session=session, ref=case.id, request=request, actor=actor, pack=pack, expected_version=expected_version,
        quota_override=quota_override,
    )  # fmt: skip


def appeal(
    *,
    session: Session,
    principal: Principal,
    ref: int | str,
    reason: str,
    expected_version: int | None = None,
) -> ReviewAppeal:
    """File the hospital's appeal against the decision in force (the hospital, or an auditor for it)."""
    case = find_case(session=session, principal=principal, ref=ref)
    actor = acting(principal, "case.appeal", case_target(session=session, case=case))
    return review.appeal_case(
        session=session, ref=case.id, reason=reason, actor=actor, expected_version=expected_version
    )
