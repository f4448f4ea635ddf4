"""`screen --batch --cluster`: a real Dask cluster of two workers on 127.0.0.1 screens like a local screen.

CI (.ci/run) starts the scheduler and two workers and names them in DRGAUDIT_TEST_DASK_SCHEDULER;
without it this module starts its own (`python -m distributed.cli.dask_scheduler` / `dask_worker`).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from drgaudit.engine import cluster as cluster_module
from drgaudit.engine.cluster import ClusterError, connect
from drgaudit.services import screening
from drgaudit.services.screening import screen_batch

SCHEDULER_ENV = "DRGAUDIT_TEST_DASK_SCHEDULER"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(address: str, count: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client = connect(address)
            try:
                if len(client.nthreads()) >= count:
                    return
            finally:
                client.close()
        except ClusterError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Dask cluster at {address} has not {count} workers after {seconds:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """The address of a running scheduler with two single-thread workers."""
    given = os.environ.get(SCHEDULER_ENV)
    if given:
        _wait_for_workers(given, 2)
        yield given
        return
    port = str(_free_port())
    address = f"tcp://127.0.0.1:{port}"
    scheduler = [
        sys.executable,
        "-m",
        "distributed.cli.dask_scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        port,
    ]
    worker = [
        sys.executable,
        "-m",
        "distributed.cli.dask_worker",
        address,
        "--nthreads",
        "1",
        "--host",
        "127.0.0.1",
    ]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([*scheduler, "--no-dashboard"], **quiet)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([*worker, "--no-dashboard", "--memory-limit", "0"], **quiet))
        _wait_for_workers(address, 2)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def casebook_url(db_backend: str, db_url: str, tmp_path: Path) -> str:
    """A database the workers can open too: PostgreSQL, or a SQLite file (not an in-memory database)."""
    return f"sqlite:///{tmp_path / 'cluster.sqlite'}" if db_backend == "sqlite" else db_url


def _import_demo(url: str, folder: Path) -> int:
    generate(folder, seed=33, claims=2500)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            for kind in ("hospitals", "groups"):
                import_file(folder / f"{kind}.csv", kind=kind, session=session, imported_by="test")
            report = import_file(folder / "claims.csv", kind="claims", session=session, imported_by="test")
            assert report.batch_id is not None
            return report.batch_id
    finally:
        engine.dispose()


def test_cluster_screen_gives_the_same_hits_as_a_local_screen(
    dask_scheduler: str, casebook_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = _import_demo(casebook_url, tmp_path / "demo")
    monkeypatch.setattr(screening, "CHUNK_PATIENTS", 100)  # several tasks, so both workers get some
    engine = make_engine(casebook_url)
    try:
        with Session(engine) as session:
            local, remote = io.StringIO(), io.StringIO()
            here = screen_batch(session=session, batch_id=batch_id, output=local, store=False)
            there = screen_batch(session=session, batch_id=batch_id, output=remote, cluster=dask_scheduler)
    finally:
        engine.dispose()
    assert here.hits > 20
    assert remote.getvalue() == local.getvalue()  # same hits, same order, same evidence
    assert (there.claims, there.patients, there.hits) == (here.claims, here.patients, here.hits)
    assert there.run_id is not None and there.stored["new"] == there.hits
    client = connect(dask_scheduler)
    try:
        compiled = client.run(lambda: len(cluster_module._screeners))
    finally:
        client.close()
    assert len(compiled) >= 2 and all(count == 1 for count in compiled.values())  # each worker compiled once


def test_cli_cluster_option(dask_scheduler: str, casebook_url: str, tmp_path: Path) -> None:
    batch_id = _import_demo(casebook_url, tmp_path / "demo")
    runner = CliRunner()
    result = runner.invoke(
        app, ["screen", "--batch", str(batch_id), "--cluster", dask_scheduler, "--db", casebook_url]
    )
    assert result.exit_code == 0, result.output
    assert "stored as screen run" in result.output
    result = runner.invoke(
        app, ["screen", "--batch", str(batch_id), "--cluster", "tcp://127.0.0.1:9", "--db", casebook_url]
    )
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
