"""Hospital findings (疑点): the list, one finding with its trail, the hospital's answer (accept or appeal
with evidence), the auditor's re-review or escalation to a meeting."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from drgaudit.casebook import auditlog
from drgaudit.casebook.attachments import list_attachments
from drgaudit.casebook.findings import FINDING, STATES, FindingFilter, Rereview
from drgaudit.services import findings as finding_service
from drgaudit.services.access import Principal, may
from drgaudit.services.labels import log_action, log_actor, name
from drgaudit.web.deps import DB, require
from drgaudit.web.forms import FormError, number, read_uploads, text, whole
from drgaudit.web.templating import redirect, render

router = APIRouter()
Viewer = Annotated[Principal, Depends(require("finding.view"))]
PAGE = 50


@router.get("/findings")
def findings_page(request: Request, session: DB, me: Viewer) -> Response:
    """The findings the account may see: open ones first by due date; overdue ones are confirmed first."""
    finding_service.confirm_overdue_lazily(session=session)
    params = request.query_params
    states = tuple(s for s in params.getlist("state") if s in STATES) or None
    page = max(1, whole(params.get("page"), "页", 1))
    filters = FindingFilter(
        states=states, hospital_id=text(params.get("hospital")), period=text(params.get("period"))
    )
    rows, total = finding_service.list_findings(
        session=session, principal=me, filters=filters, limit=PAGE, offset=(page - 1) * PAGE
    )
    pages = max(1, -(-total // PAGE))
    if page > pages:  # past the last page (a link kept from before): show the last one
        page = pages
        rows, total = finding_service.list_findings(
            session=session, principal=me, filters=filters, limit=PAGE, offset=(page - 1) * PAGE
        )
    reference = request.app.state.reference.get(session)
    base = [(k, v) for k, v in params.multi_items() if k != "page"]
    return render(
        request, "findings.html",
        {"rows": rows, "total": total, "page": page, "pages": pages, "states": STATES, "chosen": set(states or ()),
         "words": reference.words, "name": name, "today": date.today(), "query": params, "hospitals": reference.hospitals,
         "link": lambda n: "?" + urlencode([*base, ("page", str(n))])},
    )  # fmt: skip


@router.get("/findings/{finding_id}")
def finding_page(request: Request, finding_id: int, session: DB, me: Viewer) -> Response:
    """One finding: the hit, its amount and due date, the hospital's answer, evidence, re-review and trail."""
    finding_service.confirm_overdue_lazily(session=session)
    finding = finding_service.find_finding(session=session, principal=me, finding_id=finding_id)
    reference = request.app.state.reference.get(session)
    target = finding_service.finding_target(finding)
    message = finding_service.readable_message(session=session, principal=me, finding=finding)
    case = finding_service.finding_case(session=session, finding=finding)
    trail = auditlog.entries_for(session=session, entity=FINDING, entity_id=finding_id)
    return render(
        request, "finding.html",
        {"f": finding, "message": message, "words": reference.words, "name": name, "today": date.today(),
         "hospitals": reference.hospitals,
         "attachments": list_attachments(session=session, finding_ids=[finding_id]), "trail": trail,
         "case": case if case is not None and may(me, "case.view") else None, "log_actor": log_actor,
         "log_action": log_action, "authors": finding_service.authors_of(session=session, finding=finding),
         "can_answer": may(me, "finding.answer", target), "can_rereview": may(me, "finding.rereview", target),
         "max_mb": request.app.state.settings.max_upload_mb},
    )  # fmt: skip


@router.post("/findings/{finding_id}/answer")
def answer(
    request: Request,
    finding_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("finding.answer"))],
    decision: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=20000)] = "",
    version: Annotated[int | None, Form()] = None,
    files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
) -> Response:
    """The hospital accepts the finding or appeals it with a reason and evidence."""
    if decision not in ("accept", "appeal"):
        raise FormError("请选择认可或申诉")
    settings = request.app.state.settings
    finding_service.answer(
        session=session, principal=me, finding_id=finding_id, accept=decision == "accept", reason=reason,
        uploads=read_uploads(files, max_bytes=settings.max_upload_bytes), max_upload_bytes=settings.max_upload_bytes,
        expected_version=version,
    )  # fmt: skip
    done = "已认可该疑点" if decision == "accept" else "申诉已提交，等待医保经办机构复审"
    return redirect(request, f"/findings/{finding_id}", message=done)


@router.post("/findings/{finding_id}/rereview")
def rereview(
    request: Request,
    finding_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("finding.rereview"))],
    outcome: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=20000)],
    amount: Annotated[str, Form(max_length=40)] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """An auditor re-reviews an appealed finding (a proposal when separation of duties asks for a second reviewer)."""
    done = finding_service.rereview(
        session=session, principal=me, finding_id=finding_id,
        decision=Rereview(outcome=outcome, reason=reason, amount=number(amount, "调整后金额")),
        pack=request.app.state.pack, expected_version=version,
    )  # fmt: skip
    message = (
        "复审结论已记录"
        if done.final
        else "您参与了该规则包版本的登记或上线，复审意见已记录，须由另一名审核员确认"
    )
    return redirect(request, f"/findings/{finding_id}", message=message)


@router.post("/findings/{finding_id}/escalate")
def escalate(
    request: Request,
    finding_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("finding.rereview"))],
    reason: Annotated[str, Form(max_length=20000)],
) -> Response:
    """Send an appealed finding to a review meeting (its claim becomes a review case)."""
    case = finding_service.escalate(
        session=session, principal=me, finding_id=finding_id, reason=reason, pack=request.app.state.pack
    )
    return redirect(request, f"/cases/{case.id}", message="已提交评议会议，请在会议中排入议程")
