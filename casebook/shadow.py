"""Hits of shadow rule-pack versions: screened with every batch beside the active pack, stored apart, never queued.

A shadow screen of a batch replaces that batch's shadow hits of the same pack version (one transaction
with the live hits). Impact reports read them to show what a candidate version would have flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Index, UniqueConstraint, delete, func, insert, select
from sqlmodel import Field, Session

from drgaudit.casebook.screening import ScreenHitBase, ScreenRun, hit_content_hash
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
        delete(ShadowHit).where(ShadowHit.batch_id == batch_id, ShadowHit.pack_version == pack_version)
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


def shadow_counts(*, session: Session, batch_id: int) -> dict[str, dict[str, int]]:
    """Shadow hits of a batch: pack version -> rule id -> count."""
    query = (
        select(ShadowHit.pack_version, ShadowHit.rule_id, func.count())
        .where(ShadowHit.batch_id == batch_id)
        .group_by(ShadowHit.pack_version, ShadowHit.rule_id)
    )
    result: dict[str, dict[str, int]] = {}
    for version, rule_id, count in session.execute(query):
        result.setdefault(version, {})[rule_id] = count
    return result


def shadow_hits(*, session: Session, batch_id: int, pack_version: str) -> list[ShadowHit]:
    """The stored shadow hits of a batch and pack version, in screening order."""
    query = (
        select(ShadowHit)
        .where(ShadowHit.batch_id == batch_id, ShadowHit.pack_version == pack_version)
        .order_by(ShadowHit.ordinal)
    )
    return list(session.exec(query).scalars())
