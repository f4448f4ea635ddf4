"""Cross-region investigation requests (协查) for a principal: ask, answer, list.

The insured region's staff ask the treatment region about a claim of one of their insured persons; the
treatment region's auditors answer. Access through `drgaudit.services.access`; a request or claim out
of the principal's scope is reported as missing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook import assist
from drgaudit.casebook.models import Claim
from drgaudit.casebook.review_models import AssistRequest
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.services.access import Denied, NotFound, Principal, Target, may, scopes, visible
from drgaudit.services.accounts import acting
from drgaudit.services.cases import scope_filter

ASSIST_COLUMNS = {
    "hospital_id": AssistRequest.hospital_id,
    "insured_region": AssistRequest.insured_region,
    "treatment_region": AssistRequest.treatment_region,
}


def request_target(request: AssistRequest) -> Target:
    """What the access policy needs to know of a request."""
    return Target(
        hospital_id=request.hospital_id,
        treatment_region=request.treatment_region,
        insured_region=request.insured_region,
    )


def find_request(
    *, session: Session, principal: Principal, request_id: int, action: str = "assist.view"
) -> AssistRequest:
    """A request the principal may see; `NotFound` otherwise."""
    try:
        request = assist.get_request(session=session, request_id=request_id)
    except ReviewError:
        raise NotFound(f"no investigation request {request_id}") from None
    visible(principal, action, request_target(request), f"investigation request {request_id}")
    return request


def ask(
    *, session: Session, principal: Principal, claim_id: str, question: str, due_date: date | None = None
) -> AssistRequest:
    """The insured region asks the claim's treatment region to investigate it."""
    if not may(principal, "assist.request_as_insured"):
        raise Denied(f"{principal.username} may not ask for investigations (协查)")
    claim = session.get(Claim, claim_id.strip())
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    target = Target(
        hospital_id=claim.hospital_id,
        treatment_region=claim.treatment_region,
        insured_region=claim.insured_region,
    )
    visible(principal, "assist.request_as_insured", target, f"claim {claim_id}")
    actor = acting(principal, "assist.request_as_insured", target)
    return assist.request_assist(
        session=session, claim_id=claim.claim_id, question=question, actor=actor, due_date=due_date
    )


def answer(
    *,
    session: Session,
    principal: Principal,
    request_id: int,
    answer: str,
    result: str,
    expected_version: int | None = None,
) -> AssistRequest:
    """The treatment region answers a request with what it found; this closes it."""
    request = find_request(session=session, principal=principal, request_id=request_id)
    actor = acting(principal, "assist.answer_as_treatment", request_target(request))
    return assist.respond_assist(
        session=session, request_id=request.id, answer=answer, result=result, actor=actor,
        expected_version=expected_version,
    )  # fmt: skip


def list_requests(
    *,
    session: Session,
    principal: Principal,
    region: str | None = None,
    side: str | None = None,
    status: str | None = "open",
) -> list[AssistRequest]:
    """The requests the principal may see (see `casebook.assist.list_requests` for the filters)."""
    condition = scope_filter(scopes(principal, "assist.view"), ASSIST_COLUMNS, lambda _id: None)
    rows = assist.list_requests(session=session, region=region, side=side, status=status)
    if condition is None:
        return rows
    allowed = set(session.execute(select(AssistRequest.id).where(condition)).scalars())
    return [r for r in rows if r.id in allowed]
