"""Import and screening for auditors who work from the pages: the import batches with their latest screen,
uploading a claims, hospitals or groups file, and screening a claims batch (what `drgaudit import` and
`drgaudit screen --batch` do). Both run in the background: the page shows their progress, then how they
ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from drgaudit.casebook.screenjobs import IMPORT_JOB
from drgaudit.labels import LABELS, VALUE_LABELS
from drgaudit.services import batches as batch_service
from drgaudit.services import importjobs as import_service
from drgaudit.services import screenjobs as job_service
from drgaudit.services.access import Principal, may
from drgaudit.services.screenjobs import JobState
from drgaudit.web.deps import DB, require, require_any
from drgaudit.web.forms import report_response
from drgaudit.web.templating import redirect, render

router = APIRouter()
KIND_NAMES = VALUE_LABELS["batch.kind"]
RUN_NAMES = {"running": "筛查中", "done": "已完成", "partial": "部分完成", "failed": "失败"}
JOB_NAMES = {**RUN_NAMES, "interrupted": "已中断"}
IMPORT_NAMES = {"running": "导入中", "done": "已完成", "failed": "失败", "interrupted": "已中断"}
SCREENING = (batch_service.IMPORT, batch_service.SCREEN)  # who may see the batches page and its screens


def job_text(state: JobState) -> tuple[str, str]:
    """(kind, text) of a job for the page and its poll: its progress while it runs (kind `busy`), then the
    message a screen has always ended with (`ok`, or `error` when claims failed), or why it failed or was
    interrupted; an import's: `import_text`."""
    job = state.job
    if job.kind == IMPORT_JOB:
        return import_text(state)
    batch = job.batch_id
    if state.running:
        if state.total and state.done >= state.total:
            return "busy", f"第 {batch} 批次筛查中：{state.total:,} 份结算清单已筛查完毕，正在保存结果…"
        return (
            "busy",
            f"第 {batch} 批次筛查中：已筛查 {state.done:,} / {state.total:,} 份结算清单（{state.percent}%）",
        )
    result = job.result
    if result is None:
        return (
            "error",
            f"第 {batch} 批次筛查{JOB_NAMES.get(job.status, job.status)}：{job.error or '原因未记录'}",
        )
    message = (
        f"第 {batch} 批次筛查完成：{result['claims']:,} 份结算清单，命中 {result['hits']:,} 次，涉及金额 "
        f"{result['amount_at_risk']:,.2f} 元；审核案件新增 {result['cases_created']:,} 件、更新 "
        f"{result['cases_updated']:,} 件；医院疑点新增 {result['findings_created']:,} 条"
    )
    if result["claims_failed"]:
        message += f"；{result['claims_failed']:,} 份结算清单未能筛查（见筛查记录）"
    return ("error" if result["claims_failed"] else "ok"), message


def import_text(state: JobState) -> tuple[str, str]:
    """(kind, text) of an import job: the rows read and how much of the file while it runs, then that it
    ended (the page shows its result below) or why the file was not imported."""
    job = state.job
    name = f"“{job.file_name}”"
    if state.running:
        if state.total and state.done >= state.total:
            return "busy", f"正在导入{name}：已读取 {state.rows:,} 行，正在保存…"
        return "busy", f"正在导入{name}：已读取 {state.rows:,} 行（文件的 {state.percent}%）"
    if job.status == "done" and job.result is not None:
        result = job.result
        if result.get("already_imported"):
            return "ok", f"{name}已在第 {result['batch_id']} 批次导入过，本次未作改动"
        if result.get("batch_id") is None:
            return "error", f"{name}没有导入任何记录"
        return (
            "ok",
            f"{name}已导入为第 {result['batch_id']} 批次：导入 {result['rows_ok']:,} 行，拒收 {result['rows_rejected']:,} 行",
        )
    return "error", f"{name}导入{IMPORT_NAMES.get(job.status, job.status)}：{job.error or '原因未记录'}"


def _page(request: Request, session: DB, me: Principal, job: int | None = None) -> Response:
    rows, jobs = job_service.batches_with_jobs(session=session, principal=me)
    shown = [job_service.job_state(session=session, principal=me, job_id=job)] if job is not None else []
    # The result of the import job asked for (its refused rows), shown as the upload's answer always was.
    result = shown[0].job.result if shown and shown[0].job.kind == IMPORT_JOB else None
    shown += [s for s in jobs.values() if s.running and s.job.id != job]
    shown += [s for s in job_service.running_imports(session=session, principal=me) if s.job.id != job]
    return render(
        request, "batches.html",
        {"rows": rows, "kinds": KIND_NAMES,
         "run_names": RUN_NAMES, "job_names": JOB_NAMES, "result": result, "field_label": lambda f: LABELS.get(f, f),
         "may_import": may(me, batch_service.IMPORT), "may_screen": may(me, batch_service.SCREEN),
         "max_mb": request.app.state.settings.max_import_mb, "jobs": jobs, "shown_jobs": shown,
         "job_text": job_text, "watching": any(s.running for s in shown)},
    )  # fmt: skip


@router.get("/batches")
def batches_page(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require_any(*SCREENING))],
    job: Annotated[int | None, Query()] = None,
) -> Response:
    """The import batches, newest first, each claims batch with its latest screen run; the upload form;
    the screens and imports running now and `job` (the one just started), with their progress; an import
    job that has ended with its result (counts, refused rows)."""
    return _page(request, session, me, job=job)


@router.post("/batches")
def upload(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require(batch_service.IMPORT))],
    table: Annotated[str, Form(max_length=20)],
    upload: Annotated[UploadFile, File()],
    group_version: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Start importing an uploaded file in the background; back to the list at once, which shows the
    import's progress, then what was imported and the first rejected rows (or why nothing was)."""
    try:
        job = import_service.start_import(
            engine=request.app.state.engine, session=session, principal=me, kind=table, name=upload.filename,
            data=upload.file, version=group_version.strip() if table == "groups" else None,
        )  # fmt: skip
    except import_service.ImportBusy as busy:
        return redirect(request, "/batches", message=str(busy), kind="error")
    return redirect(request, f"/batches?job={job.id}")


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
    """Start screening a claims batch in the background (hits, findings and review cases are stored as
    before); back to the list at once, which shows the screen's progress and then its result."""
    engine = request.app.state.engine
    try:
        job = job_service.start_screen(engine=engine, session=session, principal=me, batch_id=batch_id)
    except job_service.ScreenBusy as busy:
        where = f"/batches?job={busy.job_id}" if busy.job_id else "/batches"
        return redirect(request, where, message=str(busy), kind="error")
    return redirect(request, f"/batches?job={job.id}")


@router.get("/batches/jobs/{job_id}")
def job_progress(
    job_id: int, session: DB, me: Annotated[Principal, Depends(require_any(*SCREENING))]
) -> Response:
    """A job's state for the page's poll (app.js): running with claims (an import: bytes) done of the
    total, or how it ended, with the text the page shows; `job` says whether a screen or an import."""
    state = job_service.job_state(session=session, principal=me, job_id=job_id)
    job = state.job
    kind, text = job_text(state)
    return JSONResponse(
        {"id": job.id, "job": job.kind, "batch_id": job.batch_id, "status": job.status, "running": state.running,
         "done": state.done, "total": state.total, "rows": state.rows, "percent": state.percent, "kind": kind,
         "text": text},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip
