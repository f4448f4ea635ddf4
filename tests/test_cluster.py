"""`screen --batch --cluster`: a real Dask cluster of two workers on 127.0.0.1 screens like a local screen.

CI (.ci/run) starts the scheduler and two workers and names them in DRGAUDIT_TEST_DASK_SCHEDULER;
without it this module starts its own (`python -m distributed.cli.dask_scheduler` / `dask_worker`).
Everything that talks to the cluster runs in a child process: a Dask client leaves threads behind,
and a process with threads must not fork (the importer's worker checks that).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.demo.generator import generate
from drgaudit.services.screening import screen_batch
from tests.test_rules_impact import pack_with_los
from tests.web_support import free_port

SCHEDULER_ENV = "DRGAUDIT_TEST_DASK_SCHEDULER"


def _client_python(address: str, body: str) -> str:
    """Run `body` (with `client` connected to the scheduler) in a child Python; returns its stdout."""
    code = (
        "from drgaudit.engine.cluster import connect\n"
        f"client = connect({address!r})\n"
        "try:\n" + "".join(f"    {line}\n" for line in body.splitlines()) + "finally:\n    client.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def _wait_for_workers(address: str, count: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if int(_client_python(address, "print(len(client.nthreads()))")) >= count:
                return
        except RuntimeError:
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
    port = str(free_port())
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


def _drgaudit(*args: str) -> subprocess.CompletedProcess:
    """The `drgaudit` command in a child process."""
    drgaudit = Path(sys.executable).with_name("drgaudit")
    return subprocess.run([str(drgaudit), *args], capture_output=True, text=True, timeout=300)


def _screen(url: str, batch_id: int, out: Path, *options: str) -> subprocess.CompletedProcess:
    """`drgaudit screen --batch` in a child process."""
    return _drgaudit("screen", "--batch", str(batch_id), "--db", url, "--output", str(out), *options)


def test_cluster_screen_gives_the_same_hits_as_a_local_screen(
    dask_scheduler: str, casebook_url: str, tmp_path: Path
) -> None:
    batch_id = _import_demo(casebook_url, tmp_path / "demo")
    engine = make_engine(casebook_url)
    try:
        with Session(engine) as session:
            local = io.StringIO()
            here = screen_batch(session=session, batch_id=batch_id, output=local, store=False)
    finally:
        engine.dispose()
    # 100 patients per task: several tasks, so that both workers get some.
    done = _screen(
        casebook_url,
        batch_id,
        tmp_path / "cluster.jsonl",
        "--cluster",
        dask_scheduler,
        "--chunk-patients",
        "100",
    )
    assert done.returncode == 0, done.stderr
    assert here.hits > 20
    # Same hits, same order, same evidence, and stored like a local screen.
    assert (tmp_path / "cluster.jsonl").read_text(encoding="utf-8") == local.getvalue()
    assert f"screened {here.claims} claims of {here.patients} patients" in done.stderr
    assert f"{here.hits} hits" in done.stderr and f"{here.hits} new" in done.stderr
    compiled = json.loads(
        _client_python(
            dask_scheduler,
            "import json\nfrom drgaudit.engine.cluster import compiled_count\n"
            "print(json.dumps(client.run(compiled_count)))",
        )
    )
    assert len(compiled) >= 2 and all(count == 1 for count in compiled.values())  # each worker compiled once


def test_an_unreachable_scheduler_is_a_clear_error(casebook_url: str, tmp_path: Path) -> None:
    batch_id = _import_demo(casebook_url, tmp_path / "demo")
    done = _screen(casebook_url, batch_id, tmp_path / "hits.jsonl", "--cluster", "tcp://127.0.0.1:9")
    assert done.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    # Not an address at all: said at once, without Dask's own traceback when its client is collected.
    for address in ("garbage", "tcp://scheduler", "tcp://127.0.0.1:99999", "inproc://x"):
        done = _screen(casebook_url, batch_id, tmp_path / "hits.jsonl", "--cluster", address)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"error: `{address}` is not the address of a Dask scheduler: give tcp://HOST:PORT, as "
            "`dask scheduler` prints it (e.g. tcp://10.0.0.5:8786)"
        ]


def _impact(url: str, new: Path, batch_id: int, *options: str) -> subprocess.CompletedProcess:
    """`drgaudit rules impact` in a child process."""
    return _drgaudit("rules", "impact", str(new), "--batch", str(batch_id), "--db", url, *options)


def test_cluster_impact_preview_is_the_local_one(
    dask_scheduler: str, casebook_url: str, tmp_path: Path
) -> None:
    """`rules impact --cluster`: both packs screened by the workers, each compiling the pair once."""
    batch_id = _import_demo(casebook_url, tmp_path / "demo")
    new = pack_with_los(tmp_path, 30)  # LOS-001 from 60 to 30 days: hits added
    local = _impact(casebook_url, new, batch_id)
    assert local.returncode == 0, local.stderr
    done = _impact(casebook_url, new, batch_id, "--cluster", dask_scheduler)
    assert done.returncode == 0, done.stderr

    def steady(out: str) -> str:  # everything but the time it took
        return re.sub(r" in [0-9.]+s;", " in …;", out)

    assert steady(done.stdout) == steady(local.stdout)
    assert re.search(r"LOS-001 +[0-9,]+ → [0-9,]+ +\+[1-9]", local.stdout), local.stdout
    compiled = json.loads(
        _client_python(
            dask_scheduler,
            "import json\nfrom drgaudit.engine.cluster import compiled_count\n"
            "print(json.dumps(client.run(compiled_count)))",
        )
    )
    assert all(count == 1 for count in compiled.values())  # the pair of packs, once per worker


def test_cluster_impact_needs_a_database_the_workers_can_read(tmp_path: Path) -> None:
    from drgaudit.errors import DrgauditError
    from drgaudit.services.impact import ImpactRequest, rules_impact

    engine = make_engine("sqlite://")
    with Session(engine) as session:
        generate(tmp_path / "demo", seed=33, claims=1000)
        for kind in ("hospitals", "groups"):
            import_file(tmp_path / "demo" / f"{kind}.csv", kind=kind, session=session, imported_by="test")
        report = import_file(
            tmp_path / "demo" / "claims.csv", kind="claims", session=session, imported_by="test"
        )
        assert report.batch_id is not None
        request = ImpactRequest(
            new_dir=pack_with_los(tmp_path, 30), batch_id=report.batch_id, cluster="tcp://127.0.0.1:9"
        )
        with pytest.raises(DrgauditError, match="a cluster cannot read an in-memory database"):
            rules_impact(session=session, request=request)
