"""Rule-pack versions on the pages (规则包版本): the registered versions and what is in force in each
region, one version with its promotions, and promoting, approving and stopping shadow runs (what
`drgaudit rules versions|promote|unshadow` do). Included before the rules router: `/rules/versions` is
not a rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from drgaudit.casebook import packs
from drgaudit.reports.impact import OUTCOME_LABELS, case_status, describe_sample_zh, pack_label
from drgaudit.services import impactjobs
from drgaudit.services import packversions as service
from drgaudit.services.access import Principal, may
from drgaudit.services.packversions import IMPACT, PROMOTE, VIEW, PromoteForm
from drgaudit.services.settlement import known_regions
from drgaudit.web.deps import DB, require
from drgaudit.web.templating import redirect, render

router = APIRouter()
Reader = Annotated[Principal, Depends(require(VIEW))]
Promoter = Annotated[Principal, Depends(require(PROMOTE))]
Previewer = Annotated[Principal, Depends(require(IMPACT))]
Text = Annotated[str, Form(max_length=200)]
Note = Annotated[str, Form(max_length=2000)]


def _promote_regions(session: DB, me: Principal) -> list[str]:
    """The regions the account may promote for (`national` first when it may)."""
    regions = [packs.NATIONAL, *known_regions(session=session)]
    return [region for region in regions if service.may_act(me, PROMOTE, region)]


def _context(request: Request, session: DB, me: Principal) -> dict[str, object]:
    words = request.app.state.reference.get(session).words
    return {
        "words": words,
        "region_name": lambda code: (
            "全部统筹区（未单独发布的统筹区）"
            if code == packs.NATIONAL
            else f"{words.region(code)}（{code}）"
        ),
        "stage_names": service.STAGE_NAMES,
        "promote_regions": _promote_regions(session, me),
        "may_promote": lambda region: service.may_act(me, PROMOTE, region),
        "national": packs.NATIONAL,
    }


@router.get("/rules/versions")
def versions_page(request: Request, session: DB, me: Reader) -> Response:
    """The registered versions; per region the active and shadow version and from when; the promotions
    waiting for another auditor, with who asked and how many more are needed."""
    found = service.overview(session=session, principal=me)
    return render(request, "versions.html", {"o": found, **_context(request, session, me)})


@router.get("/rules/versions/{version_id}")
def version_page(request: Request, version_id: int, session: DB, me: Reader) -> Response:
    """One version: who registered it when and why, its files, its promotions; the forms to preview its
    impact and to promote it."""
    version = service.get_version(session=session, principal=me, version_id=version_id)
    found = service.overview(session=session, principal=me)
    mine = [p for p in found.history if p.version_id == version.id]
    pending = [p for p in found.pending if p.promotion.version_id == version.id]
    return render(
        request, "version.html",
        {"o": found, "v": version, "promotions": mine, "pending": pending,
         "may_impact": may(me, IMPACT),
         "batches": impactjobs.preview_batches(session=session, principal=me),
         "impact_regions": impactjobs.impact_regions(me),
         **_context(request, session, me)},
    )  # fmt: skip


@router.post("/rules/versions/{version_id}/promote")
def promote(
    request: Request,
    version_id: int,
    session: DB,
    me: Promoter,
    region: Text = "",
    effective_from: Text = "",
    stage: Text = "active",
    note: Note = "",
) -> Response:
    """Put the version in force for a region from a day (active or shadow), or approve the same request
    of another auditor; where the region needs a second person it waits for one."""
    done = service.promote(
        session=session, principal=me, version_id=version_id,
        form=PromoteForm(region=region, effective_from=effective_from, stage=stage, note=note),
    )  # fmt: skip
    return redirect(request, f"/rules/versions/{version_id}", message=done.message)


@router.post("/rules/versions/unshadow")
def unshadow(
    request: Request,
    session: DB,
    me: Promoter,
    region: Text = "",
    effective_from: Text = "",
    note: Note = "",
) -> Response:
    """Stop screening a region in shadow from a day (or approve another auditor's request to)."""
    done = service.promote(
        session=session, principal=me, version_id=None,
        form=PromoteForm(region=region, effective_from=effective_from, stage="shadow", note=note),
    )  # fmt: skip
    return redirect(request, "/rules/versions", message=done.message)


@router.post("/rules/versions/{version_id}/impact")
def start_impact(
    request: Request,
    version_id: int,
    session: DB,
    me: Previewer,
    batch: Text = "",
    region: Text = "",
) -> Response:
    """Start previewing the version's impact on a stored claims batch (one region's claims, or all) in the
    background; its page shows the progress, then the result."""
    job = impactjobs.start_preview(
        engine=request.app.state.engine, session=session, principal=me, version_id=version_id,
        form=impactjobs.PreviewForm(batch=batch, region=region),
    )  # fmt: skip
    return redirect(request, f"/rules/versions/{version_id}/impact/{job.id}")


@router.get("/rules/versions/{version_id}/impact/{job_id}")
def impact_page(request: Request, version_id: int, job_id: int, session: DB, me: Previewer) -> Response:
    """A preview: its progress while it runs, then what the version would change, as `rules impact`
    reports it (by rule and hospital, amounts before and after, review cases, samples explained)."""
    version = service.get_version(session=session, principal=me, version_id=version_id)
    found = impactjobs.preview(session=session, principal=me, version_id=version_id, job_id=job_id)
    impact = found.impact
    rules = sorted(impact.by_rule.values(), key=lambda x: x.key) if impact else []
    hospitals = (
        sorted(
            (x for x in impact.by_hospital.values() if x.touched), key=lambda x: (-x.added - x.removed, x.key)
        )
        if impact
        else []
    )
    return render(
        request, "impact.html",
        {"v": version, "p": found, "i": impact, "rules": rules, "hospitals": hospitals,
         "text": impactjobs.progress_text, "describe": describe_sample_zh, "pack_label": pack_label,
         "outcome_labels": OUTCOME_LABELS, "case_status": case_status, **_context(request, session, me)},
    )  # fmt: skip


@router.get("/rules/versions/{version_id}/impact/{job_id}/progress")
def impact_progress(version_id: int, job_id: int, session: DB, me: Previewer) -> Response:
    """A preview's state for the page's poll (app.js): running with claims done of the total, or ended."""
    found = impactjobs.preview(session=session, principal=me, version_id=version_id, job_id=job_id)
    state = found.state
    kind, text = impactjobs.progress_text(found)
    return JSONResponse(
        {"id": state.job.id, "status": state.job.status, "running": state.running, "done": state.done,
         "total": state.total, "percent": state.percent, "kind": kind, "text": text},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip
