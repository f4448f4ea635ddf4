"""What storing a screen would change, worked out without writing anything.

Stored hits: which would be new, unchanged or removed (`store_hits` keeps a hit whose content hash is
the same). Review cases: what `refresh_cases` would do to each claim's case, decided by the very function
it decides with (`review.case_outcome`), from the cases and hits stored now. Used by `screen --dry-run`
and `rules impact`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from drgaudit.casebook.models import BatchClaim
from drgaudit.casebook.review import case_outcome, evidence_hash
from drgaudit.casebook.review_models import OPEN_STATUSES, ReviewCase, ReviewCaseHit
from drgaudit.casebook.screening import ScreenHit, hit_content_hash
from drgaudit.engine.hits import Hit

OUTCOMES = ("created", "refreshed", "reopened", "withdrawn", "unchanged")


@dataclass(frozen=True)
class StoredCase:
    """A claim's review case as stored: where it stands and the evidence of its present hits."""

    id: int
    claim_id: str
    status: str
    batch_id: int
    hospital_id: str
    region: str
    period: str
    payment_scheme: str
    hits: dict[str, str]  # rule id -> evidence hash, present hits only

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


def as_stored(hit: Hit) -> Hit:
    """The hit as it reads back from the casebook (evidence through JSON), so hashes match stored ones."""
    state = json.loads(json.dumps(dict(hit.__dict__), ensure_ascii=False, default=str))
    return Hit(**state)


def stored_cases(
    *, session: Session, batch_id: int, claim_ids: Iterable[str] | None = None, region: str | None = None
) -> dict[str, StoredCase]:
    """The review cases of a batch's claims (as `refresh_cases` finds them), optionally only some claims or
    only one treatment region's."""
    query = (
        select(ReviewCase)
        .join(BatchClaim, col(BatchClaim.claim_id) == col(ReviewCase.claim_id))
        .where(col(BatchClaim.batch_id) == batch_id)
    )
    wanted = set(claim_ids) if claim_ids is not None else None
    rows = [
        case
        for case in session.execute(query).scalars()
        if (wanted is None or case.claim_id in wanted) and (region is None or case.region == region)
    ]
    hits: dict[int, dict[str, str]] = {case.id: {} for case in rows}
    ids = list(hits)
    for start in range(0, len(ids), 500):
        query_hits = select(
            col(ReviewCaseHit.case_id), col(ReviewCaseHit.rule_id), col(ReviewCaseHit.evidence_hash)
        ).where(
            col(ReviewCaseHit.case_id).in_(ids[start : start + 500]), col(ReviewCaseHit.present).is_(True)
        )
        for case_id, rule_id, digest in session.execute(query_hits):
            hits[case_id][rule_id] = digest
    return {
        case.claim_id: StoredCase(
            case.id,
            case.claim_id,
            case.status,
            case.batch_id,
            case.hospital_id,
            case.region,
            case.period,
            case.payment_scheme,
            hits[case.id],
        )  # fmt: skip
        for case in rows
    }


def stored_hit_digests(
    *, session: Session, batch_id: int, claim_ids: Iterable[str] | None = None, region: str | None = None
) -> dict[tuple[str, str], str]:
    """(claim, rule) -> content hash of a batch's stored hits, optionally only some claims or one region's."""
    wanted = set(claim_ids) if claim_ids is not None else None
    query = select(col(ScreenHit.claim_id), col(ScreenHit.rule_id), col(ScreenHit.content_hash)).where(
        col(ScreenHit.batch_id) == batch_id
    )
    if region is not None:
        query = query.where(col(ScreenHit.region) == region)
    return {
        (claim_id, rule_id): digest
        for claim_id, rule_id, digest in session.execute(query)
        if wanted is None or claim_id in wanted
    }


@dataclass
class StorePreview:
    """What storing a screen's hits would do: the counts `store_hits` reports, and the case outcome per claim."""

    new: int = 0
    unchanged: int = 0
    removed: int = 0
    cases: dict[str, str] = field(default_factory=dict)  # claim id -> outcome

    def stored(self) -> dict[str, int]:
        return {"new": self.new, "unchanged": self.unchanged, "removed": self.removed}

    def review_cases(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in self.cases.values():
            counts[outcome] += 1
        return counts


def flagged_hits(
    hits: Iterable[Hit], case_actions: Callable[[str], frozenset[str]]
) -> dict[str, dict[str, str]]:
    """claim id -> {rule id: evidence hash} of the claims whose hits make a review case.

    `case_actions(region)` gives a treatment region's `review_case_actions` (hits carry their region).
    """
    by_claim: dict[str, list[Hit]] = {}
    for hit in hits:
        by_claim.setdefault(hit.claim_id, []).append(hit)
    flagged: dict[str, dict[str, str]] = {}
    for claim_id, claim_hits in by_claim.items():
        actions = case_actions(claim_hits[0].region)
        if any(hit.action in actions for hit in claim_hits):
            flagged[claim_id] = {hit.rule_id: evidence_hash(as_stored(hit)) for hit in claim_hits}
    return flagged


def plan_cases(
    *, batch_id: int, cases: Mapping[str, StoredCase], flagged: Mapping[str, dict[str, str]]
) -> dict[str, str]:
    """claim id -> what refreshing its case from a screen of `batch_id` would do (claims left alone omitted)."""
    result: dict[str, str] = {}
    for claim_id, after in flagged.items():
        case = cases.get(claim_id)
        outcome = case_outcome(
            status=case.status if case else None, case_batch_id=case.batch_id if case else None,
            batch_id=batch_id, before_hits=case.hits if case else {}, after_hits=after,
        )  # fmt: skip
        if outcome is not None:
            result[claim_id] = outcome
    for claim_id, case in cases.items():
        if claim_id in flagged:
            continue
        outcome = case_outcome(
            status=case.status,
            case_batch_id=case.batch_id,
            batch_id=batch_id,
            before_hits=case.hits,
            after_hits=None,
        )
        if outcome is not None:
            result[claim_id] = outcome
    return result


def preview_store(
    *, session: Session, batch_id: int, hits: list[Hit], case_actions: Callable[[str], frozenset[str]]
) -> StorePreview:
    """What `store_hits` and `refresh_cases` would do with a screen's hits of a batch; nothing is written."""
    existing = stored_hit_digests(session=session, batch_id=batch_id)
    preview = StorePreview()
    seen: set[tuple[str, str]] = set()
    for hit in hits:
        key = (hit.claim_id, hit.rule_id)
        seen.add(key)
        if existing.get(key) == hit_content_hash(as_stored(hit)):
            preview.unchanged += 1
        else:
            preview.new += 1
    preview.removed = sum(1 for key in existing if key not in seen)
    cases = stored_cases(session=session, batch_id=batch_id)
    preview.cases = plan_cases(batch_id=batch_id, cases=cases, flagged=flagged_hits(hits, case_actions))
    return preview
