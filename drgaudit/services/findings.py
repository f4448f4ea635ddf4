"""Hospital findings (疑点) for a principal: list, answer (accept or appeal with evidence), re-review,
escalate to a meeting, confirm the overdue ones.

Access through `drgaudit.services.access` (a hospital sees and answers only its own findings). The
re-review applies separation of duties: the people who registered or promoted the rule-pack version
that produced the hit (`casebook.packs.version_people`) cannot decide it alone — their re-review needs
a second auditor, or a meeting where the region's `rule_author_decisions` says only meetings will do.

Overdue findings are confirmed by `confirm_overdue`, which `drgaudit findings confirm-overdue` runs
(e.g. daily from cron or a systemd timer) and which the web service also runs lazily, at most every
few minutes, before it shows findings: a finding is never shown as open after its due date, even where
nobody scheduled the command, and the confirmation is logged like any change (actor `drgaudit`, role
`system`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook import findings, packs, review
from drgaudit.casebook.attachments import Upload, add_attachments
from drgaudit.casebook.auditlog import Actor
from drgaudit.casebook.findings import Finding, FindingFilter, Rereview, RereviewOutcome
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.reviewconfig import ReviewError, review_settings
from drgaudit.casebook.screening import ScreenHit
from drgaudit.engine.pack import RulePack
from drgaudit.reports.otherhospitals import OtherHospitals
from drgaudit.services.access import NotFound, Principal, Target, may, visible
from drgaudit.services.accounts import acting
from drgaudit.services.cases import place_scope, place_target

SYSTEM = "drgaudit"


def finding_target(finding: Finding) -> Target:
    """What the access policy needs to know of a finding."""
    return place_target(finding)


def find_finding(
    *, session: Session, principal: Principal, finding_id: int, action: str = "finding.view"
) -> Finding:
    """A finding the principal may see; `NotFound` otherwise (also for another hospital's)."""
    try:
        finding = findings.get_finding(session=session, finding_id=finding_id)
    except ReviewError:
        raise NotFound(f"no finding {finding_id}") from None
    visible(principal, action, finding_target(finding), f"finding {finding_id}")
    return finding


def finding_scope(principal: Principal, action: str = "finding.view") -> Any:
    """The SQL condition of the findings the principal may see (None: all)."""
    return place_scope(principal, action, Finding)


def list_findings(
    *,
    session: Session,
    principal: Principal,
    filters: FindingFilter | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Finding], int]:
    """(the findings the principal may see, filtered and paged; how many match)."""
    return findings.list_findings(
        session=session, filters=filters, where=finding_scope(principal), limit=limit, offset=offset
    )


def answer(
    *,
    session: Session,
    principal: Principal,
    finding_id: int,
    accept: bool,
    reason: str = "",
    uploads: list[Upload] | None = None,
    max_upload_bytes: int = 10 * 1024 * 1024,
    expected_version: int | None = None,
    today: date | None = None,
) -> Finding:
    """The hospital accepts a finding, or appeals it with a reason and evidence (one transaction)."""
    finding = find_finding(session=session, principal=principal, finding_id=finding_id)
    actor = acting(principal, "finding.answer", finding_target(finding))
    try:
        findings.answer_finding(
            session=session, finding_id=finding_id, accept=accept, actor=actor, reason=reason, today=today,
            expected_version=expected_version, commit=False,
        )  # fmt: skip
        if uploads:
            add_attachments(
                session=session, uploads=uploads, actor=actor, max_bytes=max_upload_bytes, finding_id=finding_id,
                commit=False,
            )  # fmt: skip
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return finding


def authors_of(*, session: Session, finding: Finding) -> frozenset[str]:
    """Who registered or promoted the rule-pack version that produced the finding's hit."""
    if not finding.pack_version:
        return frozenset()
    people = packs.version_people(session=session, version=finding.pack_version)
    return people.everyone if people is not None else frozenset()


def rereview(
    *,
    session: Session,
    principal: Principal,
    finding_id: int,
    decision: Rereview,
    pack: RulePack,
    expected_version: int | None = None,
) -> RereviewOutcome:
    """An auditor re-reviews an appealed finding (final, or a proposal when separation of duties says so)."""
    finding = find_finding(session=session, principal=principal, finding_id=finding_id)
    actor = acting(principal, "finding.rereview", finding_target(finding))
    settings = review_settings(pack, finding.treatment_region)
    return findings.rereview_finding(
        session=session, finding_id=finding_id, review=decision, actor=actor,
        authors=authors_of(session=session, finding=finding), author_decisions=settings.author_decisions,
        expected_version=expected_version,
    )  # fmt: skip


def escalate(
    *, session: Session, principal: Principal, finding_id: int, reason: str, pack: RulePack
) -> ReviewCase:
    """Send an appealed finding to a review meeting: its claim becomes (or stays) a review case."""
    finding = find_finding(session=session, principal=principal, finding_id=finding_id)
    actor = acting(principal, "finding.rereview", finding_target(finding))
    if finding.state != "appealed":
        raise ReviewError(f"只有医院申诉中的疑点可以提交会议，这条是“{finding.state_name}”")
    try:
        case = review.escalate_claim(
            session=session, claim_id=finding.claim_id, batch_id=finding.batch_id, pack=pack, actor=actor,
            reason=f"疑点 {finding.rule_id} 申诉后提交会议：{reason.strip()}", commit=False,
        )  # fmt: skip
        findings.mark_escalated(session=session, finding=finding, case_id=case.id, actor=actor, reason=reason)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return case


@dataclass
class _LazyConfirm:
    """When this process last confirmed overdue findings (the web service runs it lazily)."""

    last: float = 0.0
    every_seconds: float = 300.0


_lazy = _LazyConfirm()


def confirm_overdue(*, session: Session, actor: Actor, today: date | None = None) -> list[Finding]:
    """Confirm every open finding past its due date (see the module docstring); returns them."""
    return findings.confirm_overdue(session=session, actor=actor, today=today)


def confirm_overdue_lazily(*, session: Session, channel: str = "web") -> int:
    """`confirm_overdue` as the system, at most once every few minutes per process; how many it confirmed."""
    now = time.monotonic()
    if now - _lazy.last < _lazy.every_seconds:
        return 0
    _lazy.last = now
    return len(confirm_overdue(session=session, actor=Actor(SYSTEM, role="system", channel=channel)))


def readable_message(*, session: Session, principal: Principal, finding: Finding) -> str:
    """The finding's message as the principal may read it: a hospital's user who may not re-review it sees
    the other hospitals' claims that the hit relates (its evidence's `related_claims`) masked."""
    if not any(g.role == "hospital" for g in principal.grants) or may(
        principal, "finding.rereview", finding_target(finding)
    ):
        return finding.message
    hit = (
        session.execute(
            select(ScreenHit).where(
                col(ScreenHit.batch_id) == finding.batch_id,
                col(ScreenHit.claim_id) == finding.claim_id,
                col(ScreenHit.rule_id) == finding.rule_id,
            )
        )
        .scalars()
        .first()
    )
    related = [str(r) for r in ((hit.evidence or {}).get("related_claims") or [])] if hit else []
    message = finding.message
    if not related:
        return message
    return OtherHospitals.of(session=session, hospital_id=finding.hospital_id, related=related).hide(message)


def finding_case(*, session: Session, finding: Finding) -> ReviewCase | None:
    """The review case of the finding's claim, if there is one."""
    case: ReviewCase | None = (
        session.execute(select(ReviewCase).where(col(ReviewCase.claim_id) == finding.claim_id))
        .scalars()
        .first()
    )
    return case
