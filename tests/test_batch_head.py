"""A batch screen reads the case mix and the admission range of its batch in two threads on connections
of their own (services.screening.HeadReads): the same values as the queries give, and only where other
connections see the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.demo.generator import generate
from drgaudit.services import screening
from drgaudit.services.screening import BatchHead, HeadReads, screen_batch


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, claims=1000)
    return out


def _import(session: Session, demo_dir: Path) -> int:
    for kind in ("hospitals", "groups"):
        import_file(demo_dir / f"{kind}.csv", kind=kind, session=session)
    batch_id = import_file(demo_dir / "claims.csv", kind="claims", session=session).batch_id
    assert batch_id is not None
    return batch_id


def _expected(session: Session, batch_id: int) -> BatchHead:
    return BatchHead(
        queries.batch_case_mix(session=session, batch_id=batch_id),
        queries.batch_admit_range(session=session, batch_id=batch_id),
    )


def test_read_apart_on_a_file_or_server_casebook_and_the_same_values(
    demo_dir: Path, db_url: str, tmp_path: Path
) -> None:
    url = db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'casebook.sqlite'}"
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            batch_id = _import(session, demo_dir)
            reads = HeadReads(session, batch_id)
            try:
                head = reads.result()
            finally:
                reads.close()
            assert head is not None and head.case_mix
            assert head == _expected(session, batch_id)
    finally:
        engine.dispose()


def test_a_private_in_memory_casebook_reads_them_in_the_screen_s_own_session(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine("sqlite://")
    try:
        with Session(engine) as session:
            batch_id = _import(session, demo_dir)
            reads = HeadReads(session, batch_id)
            assert reads.result() is None
            reads.close()
            seen: list[BatchHead | None] = []
            real = screening.batch_tasks

            def spy(**options: object) -> object:
                seen.append(options.get("head"))  # type: ignore[arg-type]
                return real(**options)  # type: ignore[arg-type]

            monkeypatch.setattr(screening, "batch_tasks", spy)
            summary = screen_batch(session=session, batch_id=batch_id, store=False)
            assert summary.claims == 1000 and seen == [None]
    finally:
        engine.dispose()


def test_a_screen_passes_what_was_read_apart_on_to_its_setup_and_tasks(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'casebook.sqlite'}")
    try:
        with Session(engine) as session:
            batch_id = _import(session, demo_dir)
            expected = _expected(session, batch_id)
            read_here: list[str] = []
            for name in ("batch_case_mix", "batch_admit_range"):
                real = getattr(queries, name)

                def counting(
                    *, session: Session, batch_id: int, _real: object = real, _name: str = name
                ) -> object:
                    if session is not None and session.info.get("screen"):
                        read_here.append(_name)
                    return _real(session=session, batch_id=batch_id)  # type: ignore[operator]

                monkeypatch.setattr(queries, name, counting)
            session.info["screen"] = True
            unstored = screen_batch(session=session, batch_id=batch_id, store=False)
            stored = screen_batch(session=session, batch_id=batch_id)
            assert read_here == []  # both read apart, none again in the screen's session
            assert unstored.hits == stored.hits > 0
            assert HeadReads(session, batch_id).result() == expected
    finally:
        engine.dispose()
