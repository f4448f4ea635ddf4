"""A batch's stored hits a page of claims at a time, as the hospital findings and the review queue read
them to refresh themselves from a screen (`findings.refresh_findings`, `review.refresh_cases`).

A stored screen refreshes the findings and then the queue from the same hits, in one transaction. Each
read most of the batch's hit rows from the database (a row is most of a database page, for its
evidence), so `HitPages(keep=True)` keeps the rows of its first pass in a spool file, and a second pass
reads them from there instead: the same rows, a fraction of the cost. Memory holds one page either way.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from operator import itemgetter
from types import TracebackType
from typing import IO, Any

from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook.evidence import EvidenceDigests
from drgaudit.casebook.models import Claim, table_of
from drgaudit.casebook.screening import LazyEvidence, ScreenHit, evidence_read, hit_claim_pages, page_hits

# What the findings and the queue read of a hit (beside `evidence_read`), and of its claim.
HIT_FIELDS = (
    "claim_id", "rule_id", "batch_id", "family", "severity", "action", "amount_at_risk", "message", "pack_version",
)  # fmt: skip
CLAIM_FIELDS = (
    "patient_id", "hospital_id", "treatment_region", "insured_region", "payment_scheme", "group_code",
    "discharge_date", "total_cost",
)  # fmt: skip
# Table columns, not the model's attributes: plain rows, without the ORM's loading of each row.
_hit, _claim = table_of(ScreenHit), table_of(Claim)
_COLUMNS = [_hit.c[name] for name in HIT_FIELDS] + [_claim.c[name] for name in CLAIM_FIELDS]
_JOINED = _hit.join(_claim, _claim.c.claim_id == _hit.c.claim_id)


class Page:
    """One page of hits: its claim ids, and its hits' rows (tuples of the values of `keys`)."""

    __slots__ = ("claim_ids", "keys", "rows")

    def __init__(self, claim_ids: list[str], keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self.claim_ids = claim_ids
        self.keys = keys
        self.rows = rows

    def hits(self, rows: list[tuple[Any, ...]] | None = None) -> list[LazyEvidence]:
        """The hits of these rows (by default all the page's), as new `LazyEvidence` objects."""
        keys = self.keys
        return [LazyEvidence(row, keys) for row in (self.rows if rows is None else rows)]


class HitPages:
    """The batch's hits, `claims_per_page` claims with hits at a time (`hit_claim_pages`: keyset pages on
    claim id), each hit a `LazyEvidence` with its claim's fields (a hit whose claim is not in the
    casebook is left out: it makes no case and no finding), in screening order: by ordinal, then claim
    and rule (an unchanged hit keeps its row's ordinal, which one of this screen's may share).

    Iterating gives a `Page` at a time, whose `hits()` are new objects each time. `digests`: the
    evidence digests the screen kept (`evidence_read`); `keep`: a finished pass is kept in a spool file
    and later passes read it, so only while the batch's hits and claims do not change (one transaction).
    """

    def __init__(
        self,
        session: Session,
        batch_id: int,
        claims_per_page: int,
        digests: EvidenceDigests | None = None,
        *,
        keep: bool = False,
    ) -> None:
        self.session = session
        self.batch_id = batch_id
        self.claims_per_page = claims_per_page
        self.digests = digests
        self._spool: IO[bytes] | None = tempfile.TemporaryFile() if keep else None
        self._pages: int | None = None  # pages in the spool, once a pass has finished

    def fits(self, batch_id: int, claims_per_page: int, digests: EvidenceDigests | None) -> bool:
        """Whether these are the pages a refresh of `batch_id` by `claims_per_page` claims would read."""
        return (self.batch_id, self.claims_per_page, self.digests) == (batch_id, claims_per_page, digests)

    def __iter__(self) -> Iterator[Page]:
        if self._spool is not None and self._pages is not None:
            self._spool.seek(0)
            for _ in range(self._pages):
                yield Page(*pickle.load(self._spool))
            return
        yield from self._read()

    def _read(self) -> Iterator[Page]:
        # Plain table queries do not flush the session as the ORM's do: the session's pending changes
        # are written first, so that the pages are what an ORM query would read.
        self.session.flush()
        spool = self._spool
        if spool is not None:
            spool.seek(0)
            spool.truncate()
        pages = 0
        for claim_ids in hit_claim_pages(self.session, self.batch_id, self.claims_per_page):
            query = (
                select(*_COLUMNS, *evidence_read(self.digests))
                .select_from(_JOINED)
                .where(*page_hits(self.batch_id, claim_ids))
            )
            result = self.session.execute(query)
            keys = tuple(result.keys())
            order = itemgetter(keys.index("ordinal"), keys.index("claim_id"), keys.index("rule_id"))
            rows: list[tuple[Any, ...]] = sorted(map(tuple, result), key=order)
            if spool is not None:
                pickle.dump((claim_ids, keys, rows), spool, protocol=pickle.HIGHEST_PROTOCOL)
                pages += 1
            yield Page(claim_ids, keys, rows)
        if spool is not None:
            self._pages = pages

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> HitPages:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
