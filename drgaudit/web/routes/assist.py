"""Cross-region investigation requests (协查): the requests of one's region with their due dates (overdue
ones marked), asking, and answering."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from drgaudit.casebook.review_models import ASSIST_RESULTS
from drgaudit.labels import label
from drgaudit.services import assist as assist_service
from drgaudit.services.access import Principal, may
from drgaudit.services.labels import name
from drgaudit.web.deps import DB, require, require_any
from drgaudit.web.forms import FormError, day
from drgaudit.web.templating import redirect, render

router = APIRouter()


@router.get("/assist")
def assist_page(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require("assist.view"))],
    status: str = "open",
) -> Response:
    """The requests the account may see (open ones, or all), oldest first, overdue ones marked."""
    chosen = None if status == "all" else "open"
    rows = assist_service.list_requests(session=session, principal=me, status=chosen)
    reference = request.app.state.reference.get(session)
    answerable = {
        r.id
        for r in rows
        if r.status == "open" and may(me, assist_service.answer_action(r), assist_service.request_target(r))
    }
    return render(
        request, "assist.html",
        {"rows": rows, "status": status, "answerable": answerable, "results": ASSIST_RESULTS, "name": name,
         "words": reference.words, "today": date.today(), "label": label,
         "claims": assist_service.claims_of(session=session, requests=rows), "hospitals": reference.hospitals,
         "ask_insured": may(me, "assist.request_as_insured"), "ask_treatment": may(me, "assist.request_as_treatment")},
    )  # fmt: skip


@router.post("/assist")
def ask(
    request: Request,
    session: DB,
    me: Annotated[
        Principal, Depends(require_any("assist.request_as_insured", "assist.request_as_treatment"))
    ],
    claim_id: Annotated[str, Form(max_length=64)],
    question: Annotated[str, Form(max_length=20000)],
    side: Annotated[str, Form(max_length=10)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Ask the other region to investigate a claim (the side asking: the account's, or chosen when it has both)."""
    sides = [s for s in ("insured", "treatment") if may(me, f"assist.request_as_{s}")]
    side = side or (sides[0] if len(sides) == 1 else "")
    if side not in sides:
        raise FormError("请选择发起方")
    done = assist_service.ask(
        session=session,
        principal=me,
        claim_id=claim_id,
        question=question,
        due_date=day(due, "答复期限"),
        asked_by=side,
    )
    return redirect(request, "/assist", message=f"协查请求 {done.id} 已发出")


@router.post("/assist/{request_id}/answer")
def answer(
    request: Request,
    request_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require_any("assist.answer_as_treatment", "assist.answer_as_insured"))],
    result: Annotated[str, Form(max_length=30)],
    answer: Annotated[str, Form(max_length=20000)],
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """Answer a request with what was found (closes it)."""
    assist_service.answer(
        session=session,
        principal=me,
        request_id=request_id,
        answer=answer,
        result=result,
        expected_version=version,
    )
    return redirect(request, "/assist", message=f"协查请求 {request_id} 已答复")
