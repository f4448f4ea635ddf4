"""Imports that read and check the file in a worker process give exactly what an import in one process gives."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook import ingest
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import BatchClaim, Claim, ClaimCode, ImportBatch, RejectedRow
from drgaudit.casebook.prepare import worker_available
from drgaudit.errors import DataFileError

pytestmark = pytest.mark.skipif(not worker_available(), reason="no worker process can be forked here")


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The worker processes the imports of the test started."""
    # The importer forks only from a process without other threads (prepare.worker_available). A thread
    # an earlier test left behind (a server or client thread on its way out) ends late on a busy machine:
    # wait for it rather than fail, and name it if it never ends.
    deadline = time.monotonic() + 30
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not others, f"threads left by earlier tests keep the importer from forking: {others}"
    started: list[object] = []

    class Counted(ingest.PreparedInWorker):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(ingest, "PreparedInWorker", Counted)
    return started


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()[0]


def rows_with_errors(make_claim) -> list[dict[str, str]]:
    rows = [make_claim(n) for n in range(3000)]
    rows[10] = make_claim(10, age="x", gender="7")
    rows[2500] = make_claim(2500, principal_dx="bad")
    rows[2999] = make_claim(3, patient_id="P99999")  # duplicate of data row 3, in a later chunk
    return rows


def snapshot(session: Session) -> dict[str, object]:
    claims = session.exec(select(Claim).order_by(Claim.claim_id)).scalars().all()
    return {
        "claims": [c.model_dump(exclude={"batch_id"}) for c in claims],
        "codes": session.exec(select(func.count()).select_from(ClaimCode)).one()[0],
        "links": sorted(tuple(r) for r in session.exec(select(BatchClaim.claim_id, BatchClaim.row)).all()),
        "rejected": sorted(tuple(r) for r in session.exec(select(RejectedRow.row, RejectedRow.field)).all()),
    }


def test_worker_gives_the_same_result(engine, make_claim, write_rows, tmp_path: Path, workers) -> None:
    path = write_rows(tmp_path / "claims.csv", rows_with_errors(make_claim))
    with Session(engine) as session:
        parallel = import_file(path, kind="claims", session=session, parallel=True, chunk_size=700)
        in_worker = snapshot(session)
    assert len(workers) == 1
    for table in ("rejected_row", "batch_claim", "claim_code", "claim_revision", "claim", "import_batch"):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    with Session(engine) as session:
        inline = import_file(path, kind="claims", session=session, parallel=False, chunk_size=700)
        assert snapshot(session) == in_worker

    assert (parallel.rows_total, parallel.rows_ok, parallel.new) == (3000, 2997, 2997)
    assert [str(e) for e in parallel.first_errors] == [str(e) for e in inline.first_errors]
    assert [str(e) for e in parallel.first_errors] == [
        f"{path}:12: gender: '7' is not one of 1, 2",
        f"{path}:12: age: 'x' is not a whole number",
        f"{path}:2502: principal_dx: 'bad' is not an ICD-10 code",
        f"{path}:3001: claim_id: duplicate of row 5",
    ]


def test_worker_revisions_and_unchanged(
    session: Session, make_claim, write_rows, tmp_path: Path, workers
) -> None:
    first = write_rows(tmp_path / "a.csv", [make_claim(n) for n in range(2000)])
    import_file(first, kind="claims", session=session, parallel=True, chunk_size=500)
    again = [
        make_claim(n, total_cost="99999.00") if n % 100 == 0 else make_claim(n) for n in range(1500, 2500)
    ]
    report = import_file(
        write_rows(tmp_path / "b.csv", again), kind="claims", session=session, parallel=True, chunk_size=300
    )
    assert (report.new, report.unchanged, report.revised) == (500, 495, 5)
    assert len(workers) == 2
    assert session.get(Claim, "C001500").revision == 2


def test_crash_while_the_worker_runs_leaves_nothing(
    session, make_claim, write_rows, tmp_path, workers
) -> None:
    rows = [make_claim(n) for n in range(5000)]
    rows[1] = make_claim(1, age="x")
    path = write_rows(tmp_path / "claims.csv", rows)

    def crash(done: int, _fraction: float) -> None:
        if done >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(path, kind="claims", session=session, parallel=True, chunk_size=500, progress=crash)
    assert len(workers) == 1 and not workers[0]._process.is_alive()
    assert count(session, ImportBatch) == 0
    assert count(session, Claim) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv"]
    assert [t for t in threading.enumerate() if t is not threading.main_thread()] == []


def test_file_error_found_by_the_worker(session, make_claim, write_rows, tmp_path, workers) -> None:
    path = write_rows(tmp_path / "claims.csv", [make_claim(n) for n in range(2000)])
    path.write_bytes(path.read_bytes() + "C999999,王五".encode("gb18030") + b"\n")
    with pytest.raises(DataFileError, match=r"line 2002: bytes that are not utf-8 text"):
        import_file(path, kind="claims", session=session, parallel=True, chunk_size=300)
    assert len(workers) == 1
    assert count(session, Claim) == 0


def test_jsonl_in_the_worker(session, make_claim, write_rows, tmp_path, workers) -> None:
    path = write_rows(tmp_path / "claims.jsonl", [make_claim(n, extra="x") for n in range(50)])
    report = import_file(path, kind="claims", session=session, parallel=True, chunk_size=20)
    assert report.new == 50
    assert report.warnings == [f"{path}: unknown fields ignored: extra"]
    assert len(workers) == 1


def test_no_worker_from_a_process_with_threads(
    session, make_claim, write_rows, tmp_path, monkeypatch
) -> None:
    def no_fork(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a worker was started")

    monkeypatch.setattr(ingest, "PreparedInWorker", no_fork)
    path = write_rows(tmp_path / "claims.csv", [make_claim(n) for n in range(10)])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not worker_available()
        assert import_file(path, kind="claims", session=session, parallel=True).new == 10
    finally:
        stop.set()
        thread.join()
    assert worker_available()
