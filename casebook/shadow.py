"""Hits of shadow rule-pack versions: screened with every batch beside the active pack, stored apart, never queued.

A shadow screen of a batch replaces that batch's shadow hits of the same pack version (one transaction
with the live hits). Impact reports read them to show what a candidate version would have flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Index, UniqueConstraint, delete, func, insert, select
from sqlmodel import Field, Session, col

from drgaudit.casebook.screening import ScreenHit, ScreenHitBase, ScreenRun, hit_content_hash
from drgaudit.engine.hits import Hit


class ShadowHit(ScreenHitBase, table=True):
    """A hit of a shadow pack version; one per batch, pack version, claim and rule."""

    __tablename__ = "shadow_hit"
    __table_args__ = (
        UniqueConstraint("batch_id", "pack_version", "claim_id", "rule_id", name="uq_shadow_hit_key"),
        Index("ix_shadow_hit_batch_version", "batch_id", "pack_version", "ordinal"),
    )

    id: int | None = Field(default=None, primary_key=True)


def store_shadow_hits(
    *, session: Session, run: ScreenRun, batch_id: int, pack_version: str, hits: Iterable[Hit]
) -> int:
    """Replace a batch's shadow hits of one pack version (flushed; the caller commits). Returns the count."""
    session.execute(
        delete(ShadowHit).where(
            col(ShadowHit.batch_id) == batch_id, col(ShadowHit.pack_version) == pack_version
        )
    )
    rows: list[dict[str, Any]] = []
    count = 0
    for ordinal, hit in enumerate(hits):
        count += 1
        rows.append(
            {
                "batch_id": batch_id, "run_id": run.id, "claim_id": hit.claim_id, "patient_id": hit.patient_id,
                "region": hit.region, "rule_id": hit.rule_id, "rule_file": hit.rule_file, "rule_version": hit.rule_version,
                "family": hit.family, "severity": hit.severity, "action": hit.action, "amount_at_risk": hit.amount_at_risk,
                "message": hit.message, "evidence": hit.evidence, "ordinal": ordinal, "content_hash": hit_content_hash(hit),
                "pack_version": pack_version,
            }
        )  # fmt: skip
        if len(rows) >= 2000:
            session.execute(insert(ShadowHit), rows)
            rows = []
    if rows:
        session.execute(insert(ShadowHit), rows)
    session.flush()
    return count


def shadow_counts(*, session: Session, batch_id: int, region: str | None = None) -> dict[str, dict[str, int]]:
    """Shadow hits of a batch (optionally of one treatment region): pack version -> rule id -> count."""
    query = (
        select(col(ShadowHit.pack_version), col(ShadowHit.rule_id), func.count())
        .where(col(ShadowHit.batch_id) == batch_id)
        .group_by(col(ShadowHit.pack_version), col(ShadowHit.rule_id))
    )
    if region is not None:
        query = query.where(col(ShadowHit.region) == region)
    result: dict[str, dict[str, int]] = {}
    for version, rule_id, count in session.execute(query):
        result.setdefault(version, {})[rule_id] = count
    return result


def shadow_hits(*, session: Session, batch_id: int, pack_version: str) -> list[ShadowHit]:
    """The stored shadow hits of a batch and pack version, in screening order."""
    query = (
        select(ShadowHit)
        .where(col(ShadowHit.batch_id) == batch_id, col(ShadowHit.pack_version) == pack_version)
        .order_by(col(ShadowHit.ordinal))
    )
    return list(session.execute(query).scalars())


def live_counts(*, session: Session, batch_id: int, region: str | None = None) -> dict[str, int]:
    """The batch's stored (live) hits by rule id, optionally of one treatment region."""
    query = (
        select(col(ScreenHit.rule_id), func.count())
        .where(col(ScreenHit.batch_id) == batch_id)
        .group_by(col(ScreenHit.rule_id))
    )
    if region is not None:
        query = query.where(col(ScreenHit.region) == region)
    return {rule_id: count for rule_id, count in session.execute(query)}
