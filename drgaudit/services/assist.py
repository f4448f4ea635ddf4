"""Cross-region investigation requests (协查) for a principal: ask, answer, list.

The insured region's staff ask the treatment region about a claim of one of their insured persons and
the treatment region's auditors answer; or the treatment region's auditors ask the insured region (a
patient's insurance, a stay there) and the insured region's staff answer. Access through `drgaudit.services.access`; a request or claim out
of the principal's scope is reported as missing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook import assist
from drgaudit.casebook.models import Claim, stored_id
from drgaudit.casebook.review_models import AssistRequest
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.services.access import Denied, NotFound, Principal, Target, may, visible
from drgaudit.services.accounts import acting
from drgaudit.services.cases import place_scope, place_target


def request_target(request: AssistRequest) -> Target:
    """What the access policy needs to know of a request."""
    return place_target(request)


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
    *,
    session: Session,
    principal: Principal,
    claim_id: str,
    question: str,
    due_date: date | None = None,
    asked_by: str = "insured",
) -> AssistRequest:
    """Ask about a claim: the insured region asks the treatment region (`asked_by="insured"`, the usual
    协查), or the treatment region's auditors ask the insured region (`asked_by="treatment"`)."""
    action = f"assist.request_as_{asked_by}" if asked_by in ("insured", "treatment") else ""
    if not action or not may(principal, action):
        raise Denied(f"{principal.username} may not ask for investigations (协查) as the {asked_by} side")
    claim = session.get(Claim, claim_id.strip())
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    target = Target(
        hospital_id=claim.hospital_id,
        treatment_region=claim.treatment_region,
        insured_region=claim.insured_region,
    )
    visible(principal, action, target, f"claim {claim_id}")
    actor = acting(principal, action, target)
    return assist.request_assist(
        session=session,
        claim_id=claim.claim_id,
        question=question,
        actor=actor,
        due_date=due_date,
        asked_by=asked_by,
    )


def answer_action(request: AssistRequest) -> str:
    """The action of answering a request: the side that did not ask answers."""
    return "assist.answer_as_insured" if request.asked_by == "treatment" else "assist.answer_as_treatment"


def answer(
    *,
    session: Session,
    principal: Principal,
    request_id: int,
    answer: str,
    result: str,
    expected_version: int | None = None,
) -> AssistRequest:
    """The side asked answers a request with what it found; this closes it."""
    request = find_request(session=session, principal=principal, request_id=request_id)
    actor = acting(principal, answer_action(request), request_target(request))
    return assist.respond_assist(
        session=session, request_id=stored_id(request), answer=answer, result=result, actor=actor,
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
    condition = place_scope(principal, "assist.view", AssistRequest)
    return assist.list_requests(session=session, region=region, side=side, status=status, within=condition)


def claims_of(*, session: Session, requests: list[AssistRequest]) -> dict[str, Claim]:
    """The claims some requests are about, by id: what both sides need to investigate them (the caller
    listed the requests through `list_requests`, so every claim is within the principal's scope)."""
    ids = sorted({r.claim_id for r in requests})
    found: dict[str, Claim] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            {
                c.claim_id: c
                for c in session.execute(select(Claim).where(col(Claim.claim_id).in_(chunk))).scalars()
            }
        )
    return found
