"""Everything one case page (or the meeting room's view of a case) shows to one principal.

The claim in Chinese with its payment estimate and group standard (`reports.casefile`), every hit
with its evidence and thresholds, the patient's stays, decisions, appeals, replies, attachments, the
experts' opinions and the case's audit-log entries — each part only when the principal may see it.
A hospital sees nothing of another hospital: a related claim or stay elsewhere shows as 他院.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook import accounts, auditlog, review
from drgaudit.casebook.attachments import Attachment, list_attachments
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.casebook.findings import Finding, claim_findings
from drgaudit.casebook.replies import CaseReply, ExpertOpinion, case_opinions, case_replies
from drgaudit.casebook.review_models import (
    MeetingCase,
    ReviewAppeal,
    ReviewCase,
    ReviewDecision,
    ReviewMeeting,
)
from drgaudit.reports.casefile import CaseFile, HitView
from drgaudit.reports.meeting import case_hit_views
from drgaudit.reports.otherhospitals import OTHER_HOSPITAL, OTHER_HOSPITAL_CLAIM, OtherHospitals
from drgaudit.services.access import Principal, may
from drgaudit.services.cases import assignees, case_target, find_case
from drgaudit.services.reference import Reference


@dataclass
class AgendaEntry:
    """A meeting whose agenda holds the case."""

    meeting: ReviewMeeting
    position: int
    outcome: str
    quota_used: int
    quota_limit: int | None
    quota_override: str | None


@dataclass
class CaseView:
    """One case as one principal may see it."""

    case: ReviewCase
    file: CaseFile
    hits: list[HitView]
    decisions: list[ReviewDecision]
    appeals: list[ReviewAppeal]
    replies: list[CaseReply]
    attachments: list[Attachment]
    opinions: list[ExpertOpinion]
    agenda: list[AgendaEntry]
    findings: list[Finding]
    log: list[AuditEntry] = field(default_factory=list)
    can: dict[str, bool] = field(default_factory=dict)
    own_hospital_only: bool = False
    # The accounts the case may be assigned to (for those who may assign it).
    assignees: list[tuple[str, str]] = field(default_factory=list)

    @property
    def open_meeting(self) -> AgendaEntry | None:
        return next((a for a in self.agenda if a.meeting.status == "open" and a.outcome == "pending"), None)


ACTIONS = (
    "case.assign",
    "case.decide",
    "case.appeal",
    "case.reply",
    "case.attach",
    "case.opinion",
    "case.log",
)


def case_view(*, session: Session, principal: Principal, ref: int | str, reference: Reference) -> CaseView:
    """The case page of `ref` for `principal` (`NotFound` when they may not see it)."""
    case = find_case(session=session, principal=principal, ref=ref)
    assert case.id is not None
    target = case_target(session=session, case=case)
    can = {action: may(principal, action, target) for action in ACTIONS}
    files = reference.case_files(session)
    # Facts and thresholds come labelled in Chinese (`CaseFiles.hit_view`, as the packet shows them); they
    # were labelled a second time here, which turned every fact into 其他依据 and every threshold into 规则阈值.
    hits = case_hit_views(session=session, files=files, case=case)
    file = files.build(case.claim_id, hits)
    hospital_only = _is_hospital(principal) and not can["case.log"]
    if hospital_only:
        _hide_other_hospitals(session, case, file, hits)
    agenda = [
        AgendaEntry(meeting, row.position, row.outcome, row.quota_used, row.quota_limit, row.quota_override)
        for row, meeting in session.execute(
            select(MeetingCase, ReviewMeeting)
            .join(ReviewMeeting, col(ReviewMeeting.id) == col(MeetingCase.meeting_id))
            .where(col(MeetingCase.case_id) == case.id)
            .order_by(col(MeetingCase.id))
        )
    ]
    view = CaseView(
        case=case, file=file, hits=hits, decisions=review.case_decisions(session=session, case_id=case.id),
        appeals=review.case_appeals(session=session, case_id=case.id),
        replies=case_replies(session=session, case_id=case.id),
        attachments=list_attachments(session=session, case_id=case.id),
        opinions=case_opinions(session=session, case_id=case.id) if not hospital_only else [],
        agenda=agenda, findings=claim_findings(session=session, claim_ids=[case.claim_id]).get(case.claim_id, []),
        can=can, own_hospital_only=hospital_only,
    )  # fmt: skip
    if can["case.assign"]:
        names = assignees(session=session, target=target)
        shown = {a.username: a.display_name for a in accounts.list_accounts(session=session)}
        view.assignees = [(name, shown.get(name) or name) for name in names]
    if can["case.log"]:
        view.log = auditlog.entries_for(session=session, entity=review.CASE, entity_id=case.id)
    return view


def _is_hospital(principal: Principal) -> bool:
    return any(g.role == "hospital" for g in principal.grants)


def _hide_other_hospitals(session: Session, case: ReviewCase, file: CaseFile, hits: list[HitView]) -> None:
    """A hospital reads no other hospital's settlement: related claims and stays elsewhere become 他院结算清单,
    other hospitals' codes and names 他院 (`drgaudit.reports.otherhospitals`)."""
    stays = {stay.claim_id for stay in file.stays if not stay.current}
    related = {claim for hit in hits for claim in hit.related} | stays
    others = OtherHospitals.of(session=session, hospital_id=case.hospital_id, related=related)
    for stay in file.stays:
        if not stay.current and (others.is_other(stay.claim_id) or stay.hospital != file.hospital):
            stay.claim_id, stay.hospital, stay.cost, stay.group, stay.principal_dx = (
                OTHER_HOSPITAL_CLAIM, OTHER_HOSPITAL, float("nan"), "—", "—",
            )  # fmt: skip
    for hit in hits:
        hit.message = others.hide(hit.message)
        hit.facts = [(k, others.hide(v)) for k, v in hit.facts]
        hit.related = [OTHER_HOSPITAL_CLAIM if others.is_other(r) else r for r in hit.related]
