"""Import and screening for auditors who work from the pages: the import batches with their latest screen,
uploading a claims, hospitals or groups file, and screening a claims batch (what `drgaudit import` and
`drgaudit screen --batch` do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from drgaudit.casebook.ingest import ImportReport
from drgaudit.labels import LABELS, VALUE_LABELS
from drgaudit.services import batches as batch_service
from drgaudit.services.access import Principal, may
from drgaudit.web.deps import DB, require, require_any
from drgaudit.web.forms import report_response
from drgaudit.web.templating import redirect, render

router = APIRouter()
KIND_NAMES = VALUE_LABELS["batch.kind"]
RUN_NAMES = {"running": "筛查中", "done": "已完成", "partial": "部分完成", "failed": "失败"}


def _page(request: Request, session: DB, me: Principal, result: ImportReport | None = None) -> Response:
    return render(
        request, "batches.html",
        {"rows": batch_service.list_batches(session=session, principal=me), "kinds": KIND_NAMES,
         "run_names": RUN_NAMES, "result": result, "field_label": lambda f: LABELS.get(f, f),
         "may_import": may(me, batch_service.IMPORT), "may_screen": may(me, batch_service.SCREEN),
         "max_mb": request.app.state.settings.max_import_mb},
    )  # fmt: skip


@router.get("/batches")
def batches_page(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require_any(batch_service.IMPORT, batch_service.SCREEN))],
) -> Response:
    """The import batches, newest first, each claims batch with its latest screen run; the upload form."""
    return _page(request, session, me)


@router.post("/batches")
def upload(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require(batch_service.IMPORT))],
    table: Annotated[str, Form(max_length=20)],
    upload: Annotated[UploadFile, File()],
    group_version: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Import an uploaded file; the page shows what was imported and the first rejected rows."""
    report = batch_service.import_upload(
        session=session, principal=me, kind=table, name=upload.filename, data=upload.file,
        version=group_version.strip() if table == "groups" else None,
    )  # fmt: skip
    return _page(request, session, me, report)


@router.get("/batches/{batch_id}/rejects.xlsx")
def rejects(
    batch_id: int, session: DB, me: Annotated[Principal, Depends(require(batch_service.IMPORT))]
) -> Response:
    """A batch's rejected rows as XLSX, to fix the file and import it again."""
    workbook = batch_service.rejects_workbook(session=session, principal=me, batch_id=batch_id)
    return report_response(workbook, "xlsx", f"拒收的行-第{batch_id}批次.xlsx")


@router.post("/batches/{batch_id}/screen")
def screen(
    request: Request,
    batch_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require(batch_service.SCREEN))],
) -> Response:
    """Screen a claims batch and store the hits, findings and review cases; back to the list with the result."""
    summary = batch_service.screen(session=session, principal=me, batch_id=batch_id)
    cases = summary.review_cases or {}
    found = summary.findings or {}
    message = (
        f"第 {batch_id} 批次筛查完成：{summary.claims:,} 份结算清单，命中 {summary.hits:,} 次，涉及金额 "
        f"{summary.amount_at_risk:,.2f} 元；审核案件新增 {cases.get('created', 0):,} 件、更新 "
        f"{cases.get('refreshed', 0) + cases.get('reopened', 0):,} 件；医院疑点新增 {found.get('created', 0):,} 条"
    )
    if summary.failed:
        message += f"；{summary.claims_failed:,} 份结算清单未能筛查（见筛查记录）"
    return redirect(request, "/batches", message=message, kind="error" if summary.failed else "ok")
