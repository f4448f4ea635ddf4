"""Reports from the pages that use them: the decided-amounts roll-up with the findings' states, the
screening summary, cost monitoring, a hospital's feedback letter and the clearing statement between
regions (PDF, XLSX or HTML)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from drgaudit.casebook import findings, queries, review
from drgaudit.reports.clearing import build_clearing
from drgaudit.reports.feedback import build_feedback
from drgaudit.reports.monitoring import build_monitoring
from drgaudit.reports.periods import Period, parse_period
from drgaudit.reports.summary import build_summary
from drgaudit.services import batches as batch_service
from drgaudit.services.access import NotFound, Principal, Target, may, scopes, unrestricted
from drgaudit.services.findings import finding_scope
from drgaudit.services.labels import name
from drgaudit.web.deps import DB, require, require_any
from drgaudit.web.forms import FormError, report_response, text, whole
from drgaudit.web.templating import render

router = APIRouter()
FORMATS = {
    "summary": ("pdf", "xlsx", "html"),
    "monitoring": ("pdf", "xlsx", "html"),
    "feedback": ("pdf", "xlsx", "html"),
    "clearing": ("pdf", "xlsx", "html"),
}


def _region_of(me: Principal, action: str, asked: str | None) -> str | None:
    """The treatment region a report may cover: the one asked for, within the account's scope."""
    found = scopes(me, action)
    if unrestricted(found):
        return asked
    regions = {s.value for s in found if s.column == "treatment_region"}
    if asked in regions:
        return asked
    if asked is None and len(regions) == 1:
        return next(iter(regions))
    raise NotFound("no such report")


@router.get("/reports")
def reports_page(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require_any("report.summary", "report.feedback", "report.clearing"))],
) -> Response:
    """The roll-up of decided amounts and findings per hospital and month, and the report forms."""
    reference = request.app.state.reference.get(session)
    period = text(request.query_params.get("period"))
    rows = []
    if may(me, "report.summary"):
        region = _region_of(me, "report.summary", text(request.query_params.get("region")))
        rows = review.rollup(session=session, period=period, region=region)
    tallies = {
        (t.hospital_id, t.period): t
        for t in findings.tally(session=session, period=period, where=finding_scope(me))
    }
    hospitals = [(hid, h.get("name") or hid) for hid, h in sorted(reference.hospitals.items())]
    own = sorted({s.value for s in scopes(me, "report.feedback") if s.column == "hospital_id" and s.value})
    if own and not unrestricted(scopes(me, "report.feedback")):
        hospitals = [(hid, label) for hid, label in hospitals if hid in own]
    batches = batch_service.report_batches(session=session, principal=me)
    return render(
        request, "reports.html",
        {"rows": rows, "tallies": tallies, "period": period or "", "hospitals": hospitals, "batches": batches,
         "hospital_info": reference.hospitals,
         "words": reference.words, "name": name, "states": findings.STATES},
    )  # fmt: skip


@router.get("/reports/summary.{fmt}")
def summary(
    request: Request, fmt: str, session: DB, me: Annotated[Principal, Depends(require("report.summary"))]
) -> Response:
    """The screening summary of a batch."""
    _format("summary", fmt)
    batch = whole(request.query_params.get("batch"), "批次", 0)
    region = _region_of(me, "report.summary", text(request.query_params.get("region")))
    report = build_summary(
        session=session, batch_id=batch, region=region, rules_dir=request.app.state.rules_dir
    )
    return report_response(report, fmt, f"筛查结果汇总-第{batch}批次.{fmt}")


@router.get("/reports/monitoring.{fmt}")
def monitoring(
    request: Request, fmt: str, session: DB, me: Annotated[Principal, Depends(require("report.monitoring"))]
) -> Response:
    """Cost monitoring of a period."""
    _format("monitoring", fmt)
    period_text, period = _required_period(request)
    region = _region_of(me, "report.monitoring", text(request.query_params.get("region")))
    report = build_monitoring(
        session=session, period=period, region=region, rules_dir=request.app.state.rules_dir
    )
    return report_response(report, fmt, f"费用监测-{period_text}.{fmt}")


@router.get("/reports/feedback.{fmt}")
def feedback(
    request: Request, fmt: str, session: DB, me: Annotated[Principal, Depends(require("report.feedback"))]
) -> Response:
    """A hospital's feedback letter (a hospital account: only its own)."""
    _format("feedback", fmt)
    hospital = text(request.query_params.get("hospital"))
    info = queries.load_hospitals(session=session).get(hospital or "")
    if hospital is None or info is None:
        raise NotFound("no such hospital")
    target = Target(hospital_id=hospital, treatment_region=info.get("region"))
    if not may(me, "report.feedback", target):
        raise NotFound("no such hospital")
    period_text = text(request.query_params.get("period"))
    batch = whole(request.query_params.get("batch"), "批次", 0) or None
    if period_text is None and batch is None:
        raise FormError("请选择期间或批次")
    report = build_feedback(
        session=session, hospital_id=hospital, batch_id=batch, period=parse_period(period_text) if period_text else None,
        rules_dir=request.app.state.rules_dir,
    )  # fmt: skip
    return report_response(report, fmt, f"反馈函-{hospital}-{period_text or batch}.{fmt}")


def _clearing_scope(me: Principal, region: str | None, insured: str | None) -> tuple[str | None, str | None]:
    """The treatment and insured region the clearing statement may cover for `me`: what was asked, narrowed
    to the account's scope (an insured region's account: its own insured region; a regional grant: its
    treatment region); anything outside it is answered as missing."""
    found = scopes(me, "report.clearing")
    if unrestricted(found):
        return region, insured
    for column, asked in (("treatment_region", region), ("insured_region", insured)):
        allowed = {s.value for s in found if s.column == column}
        if not allowed:
            continue
        if asked is None and len(allowed) == 1:
            asked = next(iter(allowed))
        if asked in allowed:
            return (asked, insured) if column == "treatment_region" else (region, asked)
    raise NotFound("no such report")


@router.get("/reports/clearing.{fmt}")
def clearing(
    request: Request, fmt: str, session: DB, me: Annotated[Principal, Depends(require("report.clearing"))]
) -> Response:
    """The clearing statement of a period between treatment and insured regions."""
    _format("clearing", fmt)
    period_text, period = _required_period(request)
    region, insured = _clearing_scope(
        me, text(request.query_params.get("region")), text(request.query_params.get("insured_region"))
    )
    report = build_clearing(
        session=session,
        period=period,
        region=region,
        insured_region=insured,
        rules_dir=request.app.state.rules_dir,
    )
    return report_response(report, fmt, f"清算对账表-{period_text}{'-' + insured if insured else ''}.{fmt}")


def _required_period(request: Request) -> tuple[str, Period]:
    """The report's period as typed (for the file name) and read; refused when left empty."""
    period_text = text(request.query_params.get("period"))
    if period_text is None:
        raise FormError("请填写期间，如 2025、2025Q3 或 2025-07")
    return period_text, parse_period(period_text)


def _format(kind: str, fmt: str) -> None:
    if fmt not in FORMATS[kind]:
        raise NotFound("no such report format")
