"""Previewing a rule-pack version's impact from the pages as a background job: `drgaudit rules impact
VERSION --batch ID [--region R]` (`drgaudit.services.impact.rules_impact`, which screens the stored claims
with the pack in force and the version, and writes nothing), run on a thread of the server as a screen
is, with the same machinery (`drgaudit.services.screenjobs`, the `screen_job` table with `kind`
`impact`).

A preview of a few thousand claims takes seconds to minutes (both packs screen every claim), so the page
starts it and polls its progress (claims done of the batch's, app.js); it ends with the impact's figures,
kept with the job as data (`reports.impact.impact_data`) and shown as the CLI's report says them. Its
job has no batch while it runs (`batch_id` NULL: a preview writes nothing, so it never holds a batch's
screen back); what it compares is kept in its `result` from the start (`request`).

Access: `rules.impact` for the chosen region (all regions: an account bound to no region), and the batch
must hold claims treated there. A job is seen by who started it and by those who may preview that region.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.auditlog import Actor
from drgaudit.casebook.screenjobs import IMPACT_JOB, ScreenJob, finish_job, get_job, insert_job, set_result
from drgaudit.contract import REGION_RE
from drgaudit.errors import DrgauditError
from drgaudit.i18n import speaking
from drgaudit.reports.impact import ImpactResult, impact_data, impact_from_data
from drgaudit.services.access import NotFound, Principal, Target, allowing_grant, may, scopes, unrestricted
from drgaudit.services.accounts import acting
from drgaudit.services.impact import ImpactRequest, rules_impact
from drgaudit.services.packversions import IMPACT, VersionPageError, get_version
from drgaudit.services.screenjobs import (
    JobState,
    Reporter,
    mine_guard,
    reap_stale_jobs,
    start_thread,
    state_of,
    track,
    untrack,
)

log = logging.getLogger("drgaudit.impactjobs")


@dataclass
class PreviewForm:
    """A preview as the page sends it (text as typed): a claims batch, and a region or all."""

    batch: str | None
    region: str | None


def impact_regions(principal: Principal) -> list[str] | None:
    """The regions the principal may preview (None: every region, and all of them at once)."""
    found = scopes(principal, IMPACT)
    if unrestricted(found):
        return None
    return sorted({s.value for s in found if s.value})


def preview_batches(*, session: Session, principal: Principal) -> list[Any]:
    """The claims batches a preview may be asked for: every one for an account bound to no region, else
    those holding a claim treated in its regions."""
    if not may(principal, IMPACT):
        return []
    batches = [b for b in queries.list_batches(session=session) if b.kind == "claims" and b.rows_ok]
    regions = impact_regions(principal)
    if regions is None:
        return list(reversed(batches))
    within = queries.batches_by_region(session=session, regions=frozenset(regions), inside=True)
    return [b for b in reversed(batches) if b.id in within]


def _checked(session: Session, principal: Principal, form: PreviewForm) -> tuple[int, str | None]:
    raw = (form.batch or "").strip()
    if not raw:
        raise VersionPageError("请选择要评估的已入库结算清单批次。")
    if not raw.isascii() or not raw.isdigit():
        raise VersionPageError(f"批次“{raw}”不是批次号。")
    region = (form.region or "").strip() or None
    if region is not None and not REGION_RE.match(region):
        raise VersionPageError(f"统筹区“{region}”不是 6 位统筹区编码。")
    if allowing_grant(principal, IMPACT, Target(treatment_region=region)) is None:
        if region is None:
            raise VersionPageError("您的账户只能评估本统筹区的病例：请选择统筹区。")
        raise VersionPageError(f"统筹区 {region} 不在您的账户范围内，不能评估它的病例。")
    batch_id = int(raw)
    batch = queries.get_batch(session=session, batch_id=batch_id)  # None past any stored id too
    if batch is None or batch_id not in {b.id for b in preview_batches(session=session, principal=principal)}:
        raise VersionPageError(f"没有第 {raw} 批次，或它不是您可评估的结算清单批次。")
    regions = queries.batch_regions(session=session, batch_id=batch_id)
    if not batch.rows_ok or (region is not None and region not in regions):
        where = f"就医地为 {region} 的" if region else ""
        raise VersionPageError(f"第 {batch_id} 批次没有{where}结算清单，无可比较。")
    return batch_id, region


def start_preview(
    *, engine: Engine, session: Session, principal: Principal, version_id: int, form: PreviewForm
) -> ScreenJob:
    """Check the preview (Chinese refusals, nothing started), record a running job and run the impact on a
    thread; the job at once."""
    version = get_version(session=session, principal=principal, version_id=version_id)
    batch_id, region = _checked(session, principal, form)
    actor = acting(principal, IMPACT, Target(treatment_region=region))
    batch = queries.get_batch(session=session, batch_id=batch_id)
    total = batch.rows_ok if batch is not None else 0
    request = {"version_id": version.id, "version": version.version, "batch_id": batch_id, "region": region}
    with mine_guard:  # known as this process's before any thread of it can judge it
        job = insert_job(
            session=session, kind=IMPACT_JOB, batch_id=None, started_by=str(actor), role=actor.role,
            channel=actor.channel, total=total,
        )  # fmt: skip
        job_id = int(job.id or 0)
        track(job_id)
    set_result(session=session, job_id=job_id, result={"request": request})
    if not start_thread(
        session=session, job_id=job_id, target=_run, args=(engine, job_id, request, actor, total),
        kind="impact", what="评估",
    ):  # fmt: skip
        raise VersionPageError("影响评估未能开始：服务器暂时无法开始新的任务，请稍后重试。")
    session.refresh(job)
    return job


def _run(engine: Engine, job_id: int, request: dict[str, Any], actor: Actor, total: int) -> None:
    """The job's thread: the impact, then how it ended (Chinese messages, as on the pages)."""
    with speaking("zh_CN"):
        reporter = Reporter(engine, job_id, total)
        reporter.start()
        status, result, error = "failed", {"request": request}, None
        try:
            with Session(engine) as session:
                impact = rules_impact(
                    session=session,
                    request=ImpactRequest(
                        new_version=f"#{request['version_id']}",
                        batch_id=request["batch_id"],
                        region=request["region"],
                    ),
                    progress=reporter.progress,
                )
            status, result = "done", {"request": request, "impact": impact_data(impact)}
        except DrgauditError as exc:
            error = f"影响评估未能完成：{exc}"
        except Exception as exc:  # noqa: BLE001  (the job records any failure; the log keeps the traceback)
            log.exception("impact job %s failed", job_id)
            error = f"影响评估时出现意外错误（{type(exc).__name__}），详情见服务日志。可稍后重新评估。"
        finally:
            reporter.stop()
        try:
            with Session(engine) as session:
                finish_job(session=session, job_id=job_id, status=status, result=result, error=error)
        except Exception:  # noqa: BLE001  (nothing to tell but the log)
            log.exception("impact job %s: its end could not be recorded", job_id)
        finally:
            untrack(job_id)


@dataclass
class Preview:
    """A preview job as its page shows it: its state, what it compares, and the impact once done."""

    state: JobState
    request: dict[str, Any]
    impact: ImpactResult | None

    @property
    def running(self) -> bool:
        return self.state.running


def preview(*, session: Session, principal: Principal, version_id: int, job_id: int) -> Preview:
    """A preview job of this version, for who started it and those who may preview its region
    (`NotFound` for others, another version's job and a missing one)."""
    job = get_job(session=session, job_id=job_id)
    result = (job.result or {}) if job is not None else {}
    request = result.get("request") or {}
    if job is None or job.kind != IMPACT_JOB or request.get("version_id") != version_id:
        raise NotFound(f"no impact preview {job_id}")
    if job.started_by != principal.username and (
        allowing_grant(principal, IMPACT, Target(treatment_region=request.get("region"))) is None
    ):
        raise NotFound(f"no impact preview {job_id}")
    if job.status == "running" and reap_stale_jobs(session=session):
        session.refresh(job)
        result = job.result or {}
    found, impact = result.get("impact"), None
    if found:
        try:
            impact = impact_from_data(found)
        except (KeyError, TypeError, ValueError):  # kept by an older version of the service: not readable
            log.warning("impact job %s: its result cannot be read", job_id, exc_info=True)
            session.expunge(job)  # the message below is for the page, never stored
            job.error = "这次评估的结果由旧版本的服务保存，无法显示；请重新评估。"
    return Preview(state_of(job), request, impact)


def progress_text(found: Preview) -> tuple[str, str]:
    """(kind, text) of a preview for its page and poll: its progress while it runs, then how it ended."""
    state, request = found.state, found.request
    where = f"第 {request.get('batch_id')} 批次" + (
        f"（就医地 {request['region']}）" if request.get("region") else ""
    )
    if state.running:
        if state.total and state.done >= state.total:
            return "busy", f"正在评估{where}：{state.total:,} 份结算清单已用新旧两套规则包筛查完毕，正在比较…"
        return (
            "busy",
            f"正在评估{where}：已筛查 {state.done:,} / {state.total:,} 份结算清单（{state.percent}%）",
        )
    if found.impact is None:
        return "error", state.job.error or "影响评估未完成，原因未记录。"
    t = found.impact.totals
    return "ok", (
        f"{where}评估完成：命中 {t.before:,} → {t.after:,} 次（新增 {t.added:,}，减少 {t.removed:,}），"
        f"风险金额 {t.amount_before:,.2f} → {t.amount_after:,.2f} 元；未写入任何数据。"
    )
