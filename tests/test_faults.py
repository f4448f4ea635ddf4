"""Faults (issue 14): killed imports and screens, two screens of one batch, a locked, read-only or full
casebook, and a rejects file that cannot be written. Every command answers in one line, never a
traceback, and says exactly what was stored."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.models import Claim, ImportBatch, RejectedRow
from drgaudit.casebook.runlock import ScreenLock, is_screening
from drgaudit.casebook.screening import ScreenRun
from drgaudit.cli.root import app
from drgaudit.demo.generator import generate
from tests.conftest import claim_row, write_table

DEADLINE = 120.0
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, claims=3000)
    return out


@pytest.fixture
def shared_url(db_backend: str, db_url: str, tmp_path: Path) -> str:
    """A casebook other processes can open: a SQLite file, or the test's PostgreSQL database."""
    return f"sqlite:///{tmp_path / 'casebook.sqlite'}" if db_backend == "sqlite" else db_url


@pytest.fixture
def shared_session(shared_url: str) -> Iterator[Session]:
    engine = make_engine(shared_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        DRGAUDIT_HOME=str(tmp_path / "home"),
        DRGAUDIT_LOCK_TIMEOUT="1",
        TMPDIR=str(tmp_path / "tmp"),
    )
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.pop("DRGAUDIT_DEBUG", None)
    env.update(extra)
    return env


class Result:
    """What a command did: exit code and output (of a process, or of an in-process run)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(*args: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Result:
    """Run a command in this process (much quicker than a process of its own), with `env`."""
    for key in ("DRGAUDIT_HOME", "DRGAUDIT_LOCK_TIMEOUT", "TMPDIR"):
        monkeypatch.setenv(key, env[key])
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def drgaudit(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drgaudit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        **kwargs,
    )


def one_line_error(result: Result | subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def wait_for(predicate, what: str, timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- killed import ----------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="the import worker is a Linux fork")
def test_killed_import_leaves_no_worker_no_temporary_file_and_nothing_stored(
    shared_url: str, shared_session: Session, tmp_path: Path
) -> None:
    rows = [claim_row(n, age="x" if n % 97 == 0 else claim_row(n)["age"]) for n in range(60_000)]
    path = write_table(tmp_path / "big.csv", rows)
    env = cli_env(tmp_path)
    before = set(tmp_path.iterdir())
    process = subprocess.Popen(
        [sys.executable, "-m", "drgaudit", "import", "claims", str(path), "--db", shared_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: children(process.pid) or process.poll() is not None, "the import's worker")
        workers = children(process.pid)
        assert workers and process.poll() is None, "the import ended before it could be killed"
        time.sleep(0.5)  # let it write a chunk or two (and spool rejected rows)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE)
        wait_for(lambda: not any(alive(pid) for pid in workers), "the worker to go", timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "tmp", tmp_path / "home"}
    for model in (ImportBatch, Claim, RejectedRow):
        assert shared_session.exec(select(func.count()).select_from(model)).one()[0] == 0


# -- killed screen, two screens at once --------------------------------------------------------------------


def _import_demo(session: Session, demo_dir: Path) -> int:
    for kind in ("hospitals", "groups"):
        import_file(demo_dir / f"{kind}.csv", kind=kind, session=session)
    return import_file(demo_dir / "claims.csv", kind="claims", session=session).batch_id


def test_killed_screen_is_marked_failed_by_the_next_command(
    shared_url: str, shared_session: Session, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = _import_demo(shared_session, demo_dir)
    env = cli_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "drgaudit", "screen", "--batch", str(batch_id), "--db", shared_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = make_engine(shared_url)
    try:

        def running() -> bool:
            with probe.connect() as conn:
                return (
                    conn.execute(text("SELECT count(*) FROM screen_run WHERE status = 'running'")).scalar()
                    > 0
                )

        wait_for(lambda: running() or process.poll() is not None, "the screen run to start")
        assert process.poll() is None, "the screen ended before it could be killed"
        assert is_screening(probe, batch_id)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
        probe.dispose()
    run = shared_session.exec(select(ScreenRun)).scalars().one()
    assert run.status == "running"  # nothing could say otherwise when the process died

    listed = cli("batches", "--db", shared_url, env=env, monkeypatch=monkeypatch)
    assert listed.returncode == 0, listed.stderr
    assert f"run {run.id} failed  claims.csv" in listed.stdout
    shared_session.expire_all()
    run = shared_session.get(ScreenRun, run.id)
    assert run.status == "failed" and run.finished_at is not None
    assert (
        f"the screening process (pid {process.pid} on" in run.note
        and "stopped before it finished" in run.note
    )
    # The batch can be screened again, and is.
    again = cli("screen", "--batch", str(batch_id), "--db", shared_url, env=env, monkeypatch=monkeypatch)
    assert again.returncode == 0, again.stderr
    assert "stored as screen run" in again.stderr


def test_a_second_screen_of_the_same_batch_is_refused_in_one_line(
    shared_url: str, shared_session: Session, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = _import_demo(shared_session, demo_dir)
    # Another screen holds the batch (the lock a running `screen --batch` holds, taken here).
    run = ScreenRun(
        batch_id=batch_id, source="other", rules_dir="", rules_version="", codes_source="", codes_version="",
        pid=4242, host="elsewhere", started_at=datetime.now(UTC),
    )  # fmt: skip
    shared_session.add(run)
    shared_session.commit()
    with ScreenLock(shared_session.get_bind(), batch_id) as lock:
        assert lock.acquire()
        result = cli(
            "screen",
            "--batch",
            str(batch_id),
            "--db",
            shared_url,
            env=cli_env(tmp_path),
            monkeypatch=monkeypatch,
        )
        one_line_error(
            result,
            f"error: batch {batch_id} is being screened by run {run.id} (pid 4242 on elsewhere, started ",
            "wait until it is done",
        )
        # The running run is not taken for a dead one while its lock is held.
        listed = cli("batches", "--db", shared_url, env=cli_env(tmp_path), monkeypatch=monkeypatch)
        assert f"run {run.id} running" in listed.stdout
    assert not is_screening(shared_session.get_bind(), batch_id)


def test_screen_lock_excludes_other_holders(shared_url: str, shared_session: Session) -> None:
    bind = shared_session.get_bind()
    first, second, other = ScreenLock(bind, 5), ScreenLock(bind, 5), ScreenLock(bind, 6)
    assert first.acquire()
    assert not second.acquire() and is_screening(bind, 5)
    assert other.acquire()
    first.release()
    assert second.acquire()
    second.release()
    other.release()
    assert not is_screening(bind, 5) and not is_screening(bind, 6)
    if shared_url.startswith("sqlite"):
        assert sorted(p.name for p in Path(make_url(shared_url).database).parent.glob("*.lock")) == []


# -- locked, read-only and full casebooks ---------------------------------------------------------------------

WRITE_COMMANDS = [
    ("import", "claims", "{more}"),
    ("screen", "--batch", "1"),
    ("meeting", "create", "--region", "510100", "--date", "2026-12-01", "--capacity", "3"),
]


@pytest.fixture
def small_casebook(shared_url: str, shared_session: Session, tmp_path: Path) -> dict[str, str]:
    write_table(tmp_path / "claims.csv", [claim_row(n) for n in range(30)])
    write_table(tmp_path / "more.csv", [claim_row(n) for n in range(30, 300)])
    import_file(tmp_path / "claims.csv", kind="claims", session=shared_session)
    return {"more": str(tmp_path / "more.csv")}


def _run_all(
    url: str, paths: dict[str, str], env: dict[str, str], mp: pytest.MonkeyPatch, *fragments: str
) -> None:
    for command in WRITE_COMMANDS:
        args = [arg.format(**paths) for arg in command]
        one_line_error(cli(*args, "--db", url, env=env, monkeypatch=mp), *fragments)
    listed = cli("batches", "--db", url, env=env, monkeypatch=mp)  # reading still works
    assert listed.returncode == 0 and "claims.csv" in listed.stdout, listed.stderr


def test_locked_casebook_gives_one_line_on_every_command(
    db_backend: str,
    shared_url: str,
    small_casebook: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = create_engine(shared_url, poolclass=NullPool)
    with holder.connect() as conn:
        if db_backend == "sqlite":
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            conn.execute(
                text("LOCK TABLE claim, screen_run, review_meeting, audit_head IN ACCESS EXCLUSIVE MODE")
            )
            # Reading is blocked too on PostgreSQL: every command gives the one line.
            for command in [*WRITE_COMMANDS, ("batches",)]:
                args = [arg.format(**small_casebook) for arg in command]
                one_line_error(
                    cli(*args, "--db", shared_url, env=cli_env(tmp_path), monkeypatch=monkeypatch),
                    "locked by another process",
                )
            conn.rollback()
            holder.dispose()
            return
        _run_all(
            shared_url,
            small_casebook,
            cli_env(tmp_path),
            monkeypatch,
            "the casebook is locked by another process, still after 1 s",
        )
        conn.rollback()
    holder.dispose()


def test_read_only_casebook_gives_one_line_on_every_command(
    db_backend: str,
    shared_url: str,
    small_casebook: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if db_backend == "sqlite":
        path = make_url(shared_url).database
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
        _run_all(
            url,
            small_casebook,
            cli_env(tmp_path),
            monkeypatch,
            "the casebook is read-only; nothing was changed",
        )
        return
    admin = create_engine(shared_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = make_url(shared_url).database
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        _run_all(
            shared_url,
            small_casebook,
            cli_env(tmp_path),
            monkeypatch,
            "the casebook is read-only; nothing was changed",
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql("SET default_transaction_read_only = off")
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
        admin.dispose()


def test_full_disk_gives_one_line_and_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite on a file system that fills up: a small tmpfs where mounting is allowed, else a file-size
    limit (RLIMIT_FSIZE) on the command, which makes the same writes fail."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    try:
        url = f"sqlite:///{folder / 'casebook.sqlite'}"
        engine = make_engine(url)
        with Session(engine) as session:
            write_table(tmp_path / "claims.csv", [claim_row(n) for n in range(30)])
            import_file(tmp_path / "claims.csv", kind="claims", session=session)
        engine.dispose()
        write_table(tmp_path / "more.csv", [claim_row(n) for n in range(30, 6000)])
        size = (folder / "casebook.sqlite").stat().st_size
        preexec = None
        if not mounted:
            limit = size + 64 * 1024

            def preexec() -> None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        env = cli_env(tmp_path)
        args = ("import", "claims", str(tmp_path / "more.csv"), "--db", url)
        if mounted:  # the file system fills up: the command can run here
            result = cli(*args, env=env, monkeypatch=monkeypatch)
        else:  # a file-size limit: only on a process of its own
            result = drgaudit(*args, env=env, preexec_fn=preexec)
        expected = "the casebook's disk is full" if mounted else "is its disk full or failing?"
        one_line_error(result, "the import failed and was rolled back", expected, "nothing was changed")
        engine = make_engine(url)
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(Claim)).one()[0] == 30
        engine.dispose()
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


# -- the rejects file cannot be written after the rows were committed -------------------------------------------


def test_rejects_file_failure_says_what_was_stored_and_where_the_rejects_went(
    shared_url: str, shared_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_table(tmp_path / "claims.csv", [claim_row(1), claim_row(2, age="x"), claim_row(3)])
    gone = tmp_path / "removed-share" / "claims.rejects.csv"  # its folder does not exist
    env = cli_env(tmp_path)
    args = ("import", "claims", str(tmp_path / "claims.csv"), "--rejects", str(gone), "--db", shared_url)
    result = cli(*args, env=env, monkeypatch=monkeypatch)
    fallback = tmp_path / "home" / "rejects" / "claims-batch1.rejects.csv"
    error = one_line_error(result)
    assert error == (
        f"error: the rejects file could not be written (cannot write {gone}: No such file or directory); "
        f"the 2 good rows are stored as batch 1, and the 1 rejected row is in the casebook "
        f"(table rejected_row, batch 1) and written to {fallback}"
    )
    assert result.stdout.splitlines()[0].startswith(f"{tmp_path / 'claims.csv'}: 2 imported (2 new")
    assert (
        fallback.read_text(encoding="utf-8-sig").splitlines()[1].endswith(",3,age,'x' is not a whole number")
    )
    assert shared_session.exec(select(func.count()).select_from(Claim)).one()[0] == 2
    assert shared_session.exec(select(func.count()).select_from(RejectedRow)).one()[0] == 1


def test_rejects_files_respect_the_umask(session: Session, tmp_path: Path) -> None:
    write_table(tmp_path / "claims.csv", [claim_row(1), claim_row(2, age="x")])
    old = os.umask(0o027)
    try:
        report = import_file(tmp_path / "claims.csv", kind="claims", session=session)
    finally:
        os.umask(old)
    assert report.rejects_path is not None
    assert report.rejects_path.stat().st_mode & 0o777 == 0o640
