"""What the settlement system (and any API caller) may do, each checked against the access policy.

The API's routes call these functions with the principal of the API key; every one checks its action
through `drgaudit.services.access` (deny by default) and answers plain JSON-ready dicts. An object
outside the caller's scope is reported exactly as a missing one; a claim of another treatment region
in a screening request is refused (403) before anything is screened or stored.

- `screen`: `claim.screen` on each claim's treatment region (an `integration` account: its own region);
  with `store`, also on the stored claim a claim id already names (no taking over another's claim).
- `explain`: `claim.explain` on the stored claim.
- `list_cases`, `case_detail`: `case.view`, within the caller's scopes.
- `decide`: `case.decide` (secretaries), with the version the decider read (a changed case: 409).
- `active_packs`: `rules.view`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session, col

from drgaudit.casebook import packs as pack_versions
from drgaudit.casebook import queries, review
from drgaudit.casebook.models import Hospital
from drgaudit.casebook.review_models import (
    CASE_STATUSES,
    OPEN_STATUSES,
    ReviewCase,
    ReviewCaseHit,
    ReviewDecision,
)
from drgaudit.casebook.reviewconfig import ReviewError
from drgaudit.casebook.screening import ScreenHit
from drgaudit.engine.pack import RulePack
from drgaudit.reports.otherhospitals import OtherHospitals
from drgaudit.services import cases
from drgaudit.services.access import Denied, NotFound, Principal, Target, allowing_grant, may, visible
from drgaudit.services.presettlement import ClaimNotFound, explain_stored, parse_claims, screen_request
from drgaudit.services.rulebook import region_pack
from drgaudit.services.warm import WarmEngine

SCREEN, EXPLAIN, VIEW, DECIDE, PACKS = (
    "claim.screen",
    "claim.explain",
    "case.view",
    "case.decide",
    "rules.view",
)


class RegionDenied(Denied):
    """A claim of a treatment region outside the caller's scope."""

    def __init__(self, index: int, region: str, scopes: list[str]) -> None:
        self.index = index
        self.region = region
        self.scopes = scopes
        super().__init__(
            f"claims[{index}]: treatment region {region} is outside the account's scope ({', '.join(scopes)})"
        )


class StoredElsewhere(Denied):
    """A claim id already stored as a claim the caller may not screen (another region's, hospital's)."""

    def __init__(self, index: int, claim_id: str, scopes: list[str]) -> None:
        self.index = index
        self.claim_id = claim_id
        super().__init__(
            f"claims[{index}].claim_id: {claim_id} is stored as a claim outside the account's scope "
            f"({', '.join(scopes)}); it cannot be changed from this account"
        )


def _claim_target(claim: dict[str, Any]) -> Target:
    return Target(
        hospital_id=claim["hospital_id"],
        treatment_region=claim["treatment_region"],
        insured_region=claim["insured_region"],
    )


def _require(principal: Principal, action: str) -> None:
    if not may(principal, action):
        raise Denied(f"account `{principal.username}` may not do {action}")


def screen(
    *,
    session: Session,
    engine: WarmEngine,
    principal: Principal,
    payload: Any,
    store: bool,
    max_claims: int,
    request_id: str,
) -> dict[str, Any]:
    """POST /screen: check the claims, check the caller may screen each one's region, screen (and store)."""
    _require(principal, SCREEN)
    claims = parse_claims(payload, max_claims=max_claims)
    actor = None
    for index, claim in enumerate(claims):
        grant = allowing_grant(principal, SCREEN, _claim_target(claim))
        if grant is None:
            scopes = sorted({g.scope or "*" for g in principal.grants})
            raise RegionDenied(index, claim["treatment_region"], scopes)
        actor = actor or principal.actor(grant)
    assert actor is not None
    scopes = sorted({g.scope or "*" for g in principal.grants})

    def only_mine(stored: dict[str, tuple[str, str, str]]) -> None:
        # Storing a claim id that is stored already revises that claim: it must be one the caller may
        # screen too, or a region's account could take over (rewrite, move) another region's claims.
        for index, claim in enumerate(claims):
            place = stored.get(claim["claim_id"])
            if place is not None and allowing_grant(principal, SCREEN, Target(*place)) is None:
                raise StoredElsewhere(index, claim["claim_id"], scopes)

    if store:  # refused before screening, and again under the store's locks (a concurrent first store)
        only_mine(queries.places_of_claims(session=session, claim_ids=[c["claim_id"] for c in claims]))
    outcome = screen_request(
        session=session, engine=engine, claims=claims, store=store, actor=actor, request_id=request_id,
        guard=only_mine,
    )  # fmt: skip
    return outcome.to_dict()


def explain(*, session: Session, engine: WarmEngine, principal: Principal, claim_id: str) -> dict[str, Any]:
    """GET /claims/{id}/explain: a claim the caller may see, explained rule by rule."""
    _require(principal, EXPLAIN)
    claim = queries.get_claim(session=session, claim_id=claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    visible(principal, EXPLAIN, _claim_target(claim), f"claim {claim_id}")
    try:
        return explain_stored(session=session, engine=engine, claim_id=claim_id)
    except ClaimNotFound:
        raise NotFound(f"no claim {claim_id}") from None


def case_json(case: ReviewCase) -> dict[str, Any]:
    """A case as the API shows it."""
    return {
        "id": case.id, "claim_id": case.claim_id, "status": case.status, "version": case.version,
        "region": case.region, "insured_region": case.insured_region, "hospital_id": case.hospital_id,
        "payment_scheme": case.payment_scheme, "group_code": case.group_code,
        "discharge_date": case.discharge_date, "period": case.period, "total_cost": case.total_cost,
        "severity": case.severity, "amount_at_risk": case.amount_at_risk, "priority": round(case.priority, 2),
        "rules": case.rules, "assignee": case.assignee, "due_date": case.due_date,
    }  # fmt: skip


def _hit_json(hit: ReviewCaseHit) -> dict[str, Any]:
    return {
        "rule_id": hit.rule_id, "family": hit.family, "severity": hit.severity, "action": hit.action,
        "amount_at_risk": hit.amount_at_risk, "message": hit.message, "present": hit.present,
    }  # fmt: skip


def _reads_as_hospital(session: Session, principal: Principal, case: ReviewCase) -> bool:
    """Whether the caller reads the case as its hospital does (as on the case page: a hospital's account
    that may not read the case's log), so other hospitals are hidden from it."""
    return any(g.role == "hospital" for g in principal.grants) and not may(
        principal, "case.log", cases.case_target(session=session, case=case)
    )


def _related_claims(session: Session, case: ReviewCase) -> set[str]:
    """The claims the case's hits relate (their evidence's `related_claims`: an earlier stay elsewhere, a
    transfer), from every screen of its claim."""
    rows = session.execute(
        select(col(ScreenHit.evidence)).where(col(ScreenHit.claim_id) == case.claim_id)
    ).scalars()
    return {str(r) for evidence in rows for r in ((evidence or {}).get("related_claims") or [])}


def _decision_json(decision: ReviewDecision) -> dict[str, Any]:
    return {
        "id": decision.id, "round": decision.round, "kind": decision.kind, "amount": decision.amount,
        "items": decision.items, "merged_with": decision.merged_with, "reason": decision.reason,
        "decided_by": decision.decided_by, "decided_at": decision.decided_at, "meeting_id": decision.meeting_id,
        "superseded": decision.superseded,
    }  # fmt: skip


def list_cases(
    *,
    session: Session,
    principal: Principal,
    statuses: Iterable[str] | None,
    region: str | None,
    hospital_id: str | None,
    period: str | None,
    claim_id: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """GET /cases: the cases the caller may see, by priority, a page at a time (default: open ones)."""
    _require(principal, VIEW)
    wanted = list(statuses) if statuses else list(OPEN_STATUSES)
    unknown = sorted(set(wanted) - set(CASE_STATUSES))
    if unknown:
        raise ReviewError(f"unknown status {', '.join(unknown)}; one of {', '.join(CASE_STATUSES)}")
    condition = cases.case_scope(principal)
    if claim_id is not None:
        same_claim = col(ReviewCase.claim_id) == claim_id
        condition = and_(condition, same_claim) if condition is not None else same_claim
    filters: dict[str, Any] = dict(
        statuses=wanted, region=region, hospital_id=hospital_id, period=period, where=condition
    )
    found = review.list_cases(session=session, limit=limit, offset=offset, **filters)
    total = review.count_cases(session=session, **filters)
    return {"cases": [case_json(c) for c in found], "total": total, "limit": limit, "offset": offset}


def case_detail(*, session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """GET /cases/{id}: a case the caller may see, with its hits and decisions."""
    case = cases.find_case(session=session, principal=principal, ref=case_id)
    found = case.id if case.id is not None else case_id
    hits = [_hit_json(h) for h in review.case_hits(session=session, case_id=found)]
    if _reads_as_hospital(session, principal, case):
        others = OtherHospitals.of(
            session=session, hospital_id=case.hospital_id, related=_related_claims(session, case)
        )
        for hit in hits:
            hit["message"] = others.hide(hit["message"])
    return {
        "case": case_json(case),
        "hits": hits,
        "decisions": [_decision_json(d) for d in review.case_decisions(session=session, case_id=found)],
    }


def decide(
    *, session: Session, principal: Principal, case_id: int, body: dict[str, Any], pack: RulePack
) -> dict[str, Any]:
    """POST /cases/{id}/decisions: record a decision, refused (409) when the case changed since
    `expected_version` was read."""
    items = body.get("items")
    request = review.DecisionRequest(
        kind=body["kind"], reason=body["reason"], amount=body.get("amount"),
        items=[(item["item"], float(item["amount"])) for item in items] if items else None,
        merged_with=body.get("merged_with"),
    )  # fmt: skip
    outcome = cases.decide(
        session=session, principal=principal, ref=case_id, request=request, pack=pack,
        expected_version=body["expected_version"], quota_override=body.get("quota_override"),
    )  # fmt: skip
    return {"case": case_json(outcome.case), "decision": _decision_json(outcome.decision)}


def active_packs(
    *, session: Session, engine: WarmEngine, principal: Principal, region: str | None
) -> dict[str, Any]:
    """GET /rule-packs/active: the pack version that screens each region the caller may see now."""
    _require(principal, PACKS)
    regions = [region] if region is not None else known_regions(session=session)
    shown, missing = [], []
    for code in regions:
        if allowing_grant(principal, PACKS, Target(treatment_region=code)) is None:
            continue
        found = region_pack(session=session, engine=engine, region=code)
        if found.pack is None:
            missing.append(code)
            continue
        shown.append(
            {
                "region": code, "version": found.version, "source": found.source, "version_id": found.version_id,
                "effective_from": found.effective_from, "registered_by": found.registered_by,
                "approved_by": found.approved_by,
            }
        )  # fmt: skip
    session.rollback()
    return {"packs": shown, "regions_without_pack": missing}


def known_regions(*, session: Session) -> list[str]:
    """The treatment regions the casebook knows: its hospitals' regions and the regions with promotions."""
    known = set(session.execute(select(col(Hospital.region)).distinct()).scalars())
    known |= {r for r in pack_versions.promoted_regions(session=session) if r != pack_versions.NATIONAL}
    return sorted(known)
