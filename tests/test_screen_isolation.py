"""Screening is isolated per patient: a patient the engine fails on is reported as not screened (in the
summary, the run record and the CLI's exit code) and every other patient is screened as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.screening import ScreenHit, ScreenRun, run_failures
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from drgaudit.engine import parallel
from drgaudit.engine.exceptions import EngineError, WorkerDiedError
from drgaudit.engine.screen import Screener, screen_claims
from drgaudit.services.screening import screen_batch
from tests.engine_support import bundled, random_world, reference

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=7, claims=1000)
    return out


@pytest.fixture
def batch_id(session: Session, demo_dir: Path, tmp_path: Path) -> int:
    for kind in ("hospitals", "groups"):
        import_file(demo_dir / f"{kind}.csv", kind=kind, session=session, rejects_path=tmp_path / "r.csv")
    return import_file(demo_dir / "claims.csv", kind="claims", session=session).batch_id


def _hits(session: Session, batch_id: int) -> dict[tuple[str, str], str]:
    rows = session.execute(
        select(ScreenHit.claim_id, ScreenHit.rule_id, ScreenHit.content_hash).where(
            ScreenHit.batch_id == batch_id
        )
    )
    return {(claim, rule): digest for claim, rule, digest in rows}


def _victim(session: Session, batch_id: int) -> tuple[str, set[str]]:
    """A patient with hits, and its claims."""
    row = session.execute(select(ScreenHit.patient_id).where(ScreenHit.batch_id == batch_id).limit(1)).one()
    claims = session.execute(select(ScreenHit.claim_id).where(ScreenHit.patient_id == row[0])).scalars()
    return row[0], set(claims)


def _fail_for(monkeypatch: pytest.MonkeyPatch, patient_id: str) -> None:
    """Fault injection: the engine raises on one patient (as durable-rules did on odd patient ids)."""
    real = Screener.prepare

    # `prepare` is the first step of screening a patient, alone or in a chunk (then the pre-filter,
    # then durable-rules): a fault there breaks the chunk, which is screened again patient by patient.
    def prepare(self, pid, batch, history=()):
        if pid == patient_id:
            raise EngineError("durable-rules refused the session (injected fault)")
        return real(self, pid, batch, history)

    monkeypatch.setattr(Screener, "prepare", prepare)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_patient_is_reported_and_the_others_are_screened(
    session: Session, batch_id: int, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    clean = screen_batch(session=session, batch_id=batch_id)
    before = _hits(session, batch_id)
    victim, victim_claims = _victim(session, batch_id)
    _fail_for(monkeypatch, victim)

    summary = screen_batch(session=session, batch_id=batch_id, workers=workers)

    assert [f.patient_id for f in summary.failed] == [victim]
    failure = summary.failed[0]
    assert victim_claims <= set(failure.claim_ids)
    assert "injected fault" in failure.reason
    assert summary.patients == clean.patients - 1
    assert summary.claims == clean.claims - len(failure.claim_ids)
    # Every other patient's hits are exactly as before; the victim's earlier hits are kept, not removed.
    assert _hits(session, batch_id) == before
    assert summary.hits == clean.hits - sum(1 for claim, _rule in before if claim in failure.claim_ids)
    run = session.get(ScreenRun, summary.run_id)
    assert (run.status, run.patients_failed, run.claims_failed) == ("partial", 1, len(failure.claim_ids))
    assert victim in run.note
    [stored] = run_failures(session=session, run_id=run.id)
    assert (stored.patient_id, set(stored.claim_ids), stored.batch_id) == (
        victim,
        set(failure.claim_ids),
        batch_id,
    )
    assert "injected fault" in stored.reason


def test_progress_is_full_when_screening_ends_and_the_whole_time_covers_storing(
    session: Session, batch_id: int
) -> None:
    seen: list[tuple[int, int]] = []
    summary = screen_batch(
        session=session, batch_id=batch_id, progress=lambda done, total: seen.append((done, total))
    )
    # The CLI's bar turns to "storing ..." on a full count: the screen says so before it stores.
    total = seen[-1][1]
    assert total > 0 and seen[-1] == (total, total)
    assert [done for done, _total in seen] == sorted(done for done, _total in seen)
    assert summary.total_seconds >= summary.seconds > 0


@pytest.mark.skipif(sys.platform != "linux", reason="the fault is injected into forked workers")
def test_a_worker_that_dies_stops_the_screen_with_a_clear_error_not_a_hang(
    session: Session, batch_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen_batch(session=session, batch_id=batch_id)
    before = _hits(session, batch_id)

    def die(self: object, screener: object, task: object) -> None:  # as an out-of-memory kill: no result
        os._exit(9)

    monkeypatch.setattr(parallel.ScreenSetup, "screen", die)  # the workers are forked from this process
    with pytest.raises(WorkerDiedError, match="ended abruptly"):
        screen_batch(session=session, batch_id=batch_id, workers=2, chunk_patients=50)
    run = session.execute(select(ScreenRun).order_by(ScreenRun.id.desc()).limit(1)).scalar_one()  # type: ignore[attr-defined]
    assert run.status == "failed" and "WorkerDiedError" in (run.note or "")
    assert _hits(session, batch_id) == before


# Workers that die while large tasks are being written to them: the pool's feeder thread is blocked on
# a full pipe nobody reads. Run in a child process, so that a hang is a timeout, not a stuck suite.
_DIE_WHILE_FED = """
import os
from drgaudit.engine import parallel
from drgaudit.engine.exceptions import WorkerDiedError

def die(task):
    os._exit(9)

parallel._init_worker = lambda *args: None
parallel._screen_task = die  # forked workers run this copy
tasks = [["P%019d" % i for i in range(300_000)] for _ in range(10)]  # about 6 MB each
try:
    list(parallel.screen_tasks(iter(tasks), setup=None, workers=2))
except WorkerDiedError as exc:
    print(exc)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the workers are forked")
def test_a_worker_that_dies_while_a_large_task_is_sent_is_not_a_hang() -> None:
    """CPython before gh-94777's fix (Debian 12's 3.11.2) hung here for ever, in `shutdown`."""
    done = subprocess.run([sys.executable, "-c", _DIE_WHILE_FED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "a screening worker process ended abruptly" in done.stdout


def test_cli_names_the_patients_not_screened_and_exits_1(
    db_url: str, session: Session, batch_id: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    screen_batch(session=session, batch_id=batch_id)
    victim, _claims = _victim(session, batch_id)
    _fail_for(monkeypatch, victim)
    result = runner.invoke(app, ["screen", "--batch", str(batch_id), "--db", db_url])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    notice = next(line for line in lines if line.startswith("NOT SCREENED"))
    assert "1 patient," in notice and "every other patient was screened" in notice
    assert any(line.strip().startswith(f"patient {victim!r}") and "injected fault" in line for line in lines)
    # A partial run is a finished run: the batch's summary report comes from it.
    out = tmp_path / "summary.html"
    report = runner.invoke(
        app, ["report", "summary", "--batch", str(batch_id), "--out", str(out), "--db", db_url]
    )
    assert report.exit_code == 0, report.output


HOSTILE_IDS = ['P"1', "P\\1", "P\n1", "P\x001", "P\x1b[31m1", "P'1", "P\u202e1", "P１", "{P}", "P" * 3000]


def test_patient_ids_never_reach_durable_rules() -> None:
    """durable-rules failed to delete sessions named after ids with quotes, backslashes or control
    characters; the session id is now a counter, so any id screens like a plain one."""
    pack, codes = bundled()
    claims, hospitals, groups = random_world(3, 12)
    screener = Screener(pack, reference(pack, codes, hospitals, groups))
    plain = _key(screen_claims(screener, claims))
    assert plain
    for hostile in HOSTILE_IDS:
        renamed = [dict(c, patient_id=c["patient_id"] + hostile) for c in claims]
        assert _key(screen_claims(screener, renamed)) == plain


def _key(hits: list) -> list[tuple]:
    return sorted(
        (h.claim_id, h.rule_id, h.amount_at_risk, json.dumps(h.evidence["conditions"])) for h in hits
    )
