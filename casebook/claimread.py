"""Reading some fields of some claims by id: what the review queue and the findings need of a hit's claim.

Kept apart from `casebook.queries` (which brings the screening engine's modules along) so that the review
modules, which the web pages and the CLI import, stay light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook.models import Claim, table_of

_claim = table_of(Claim)


def claim_fields(*, session: Session, claim_ids: Sequence[str], fields: Sequence[str]) -> dict[str, Any]:
    """Some fields of some claims by claim id, as rows whose attributes are the fields (and claim_id)."""
    columns = [_claim.c[name] for name in dict.fromkeys(["claim_id", *fields])]
    found: dict[str, Any] = {}
    for start in range(0, len(claim_ids), 500):
        part = list(claim_ids[start : start + 500])
        for row in session.execute(select(*columns).where(_claim.c.claim_id.in_(part))):
            found[row.claim_id] = row
    return found
