"""The case page and what can be done from it: assign, reply, appeal (with files), download attachments."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from drgaudit.reports import charts
from drgaudit.services import cases as case_service
from drgaudit.services.access import Principal
from drgaudit.services.casepage import CaseView, case_view
from drgaudit.services.labels import log_action, log_actor, name
from drgaudit.services.reference import Reference
from drgaudit.web.deps import DB, Me, require
from drgaudit.web.forms import day, read_uploads
from drgaudit.web.templating import redirect, render

router = APIRouter()
Files = Annotated[list[UploadFile], File()]


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: int, session: DB, me: Annotated[Principal, Depends(require("case.view"))]
) -> Response:
    """One case: the claim in Chinese, hits with evidence, stays, payment, decisions, appeals, replies,
    attachments, opinions and its log — as far as the account may see them."""
    reference = request.app.state.reference.get(session)
    view = case_view(session=session, principal=me, ref=case_id, reference=reference)
    return render(request, "case.html", case_context(request, view, reference))


def case_context(request: Request, view: CaseView, reference: Reference) -> dict[str, object]:
    """What the case template needs (the case page and the meeting room share it)."""
    stays = [(s.claim_id, s.admit, s.discharge, s.current) for s in view.file.stays]
    return {
        "view": view, "c": view.case, "file": view.file, "words": reference.words, "name": name, "log_actor": log_actor, "log_action": log_action,
        "max_mb": request.app.state.settings.max_upload_mb, "today": date.today(),
        "timeline": charts.timeline(stays, title=f"{view.case.claim_id} 参保人住院经过") if stays else None,
    }  # fmt: skip


@router.post("/cases/{case_id}/assign")
def assign(
    request: Request,
    case_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("case.assign"))],
    assignee: Annotated[str, Form(max_length=64)],
    due: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """Assign the case to a reviewer (auditors)."""
    case_service.assign(
        session=session,
        principal=me,
        ref=case_id,
        assignee=assignee,
        due_date=day(due, "办结期限"),
        expected_version=version,
    )
    return redirect(request, f"/cases/{case_id}", message=f"已分派给 {assignee.strip()}")


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request,
    case_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("case.reply"))],
    body: Annotated[str, Form(max_length=20000)],
    files: Files = [],  # noqa: B006 - FastAPI reads the default, never mutates it
) -> Response:
    """Write a reply on the case, with files (the hospital, or an auditor)."""
    settings = request.app.state.settings
    case_service.reply(
        session=session, principal=me, ref=case_id, text=body,
        uploads=read_uploads(files, max_bytes=settings.max_upload_bytes), max_upload_bytes=settings.max_upload_bytes,
    )  # fmt: skip
    return redirect(request, f"/cases/{case_id}#replies", message="回复已提交")


@router.post("/cases/{case_id}/appeal")
def appeal(
    request: Request,
    case_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("case.appeal"))],
    reason: Annotated[str, Form(max_length=20000)],
    version: Annotated[int | None, Form()] = None,
    files: Files = [],  # noqa: B006
) -> Response:
    """Appeal the decision in force, with evidence files (the hospital)."""
    settings = request.app.state.settings
    case_service.appeal(
        session=session, principal=me, ref=case_id, reason=reason, expected_version=version,
        uploads=read_uploads(files, max_bytes=settings.max_upload_bytes), max_upload_bytes=settings.max_upload_bytes,
    )  # fmt: skip
    return redirect(request, f"/cases/{case_id}", message="申诉已提交，案件将重新提交评议会议")


@router.get("/attachments/{attachment_id}")
def attachment(attachment_id: int, session: DB, me: Me) -> Response:
    """Download an attachment of a case or finding the account may see (never shown inline)."""
    stored = case_service.attachment(session=session, principal=me, attachment_id=attachment_id)
    return Response(
        stored.data,
        media_type=stored.content_type,
        headers={
            "content-disposition": f"attachment; filename*=utf-8''{quote(stored.file_name)}",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )
