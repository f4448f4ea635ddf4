"""Pre-settlement screening: claims sent as JSON, checked like an import, screened with their history.

The settlement system sends one claim or a few (the data contract's fields as a JSON object each) and
gets, per claim, the hits in the data contract's screening-output form and a verdict: the strongest
action among the hits (`pass` when there is none). The claims are checked by the importer's own
converter (`drgaudit.ingest.rows.RowConverter`), so a value the importer refuses is refused here with
the same reason, named `claims[i].field: reason`; any bad claim refuses the whole request and nothing is
stored. They are screened by the warm engine (`drgaudit.services.warm`) with the patients' stored
claims as history. With `store`, the claims, their hits and the review cases made from them are stored
(`drgaudit.casebook.claimstore`): idempotently, a revision when a claim changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.claimstore import (
    Guard,
    ScreenedBy,
    StoredScreen,
    cases_of_claims,
    store_screened_claims,
)
from drgaudit.casebook.review import claim_amount_at_risk
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.reviewconfig import ConflictError
from drgaudit.contract import ACTIONS
from drgaudit.engine.explain import RuleExplanation, explain_claim
from drgaudit.engine.hits import Hit
from drgaudit.engine.vocabulary import FACTS
from drgaudit.errors import DrgauditError
from drgaudit.ingest.rows import RowConverter
from drgaudit.services.warm import REQUEST_SOURCE, Screened, WarmEngine

log = logging.getLogger("drgaudit.presettlement")

# Verdicts from weakest to strongest: no hit, then the data contract's actions in their order.
VERDICTS: tuple[str, ...] = ("pass", *ACTIONS)
_STRENGTH = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
# Keys a request body may have.
BODY_KEYS = ("claims", "claim")
# How often a store that lost a race with a concurrent one (same new claim, same case) is tried again.
STORE_ATTEMPTS = 3

_converter = RowConverter("claims", "claims")


class ClaimInputError(DrgauditError):
    """The request's claims are not valid: every problem, each as `claims[i].field: reason`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(shown)


class TooManyClaimsError(DrgauditError):
    """More claims in one request than the configured maximum."""

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} claims in one request; at most {limit}")


def verdict_of(hits: Sequence[Hit]) -> str:
    """The strongest action among the hits, or `pass`."""
    return max((hit.action for hit in hits), key=_STRENGTH.__getitem__, default="pass")


def parse_claims(payload: Any, *, max_claims: int) -> list[dict[str, Any]]:
    """The canonical records of a request body `{"claims": [...]}` or `{"claim": {...}}`.

    Raises ClaimInputError naming every problem (`claims[i].field: reason`; `claim.field` for the
    single form), TooManyClaimsError over `max_claims`.
    """
    if not isinstance(payload, dict):
        raise ClaimInputError(['body: expected a JSON object {"claims": [...]} or {"claim": {...}}'])
    unknown = [key for key in payload if key not in BODY_KEYS]
    problems = [f"{key}: unknown field (expected claims or claim)" for key in unknown]
    if ("claims" in payload) == ("claim" in payload):
        problems.append('body: give either "claims" (a list) or "claim" (one claim)')
        raise ClaimInputError(problems)
    if "claim" in payload:
        items, prefix = [payload["claim"]], "claim"
    else:
        items, prefix = payload["claims"], "claims"
        if not isinstance(items, list):
            raise ClaimInputError([*problems, "claims: expected a list of claims"])
        if not items:
            raise ClaimInputError([*problems, "claims: the list is empty"])
    if len(items) > max_claims:
        raise TooManyClaimsError(len(items), max_claims)

    def where(i: int) -> str:
        return prefix if prefix == "claim" else f"claims[{i}]"

    rows: list[tuple[int, dict[str, Any]]] = []
    known = set(_converter.names)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{where(i)}: expected a JSON object with the claim's fields")
            continue
        problems.extend(f"{where(i)}.{key}: unknown field" for key in item if key not in known)
        rows.append((i, item))
    chunk = _converter.convert(rows) if rows else None
    records: list[dict[str, Any]] = []
    if chunk is not None:
        for position, errors in chunk.errors.items():
            problems.extend(f"{where(rows[position][0])}.{e.field}: {e.reason}" for e in errors)
        first: dict[str, int] = {}
        for position in chunk.good:
            record = chunk.record(position)
            i = rows[position][0]
            earlier = first.setdefault(record["claim_id"], i)
            if earlier != i:
                problems.append(f"{where(i)}.claim_id: duplicate of claims[{earlier}]")
            records.append(record)
    if problems:
        raise ClaimInputError(sorted(problems, key=_position))
    return records


def _position(problem: str) -> tuple[int, str]:
    if problem.startswith("claims["):
        return int(problem[7 : problem.index("]")]), problem
    return -1, problem


@dataclass
class ClaimVerdict:
    """One claim's answer: its verdict, hits and the pack version that screened it."""

    claim_id: str
    patient_id: str
    treatment_region: str
    verdict: str
    rules_version: str
    hits: list[Hit]
    review_case: ReviewCase | None = None
    total_cost: float | None = None

    @property
    def amount_at_risk(self) -> float:
        """The hits' amounts together, as a review case counts them (`casebook.review.claim_amount_at_risk`)."""
        return claim_amount_at_risk([hit.amount_at_risk for hit in self.hits], self.total_cost)

    def to_dict(self) -> dict[str, Any]:
        case = self.review_case
        return {
            "claim_id": self.claim_id,
            "verdict": self.verdict,
            "amount_at_risk": self.amount_at_risk,
            "treatment_region": self.treatment_region,
            "rules_version": self.rules_version,
            "hits": [hit.to_dict() for hit in self.hits],
            "review_case": None
            if case is None
            else {"id": case.id, "status": case.status, "version": case.version},
        }


@dataclass
class ScreenOutcome:
    """The answer to one request: a verdict per claim (in request order), and what was stored."""

    claims: list[ClaimVerdict]
    stored: list[StoredScreen] = field(default_factory=list)
    store: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [claim.to_dict() for claim in self.claims],
            "rules_versions": sorted({claim.rules_version for claim in self.claims}),
            "stored": _stored_summary(self.stored) if self.store else None,
        }


def _stored_summary(stored: list[StoredScreen]) -> dict[str, Any]:
    def total(part: str) -> dict[str, int]:
        summed: dict[str, int] = {}
        for item in stored:
            for key, value in getattr(item, part).items():
                summed[key] = summed.get(key, 0) + value
        return summed

    return {
        "batch_ids": [item.batch_id for item in stored],
        "already_stored": all(item.already_stored for item in stored),
        "claims": total("claims"),
        "hits": total("hits"),
        "review_cases": total("review_cases"),
    }


def screen_request(
    *,
    session: Session,
    engine: WarmEngine,
    claims: list[dict[str, Any]],
    store: bool = False,
    actor: str,
    request_id: str,
    guard: Guard | None = None,
) -> ScreenOutcome:
    """Screen checked claims (`parse_claims`) and, with `store`, store them with hits and cases.

    `guard`: called, inside the storing transaction and its locks, with the stored claims among them
    (`claimstore.Guard`); it raises to refuse, and nothing is stored.
    Raises `warm.NoActivePackError` (nothing stored) when a claim's treatment region has no active pack.
    """
    screened = engine.screen(session=session, claims=claims)
    # Stored claims are also screened by their regions' shadow versions, as a stored batch is: those
    # hits are kept apart (never queued) for the impact report of the version before it is promoted.
    shadow = engine.screen(session=session, claims=claims, shadow=True) if store else None
    session.rollback()  # end the reading transaction before any write
    outcome = ScreenOutcome(
        [
            ClaimVerdict(
                claim_id=claim["claim_id"],
                patient_id=claim["patient_id"],
                treatment_region=claim["treatment_region"],
                verdict=verdict_of(screened.hits[claim["claim_id"]]),
                rules_version=screened.packs[claim["claim_id"]].version,
                hits=screened.hits[claim["claim_id"]],
                total_cost=claim.get("total_cost"),
            )
            for claim in claims
        ],
        store=store,
    )
    if store:
        assert shadow is not None
        outcome.stored = _store(
            session, claims, screened, shadow, f"{REQUEST_SOURCE}{request_id}", actor, guard
        )
        cases = cases_of_claims(session=session, claim_ids=[c["claim_id"] for c in claims])
        for verdict in outcome.claims:
            verdict.review_case = cases.get(verdict.claim_id)
        session.rollback()
    return outcome


def _store(
    session: Session,
    claims: list[dict[str, Any]],
    screened: Screened,
    shadow: Screened,
    source: str,
    actor: str,
    guard: Guard | None,
) -> list[StoredScreen]:
    """One batch per pack version among the claims (usually one), each stored in its own transaction."""
    versions = sorted({warm.version for warm in screened.packs.values()})
    results = []
    for version in versions:
        mine = [c for c in claims if screened.packs[c["claim_id"]].version == version]
        warm = screened.packs[mine[0]["claim_id"]]
        codes = screened.codes[version]
        screened_by = ScreenedBy(warm.pack, str(warm.rules_dir), version, codes.source, codes.digest)
        hits = [hit for claim in mine for hit in screened.hits[claim["claim_id"]]]
        shadow_hits: dict[str, list[Hit]] = {}
        for claim in mine:
            if claim["claim_id"] in shadow.packs:
                shadow_hits.setdefault(shadow.packs[claim["claim_id"]].version, []).extend(
                    shadow.hits[claim["claim_id"]]
                )
        name = source if len(versions) == 1 else f"{source}#{version}"
        results.append(_store_with_retries(session, mine, hits, screened_by, name, actor, shadow_hits, guard))
    return results


def _store_with_retries(
    session: Session,
    claims: list[dict[str, Any]],
    hits: list[Hit],
    screened_by: ScreenedBy,
    source: str,
    actor: str,
    shadow: dict[str, list[Hit]],
    guard: Guard | None,
) -> StoredScreen:
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            return store_screened_claims(
                session=session,
                records=claims,
                hits=hits,
                screened_by=screened_by,
                source=source,
                actor=actor,
                shadow=shadow,
                guard=guard,
            )
        except (IntegrityError, ConflictError) as exc:
            # A concurrent request stored the same new claim or changed the same case first: the next
            # attempt sees what it stored (unchanged claims, refreshed cases).
            session.rollback()
            if attempt == STORE_ATTEMPTS:
                raise
            log.info("store of %s lost a race (%s), attempt %d", source, type(exc).__name__, attempt + 1)
    raise AssertionError("unreachable")


def explain_stored(*, session: Session, engine: WarmEngine, claim_id: str) -> dict[str, Any]:
    """Why a stored claim is (or is not) hit: every rule of its region's active pack, fired or not, with
    each condition's value, as JSON; the patient's other stored claims are the history, as when screening.

    Raises `ClaimNotFound` when the casebook has no such claim.
    """
    claim = queries.get_claim(session=session, claim_id=claim_id)
    if claim is None:
        raise ClaimNotFound(claim_id)
    warm = engine.pack_for(session=session, region=claim["treatment_region"])
    since = claim["admit_date"] - dt.timedelta(days=warm.pack.lookback_days)
    history = [
        c
        for c in queries.claims_of_patient(session=session, patient_id=claim["patient_id"], since=since)
        if c["claim_id"] != claim_id
    ]
    explanation = explain_claim(engine.screener_for(session=session, warm=warm), claim_id, [claim], history)
    session.rollback()
    return {
        "claim_id": explanation.claim_id,
        "treatment_region": explanation.region,
        "profile": explanation.profile,
        "rules_version": warm.version,
        "verdict": verdict_of([rule.hit for rule in explanation.rules if rule.hit is not None]),
        "facts": [
            {"name": name, "label": FACTS[name].label if name in FACTS else name, "value": value}
            for name, value in explanation.facts.items()
        ],
        "rules": [_rule_json(rule) for rule in explanation.rules],
    }


def _rule_json(rule: RuleExplanation) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "title": rule.rule.title,
        "action": rule.rule.action,
        "severity": rule.rule.severity,
        "fired": rule.fired,
        "applies": rule.applies,
        "not_applicable": rule.not_applicable,
        "earlier_claim": rule.earlier_id,
        "conditions": [{"kind": c.kind, "condition": c.source, "value": c.value} for c in rule.conditions],
        "values": rule.values,
        "hit": rule.hit.to_dict() if rule.hit is not None else None,
    }


class ClaimNotFound(DrgauditError):
    """No claim with this id in the casebook."""

    def __init__(self, claim_id: str) -> None:
        self.claim_id = claim_id
        super().__init__(f"no claim {claim_id} in the casebook")
