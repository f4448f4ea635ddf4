"""`casebook.hitpages.HitPages`: a batch's stored hits a page of claims at a time, read from the database
or, for a second pass of a stored screen's refresh, from the spool the first pass kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import Session, delete, select
from typer.testing import CliRunner

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.hitpages import HitPages
from drgaudit.casebook.screening import ScreenHit
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from drgaudit.services.screening import screen_batch

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, claims=1200)
    return out


def _passes(pages: HitPages) -> list[tuple[list[str], tuple[str, ...], list[tuple[object, ...]]]]:
    return [(page.claim_ids, page.keys, page.rows) for page in pages]


def test_pages_cover_the_batch_s_hits_in_screening_order_and_a_kept_pass_is_read_again(
    demo_dir: Path, db_url: str
) -> None:
    for kind in ("hospitals", "groups", "claims"):
        result = runner.invoke(app, ["import", kind, str(demo_dir / f"{kind}.csv"), "--db", db_url])
        assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            screen_batch(session=session, batch_id=3, workers=1, store=True, output=io.StringIO())
        with Session(engine) as session:
            stored = {(h.claim_id, h.rule_id): h for h in session.exec(select(ScreenHit)).all()}
            fresh = _passes(HitPages(session, 3, 7))
            seen: list[tuple[str, str]] = []
            for claim_ids, keys, rows in fresh:
                assert 0 < len(claim_ids) <= 7 and claim_ids == sorted(set(claim_ids))
                hits = [dict(zip(keys, row, strict=True)) for row in rows]
                assert {h["claim_id"] for h in hits} == set(claim_ids)
                order = [(h["ordinal"], h["claim_id"], h["rule_id"]) for h in hits]
                assert order == sorted(order)
                for h in hits:  # each hit with its columns and its claim's fields
                    row = stored[(h["claim_id"], h["rule_id"])]
                    assert (h["ordinal"], h["message"], h["patient_id"]) == (
                        row.ordinal,
                        row.message,
                        row.patient_id,
                    )
                seen += [(h["claim_id"], h["rule_id"]) for h in hits]
            pages_ids = [claim_id for claim_ids, _, _ in fresh for claim_id in claim_ids]
            assert pages_ids == sorted(set(pages_ids)) and len(fresh) > 3
            assert sorted(seen) == sorted(stored)

            kept = HitPages(session, 3, 7, keep=True)
            with kept:
                first = iter(kept)
                next(first)  # a pass left unfinished keeps nothing: the next pass reads the database
                assert _passes(kept) == fresh
                # A finished pass is read again from the spool, not from the database.
                session.exec(delete(ScreenHit).where(ScreenHit.batch_id == 3))  # type: ignore[call-overload]
                assert _passes(kept) == fresh
                assert _passes(HitPages(session, 3, 7)) == []
                assert kept.fits(3, 7, None) and not kept.fits(3, 5, None) and not kept.fits(2, 7, None)
            session.rollback()
    finally:
        engine.dispose()
