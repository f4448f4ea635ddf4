"""The special-review meeting's papers: the packet (agenda, then one page per case) and the minutes.

Both read the review tables through the casebook's own data functions (`casebook.meetings.meeting_minutes`,
`casebook.review.case_hits` / `case_decisions` / `case_appeals`). Patient ids are masked here too: the
papers go to outside experts, and a claim id is all a reviewer needs to find the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import meetings, queries, review
from drgaudit.casebook.models import stored_id
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.labels import VALUE_LABELS
from drgaudit.reports import charts
from drgaudit.reports.casefile import CaseFile, CaseFiles, HitView
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.document import REPORT_FORMATS, Report
from drgaudit.reports.errors import ReportError
from drgaudit.reports.labels import Vocabulary
from drgaudit.reports.masking import Masker

# From the one vocabulary (drgaudit.labels), as the pages and the feedback letters show them.
DECISION_NAMES = VALUE_LABELS["decision.kind"]
OUTCOME_NAMES = VALUE_LABELS["meeting.outcome"]
STATUS_NAMES = VALUE_LABELS["case.status"]


@dataclass
class AgendaRow:
    """One case of the agenda with its case file (packet) or decision (minutes)."""

    position: int
    case: Any
    outcome: str
    decision: Any
    quota: str
    file: CaseFile | None = None
    history: list[dict[str, Any]] | None = None


def case_hit_views(*, session: Session, files: CaseFiles, case: Any) -> list[HitView]:
    """A case's attached hits with the evidence of the screen hit they came from (same batch, claim, rule)."""
    stored = queries.claim_hits(session=session, claim_id=case.claim_id, batch_id=case.batch_id)
    views = []
    for hit in review.case_hits(session=session, case_id=case.id):
        source = stored.get(hit.rule_id)
        views.append(
            files.hit_view(
                patient_id=case.patient_id,
                rule_id=hit.rule_id,
                family=hit.family,
                severity=hit.severity,
                action=hit.action,
                amount=hit.amount_at_risk,
                message=hit.message,
                evidence=source.evidence if source else None,
                present=hit.present,
            )  # fmt: skip
        )
    return views


def _minutes(session: Session, meeting_id: int) -> meetings.MeetingMinutes:
    try:
        return meetings.meeting_minutes(session=session, meeting_id=meeting_id)
    except ReviewError as exc:
        raise ReportError(f"no meeting {meeting_id} in the casebook (see `drgaudit meeting show`)") from exc


def _quota(item: meetings.AgendaItem) -> str:
    if item.quota_limit is None:
        return "—"
    text = f"{item.quota_used}/{item.quota_limit}"
    return text + ("（超额，已说明理由）" if item.quota_override else "")


def _context(
    session: Session, minutes: meetings.MeetingMinutes, words: Vocabulary, settings: ReportSettings
) -> dict[str, Any]:
    meeting = minutes.meeting
    return {
        "issuer": words.issuer([meeting.region], settings.get("issuer")),
        "region_label": words.region(meeting.region),
        "meeting": meeting,
        "attendees": minutes.attendees,
        "decision_names": DECISION_NAMES,
        "outcome_names": OUTCOME_NAMES,
        "status_names": STATUS_NAMES,
    }


def build_packet(
    *,
    session: Session,
    meeting_id: int,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The meeting packet: cover and agenda, then one page per case with facts, hits, stays and payment."""
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    masker = Masker.from_settings(settings.get("masking"))
    minutes = _minutes(session, meeting_id)
    files = CaseFiles(
        session=session,
        masker=masker,
        words=words,
        rules_dir=rules_dir,
        history_days=int(settings.get("packet.history_days")),
    )
    rows = []
    for item in minutes.agenda:
        if item.outcome == "withdrawn":
            continue
        views = case_hit_views(session=session, files=files, case=item.case)
        file = files.build(item.case.claim_id, views)
        history = [
            {"round": d.round, "kind": DECISION_NAMES.get(d.kind, d.kind), "amount": d.amount, "reason": d.reason,
             "decided_by": d.decided_by, "decided_at": d.decided_at, "superseded": d.superseded}
            for d in review.case_decisions(session=session, case_id=stored_id(item.case))
        ]  # fmt: skip
        appeals = review.case_appeals(session=session, case_id=stored_id(item.case))
        rows.append(
            AgendaRow(item.position, item.case, item.outcome, item.decision, _quota(item), file, history)
        )
        file.claim["appeals"] = [
            {"reason": a.reason, "filed_by": a.filed_by, "filed_at": a.filed_at} for a in appeals
        ]
    context = _context(session, minutes, words, settings)
    context["agenda"] = rows
    context["history_days"] = files.history_days
    context["total_at_risk"] = sum(r.case.amount_at_risk for r in rows)
    context["timelines"] = {
        r.file.claim_id: charts.timeline(
            [(s.claim_id, s.admit, s.discharge, s.current) for s in r.file.stays],
            title=f"{r.file.claim_id} 参保人住院经过",
        )
        for r in rows
        if r.file is not None
    }
    return Report("packet", "特例单议会议材料", "packet.html.j2", context, formats=REPORT_FORMATS["packet"])


def build_minutes(
    *,
    session: Session,
    meeting_id: int,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The minutes: attendees, every case's outcome and decision (kind, amount, reason), totals, signatures."""
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    minutes = _minutes(session, meeting_id)
    hospitals = {h: (name or h) for h, name in _hospital_names(session)}
    rows = [
        AgendaRow(item.position, item.case, item.outcome, item.decision, _quota(item))
        for item in minutes.agenda
    ]
    context = _context(session, minutes, words, settings)
    decided = [r for r in rows if r.decision is not None]
    totals = []
    for kind, name in DECISION_NAMES.items():
        chosen = [r for r in decided if r.decision.kind == kind]
        if chosen:
            totals.append((name, len(chosen), round(sum(r.decision.amount for r in chosen), 2)))
    context.update(
        agenda=rows,
        hospitals=hospitals,
        decided=len(decided),
        totals=totals,
        at_risk=round(sum(r.case.amount_at_risk for r in rows if r.outcome != "withdrawn"), 2),
        draft=minutes.meeting.status != "closed",
    )
    return Report(
        "minutes", "特例单议会议纪要", "minutes.html.j2", context, formats=REPORT_FORMATS["minutes"]
    )


def _hospital_names(session: Session) -> list[tuple[str, str]]:
    from drgaudit.casebook import queries

    return [(h, info.get("name") or h) for h, info in queries.load_hospitals(session=session).items()]
