"""Cross-region investigation requests (协查): the insured region's staff ask the treatment region to
check a claim; the treatment region answers with a result, which closes the request. Both sides list
what is open. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import Claim, get_by_id, stored_id
from drgaudit.casebook.review import now
from drgaudit.casebook.review_models import ASSIST_RESULTS, AssistRequest, AssistRequestCreate
from drgaudit.casebook.reviewconfig import ConflictError, ReviewError
from drgaudit.i18n import _
from drgaudit.labels import value_label

ASSIST = "assist_request"
SIDES = ("insured", "treatment")


def assist_state(request: AssistRequest) -> dict[str, Any]:
    """What the audit log records of a request."""
    return {
        "claim_id": request.claim_id,
        "insured_region": request.insured_region,
        "treatment_region": request.treatment_region,
        "question": request.question,
        "due_date": request.due_date,
        "status": request.status,
        "answer": request.answer,
        "result": request.result,
        "version": request.version,
    } | ({"asked_by": request.asked_by} if request.asked_by != "insured" else {})


def request_assist(
    *,
    session: Session,
    claim_id: str,
    question: str,
    actor: str,
    due_date: date | None = None,
    asked_by: str = "insured",
) -> AssistRequest:
    """Open a request about a claim: by default the insured region asks the treatment region; with
    `asked_by="treatment"` the treatment region asks the insured region (e.g. to confirm a patient's
    insurance or a stay there)."""
    if asked_by not in SIDES:
        raise ReviewError(f"asked_by is one of {', '.join(SIDES)}, not `{asked_by}`")
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise ReviewError(f"no claim {claim_id} in the casebook")
    if not question.strip():
        raise ReviewError(_("a request needs a question: what should the treatment region check?"))
    if due_date is not None and due_date < now().date():
        raise ReviewError(_("due date {due} is in the past").format(due=due_date))
    data = AssistRequestCreate(
        claim_id=claim.claim_id, insured_region=claim.insured_region, treatment_region=claim.treatment_region,
        hospital_id=claim.hospital_id, question=question.strip(), due_date=due_date,
    )  # fmt: skip
    request = AssistRequest.model_validate(
        data, update={"requested_by": actor, "requested_at": now(), "asked_by": asked_by}
    )
    session.add(request)
    session.flush()
    auditlog.append(
        session=session,
        actor=actor,
        entity=ASSIST,
        entity_id=stored_id(request),
        action="requested",
        after=assist_state(request),
    )
    session.commit()
    return request


def get_request(*, session: Session, request_id: int) -> AssistRequest:
    """A request by id; a clear error when there is none."""
    request = get_by_id(session, AssistRequest, request_id)
    if request is None:
        raise ReviewError(f"no investigation request {request_id} (see `drgaudit assist list`)")
    return request


def respond_assist(
    *,
    session: Session,
    request_id: int,
    answer: str,
    result: str,
    actor: str,
    expected_version: int | None = None,
) -> AssistRequest:
    """Answer an open request with what was found and a result (confirmed, partly_confirmed, not_confirmed); closes it."""
    request = get_request(session=session, request_id=request_id)
    if expected_version is not None and request.version != expected_version:
        raise ConflictError(
            _(
                "request {request} changed since you read it (now version {version}); nothing was saved"
            ).format(request=request.id, version=request.version)
        )
    if request.status != "open":
        raise ReviewError(
            _("request {request} is already {status} ({result}, by {by})").format(
                request=request.id, status=request.status, result=request.result, by=request.answered_by,
                result_name=value_label("assist.result", request.result),
            )
        )  # fmt: skip
    result = result.strip().lower().replace("-", "_")
    if result not in ASSIST_RESULTS:
        raise ReviewError(
            _("unknown result `{result}`; one of {results}").format(
                result=result, results=", ".join(ASSIST_RESULTS),
                names="、".join(value_label("assist.result", r) for r in ASSIST_RESULTS),
            )
        )  # fmt: skip
    if not answer.strip():
        raise ReviewError(_("an answer needs text: what did the check find?"))
    before = assist_state(request)
    request.answer = answer.strip()
    request.result = result
    request.answered_by = actor
    request.answered_at = now()
    request.status = "closed"
    session.add(request)
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise ConflictError(
            _("request {request} was answered by someone else at the same time; nothing was saved").format(
                request=request_id
            )
        ) from exc
    auditlog.append(
        session=session,
        actor=actor,
        entity=ASSIST,
        entity_id=stored_id(request),
        action="answered",
        before=before,
        after=assist_state(request),
    )
    session.commit()
    return request


def list_requests(
    *,
    session: Session,
    region: str | None = None,
    side: str | None = None,
    status: str | None = "open",
    within: Any = None,
) -> list[AssistRequest]:
    """Requests, oldest first: of a region as the insured side (asked), the treatment side (to answer) or
    either; `status=None` lists every status; `within` is an SQL condition more (a caller's scope)."""
    if side is not None and side not in SIDES:
        raise ReviewError(f"side is one of {', '.join(SIDES)}, not `{side}`")
    query = select(AssistRequest)
    if within is not None:
        query = query.where(within)
    if status is not None:
        query = query.where(col(AssistRequest.status) == status)
    if region is not None:
        if side == "insured":
            query = query.where(col(AssistRequest.insured_region) == region)
        elif side == "treatment":
            query = query.where(col(AssistRequest.treatment_region) == region)
        else:
            query = query.where(
                (col(AssistRequest.insured_region) == region)
                | (col(AssistRequest.treatment_region) == region)
            )
    return list(
        session.execute(query.order_by(col(AssistRequest.requested_at), col(AssistRequest.id))).scalars()
    )
