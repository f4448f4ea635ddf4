"""The special-review queue: cases made from stored hits, their lifecycle, decisions and appeals.

A claim whose hits include an action of its treatment region's `review_case_actions` becomes one
review case (`review_case`), with every hit of the claim attached (`review_case_hit`). Re-screening
refreshes the hits and keeps the decisions; a decided or closed case reopens only when new evidence
appears (a hit with new content, or a rule that had not fired), and `reopen_reason` says which.

Lifecycle: new → triaged (assigned) → scheduled (on a meeting's agenda, `meetings.schedule_cases`) →
decided → closed (when the meeting closes); decided/closed → appealed → scheduled → decided again.
A case whose flags disappear before any decision is withdrawn. Every change goes through a function
here (or in `meetings`), which checks the case's `version`, writes the audit log and commits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from drgaudit import bulkgc
from drgaudit.casebook import auditlog
from drgaudit.casebook.bulk import insert_returning_ids, insert_rows, one_of
from drgaudit.casebook.claimread import claim_fields
from drgaudit.casebook.evidence import EvidenceDigests, case_hash
from drgaudit.casebook.hitpages import HitPages
from drgaudit.casebook.models import (
    BatchClaim,
    Claim,
    bindable,
    get_by_id,
    row_number,
    stored_id,
    table_of,
)
from drgaudit.casebook.quota import QuotaStanding, quota_standing
from drgaudit.casebook.review_models import (
    DECISION_KINDS,
    OPEN_STATUSES,
    MeetingCase,
    ReviewAppeal,
    ReviewCase,
    ReviewCaseHit,
    ReviewDecision,
    ReviewMeeting,
)
from drgaudit.casebook.reviewconfig import (
    ConflictError,
    QuotaError,
    ReviewError,
    ReviewSettings,
    review_settings,
)
from drgaudit.casebook.screening import (
    ScreenHit,
    attach_evidence,
)
from drgaudit.engine.pack import RulePack
from drgaudit.i18n import _
from drgaudit.labels import value_label
from drgaudit.periods import Period, parse_period

CASE = "review_case"
# A stored hit or claim as the queue reads it: an ORM object, or a row with the same column names.
HitRow = Any
ClaimRow = Any


def now() -> datetime:
    """The time stamp of a change."""
    return datetime.now(UTC)


def period_of(day: date) -> str:
    """The review period of a discharge date: its month, `YYYY-MM`."""
    return f"{day.year:04d}-{day.month:02d}"


def evidence_hash(hit: HitRow) -> str:
    """A digest of a hit's evidence: severity, action, amount at risk, and the facts, thresholds and related
    claims it rests on. A decided case reopens when this changes (or a rule newly fires)."""
    return case_hash(hit)


def case_state(case: ReviewCase | SimpleNamespace, hits: dict[str, str] | None = None) -> dict[str, Any]:
    """What the audit log records of a case (and, when given, its hits as rule → content hash)."""
    state: dict[str, Any] = {
        "claim_id": case.claim_id,
        "status": case.status,
        "assignee": case.assignee,
        "due_date": case.due_date,
        "severity": case.severity,
        "amount_at_risk": case.amount_at_risk,
        "priority": case.priority,
        "rules": case.rules,
        "reopen_reason": case.reopen_reason,
        "version": case.version,
    }
    if hits is not None:
        state["hits"] = hits
    return state


# ---------------------------------------------------------------------------------------------------
# Cases from hits


@dataclass
class RefreshReport:
    """What `refresh_cases` did to the queue for one batch."""

    created: int = 0
    refreshed: int = 0
    reopened: int = 0
    withdrawn: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# Claims with hits whose cases are refreshed together; memory holds one chunk of hits and cases, not the
# batch's. A batch with fewer claims with hits is refreshed in one piece.
REFRESH_CHUNK_CLAIMS = 5000


def refresh_cases(
    *,
    session: Session,
    batch_id: int,
    pack: RulePack,
    actor: str,
    region_packs: Mapping[str, RulePack] | None = None,
    digests: EvidenceDigests | None = None,
    pages: HitPages | None = None,
) -> RefreshReport:
    """Make or refresh the review cases of a batch from its stored hits; one transaction, idempotent.

    Only a case's newest batch governs it: a case last refreshed from a later batch is left alone. A
    region's review settings come from the pack that screened it (`region_packs`, else `pack`).
    The hits are read `REFRESH_CHUNK_CLAIMS` claims at a time (by claim id); each chunk's cases are
    written and logged (in case order) before the next is read, then the batch's other cases (no flag
    any more) are unflagged, also a chunk at a time; everything commits together at the end.
    `digests`: the evidence digests of the screen that stored the hits (`HitStore.digests`), if it kept them;
    `pages`: the batch's hits as `refresh_findings` read them just before (`HitPages(keep=True)`), if so.
    """
    report = RefreshReport()
    # Bulk work: thousands of rows and ORM objects, almost no reference cycles (see `bulkgc`).
    with bulkgc.relaxed():
        settings: dict[str, ReviewSettings] = {}
        flagged_ids: set[str] = set()
        for by_claim in _hit_chunks(session, batch_id, REFRESH_CHUNK_CLAIMS, digests, pages):
            _refresh_chunk(
                session, batch_id, pack, region_packs, actor, by_claim, settings, flagged_ids, report
            )
        _unflag_others(session, batch_id, actor, flagged_ids, report)
        _commit(session)
    return report


def _unflag_others(
    session: Session, batch_id: int, actor: str, flagged_ids: set[str], report: RefreshReport
) -> None:
    """Unflag the batch's cases whose claim no longer carries a case-making hit (`flagged_ids`: the claims
    that do). Their ids are read in one pass (a keyset page per chunk joined the batch's claims again each
    time: quadratic in the batch's size, since batch_claim is keyed by batch and patient), then the cases
    a chunk at a time, in id order (so logged in id order)."""
    of_batch = (
        select(col(ReviewCase.id), col(ReviewCase.claim_id), col(ReviewCase.batch_id))
        .join(BatchClaim, col(BatchClaim.claim_id) == col(ReviewCase.claim_id))
        .where(col(BatchClaim.batch_id) == batch_id)
    )
    rows = set(session.execute(of_batch).all())
    case_ids = sorted(row.id for row in rows if row.claim_id not in flagged_ids and row.batch_id <= batch_id)
    for start in range(0, len(case_ids), REFRESH_CHUNK_CLAIMS):
        # Only the cases to unflag are loaded as objects (most of a batch's cases were just refreshed).
        leftover = _cases_by_id(session, case_ids[start : start + REFRESH_CHUNK_CLAIMS])
        stored = _stored_hits(session, [case.id for case in leftover])
        stamp = now()
        changes: list[_Change] = []
        for case in leftover:
            outcome = _unflag_case(session, case, stored.get(stored_id(case), {}), batch_id, stamp, changes)
            setattr(report, outcome, getattr(report, outcome) + 1)
        save(session, None)
        _log_changes(session, actor, batch_id, changes)


def _cases_by_id(session: Session, case_ids: list[int]) -> list[ReviewCase]:
    """Cases by id, in id order."""
    if not case_ids:
        return []
    query = select(ReviewCase).where(one_of(col(ReviewCase.id), case_ids, session.get_bind().dialect.name))
    return list(session.execute(query.order_by(col(ReviewCase.id))).scalars())


def _hit_chunks(
    session: Session,
    batch_id: int,
    claims_per_chunk: int,
    digests: EvidenceDigests | None = None,
    pages: HitPages | None = None,
) -> Iterator[dict[str, list[HitRow]]]:
    """The batch's hits grouped by claim, `claims_per_chunk` claims at a time (`HitPages`: keyset pages
    on claim id, `pages` when they are those), each hit with its claim's fields.

    Within a chunk, claims and their hits come in screening order (by ordinal), so a batch that fits in
    one chunk is refreshed exactly as a whole; no cursor stays open while a chunk is written. With the
    `digests` the screen kept, a hit's evidence is read only when its digests are not kept there."""
    if pages is None or not pages.fits(batch_id, claims_per_chunk, digests):
        pages = HitPages(session, batch_id, claims_per_chunk, digests)
    for page in pages:
        hits = page.hits()
        attach_evidence(session, hits, digests)
        chunk: dict[str, list[HitRow]] = defaultdict(list)
        for hit in hits:
            chunk[hit.claim_id].append(hit)
        yield chunk


def _digest(hit: HitRow) -> str:
    """`evidence_hash` of a hit, kept by the screen that stored it if it was (`attach_evidence`)."""
    kept = getattr(hit, "digests", None)
    return kept[0] if kept is not None else evidence_hash(hit)


def _refresh_chunk(
    session: Session,
    batch_id: int,
    pack: RulePack,
    region_packs: Mapping[str, RulePack] | None,
    actor: str,
    by_claim: dict[str, list[HitRow]],
    settings: dict[str, ReviewSettings],
    flagged_ids: set[str],
    report: RefreshReport,
) -> None:
    """Create or refresh the cases of one chunk of claims with hits, write them and log them."""
    dialect = session.get_bind().dialect.name
    query = select(ReviewCase).where(one_of(col(ReviewCase.claim_id), list(by_claim), dialect))
    existing = {case.claim_id: case for case in session.execute(query).scalars()}
    stored = _stored_hits(session, [case.id for case in existing.values()])
    claims = {claim_id: hits[0] for claim_id, hits in by_claim.items()}  # a hit carries its claim's fields
    flagged: dict[str, list[HitRow]] = {}
    for claim_id, hits in by_claim.items():
        claim = claims.get(claim_id)
        if claim is None:
            continue
        region = claim.treatment_region
        if region not in settings:
            settings[region] = review_settings((region_packs or {}).get(region, pack), region)
        if any(hit.action in settings[region].case_actions for hit in hits):
            flagged[claim_id] = hits
    flagged_ids.update(flagged)
    stamp = now()
    created: list[tuple[dict[str, Any], list[HitRow]]] = []
    changes: list[_Change] = []
    for claim_id, hits in flagged.items():
        claim = claims[claim_id]
        config = settings[claim.treatment_region]
        case = existing.get(claim_id)
        if case is not None and case.batch_id > batch_id:
            report.unchanged += 1
        elif case is None:
            created.append((_new_case_row(claim, hits, config, batch_id, stamp), hits))
            report.created += 1
        else:
            outcome = _refresh_case(
                session, case, stored.get(case.id, {}), claim, hits, config, batch_id, stamp, changes
            )
            setattr(report, outcome, getattr(report, outcome) + 1)
    save(session, None)  # version-checked updates of the cases refreshed
    _insert_cases(session, created, changes)
    _log_changes(session, actor, batch_id, changes)


_case_table = table_of(ReviewCase)
_case_hit_table = table_of(ReviewCaseHit)


def _insert_cases(
    session: Session, created: list[tuple[dict[str, Any], list[HitRow]]], changes: list[_Change]
) -> None:
    """Write new cases and their hits with Core inserts (a stored screen creates thousands at once; an ORM
    object each cost more than the rest of the refresh), in the order given, so they get the ids the ORM
    would have given them; each is logged `created` with the state `case_state` gives a stored case."""
    if not created:
        return
    ids = insert_returning_ids(session=session, table=_case_table, rows=[row for row, _ in created])
    hit_rows: list[dict[str, Any]] = []
    for case_id, (row, hits) in zip(ids, created, strict=True):
        row["id"] = case_id
        after_hits = {}
        for hit in hits:
            hit_row = _case_hit_row(case_id, hit)
            after_hits[hit.rule_id] = hit_row["evidence_hash"]
            hit_rows.append(hit_row)
        changes.append(
            _Change(
                None, "created", None, after_hits, case_id, case_state(SimpleNamespace(**row), after_hits)
            )
        )
    if hit_rows and not insert_rows(session=session, table=_case_hit_table, rows=hit_rows):
        session.execute(insert(_case_hit_table), hit_rows)


def _log_changes(session: Session, actor: str, batch_id: int, changes: list[_Change]) -> None:
    auditlog.append_many(
        session=session,
        actor=actor,
        changes=[
            (CASE, change.case_id, change.action, change.before, change.state() | {"batch_id": batch_id})
            for change in sorted(changes, key=lambda c: c.case_id or 0)
        ],
    )


# Statuses a case leaves when new evidence reopens it, and statuses a case is withdrawn from.
REOPENABLE = ("decided", "closed", "withdrawn")
WITHDRAWABLE = ("new", "triaged", "scheduled")


def case_outcome(
    *,
    status: str | None,
    case_batch_id: int | None,
    batch_id: int,
    before_hits: dict[str, str],
    after_hits: dict[str, str] | None,
) -> str | None:
    """What refreshing one claim's case from a screen of `batch_id` does, without doing it.

    `status`/`case_batch_id` describe the claim's case (None: it has none), `before_hits` its present hits
    (rule -> evidence hash), `after_hits` the claim's hits from the screen when one of them makes a case
    (None when none does). Returns created, refreshed, reopened, withdrawn, unchanged, or None when the
    claim's case is not touched. `refresh_cases` decides with this function; impact previews use it too.
    """
    if after_hits is not None:
        if status is None or case_batch_id is None:
            return "created"
        if case_batch_id > batch_id:
            return "unchanged"
        if before_hits == after_hits and status != "withdrawn" and case_batch_id == batch_id:
            return "unchanged"
        news = any(before_hits.get(rule) != digest for rule, digest in after_hits.items())
        return "reopened" if status in REOPENABLE and news else "refreshed"
    if status is None or case_batch_id is None or case_batch_id > batch_id:
        return None
    if not before_hits and case_batch_id == batch_id:
        return "unchanged"
    return "withdrawn" if status in WITHDRAWABLE else "refreshed"


@dataclass
class _Change:
    """A case change to log: a stored case's (its state is read when logged, after the flush that gave it
    its new version), or a new case's, whose state is known when its row is written (`after`)."""

    case: ReviewCase | None
    action: str
    before: dict[str, Any] | None
    after_hits: dict[str, str]
    new_id: int | None = None
    after: dict[str, Any] | None = None

    @property
    def case_id(self) -> int | None:
        return self.case.id if self.case is not None else self.new_id

    def state(self) -> dict[str, Any]:
        if self.after is not None:
            return self.after
        assert self.case is not None
        return case_state(self.case, self.after_hits)


_HIT_READ = [
    getattr(ScreenHit, name)
    for name in (
        "claim_id",
        "rule_id",
        "batch_id",
        "family",
        "severity",
        "action",
        "amount_at_risk",
        "message",
        "evidence",
    )
]
_CLAIM_READ = (
    "patient_id", "hospital_id", "treatment_region", "insured_region", "payment_scheme", "group_code",
    "discharge_date", "total_cost",
)  # fmt: skip


def _claims(session: Session, claim_ids: list[str]) -> dict[str, Any]:
    return claim_fields(session=session, claim_ids=claim_ids, fields=_CLAIM_READ)


def _stored_hits(session: Session, case_ids: list[int | None]) -> dict[int, dict[str, ReviewCaseHit]]:
    found: dict[int, dict[str, ReviewCaseHit]] = defaultdict(dict)
    if not case_ids:
        return found
    dialect = session.get_bind().dialect.name
    query = select(ReviewCaseHit).where(one_of(col(ReviewCaseHit.case_id), case_ids, dialect))
    for row in session.execute(query).scalars():
        found[row.case_id][row.rule_id] = row
    return found


def claim_amount_at_risk(amounts: Sequence[float], total_cost: float | None) -> float:
    """What a claim's hits put at risk together: their sum, but never more than the claim can lose, its
    total cost (or the largest single hit, where a group payment is more than a cheap claim cost).

    Hits on one claim overlap: two split-stay rules each name the whole payment of the second stay, and
    a self-pay rule and an outside-purchase rule count the same outside purchases; their sum counted the
    same money twice (a case at twice its claim's payment)."""
    total = sum(amounts)
    if total_cost is None or not amounts:
        return round(total, 2)
    return round(min(total, max(total_cost, max(amounts))), 2)


def _scores(
    hits: Sequence[HitRow], config: ReviewSettings, total_cost: float | None
) -> tuple[str, float, float]:
    """Severity (the heaviest), amount at risk (`claim_amount_at_risk`) and priority (Σ amount × severity
    weight, scaled down as the amount is when the hits overlap)."""
    severity = max((hit.severity for hit in hits), key=config.weight)
    total = sum(hit.amount_at_risk for hit in hits)
    amount = claim_amount_at_risk([hit.amount_at_risk for hit in hits], total_cost)
    share = amount / total if total > 0 else 1.0
    priority = round(sum(hit.amount_at_risk * config.weight(hit.severity) for hit in hits) * share, 2)
    return severity, amount, priority


def _claim_fields(case: ReviewCase, claim: ClaimRow) -> None:
    case.patient_id = claim.patient_id
    case.hospital_id = claim.hospital_id
    case.region = claim.treatment_region
    case.insured_region = claim.insured_region
    case.payment_scheme = claim.payment_scheme
    case.group_code = claim.group_code
    case.discharge_date = claim.discharge_date
    case.period = period_of(claim.discharge_date)
    case.total_cost = claim.total_cost


def _new_case(
    claim: ClaimRow, hits: list[HitRow], config: ReviewSettings, batch_id: int, stamp: datetime
) -> ReviewCase:
    return ReviewCase(**_new_case_row(claim, hits, config, batch_id, stamp))


def _new_case_row(
    claim: ClaimRow, hits: list[HitRow], config: ReviewSettings, batch_id: int, stamp: datetime
) -> dict[str, Any]:
    """The row of a new case: every column (for a Core insert, or `_new_case`'s ORM object)."""
    severity, amount, priority = _scores(hits, config, claim.total_cost)
    return {
        "claim_id": claim.claim_id, "batch_id": batch_id, "patient_id": claim.patient_id,
        "hospital_id": claim.hospital_id, "region": claim.treatment_region, "insured_region": claim.insured_region,
        "payment_scheme": claim.payment_scheme, "group_code": claim.group_code, "discharge_date": claim.discharge_date,
        "period": period_of(claim.discharge_date), "total_cost": claim.total_cost, "status": "new",
        "severity": severity, "amount_at_risk": amount, "priority": priority,
        "rules": ",".join(hit.rule_id for hit in hits), "assignee": None,
        "due_date": stamp.date() + timedelta(days=config.due_days), "reopen_reason": None,
        "created_at": stamp, "updated_at": stamp, "version": 1,
    }  # fmt: skip


def _case_hit_row(case_id: int, hit: HitRow) -> dict[str, Any]:
    """The row of a case's hit (for a Core insert, or `_case_hit`'s ORM object)."""
    return {
        "case_id": case_id, "rule_id": hit.rule_id, "batch_id": hit.batch_id, "family": hit.family,
        "severity": hit.severity, "action": hit.action, "amount_at_risk": hit.amount_at_risk, "message": hit.message,
        "evidence_hash": _digest(hit), "present": True,
    }  # fmt: skip


def _case_hit(case_id: int, hit: HitRow) -> ReviewCaseHit:
    return ReviewCaseHit(**_case_hit_row(case_id, hit))


HIT_COLUMNS = ("batch_id", "family", "severity", "action", "amount_at_risk", "message", "evidence_hash")


def _refresh_case(
    session: Session,
    case: ReviewCase,
    stored: dict[str, ReviewCaseHit],
    claim: ClaimRow,
    hits: list[HitRow],
    config: ReviewSettings,
    batch_id: int,
    stamp: datetime,
    changes: list[_Change],
) -> str:
    before_hits = {rule: row.evidence_hash for rule, row in stored.items() if row.present}
    after_hits = {hit.rule_id: _digest(hit) for hit in hits}
    planned = case_outcome(
        status=case.status, case_batch_id=case.batch_id, batch_id=batch_id,
        before_hits=before_hits, after_hits=after_hits,
    )  # fmt: skip
    if planned == "unchanged":
        for hit in hits:  # same evidence; keep the wording of the newest screen
            if stored[hit.rule_id].message != hit.message:
                stored[hit.rule_id].message = hit.message
        return "unchanged"
    before = case_state(case, before_hits)
    new_rules = [rule for rule in after_hits if rule not in before_hits]
    changed = [rule for rule in after_hits if rule in before_hits and before_hits[rule] != after_hits[rule]]
    for hit in hits:
        row = stored.get(hit.rule_id)
        if row is None:
            session.add(_case_hit(stored_id(case), hit))
            continue
        fresh = _case_hit(stored_id(case), hit)
        for name in HIT_COLUMNS:
            setattr(row, name, getattr(fresh, name))
        row.present = True
    for rule, row in stored.items():
        if rule not in after_hits:
            row.present = False
    _claim_fields(case, claim)
    case.severity, case.amount_at_risk, case.priority = _scores(hits, config, claim.total_cost)
    case.rules = ",".join(after_hits)
    case.batch_id = batch_id
    outcome = "refreshed"
    reasons = [f"new hit {rule}" for rule in new_rules] + [f"evidence of {rule} changed" for rule in changed]
    if planned == "reopened":
        was = case.status
        case.reopen_reason = f"re-screen of batch {batch_id}: " + "; ".join(reasons) + f" (was {was})"
        case.status = "triaged" if case.assignee else "new"
        case.due_date = stamp.date() + timedelta(days=config.due_days)
        outcome = "reopened"
    case.updated_at = stamp
    session.add(case)
    changes.append(_Change(case, outcome, before, after_hits))
    return outcome


def _unflag_case(
    session: Session,
    case: ReviewCase,
    stored: dict[str, ReviewCaseHit],
    batch_id: int,
    stamp: datetime,
    changes: list[_Change],
) -> str:
    before_hits = {rule: row.evidence_hash for rule, row in stored.items() if row.present}
    planned = case_outcome(
        status=case.status,
        case_batch_id=case.batch_id,
        batch_id=batch_id,
        before_hits=before_hits,
        after_hits=None,
    )
    if planned == "unchanged":
        return "unchanged"
    before = case_state(case, before_hits)
    for row in stored.values():
        row.present = False
    case.batch_id = batch_id
    outcome = "refreshed"
    if planned == "withdrawn":
        query = select(MeetingCase).where(
            col(MeetingCase.case_id) == case.id, col(MeetingCase.outcome) == "pending"
        )
        for agenda in session.execute(query).scalars():
            agenda.outcome = "withdrawn"
        case.status = "withdrawn"
        outcome = "withdrawn"
    case.updated_at = stamp
    session.add(case)
    changes.append(_Change(case, outcome, before, {}))
    return outcome


def escalate_claim(
    *,
    session: Session,
    claim_id: str,
    batch_id: int,
    pack: RulePack,
    actor: str,
    reason: str,
    commit: bool = True,
) -> ReviewCase:
    """Put a claim before a meeting outside the region's `review_case_actions` (an appealed finding sent
    up by an auditor): a new case with every hit of the claim in `batch_id`, or its withdrawn case
    reopened; a case still open is returned as it is. A decided case is appealed instead."""
    claims = _claims(session, [claim_id])
    claim = claims.get(claim_id)
    if claim is None:
        raise ReviewError(f"no claim {claim_id} in the casebook")
    hits = list(
        session.execute(
            select(*_HIT_READ).where(col(ScreenHit.batch_id) == batch_id, col(ScreenHit.claim_id) == claim_id)
        )
    )
    if not hits:
        raise ReviewError(f"claim {claim_id} has no hit in batch {batch_id}")
    config = review_settings(pack, claim.treatment_region)
    stamp = now()
    case: ReviewCase | None = (
        session.execute(select(ReviewCase).where(col(ReviewCase.claim_id) == claim_id)).scalars().first()
    )
    if case is not None and case.status in OPEN_STATUSES:
        return case
    if case is not None and case.status in ("decided", "closed"):
        raise ReviewError(
            f"the claim's case {case.id} is already decided; the hospital appeals that decision instead"
        )
    if case is None:
        case = _new_case(claim, hits, config, batch_id, stamp)
        case.reopen_reason = reason
        session.add(case)
        save(session, None)
        session.add_all(_case_hit(stored_id(case), hit) for hit in hits)
        after_hits = {hit.rule_id: evidence_hash(hit) for hit in hits}
        auditlog.append(
            session=session, actor=actor, entity=CASE, entity_id=stored_id(case), action="escalated", before=None,
            after=case_state(case, after_hits) | {"batch_id": batch_id, "reason": reason},
        )  # fmt: skip
    else:
        case_id = stored_id(case)
        stored = _stored_hits(session, [case_id])
        changes: list[_Change] = []
        _refresh_case(session, case, stored.get(case_id, {}), claim, hits, config, batch_id, stamp, changes)
        before = changes[0].before if changes else case_state(case)
        case.status = "triaged" if case.assignee else "new"
        case.reopen_reason = reason
        take(session, case)
        auditlog.append(
            session=session, actor=actor, entity=CASE, entity_id=case_id, action="escalated", before=before,
            after=case_state(case) | {"batch_id": batch_id, "reason": reason},
        )  # fmt: skip
    if commit:
        _commit(session, case)
    return case


# ---------------------------------------------------------------------------------------------------
# Reading the queue


def get_case(*, session: Session, ref: int | str) -> ReviewCase:
    """A case by its id or its claim id; a clear error when there is none."""
    case = None
    number = ref if isinstance(ref, int) else row_number(ref)
    if number is not None:
        case = get_by_id(session, ReviewCase, number)
    if case is None:
        case = (
            session.execute(select(ReviewCase).where(col(ReviewCase.claim_id) == str(ref))).scalars().first()
        )
    if case is None:
        raise ReviewError(
            f"no review case {ref} (give a case number or a claim id; see `drgaudit queue list`)"
        )
    return case


def list_cases(
    *,
    session: Session,
    statuses: Iterable[str] | None = OPEN_STATUSES,
    region: str | None = None,
    hospital_id: str | None = None,
    assignee: str | None = None,
    period: str | Period | None = None,
    limit: int | None = None,
    where: Any = None,
    offset: int = 0,
) -> list[ReviewCase]:
    """Cases by priority (highest first), filtered; `statuses=None` means every status; `where`: one more
    SQL condition (the access scope of whoever lists them); `offset`/`limit` page through them.

    `period` is a `drgaudit.periods.Period` or its text (`2025`, `2025Q3`, `2025-07`), by discharge date.
    """
    query = _case_query(select(ReviewCase), statuses, region, hospital_id, assignee, period, where)
    query = query.order_by(col(ReviewCase.priority).desc(), col(ReviewCase.id))
    if offset:
        query = query.offset(bindable(offset))
    if limit is not None:
        query = query.limit(bindable(limit))
    return list(session.execute(query).scalars())


def count_cases(
    *,
    session: Session,
    statuses: Iterable[str] | None = OPEN_STATUSES,
    region: str | None = None,
    hospital_id: str | None = None,
    assignee: str | None = None,
    period: str | Period | None = None,
    where: Any = None,
) -> int:
    """How many cases `list_cases` with the same filters lists in all (for paging)."""
    query = _case_query(
        select(func.count()).select_from(ReviewCase), statuses, region, hospital_id, assignee, period, where
    )
    return int(session.execute(query).scalar_one())


def _case_query(
    query: Any,
    statuses: Iterable[str] | None,
    region: str | None,
    hospital_id: str | None,
    assignee: str | None,
    period: str | Period | None,
    where: Any,
) -> Any:
    if where is not None:
        query = query.where(where)
    if statuses is not None:
        query = query.where(col(ReviewCase.status).in_(list(statuses)))
    for column, value in (
        (ReviewCase.region, region),
        (ReviewCase.hospital_id, hospital_id),
        (ReviewCase.assignee, assignee),
    ):
        if value is not None:
            query = query.where(column == value)
    if period is not None:
        query = query.where(*_in_period(period))
    return query


def case_hits(*, session: Session, case_id: int) -> list[ReviewCaseHit]:
    """The hits attached to a case, present ones first, heaviest amount first."""
    rows = session.execute(select(ReviewCaseHit).where(col(ReviewCaseHit.case_id) == case_id)).scalars()
    return sorted(rows, key=lambda h: (not h.present, -h.amount_at_risk, h.rule_id))


def case_decisions(*, session: Session, case_id: int) -> list[ReviewDecision]:
    """Every decision on a case, oldest first (the last one not superseded is in force)."""
    query = (
        select(ReviewDecision).where(col(ReviewDecision.case_id) == case_id).order_by(col(ReviewDecision.id))
    )
    return list(session.execute(query).scalars())


def current_decision(*, session: Session, case_id: int) -> ReviewDecision | None:
    """The decision in force on a case, if any."""
    query = select(ReviewDecision).where(
        col(ReviewDecision.case_id) == case_id, col(ReviewDecision.superseded).is_(False)
    )
    return session.execute(query.order_by(col(ReviewDecision.id).desc())).scalars().first()


def case_appeals(*, session: Session, case_id: int) -> list[ReviewAppeal]:
    """The appeals filed on a case, oldest first."""
    query = select(ReviewAppeal).where(col(ReviewAppeal.case_id) == case_id).order_by(col(ReviewAppeal.id))
    return list(session.execute(query).scalars())


def open_agenda(*, session: Session, case_id: int) -> tuple[MeetingCase, ReviewMeeting] | None:
    """The open meeting whose agenda holds the case undecided, if any."""
    row = session.execute(
        select(MeetingCase, ReviewMeeting)
        .join(ReviewMeeting, col(ReviewMeeting.id) == col(MeetingCase.meeting_id))
        .where(
            col(MeetingCase.case_id) == case_id,
            col(MeetingCase.outcome) == "pending",
            col(ReviewMeeting.status) == "open",
        )
    ).first()
    return (row[0], row[1]) if row else None


# ---------------------------------------------------------------------------------------------------
# Changing cases


def check_version(case: ReviewCase, expected_version: int | None) -> None:
    """Refuse to change a case that changed since the caller read it at `expected_version`."""
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(
            _(
                "case {case} changed since you read it (you read version {expected}, it is now version "
                "{version}, {status}); nothing was saved — look again with `drgaudit queue show {case}`"
            ).format(
                case=case.id, expected=expected_version, version=case.version, status=case.status,
                status_name=value_label("case.status", case.status),
            )
        )  # fmt: skip


def _commit(session: Session, case: ReviewCase | None = None) -> None:
    """Commit, turning a lost optimistic-version race into a ConflictError (after rolling back)."""
    try:
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise _conflict(session, case) from exc


def save(session: Session, case: ReviewCase | None) -> None:
    """Flush a changed case: its UPDATE checks the version read; a lost race is a ConflictError (rolled back)."""
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise _conflict(session, case) from exc


def _conflict(session: Session, case: ReviewCase | None) -> ConflictError:
    if case is None or case.id is None:
        return ConflictError(
            "a review case was changed by someone else at the same time; nothing was saved — try again"
        )
    fresh = session.get(ReviewCase, case.id, populate_existing=True)
    state = f"it is now version {fresh.version}, {fresh.status}" if fresh else "it is gone"
    return ConflictError(
        f"case {case.id} was changed by someone else while you worked on it ({state}); "
        f"nothing was saved — look again with `drgaudit queue show {case.id}`"
    )


def take(session: Session, case: ReviewCase) -> None:
    """Write the case first (a version-checked UPDATE), so a concurrent change is found before anything
    else is read or written, and the row stays ours until commit or rollback."""
    case.updated_at = now()
    session.add(case)
    save(session, case)


def _already_decided(session: Session, case: ReviewCase) -> ConflictError:
    decision = current_decision(session=session, case_id=stored_id(case))
    if decision is None:
        return ConflictError(
            _(
                "case {case} has already been decided; nothing was saved — "
                "a decision is changed only after an appeal (`drgaudit queue appeal`)"
            ).format(case=case.id)
        )
    return ConflictError(
        _(
            "case {case} has already been decided by {by} (round {round}: {kind} {amount}); nothing was "
            "saved — a decision is changed only after an appeal (`drgaudit queue appeal`)"
        ).format(
            case=case.id, by=decision.decided_by, round=decision.round, kind=decision.kind,
            kind_name=value_label("decision.kind", decision.kind), amount=f"{decision.amount:,.2f}",
        )
    )  # fmt: skip


def _transition(case: ReviewCase, allowed: Sequence[str], doing: str) -> None:
    if case.status not in allowed:
        raise ReviewError(
            _("case {case} is {status}; only a case that is {allowed} can be {doing}").format(
                case=case.id, status=case.status, allowed=" or ".join(allowed), doing=doing,
                status_name=value_label("case.status", case.status),
                allowed_names="或".join(value_label("case.status", s) for s in allowed),
            )
        )  # fmt: skip


def assign_case(
    *,
    session: Session,
    ref: int | str,
    assignee: str,
    actor: str,
    due_date: date | None = None,
    expected_version: int | None = None,
) -> ReviewCase:
    """Assign a case to a reviewer (a new case becomes triaged), optionally with a new due date."""
    case = get_case(session=session, ref=ref)
    check_version(case, expected_version)
    _transition(case, ("new", "triaged", "scheduled", "appealed"), _("assigned"))
    if not assignee.strip():
        raise ReviewError(_("give the reviewer's name to assign the case to"))
    before = case_state(case)
    case.assignee = assignee.strip()
    if due_date is not None:
        case.due_date = due_date
    if case.status == "new":
        case.status = "triaged"
    case.updated_at = now()
    session.add(case)
    save(session, case)
    auditlog.append(
        session=session,
        actor=actor,
        entity=CASE,
        entity_id=stored_id(case),
        action="assigned",
        before=before,
        after=case_state(case),
    )
    _commit(session, case)
    return case


@dataclass
class DecisionRequest:
    """What a reviewer decides: the kind, the reason, and the amount / items / merged claim it needs."""

    kind: str
    reason: str
    amount: float | None = None
    items: list[tuple[str, float]] | None = None
    merged_with: str | None = None


@dataclass
class DecisionOutcome:
    """A recorded decision with the quota standing shown when approving a special payment."""

    case: ReviewCase
    decision: ReviewDecision
    quota: QuotaStanding | None


def _special_items(request: DecisionRequest, amount: float | None) -> tuple[list[dict[str, Any]], float]:
    """The approved items of a special payment and their total (which a given amount must equal)."""
    items: list[dict[str, Any]] = [
        {"item": name, "amount": round(value, 2)} for name, value in request.items or ()
    ]
    if not all(math.isfinite(item["amount"]) and item["amount"] > 0 for item in items):
        raise ReviewError(_("every approved item needs an amount above 0"))
    total = round(sum(item["amount"] for item in items), 2)
    if amount is not None and round(amount, 2) != total:
        raise ReviewError(
            _("--amount {amount} is not the sum of the items, {total}").format(
                amount=f"{amount:,.2f}", total=f"{total:,.2f}"
            )
        )
    return items, total


def _check_merge_partner(request: DecisionRequest, case: ReviewCase, session: Session) -> None:
    """The claim a merge names exists, is another claim, and is of the same patient."""
    other = (request.merged_with or "").strip()
    if not other:
        raise ReviewError(_("merging needs the other claim (--merge-with CLAIM)"))
    if other == case.claim_id:
        raise ReviewError(_("a claim cannot be merged with itself"))
    partner = session.get(Claim, other)
    if partner is None:
        raise ReviewError(_("no claim {claim} in the casebook to merge with").format(claim=other))
    if partner.patient_id != case.patient_id:
        raise ReviewError(
            _("claim {claim} is of patient {other}, not {patient}; only one patient's stays merge").format(
                claim=other, other=partner.patient_id, patient=case.patient_id
            )
        )


# What an amount of each kind of decision is called when it is more than the claim's total cost.
def _amount_noun(kind: str) -> str:
    if kind == "special":
        return _("special payment")
    if kind in ("deduct", "merge"):
        return _("deduction")
    if kind == "refer":
        return _("amount at issue")
    return _("amount")


def _check_parts(request: DecisionRequest) -> None:
    """A merged claim or approved items given with a decision of another kind are refused, as an
    over-quota reason is: they were dropped silently, and the decider believed them recorded."""
    if request.kind != "merge" and (request.merged_with or "").strip():
        raise ReviewError(_("--merge-with applies only to merging; leave it out for other decisions"))
    if request.kind != "special" and request.items:
        raise ReviewError(
            _("--item applies only to approving a special payment; leave it out for other decisions")
        )


def _checked_amount(
    request: DecisionRequest, case: ReviewCase, session: Session
) -> tuple[float, list[dict[str, Any]] | None]:
    _check_parts(request)
    kind = request.kind
    amount = request.amount
    if amount is not None and not math.isfinite(amount):
        raise ReviewError(_("amount {amount} is not a number of yuan").format(amount=amount))
    if amount is not None and amount < 0:
        raise ReviewError(_("amount {amount} is negative").format(amount=f"{amount:,.2f}"))
    items = None
    if kind == "standard":
        if amount:
            raise ReviewError(_("paying by the group standard takes no amount"))
        return 0.0, None
    if kind == "special":
        if request.items:
            items, amount = _special_items(request, amount)
        if not amount:
            raise ReviewError(_("approving a special payment needs an amount above 0 or items with amounts"))
    elif kind == "deduct" and not amount:
        raise ReviewError(_("a deduction needs an amount above 0"))
    elif kind == "merge":
        _check_merge_partner(request, case, session)
    if amount is not None and amount > case.total_cost:  # the fund pays a case at most what it cost
        noun = _amount_noun(kind)
        raise ReviewError(
            _("{noun} {amount} is more than the claim's total cost {total}").format(
                noun=noun, amount=f"{amount:,.2f}", total=f"{case.total_cost:,.2f}"
            )
        )
    if kind == "refer" and amount is None:
        amount = case.amount_at_risk
    return round(float(amount or 0.0), 2), items


def decide_case(
    *,
    session: Session,
    ref: int | str,
    request: DecisionRequest,
    actor: str,
    pack: RulePack,
    expected_version: int | None = None,
    quota_override: str | None = None,
) -> DecisionOutcome:
    """Record a decision on a case on an open meeting's agenda; a special payment over quota needs an override reason."""
    case = get_case(session=session, ref=ref)
    check_version(case, expected_version)
    kind = request.kind.strip().lower()
    if kind not in DECISION_KINDS:
        raise ReviewError(
            _("unknown decision `{kind}`; one of {kinds}").format(
                kind=request.kind, kinds=", ".join(DECISION_KINDS),
                names="、".join(value_label("decision.kind", k) for k in DECISION_KINDS),
            )
        )  # fmt: skip
    request.kind = kind
    if not request.reason.strip():
        raise ReviewError(_("a decision needs a reason"))
    if case.status in ("decided", "closed"):
        raise _already_decided(session, case)
    _transition(case, ("scheduled",), _("decided (schedule it with `drgaudit meeting add`)"))
    before = case_state(case)
    case.status = "decided"
    take(session, case)
    try:
        agenda = open_agenda(session=session, case_id=stored_id(case))
        if agenda is None:
            raise ReviewError(
                _("case {case} is on no open meeting's agenda; add it with `drgaudit meeting add`").format(
                    case=case.id
                )
            )
        amount, items = _checked_amount(request, case, session)
        standing = None
        override = (quota_override or "").strip() or None
        if kind == "special":
            standing = quota_standing(session=session, case=case, pack=pack, counting="special")
            if standing.exceeded and override is None:
                raise QuotaError(standing.refusal(_("approving this special payment")))
        elif quota_override is not None:
            raise ReviewError(_("--override-quota applies only to approving a special payment"))
    except ReviewError:
        session.rollback()
        raise
    previous = current_decision(session=session, case_id=stored_id(case))
    rounds = len(case_decisions(session=session, case_id=stored_id(case)))
    if previous is not None:
        previous.superseded = True
        session.add(previous)
    stamp = now()
    decision = ReviewDecision(
        case_id=stored_id(case), round=rounds + 1, kind=kind, amount=amount, items=items,
        merged_with=((request.merged_with or "").strip() or None) if kind == "merge" else None,
        reason=request.reason.strip(), decided_by=actor, meeting_id=agenda[1].id,
        quota_override=override if kind == "special" else None, decided_at=stamp,
    )  # fmt: skip
    agenda[0].outcome = "decided"
    session.add(case)
    session.add(agenda[0])
    save(session, case)
    session.add(decision)
    session.flush()
    after = case_state(case) | {"decision": _decision_state(decision)}
    if standing is not None:
        after["quota"] = standing.as_dict()
    auditlog.append(
        session=session,
        actor=actor,
        entity=CASE,
        entity_id=stored_id(case),
        action="decided",
        before=before,
        after=after,
    )
    _commit(session, case)
    return DecisionOutcome(case, decision, standing)


def _decision_state(decision: ReviewDecision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "round": decision.round,
        "kind": decision.kind,
        "amount": decision.amount,
        "items": decision.items,
        "merged_with": decision.merged_with,
        "reason": decision.reason,
        "meeting_id": decision.meeting_id,
        "quota_override": decision.quota_override,
    }


def appeal_case(
    *,
    session: Session,
    ref: int | str,
    reason: str,
    actor: str,
    expected_version: int | None = None,
    commit: bool = True,
) -> ReviewAppeal:
    """File a hospital's appeal against the decision in force; the case goes back to be heard again.
    With `commit=False` the caller commits (after storing the appeal's attachments with it)."""
    case = get_case(session=session, ref=ref)
    check_version(case, expected_version)
    _transition(case, ("decided", "closed"), _("appealed"))
    if not reason.strip():
        raise ReviewError(_("an appeal needs a reason"))
    decision = current_decision(session=session, case_id=stored_id(case))
    if decision is None:
        raise ReviewError(_("case {case} has no decision to appeal").format(case=case.id))
    before = case_state(case)
    stamp = now()
    case.status = "appealed"
    case.updated_at = stamp
    session.add(case)
    save(session, case)
    appeal = ReviewAppeal(
        case_id=stored_id(case),
        decision_id=stored_id(decision),
        reason=reason.strip(),
        filed_by=actor,
        filed_at=stamp,
    )
    session.add(appeal)
    session.flush()
    after = case_state(case) | {
        "appeal": {"id": appeal.id, "decision_id": decision.id, "reason": appeal.reason}
    }
    auditlog.append(
        session=session,
        actor=actor,
        entity=CASE,
        entity_id=stored_id(case),
        action="appealed",
        before=before,
        after=after,
    )
    if commit:
        _commit(session, case)
    return appeal


# ---------------------------------------------------------------------------------------------------
# Roll-up


@dataclass
class RollupRow:
    """Decided amounts of one hospital in one period (decisions in force only)."""

    hospital_id: str
    period: str
    cases: int = 0
    open: int = 0
    decided: int = 0
    standard: int = 0
    special: int = 0
    special_amount: float = 0.0
    deducted: int = 0
    deducted_amount: float = 0.0
    referred: int = 0
    referred_amount: float = 0.0


def _in_period(period: str | Period) -> list[Any]:
    """Filters on the cases discharged in a period (its text is read with `drgaudit.periods.parse_period`)."""
    span = parse_period(period) if isinstance(period, str) else period
    return [ReviewCase.discharge_date >= span.start, ReviewCase.discharge_date <= span.end]


def rollup(
    *, session: Session, period: str | Period | None = None, region: str | None = None
) -> list[RollupRow]:
    """Per hospital and month of discharge: cases, open ones, and decisions in force with their amounts.

    `period` (a `Period` or its text: a year, quarter or month) keeps the cases discharged in it.
    `deducted` counts deductions and merges (the amount a merge deducts); `referred_amount` is held
    pending investigation.
    """
    rows: dict[tuple[str, str], RollupRow] = {}
    filters = []
    if period is not None:
        filters.extend(_in_period(period))
    if region is not None:
        filters.append(ReviewCase.region == region)
    counts = session.execute(
        select(col(ReviewCase.hospital_id), col(ReviewCase.period), col(ReviewCase.status), func.count())
        .where(*filters, col(ReviewCase.status) != "withdrawn")
        .group_by(ReviewCase.hospital_id, ReviewCase.period, ReviewCase.status)
    )
    for hospital_id, case_period, status, n in counts:
        row = rows.setdefault((hospital_id, case_period), RollupRow(hospital_id, case_period))
        row.cases += n
        if status in OPEN_STATUSES:
            row.open += n
    decided = session.execute(
        select(
            col(ReviewCase.hospital_id),
            col(ReviewCase.period),
            col(ReviewDecision.kind),
            func.count(),
            func.sum(ReviewDecision.amount),
        )
        .join(ReviewDecision, col(ReviewDecision.case_id) == col(ReviewCase.id))
        .where(
            *filters,
            col(ReviewDecision.superseded).is_(False),
            col(ReviewCase.status).in_(("decided", "closed")),
        )
        .group_by(ReviewCase.hospital_id, ReviewCase.period, ReviewDecision.kind)
    )
    for hospital_id, case_period, kind, n, total in decided:
        row = rows.setdefault((hospital_id, case_period), RollupRow(hospital_id, case_period))
        add_decisions(row, kind, n, total)
    return [rows[key] for key in sorted(rows)]


def add_decisions(row: Any, kind: str, n: int, total: Any) -> None:
    """Count `n` decisions in force of `kind` totalling `total` yuan on a row with the roll-up's counters
    (`decided`, `standard`, `special`/`special_amount`, `deducted`/`deducted_amount` for deductions and
    merges, `referred`/`referred_amount`), as the roll-up and the clearing statement count them."""
    total = round(float(total or 0.0), 2)
    row.decided += n
    if kind == "standard":
        row.standard += n
    elif kind == "special":
        row.special += n
        row.special_amount = round(row.special_amount + total, 2)
    elif kind in ("deduct", "merge"):
        row.deducted += n
        row.deducted_amount = round(row.deducted_amount + total, 2)
    elif kind == "refer":
        row.referred += n
        row.referred_amount = round(row.referred_amount + total, 2)
