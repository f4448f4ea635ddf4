"""Benchmark: the pre-settlement API under load; latency percentiles and throughput for 1 and 2 workers.

    python bench/api.py                                   # 50,000-claim casebook, 20,000 requests, 1 and 2 workers
    python bench/api.py --requests 5000 --workers 2 --concurrency 16
    python bench/api.py --out /tmp/drgaudit-bench-api --casebook-claims 50000   # reuse the casebook there

What it does:
1. makes (or reuses, in `--out`) a demo casebook of `--casebook-claims` claims: generated, imported and
   screened as a batch, as `drgaudit demo` does (so every claim has its patient's history stored and the
   hospital indicators come from a screened batch);
2. makes an API-only `auditor` account and an API key for it (an unscoped auditor may screen every
   region; the rate limit is raised out of the way for the run);
3. for each worker count, starts `drgaudit serve --workers N` on 127.0.0.1 (a free port), waits until
   every worker has compiled its packs, sends 200 warm-up requests, then replays `--requests` demo
   claims, one claim per `POST /api/v1/screen` (not stored), from a bounded asyncio client (aiohttp, at
   most `--concurrency` requests in flight over keep-alive connections);
4. prints, per worker count: throughput (claims/s), client-side latency p50/p95/p99 (what the
   settlement system waits, including the client's own overhead on this machine) and server-side
   latency p50/p95/p99 (the `Server-Timing` header: from the request's arrival to its answer), the
   errors (any answer but 200) and the load average before the run; and the CPU time the server's
   processes and the client spent per claim, which does not depend on what else the machine runs
   (on a quiet machine, claims/s with 2 workers ≈ 2 cores / (server + client CPU per claim)).

The client runs on the same machine as the server and takes CPU from it: on 2 cores the throughput
with 2 workers is bounded by the client too. Goals (README): server-side p99 ≤ 10 ms, ≥ 600 claims/s
with 2 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlmodel import Session  # noqa: E402

from drgaudit.casebook import accounts  # noqa: E402
from drgaudit.casebook.accounts import GrantRow  # noqa: E402
from drgaudit.casebook.db import make_engine  # noqa: E402
from drgaudit.contract import LIST_SEPARATOR, field_map  # noqa: E402
from drgaudit.demo.run import run_demo  # noqa: E402
from drgaudit.services import accounts as account_service  # noqa: E402
from drgaudit.services import apikeys  # noqa: E402
from drgaudit.services.access import Principal  # noqa: E402

SPECS = field_map("claims")
BENCH_ACCOUNT = "bench-settlement"


def prepare(out: Path, claims: int, seed: int) -> str:
    """The demo casebook (generated, imported and screened once; reused when it is there)."""
    db = out / "casebook.sqlite"
    url = f"sqlite:///{db}"
    marker = out / "bench-api.json"
    wanted = {"claims": claims, "seed": seed}
    if db.exists() and marker.is_file() and json.loads(marker.read_text()) == wanted:
        print(f"reusing the {claims:,}-claim casebook in {out}")
        return url
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    result = run_demo(out / "demo", claims=claims, seed=seed, db_url=url, reuse=True)
    marker.write_text(json.dumps(wanted))
    print(f"demo casebook: {claims:,} claims generated, imported and screened in "
          f"{time.perf_counter() - started:.0f}s ({result.screen.hits if result.screen else 0:,} hits) -> {db}")  # fmt: skip
    return url


def api_key(url: str) -> str:
    """A fresh API key of an API-only auditor account (made, with an administrator, if missing)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            if accounts.count_accounts(session=session) == 0:
                account_service.add_user(
                    session=session, principal=Principal.owner("bench"), username="bench-admin",
                    grants=[GrantRow("admin", None)], password=None,
                )  # fmt: skip
            admin_name = next(a.username for a in accounts.list_accounts(session=session, role="admin"))
            admin = account_service.principal_of(
                session=session,
                account=accounts.get_account(session=session, username=admin_name),
                channel="cli",
            )
            if accounts.find_account(session=session, username=BENCH_ACCOUNT) is None:
                account_service.add_user(
                    session=session, principal=admin, username=BENCH_ACCOUNT, grants=[GrantRow("auditor", None)],
                    password=None,
                )  # fmt: skip
            return apikeys.add_key(
                session=session, principal=admin, username=BENCH_ACCOUNT, name="bench/api.py"
            ).text
    finally:
        engine.dispose()


def bodies(claims_csv: Path, count: int) -> list[bytes]:
    """`count` demo claims as the settlement system sends them (JSON numbers and lists), one per body."""
    out = []
    with open(claims_csv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            claim: dict[str, Any] = {}
            for name, text in row.items():
                spec = SPECS.get(name)
                if spec is None or text == "":
                    continue
                if spec.type == "int":
                    claim[name] = int(text)
                elif spec.type == "decimal":
                    claim[name] = float(text)
                elif spec.type == "list":
                    claim[name] = text.split(LIST_SEPARATOR)
                else:
                    claim[name] = text
            out.append(orjson.dumps({"claim": claim}))
            if len(out) >= count:
                break
    while len(out) < count:  # a casebook smaller than the replay: send its claims again
        out.extend(out[: count - len(out)])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`drgaudit serve` in a child process (its own process group, stopped with it)."""

    def __init__(self, url: str, workers: int, log: Path) -> None:
        self.port = free_port()
        env = dict(os.environ, DRGAUDIT_API_RATE_PER_MINUTE="100000000", DRGAUDIT_API_RATE_BURST="100000")
        self.log = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "drgaudit", "serve", "--port", str(self.port), "--workers", str(workers),
             "--db", url],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, key: str, workers: int, timeout: float = 180.0) -> None:
        """Until every worker has compiled its packs (each logs it) and the API answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped (exit {self.process.returncode}); see {self.log.name}")
            compiled = Path(self.log.name).read_text(encoding="utf-8").count("rule packs compiled")
            if compiled >= workers:
                try:
                    response = httpx.get(f"{self.base}/api/v1/rule-packs/active",
                                         headers={"Authorization": f"Bearer {key}"}, timeout=5)  # fmt: skip
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        raise SystemExit(f"the server was not ready within {timeout:.0f}s; see {self.log.name}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (its process group)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # the process group of the server
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


async def replay(base: str, key: str, payloads: list[bytes], concurrency: int) -> dict[str, Any]:
    """Send every payload once, at most `concurrency` in flight; latencies in milliseconds.

    The client is aiohttp (the `bench` extra): it shares the machine's two cores with the server, and
    per request it costs about a quarter of what httpx costs, so more of the cores go to the server."""
    import aiohttp

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    client_ms: list[float] = []
    server_ms: list[float] = []
    errors: dict[int, int] = {}
    queue = iter(payloads)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            for body in queue:
                started = time.perf_counter()
                async with client.post("/api/v1/screen", data=body) as response:
                    await response.read()
                    client_ms.append((time.perf_counter() - started) * 1000)
                    if response.status != 200:
                        errors[response.status] = errors.get(response.status, 0) + 1
                    timing = response.headers.get("server-timing", "")
                if timing.startswith("app;dur="):
                    server_ms.append(float(timing[8:]))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "client_ms": client_ms, "server_ms": server_ms, "errors": errors}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--casebook-claims", type=int, default=50_000, help="size of the demo casebook")
    parser.add_argument("--requests", type=int, default=20_000, help="claims replayed, one per request")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, e.g. 1,2")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--out", type=Path, default=Path("/tmp/drgaudit-bench-api"), help="casebook folder (kept)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = prepare(args.out, args.casebook_claims, args.seed)
    key = api_key(url)
    payloads = bodies(args.out / "demo" / "claims.csv", args.requests)
    print(f"replaying {len(payloads):,} claims one per request, {args.concurrency} in flight, "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        server = Server(url, workers, args.out / f"serve-{workers}.log")
        try:
            server.wait_ready(key, workers)
            asyncio.run(replay(server.base, key, payloads[:200], args.concurrency))  # warm-up
            load = os.getloadavg()[0]
            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            run = asyncio.run(replay(server.base, key, payloads, args.concurrency))
            server_cpu = server.cpu_seconds() - cpu_before
            client_cpu = time.process_time() - client_before
        finally:
            server.stop()
        result = {
            "workers": workers, "requests": len(payloads), "seconds": round(run["seconds"], 2),
            "claims_per_second": round(len(payloads) / run["seconds"], 1),
            "client_ms": {k: round(v, 2) for k, v in percentiles(run["client_ms"]).items()},
            "server_ms": {k: round(v, 2) for k, v in percentiles(run["server_ms"]).items()},
            "errors": run["errors"], "load_before": round(load, 2),
            # CPU per claim does not depend on what else the machine runs: capacity ≈ cores / CPU per claim.
            "server_cpu_ms_per_claim": round(server_cpu / len(payloads) * 1000, 3),
            "client_cpu_ms_per_claim": round(client_cpu / len(payloads) * 1000, 3),
        }  # fmt: skip
        results.append(result)
        c, s = result["client_ms"], result["server_ms"]
        print(
            f"workers={workers}: {result['claims_per_second']:,.0f} claims/s over {result['seconds']}s; "
            f"client p50/p95/p99 {c['p50']}/{c['p95']}/{c['p99']} ms; "
            f"server p50/p95/p99 {s['p50']}/{s['p95']}/{s['p99']} ms; errors {run['errors'] or 0}; "
            f"load before {result['load_before']}; CPU per claim: server {result['server_cpu_ms_per_claim']} ms, "
            f"client {result['client_cpu_ms_per_claim']} ms"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
