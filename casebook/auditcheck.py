"""Do the review tables still hold what the audit log says they hold?

Every change to a case, decision, appeal, meeting, attendee or investigation request goes through a data
function that logs it in the same transaction. A row changed by other means (SQL typed into a database
console, a restored backup) leaves the log behind. `check_state` reads the log once, keeps the latest
recorded state of every entity, and compares each current row with it field by field, naming rows
that changed, appeared or disappeared outside the log.

What is compared: a case's `case_state`, a meeting's `meeting_state`, a request's `assist_state` (the
latest entry that recorded each); a decision's state as logged when it was taken (its kind, amount,
items, reason…); an appeal as logged when it was filed; a meeting's attendees as logged when they were
added; and that the agendas hold exactly the cases the log scheduled.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook.assist import ASSIST, assist_state
from drgaudit.casebook.auditlog import AuditEntry, canonical
from drgaudit.casebook.meetings import MEETING, _attendee_state, meeting_state
from drgaudit.casebook.review import CASE, _decision_state, case_state
from drgaudit.casebook.review_models import (
    AssistRequest,
    MeetingAttendee,
    MeetingCase,
    ReviewAppeal,
    ReviewCase,
    ReviewDecision,
    ReviewMeeting,
)

# Problems listed in full; the rest are counted.
PROBLEMS_KEPT = 50


@dataclass
class StateReport:
    """What `check_state` compared, and every row that differs from the log."""

    checked: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problems_total: int = 0

    @property
    def ok(self) -> bool:
        return self.problems_total == 0

    def add(self, problem: str) -> None:
        self.problems_total += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)


@dataclass
class _Log:
    """The log's latest recorded state of each entity, and what it recorded of decisions and the rest."""

    states: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    decisions: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    appeals: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    attendees: dict[str, Counter[str]] = field(default_factory=dict)
    scheduled: set[tuple[str, str]] = field(default_factory=set)
    deleted: set[tuple[str, str]] = field(default_factory=set)


# The keys of each entity's state: the latest entry holding all of them is its recorded state.
_STATE_KEYS = {
    CASE: frozenset(("claim_id", "status", "version")),
    MEETING: frozenset(("region", "status", "version")),
    ASSIST: frozenset(("claim_id", "status", "version")),
}


def _read_log(session: Session, chunk: int = 5000) -> _Log:
    log = _Log()
    columns = (
        col(AuditEntry.seq), col(AuditEntry.entity), col(AuditEntry.entity_id), col(AuditEntry.action),
        col(AuditEntry.after),
    )  # fmt: skip
    after_seq = 0
    while True:
        rows = session.execute(
            select(*columns).where(col(AuditEntry.seq) > after_seq).order_by(col(AuditEntry.seq)).limit(chunk)
        ).all()
        if not rows:
            return log
        for seq, entity, entity_id, action, after in rows:
            _take(log, seq, entity, entity_id, action, after)
        after_seq = rows[-1][0]


def _take(log: _Log, seq: int, entity: str, entity_id: str, action: str, after: str | None) -> None:
    if action == "deleted":
        log.deleted.add((entity, entity_id))
    if after is None or entity not in _STATE_KEYS:
        return
    try:
        state = json.loads(after)
    except ValueError:
        return  # an unreadable entry is verify_log's business (its hash tells)
    if not isinstance(state, dict):
        return
    if _STATE_KEYS[entity] <= state.keys():
        log.states[(entity, entity_id)] = (seq, state)
    if entity == CASE:
        if isinstance(state.get("decision"), dict) and "id" in state["decision"]:
            log.decisions[int(state["decision"]["id"])] = (seq, state["decision"])
        if isinstance(state.get("appeal"), dict) and "id" in state["appeal"]:
            log.appeals[int(state["appeal"]["id"])] = (seq, state["appeal"])
        if action == "scheduled" and state.get("meeting_id") is not None:
            log.scheduled.add((str(state["meeting_id"]), entity_id))
    if entity == MEETING and isinstance(state.get("attendees"), list):
        counted = log.attendees.setdefault(entity_id, Counter())
        counted.update(canonical(attendee) or "" for attendee in state["attendees"])


def _normal(value: Any) -> Any:
    """A value as the log holds it (dates as text, the JSON the log stores)."""
    return json.loads(canonical(value) or "null")


def _differences(current: dict[str, Any], logged: dict[str, Any]) -> list[str]:
    now = _normal(current)
    return [
        f"{key} is {now[key]!r}, the log says {logged.get(key)!r}"
        for key in now
        if now[key] != logged.get(key)
    ]


def _compare(
    report: StateReport,
    log: _Log,
    entity: str,
    what: str,
    rows: Iterable[Any],
    state: Callable[[Any], dict[str, Any]],
) -> None:
    seen: set[str] = set()
    for row in rows:
        entity_id = str(row.id)
        seen.add(entity_id)
        report.checked[what] += 1
        recorded = log.states.get((entity, entity_id))
        if recorded is None:
            report.add(f"{what} {entity_id} has no entry in the audit log: it was added outside the log")
            continue
        differences = _differences(state(row), recorded[1])
        if differences:
            report.add(
                f"{what} {entity_id} was changed outside the log (its latest entry is {recorded[0]}): "
                + "; ".join(differences)
            )
    for (logged_entity, entity_id), (seq, _state) in log.states.items():
        if logged_entity == entity and entity_id not in seen and (entity, entity_id) not in log.deleted:
            report.add(
                f"{what} {entity_id} is in the audit log (entry {seq}) but not in the casebook: deleted outside the log"
            )


def check_state(*, session: Session) -> StateReport:
    """Compare the current cases, decisions, appeals, meetings, attendees, agendas and investigation
    requests with the audit log's record of each; every difference is a problem in the report."""
    log = _read_log(session)
    report = StateReport()
    _compare(report, log, CASE, "case", session.execute(select(ReviewCase)).scalars(), case_state)
    _compare(report, log, MEETING, "meeting", session.execute(select(ReviewMeeting)).scalars(), meeting_state)
    _compare(report, log, ASSIST, "request", session.execute(select(AssistRequest)).scalars(), assist_state)
    _check_recorded(
        report, "decision", session.execute(select(ReviewDecision)).scalars(), log.decisions, _decision_state
    )
    _check_recorded(
        report, "appeal", session.execute(select(ReviewAppeal)).scalars(), log.appeals, _appeal_state
    )
    _check_attendees(report, log, session.execute(select(MeetingAttendee)).scalars())
    agenda = set()
    for item in session.execute(select(MeetingCase)).scalars():
        report.checked["agenda item"] += 1
        agenda.add((str(item.meeting_id), str(item.case_id)))
        if (str(item.meeting_id), str(item.case_id)) not in log.scheduled:
            report.add(
                f"case {item.case_id} is on the agenda of meeting {item.meeting_id} without being scheduled "
                "through the log"
            )
    for meeting_id, case_id in sorted(log.scheduled - agenda):
        report.add(
            f"case {case_id} was scheduled for meeting {meeting_id} in the log but is no longer on its agenda "
            "(removed outside the log)"
        )
    return report


def _appeal_state(appeal: ReviewAppeal) -> dict[str, Any]:
    return {"id": appeal.id, "decision_id": appeal.decision_id, "reason": appeal.reason}


def _check_recorded(
    report: StateReport,
    what: str,
    rows: Iterable[Any],
    recorded: dict[int, tuple[int, dict[str, Any]]],
    state: Callable[[Any], dict[str, Any]],
) -> None:
    seen: set[int] = set()
    for row in rows:
        seen.add(row.id)
        report.checked[what] += 1
        entry = recorded.get(row.id)
        if entry is None:
            report.add(
                f"{what} {row.id} (case {row.case_id}) has no entry in the audit log: it was added outside the log"
            )
            continue
        differences = _differences(state(row), entry[1])
        if differences:
            report.add(
                f"{what} {row.id} (case {row.case_id}) was changed outside the log (logged in entry {entry[0]}): "
                + "; ".join(differences)
            )
    for row_id, (seq, _state) in recorded.items():
        if row_id not in seen:
            report.add(
                f"{what} {row_id} is in the audit log (entry {seq}) but not in the casebook: deleted outside the log"
            )


def _check_attendees(report: StateReport, log: _Log, attendees: Iterable[MeetingAttendee]) -> None:
    current: dict[str, Counter[str]] = {}
    for attendee in attendees:
        report.checked["attendee"] += 1
        current.setdefault(str(attendee.meeting_id), Counter())[
            canonical(_attendee_state(attendee)) or ""
        ] += 1
    for meeting_id in sorted(set(current) | set(log.attendees), key=lambda m: (len(m), m)):
        now, logged = current.get(meeting_id, Counter()), log.attendees.get(meeting_id, Counter())
        for text in sorted((now - logged).elements()):
            report.add(f"meeting {meeting_id} has an attendee the log never recorded: {text}")
        for text in sorted((logged - now).elements()):
            report.add(f"meeting {meeting_id} lost an attendee the log recorded: {text}")
