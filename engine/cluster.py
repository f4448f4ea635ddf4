"""Screening patient partitions on a Dask distributed cluster (`drgaudit screen --batch ID --cluster ADDRESS`).

The parent sends the setup (the loaded rule pack, code tables, hospitals, groups, hospital indicators, and
the loader that reads a chunk of patients from the casebook) to every worker once; each task is a
chunk of patient ids, which the worker turns into claims with the loader (reading the database
itself, so reading scales with the workers) and screens with a Screener it built once per process
and setup (the pack is compiled once per worker). Results come back in the order the tasks were sent,
with a bounded number in flight, so the hits are the same, in the same order, as a local screen.

Why Dask distributed rather than Ray: it is a pure-Python wheel with a small footprint that runs on
the 2-core machines this project targets, its scheduler and workers are two plain commands
(`dask scheduler`, `dask worker ADDRESS`) an operator can start on any machine with drgaudit
installed, and its futures API is all the screening needs (ordered submission, scatter to every
worker once, results as they finish); Ray brings its own object store, dashboard and raylet
processes, hundreds of MiB of binaries, and more to run than to use here.

Workers must have drgaudit (with the `cluster` extra) installed, reach the database (PostgreSQL for
workers on other machines), and run one thread each (`--nthreads 1`): durable-rules holds the GIL.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from drgaudit import bulkgc
from drgaudit.engine.exceptions import EngineError
from drgaudit.engine.hits import Hit
from drgaudit.engine.loader import load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.engine.parallel import ChunkResult, ScreenSetup, Task
from drgaudit.engine.screen import PackRouter, Screener


class ClusterError(EngineError):
    """The cluster could not be reached or a worker failed."""


@dataclass
class ClusterSetup:
    """What a worker needs: the screen setup and the loaded rule pack (workers elsewhere lack the folder),
    and a token naming them (one Screener per worker process and token)."""

    setup: ScreenSetup
    packs: dict[str, RulePack]  # every folder the setup screens with -> its loaded pack
    token: str


def cluster_setup(setup: ScreenSetup, loaded: dict[str, RulePack] | None = None) -> ClusterSetup:
    """The setup as sent to the workers (`loaded`: packs already loaded, by folder)."""
    packs: dict[str, RulePack] = {}
    for folder in setup.folders():
        packs[str(folder)] = (loaded or {}).get(str(folder)) or load_pack(folder)
    digest = hashlib.sha256()
    digest.update(repr(sorted((folder, p.version) for folder, p in packs.items())).encode())
    digest.update(setup.identity().encode())
    return ClusterSetup(setup, packs, digest.hexdigest()[:20])


# On a worker: token -> its Screener. The lock serialises tasks on a worker started with several threads.
_screeners: dict[str, Screener | PackRouter] = {}
_lock = threading.Lock()


def _worker_screener(shipped: ClusterSetup) -> Screener | PackRouter:
    screener = _screeners.get(shipped.token)
    if screener is None:
        bulkgc.thaw()  # the screener it replaces was frozen with the rest: let it be collected
        screener = shipped.setup.screener(shipped.packs)
        for old in _screeners.values():  # one setup at a time: a new screen replaces the old one's rulesets
            old.close()
        _screeners.clear()
        _screeners[shipped.token] = screener
        # The worker's heap is now mostly its screener (pack, rulesets, code tables), which it keeps for
        # every task of this setup: the collector's passes leave it alone (as in a local pool worker).
        bulkgc.relax_for_good()
    return screener


def compiled_count() -> int:
    """How many Screeners this worker process holds (one per setup it screens; for tests and monitoring)."""
    return len(_screeners)


def run_cluster_task(shipped: ClusterSetup, task: Task) -> ChunkResult:
    """One task on a worker: read the patients (if ids) and screen them."""
    with _lock:
        screener = _worker_screener(shipped)
        return shipped.setup.screen(screener, task)


def connect(address: str) -> Any:
    """A Dask client connected to a running scheduler; a clear error when there is none."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - the extra is part of the test install
        raise ClusterError(
            "screening on a cluster needs Dask distributed: pip install 'drgaudit[cluster]'"
        ) from exc
    _check_address(address)
    try:
        return Client(address, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


# The schemes of a scheduler on other machines (Dask's in-process and UCX transports are not for this).
SCHEMES = ("tcp", "tls")


def _check_address(address: str) -> None:
    """ClusterError unless `address` is a scheduler's network address, [tcp://|tls://]HOST:PORT: Dask's
    client, given anything else, fails with a traceback of its own when it is collected, 20 s later."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme in SCHEMES else ("", None)
    except ValueError:
        host, port = "", None
    if not host or not port or not 0 < int(port) < 65536:
        raise ClusterError(
            f"`{address}` is not the address of a Dask scheduler: give tcp://HOST:PORT, as "
            "`dask scheduler` prints it (e.g. tcp://10.0.0.5:8786)"
        )


def screen_tasks_on_cluster(
    tasks: Iterable[Task],
    setup: ScreenSetup,
    *,
    address: str,
    packs: dict[str, RulePack] | None = None,
    in_flight_per_worker: int = 3,
    on_chunk: Callable[[ChunkResult], None] | None = None,
) -> Iterator[Hit]:
    """Every hit of every task, in task order, screened by the workers of the cluster at `address`."""
    client = connect(address)
    try:
        workers = client.nthreads()
        if not workers:
            raise ClusterError(f"the Dask scheduler at {address} has no workers")
        shipped = client.scatter(cluster_setup(setup, packs), broadcast=True, hash=False)
        limit = max(1, sum(workers.values())) * in_flight_per_worker
        pending: deque[Any] = deque()
        for task in tasks:
            pending.append(client.submit(run_cluster_task, shipped, task, pure=False))
            while len(pending) >= limit:
                yield from _collect(pending.popleft(), on_chunk)
        while pending:
            yield from _collect(pending.popleft(), on_chunk)
    finally:
        client.close()


def _collect(future: Any, on_chunk: Callable[[ChunkResult], None] | None) -> list[Hit]:
    try:
        result: ChunkResult = future.result()
    except (EngineError, OSError) as exc:
        raise ClusterError(f"a cluster worker failed: {exc}") from exc
    if on_chunk:
        on_chunk(result)
    return result.hits
