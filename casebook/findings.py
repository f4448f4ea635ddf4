"""Hospital findings (疑点): every `hold` or `deduct` hit (the region's `finding_actions`) on a hospital's
claim, which the hospital sees and answers before a due date (`finding_reply_days`).

Lifecycle (one finding per claim and rule; re-screening refreshes an open one and withdraws it when
the hit is gone):

    open ──accept──────────────▶ accepted          (final: the deduction / hold stands)
      │ ──due date passes──────▶ confirmed         (final: unanswered means accepted; `confirm_overdue`)
      └─appeal (reason+files)─▶ appealed ──re-review──▶ upheld | overturned | adjusted   (final)
                                          └─escalate──▶ escalated (a review case for a meeting decides)

An auditor who registered or promoted the rule-pack version that produced the hit cannot re-review it
alone (separation of duties, the region's `rule_author_decisions`): their re-review is recorded as a
proposal that a second auditor must confirm, or it must go to a meeting. Every change is appended to
the audit log in the same transaction (entity `finding`), so the first review → appeal → re-review
trail is there.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, ClassVar

from sqlalchemy import Column, DateTime, Integer, Text, UniqueConstraint, func, select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, Session, SQLModel, col

from drgaudit import bulkgc
from drgaudit.casebook import auditlog
from drgaudit.casebook.bulk import insert_returning_ids, one_of
from drgaudit.casebook.evidence import EvidenceDigests, finding_hash
from drgaudit.casebook.hitpages import HitPages, Page
from drgaudit.casebook.models import MONEY, BatchClaim, bindable, get_by_id, table_of
from drgaudit.casebook.reviewconfig import ConflictError, ReviewError, ReviewSettings, review_settings
from drgaudit.casebook.screening import (
    ScreenHit,
    attach_evidence,
)
from drgaudit.casebook.states import FINDING_STATES
from drgaudit.engine.pack import RulePack
from drgaudit.labels import VALUE_LABELS
from drgaudit.periods import Period, parse_period

FINDING = "finding"
STATES = FINDING_STATES
FINAL_STATES = ("accepted", "confirmed", "upheld", "overturned", "adjusted")
OPEN_STATES = ("open", "appealed")
OUTCOMES = ("upheld", "overturned", "adjusted")
STATE_NAMES = VALUE_LABELS["finding.state"]
_VERSION = Column("version", Integer, nullable=False)


class Finding(SQLModel, table=True):
    """A finding as stored (see the module docstring for its states)."""

    __tablename__ = "finding"
    __table_args__ = (UniqueConstraint("claim_id", "rule_id", name="uq_finding_claim_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.claim_id", index=True)
    rule_id: str
    batch_id: int = Field(foreign_key="import_batch.id")
    hospital_id: str = Field(index=True)
    treatment_region: str = Field(index=True)
    insured_region: str
    period: str = Field(index=True)
    family: str
    severity: str
    action: str
    amount: float = Field(default=0.0, sa_type=MONEY)
    message: str = Field(sa_type=Text)
    evidence_hash: str
    pack_version: str = ""
    state: str = Field(default="open", index=True)
    due_date: date = Field(index=True)
    answered_by: str | None = None
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    appeal_reason: str | None = Field(default=None, sa_type=Text)
    proposed_outcome: str | None = None
    proposed_amount: float | None = Field(default=None, sa_type=MONEY)
    proposed_reason: str | None = Field(default=None, sa_type=Text)
    proposed_by: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    decision_reason: str | None = Field(default=None, sa_type=Text)
    final_amount: float | None = Field(default=None, sa_type=MONEY)
    case_id: int | None = Field(default=None, foreign_key="review_case.id")
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
    version: int = Field(default=1, sa_column=_VERSION)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _VERSION}

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, self.state)

    def overdue(self, today: date) -> bool:
        """Still waiting for the hospital past its due date (until `confirm_overdue` confirms it)."""
        return self.state == "open" and self.due_date < today


def _now() -> datetime:
    return datetime.now(UTC)


def finding_state(finding: Finding | SimpleNamespace) -> dict[str, Any]:
    """What the audit log records of a finding."""
    return {
        "claim_id": finding.claim_id,
        "rule_id": finding.rule_id,
        "hospital_id": finding.hospital_id,
        "action": finding.action,
        "amount": finding.amount,
        "state": finding.state,
        "due_date": finding.due_date,
        "appeal_reason": finding.appeal_reason,
        "proposed_outcome": finding.proposed_outcome,
        "proposed_amount": finding.proposed_amount,
        "proposed_by": finding.proposed_by,
        "final_amount": finding.final_amount,
        "decision_reason": finding.decision_reason,
        "case_id": finding.case_id,
        "version": finding.version,
    }


# ---------------------------------------------------------------------------------------------------
# Findings from hits


@dataclass
class FindingReport:
    """What `refresh_findings` did for one batch."""

    created: int = 0
    refreshed: int = 0
    withdrawn: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def refresh_findings(
    *,
    session: Session,
    batch_id: int,
    pack: RulePack,
    actor: str,
    today: date | None = None,
    commit: bool = True,
    region_packs: Mapping[str, RulePack] | None = None,
    digests: EvidenceDigests | None = None,
    pages: HitPages | None = None,
) -> FindingReport:
    """Make or refresh the findings of a batch from its stored hits (idempotent; one transaction). A
    region's settings come from the pack that screened it (`region_packs`, else `pack`).

    A new finding is due `finding_reply_days` after today. An open finding follows the newest screen of
    its claim; one whose hit is gone is withdrawn; answered or decided findings are left as they are.
    `digests`: the evidence digests of the screen that stored the hits (`HitStore.digests`), if it kept them;
    `pages`: the batch's hits a page at a time (`HitPages`, to be read again by `refresh_cases`), if given.
    """
    today = today or _now().date()
    report = FindingReport()
    settings: dict[str, ReviewSettings] = {}
    dialect = session.get_bind().dialect.name
    # Bulk work: thousands of rows and ORM objects, almost no reference cycles (see `bulkgc`).
    with bulkgc.relaxed():
        # Memory follows a page of claims, not the batch: the batch's hits are read `PAGE_CLAIMS` claims at
        # a time (keyset pages on claim id), each page written, flushed and logged before the next is read.
        if pages is None or not pages.fits(batch_id, PAGE_CLAIMS, digests):
            pages = HitPages(session, batch_id, PAGE_CLAIMS, digests)
        for page in pages:
            hits = _finding_hits(session, page, pack, region_packs or {}, settings, digests)
            query = select(Finding).where(one_of(col(Finding.claim_id), page.claim_ids, dialect))
            existing = {(f.claim_id, f.rule_id): f for f in session.execute(query).scalars()}
            _refresh_page(session, batch_id, actor, today, hits, existing, settings, report)
        _withdraw_gone(session, batch_id, actor, today, settings, report)
    if commit:
        session.commit()
    return report


def _withdraw_gone(
    session: Session,
    batch_id: int,
    actor: str,
    today: date,
    settings: dict[str, ReviewSettings],
    report: FindingReport,
) -> None:
    """Withdraw the open findings of the batch's claims that have no hit in it at all any more."""
    in_batch = select(col(BatchClaim.claim_id)).where(col(BatchClaim.batch_id) == batch_id)
    with_hits = select(col(ScreenHit.claim_id)).where(col(ScreenHit.batch_id) == batch_id)
    last_id = 0
    while True:
        gone = list(
            session.execute(
                select(Finding)
                .where(
                    # Without a hit first: SQLite tests the terms in this order and reads the batch's
                    # claim ids (a million at 1M claims) only for a finding that passes the first.
                    col(Finding.claim_id).not_in(with_hits),
                    col(Finding.claim_id).in_(in_batch),
                    col(Finding.state) == "open",
                    col(Finding.batch_id) <= batch_id,
                    col(Finding.id) > last_id,
                )
                .order_by(col(Finding.id))
                .limit(PAGE_CLAIMS)
            ).scalars()
        )
        if not gone:
            break
        last_id = gone[-1].id or last_id
        _refresh_page(
            session, batch_id, actor, today, {}, {(f.claim_id, f.rule_id): f for f in gone}, settings, report
        )


# Claims whose hits are turned into findings per page (bounds memory whatever the batch's size).
PAGE_CLAIMS = 5000


def _refresh_page(
    session: Session,
    batch_id: int,
    actor: str,
    today: date,
    hits: dict[tuple[str, str], Any],
    existing: dict[tuple[str, str], Finding],
    settings: dict[str, ReviewSettings],
    report: FindingReport,
) -> None:
    """Create, refresh and withdraw the findings of one page of claims (their finding hits, with each
    claim's fields, and their stored findings), flush them and log them."""
    stamp = _now()
    changes: list[tuple[str, int | None, str, Any, Any]] = []
    created: list[dict[str, Any]] = []
    for key, hit in hits.items():
        claim = hit  # each hit row carries its claim's fields
        finding = existing.get(key)
        evidence = hit.digests[1] if hit.digests is not None else finding_hash(hit)
        if finding is None:
            due = today + timedelta(days=settings[claim.treatment_region].finding_reply_days)
            created.append({
                "claim_id": hit.claim_id, "rule_id": hit.rule_id, "batch_id": batch_id, "hospital_id": claim.hospital_id,
                "treatment_region": claim.treatment_region, "insured_region": claim.insured_region,
                "period": f"{claim.discharge_date:%Y-%m}", "family": hit.family, "severity": hit.severity,
                "action": hit.action, "amount": round(float(hit.amount_at_risk), 2), "message": hit.message,
                "evidence_hash": evidence, "pack_version": hit.pack_version or "", "state": "open", "due_date": due,
                **_UNANSWERED, "case_id": None, "created_at": stamp, "updated_at": stamp, "version": 1,
            })  # fmt: skip
            report.created += 1
            continue
        if finding.state != "open" or finding.batch_id > batch_id:
            report.unchanged += 1
            continue
        if finding.evidence_hash == evidence and finding.batch_id == batch_id:
            report.unchanged += 1
            continue
        before = finding_state(finding)
        finding.batch_id, finding.evidence_hash = batch_id, evidence
        finding.amount, finding.message = round(float(hit.amount_at_risk), 2), hit.message
        finding.severity, finding.action, finding.pack_version = (
            hit.severity,
            hit.action,
            hit.pack_version or "",
        )
        finding.updated_at = stamp
        session.add(finding)
        changes.append((FINDING, finding.id, "refreshed", before, None))
        report.refreshed += 1
    for key, finding in existing.items():
        if key not in hits and finding.state == "open" and finding.batch_id <= batch_id:
            before = finding_state(finding)
            finding.state, finding.batch_id, finding.updated_at = "withdrawn", batch_id, stamp
            session.add(finding)
            changes.append((FINDING, finding.id, "withdrawn", before, None))
            report.withdrawn += 1
    _flush(session)  # the version-checked updates
    ids = insert_returning_ids(session=session, table=table_of(Finding), rows=created)
    entries: list[auditlog.Change] = [
        (FINDING, finding_id, "created", None, finding_state(SimpleNamespace(**row)) | {"batch_id": batch_id})
        for finding_id, row in zip(ids, created, strict=True)
    ]
    by_id = {f.id: f for f in existing.values()}
    entries += [(e, i, a, b, finding_state(by_id[i]) | {"batch_id": batch_id}) for e, i, a, b, _ in changes]
    auditlog.append_many(session=session, actor=actor, changes=sorted(entries, key=lambda c: c[1] or 0))


# The columns of a new finding that only answers and decisions fill.
_UNANSWERED: dict[str, Any] = dict.fromkeys((
    "answered_by", "answered_at", "appeal_reason", "proposed_outcome", "proposed_amount", "proposed_reason",
    "proposed_by", "decided_by", "decided_at", "decision_reason", "final_amount",
))  # fmt: skip


def _finding_hits(
    session: Session,
    page: Page,
    pack: RulePack,
    region_packs: Mapping[str, RulePack],
    settings: dict[str, ReviewSettings],
    digests: EvidenceDigests | None = None,
) -> dict[tuple[str, str], Any]:
    """The hits of a page (`HitPages`: in screening order, each with its claim's fields) that make
    findings, by claim and rule; `settings` gathers the review settings of their regions. With the
    `digests` the screen kept, a hit's evidence is read only when its digests are not kept there."""
    region_of, action_of = (
        itemgetter(page.keys.index("treatment_region")),
        itemgetter(page.keys.index("action")),
    )
    rows = []
    for row in page.rows:  # the rows as they are: only the findings' hits are made objects
        region = region_of(row)
        if region not in settings:
            settings[region] = review_settings(region_packs.get(region, pack), region)
        if action_of(row) in settings[region].finding_actions:
            rows.append(row)
    hits = {(hit.claim_id, hit.rule_id): hit for hit in page.hits(rows)}
    attach_evidence(session, list(hits.values()), digests)
    return hits


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise ConflictError("这条疑点已被他人修改，本次操作未保存，请刷新后重试") from exc


# ---------------------------------------------------------------------------------------------------
# Reading


def get_finding(*, session: Session, finding_id: int) -> Finding:
    """A finding by id; ReviewError when there is none."""
    finding = get_by_id(session, Finding, finding_id)
    if finding is None:
        raise ReviewError(f"no finding {finding_id}")
    return finding


@dataclass
class FindingFilter:
    """Which findings to list."""

    states: tuple[str, ...] | None = None
    hospital_id: str | None = None
    region: str | None = None
    period: str | Period | None = None  # months of discharge (see `in_period`)
    claim_id: str | None = None
    overdue_on: date | None = None


def in_period(period: str | Period) -> list[Any]:
    """Conditions keeping the findings of the months of discharge a period covers (a `Period` or its text;
    a date range counts its first and last months whole: a finding knows its month, not its day)."""
    span = parse_period(period) if isinstance(period, str) else period
    return [col(Finding.period) >= f"{span.start:%Y-%m}", col(Finding.period) <= f"{span.end:%Y-%m}"]


def list_findings(
    *, session: Session, filters: FindingFilter | None = None, where: Any = None, limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Finding], int]:  # fmt: skip
    """(findings by due date then id, how many match), filtered; `where`: the lister's access scope."""
    filters = filters or FindingFilter()
    conditions = []
    if where is not None:
        conditions.append(where)
    if filters.states:
        conditions.append(col(Finding.state).in_(filters.states))
    for column, value in (
        (col(Finding.hospital_id), filters.hospital_id),
        (col(Finding.treatment_region), filters.region),
        (col(Finding.claim_id), filters.claim_id),
    ):
        if value:
            conditions.append(column == value)
    if filters.period:
        conditions += in_period(filters.period)
    if filters.overdue_on is not None:
        conditions.append((col(Finding.state) == "open") & (col(Finding.due_date) < filters.overdue_on))
    total = int(session.execute(select(func.count()).select_from(Finding).where(*conditions)).scalar_one())
    query = select(Finding).where(*conditions).order_by(col(Finding.due_date), col(Finding.id))
    query = query.offset(bindable(offset))
    if limit is not None:
        query = query.limit(bindable(limit))
    return list(session.execute(query).scalars()), total


def claim_findings(*, session: Session, claim_ids: list[str]) -> dict[str, list[Finding]]:
    """The findings of some claims, by claim."""
    found: dict[str, list[Finding]] = defaultdict(list)
    for start in range(0, len(claim_ids), 500):
        part = claim_ids[start : start + 500]
        for finding in session.execute(
            select(Finding).where(col(Finding.claim_id).in_(part)).order_by(col(Finding.id))
        ).scalars():
            found[finding.claim_id].append(finding)
    return found


# ---------------------------------------------------------------------------------------------------
# Changes


def _check(finding: Finding, expected_version: int | None) -> None:
    if expected_version is not None and finding.version != expected_version:
        raise ConflictError("这条疑点在您查看之后已被修改，本次操作未保存，请刷新后重试")


def _log(session: Session, actor: str, finding: Finding, action: str, before: dict[str, Any]) -> None:
    finding.updated_at = _now()
    session.add(finding)
    _flush(session)
    assert finding.id is not None
    auditlog.append(
        session=session, actor=actor, entity=FINDING, entity_id=finding.id, action=action, before=before,
        after=finding_state(finding),
    )  # fmt: skip


def answer_finding(
    *,
    session: Session,
    finding_id: int,
    accept: bool,
    actor: str,
    reason: str = "",
    today: date | None = None,
    expected_version: int | None = None,
    commit: bool = True,
) -> Finding:
    """The hospital accepts a finding, or appeals it with a reason (attachments are stored by the caller
    in the same transaction when `commit` is False). Only an open finding, on or before its due date."""
    today = today or _now().date()
    finding = get_finding(session=session, finding_id=finding_id)
    _check(finding, expected_version)
    if finding.state != "open":
        raise ReviewError(f"这条疑点已是“{finding.state_name}”，不能再答复")
    if finding.due_date < today:
        raise ReviewError(f"答复期限 {finding.due_date} 已过，这条疑点视为认可")
    before = finding_state(finding)
    finding.answered_by, finding.answered_at = str(actor), _now()
    if accept:
        finding.state, finding.final_amount = "accepted", finding.amount
        finding.decision_reason = reason.strip() or None
    else:
        if not reason.strip():
            raise ReviewError("申诉须写明理由")
        finding.state, finding.appeal_reason = "appealed", reason.strip()
    _log(session, actor, finding, "accepted" if accept else "appealed", before)
    if commit:
        session.commit()
    return finding


def confirm_overdue(*, session: Session, actor: str, today: date | None = None) -> list[Finding]:
    """Confirm every open finding whose due date has passed (unanswered means accepted); idempotent."""
    today = today or _now().date()
    overdue = list(
        session.execute(
            select(Finding)
            .where(col(Finding.state) == "open", col(Finding.due_date) < today)
            .order_by(col(Finding.id))
        ).scalars()
    )
    for finding in overdue:
        before = finding_state(finding)
        finding.state, finding.final_amount = "confirmed", finding.amount
        finding.decision_reason = f"答复期限 {finding.due_date} 已过，医院未答复"
        finding.decided_by, finding.decided_at = str(actor), _now()
        _log(session, actor, finding, "confirmed", before)
    session.commit()
    return overdue


@dataclass
class Rereview:
    """An auditor's re-review of an appealed finding."""

    outcome: str  # upheld | overturned | adjusted
    reason: str
    amount: float | None = None  # adjusted: the amount that stands


@dataclass
class RereviewOutcome:
    """What a re-review did: decided (final), or proposed for a second reviewer's confirmation."""

    finding: Finding
    final: bool


def rereview_finding(
    *,
    session: Session,
    finding_id: int,
    review: Rereview,
    actor: str,
    authors: frozenset[str] = frozenset(),
    author_decisions: frozenset[str] = frozenset({"second_reviewer", "meeting"}),
    expected_version: int | None = None,
) -> RereviewOutcome:
    """Re-review an appealed finding: final, unless the reviewer is one of `authors` (registered or
    promoted the rule-pack version behind it), whose re-review becomes a proposal a second, independent
    auditor must confirm (or, where the region allows only meetings, is refused: escalate it)."""
    finding = get_finding(session=session, finding_id=finding_id)
    _check(finding, expected_version)
    if finding.state != "appealed":
        raise ReviewError(f"只有医院申诉中的疑点可以复审，这条是“{finding.state_name}”")
    if review.outcome not in OUTCOMES:
        raise ReviewError(f"复审结论须为以下之一：{', '.join(OUTCOMES)}")
    if not review.reason.strip():
        raise ReviewError("复审须写明理由")
    amount = _outcome_amount(finding, review)
    name = str(actor)
    before = finding_state(finding)
    if name in authors:
        if "second_reviewer" not in author_decisions:
            raise ReviewError(
                "您登记或上线了产生这条疑点的规则包版本，按本统筹区规定不能自行复审，请提交评议会议"
            )
        if finding.proposed_by is not None and finding.proposed_by != name:
            raise ReviewError("您登记或上线了产生这条疑点的规则包版本，不能作为第二复审人确认")
        finding.proposed_outcome, finding.proposed_amount = review.outcome, amount
        finding.proposed_reason, finding.proposed_by = review.reason.strip(), name
        _log(session, actor, finding, "rereview_proposed", before)
        session.commit()
        return RereviewOutcome(finding, final=False)
    if finding.proposed_by == name:
        raise ReviewError("复审意见须由另一名审核员确认")
    finding.state, finding.final_amount = review.outcome, amount
    finding.decision_reason, finding.decided_by, finding.decided_at = review.reason.strip(), name, _now()
    action = "rereviewed" if finding.proposed_by is None else "rereview_confirmed"
    _log(session, actor, finding, action, before)
    session.commit()
    return RereviewOutcome(finding, final=True)


def _outcome_amount(finding: Finding, review: Rereview) -> float:
    if review.outcome == "upheld":
        return finding.amount
    if review.outcome == "overturned":
        return 0.0
    if review.amount is None or not math.isfinite(review.amount) or review.amount < 0:
        raise ReviewError("调整金额须为不小于 0 的数")
    if review.amount > finding.amount:
        raise ReviewError(f"调整后的金额 {review.amount:,.2f} 不能超过原疑点金额 {finding.amount:,.2f}")
    return round(review.amount, 2)


def mark_escalated(
    *, session: Session, finding: Finding, case_id: int | None, actor: str, reason: str
) -> Finding:
    """Record that an appealed finding went to a meeting as review case `case_id` (the caller commits)."""
    if finding.state != "appealed":
        raise ReviewError(f"只有医院申诉中的疑点可以提交会议，这条是“{finding.state_name}”")
    if not reason.strip():
        raise ReviewError("提交会议须写明理由")
    before = finding_state(finding)
    finding.state, finding.case_id, finding.decision_reason = "escalated", case_id, reason.strip()
    finding.decided_by, finding.decided_at = str(actor), _now()
    _log(session, actor, finding, "escalated", before)
    return finding


# ---------------------------------------------------------------------------------------------------
# Roll-up


@dataclass
class FindingTally:
    """Findings of one hospital and period: how many in each state, and the amount that stands."""

    hospital_id: str
    period: str
    states: dict[str, int]
    amount: float = 0.0  # sum of the findings' amounts
    standing: float = 0.0  # the amount in force after answers and re-reviews (final states)


def tally(
    *, session: Session, period: str | Period | None = None, region: str | None = None, where: Any = None
) -> list[FindingTally]:
    """Per hospital and period (month of discharge): findings by state, their amount and what stands.

    `period`: see `in_period`."""
    conditions = [col(Finding.state) != "withdrawn"]
    if period:
        span = parse_period(period) if isinstance(period, str) else period
        conditions += [
            col(Finding.period) >= f"{span.start:%Y-%m}",
            col(Finding.period) <= f"{span.end:%Y-%m}",
        ]
    if region:
        conditions.append(col(Finding.treatment_region) == region)
    if where is not None:
        conditions.append(where)
    rows: dict[tuple[str, str], FindingTally] = {}
    query = (
        select(col(Finding.hospital_id), col(Finding.period), col(Finding.state), func.count(), func.sum(col(Finding.amount)),
               func.sum(col(Finding.final_amount)))
        .where(*conditions)
        .group_by(col(Finding.hospital_id), col(Finding.period), col(Finding.state))
    )  # fmt: skip
    for hospital, when, state, n, amount, standing in session.execute(query):
        row = rows.setdefault((hospital, when), FindingTally(hospital, when, {}))
        row.states[state] = int(n)
        row.amount = round(row.amount + float(amount or 0), 2)
        if state in FINAL_STATES:
            row.standing = round(row.standing + float(standing or 0), 2)
    return [rows[key] for key in sorted(rows)]


def open_for_hospital(*, session: Session, hospital_id: str) -> int:
    """How many findings wait for the hospital's answer."""
    query = select(func.count()).where(col(Finding.hospital_id) == hospital_id, col(Finding.state) == "open")
    return int(session.execute(query).scalar_one())
