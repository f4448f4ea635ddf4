"""Benchmark: `screen --batch` end to end on demo claims, every figure of issue 17 in one run.

    python bench/screen.py                                   # 1,000,000 claims (RSS compared with 200,000)
    python bench/screen.py --claims 200000 --small 50000 --baseline-claims 50000   # a quicker run
    python bench/screen.py --baselines-only --baseline-claims 20000   # only step 3, on a 20,000-claim demo

What it does (each screen in a fresh child process, on a fresh copy of the imported SQLite casebook, so
every run is a first, stored screen of the batch: hits written to the casebook and the review queue
refreshed, JSONL written to a file):
1. generates the demo province (`drgaudit.demo.generate`, seed 20250101) for `--claims` and `--small`
   claims unless the folders already hold them, and imports each into a SQLite casebook (timed apart);
2. screens the big batch with the pre-filter on 1 and 2 local workers, on 2 workers writing only the
   JSONL (hits not stored: what this bench measured before issue 17, `--no-unstored-run` skips it), on 1
   worker with the pre-filter on every claim's derived facts instead of the columns read before deriving any (the path before
   `engine.columns`), without it on 2 workers (the path before the pre-filter), and on a local Dask
   cluster of 2 workers (started here on 127.0.0.1, `--no-cluster` skips it), then the small batch on
   2 workers: claims/second over the whole
   `screen_batch` call, the share of claims the pre-filter sent to durable-rules, peak RSS of the
   main process and the largest worker (`getrusage` ru_maxrss), whether the hit sets are identical
   (the JSONL files, byte for byte), and the peak RSS of the big run against the small one;
3. on `--baseline-claims` claims of the big batch held in memory, in this process: drgaudit's Screener
   with and without the pre-filter, the bare hand-written durable-rules loop (bench/bare_durable.py), a
   plain Python loop and DuckDB over the same hand-prepared facts (bench/plain_rules.py), each checked
   to find the same (rule, claim) pairs as drgaudit, rule by rule; it first names every active rule of
   the pack a baseline does not implement, and exits 1 when one is missing or the hits differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drgaudit.casebook import queries  # noqa: E402
from drgaudit.casebook.db import make_engine  # noqa: E402
from drgaudit.casebook.ingest import import_file  # noqa: E402
from drgaudit.demo.generator import DEFAULT_SEED, generate  # noqa: E402
from drgaudit.engine.codes import CodeTables, resolve_codes_dir  # noqa: E402
from drgaudit.engine.facts import ReferenceData  # noqa: E402
from drgaudit.engine.indicators import case_mix_of, hospital_indicators, peer_rule  # noqa: E402
from drgaudit.engine.loader import bundled_rules_dir, load_pack  # noqa: E402
from drgaudit.engine.pack import RulePack  # noqa: E402
from drgaudit.engine.screen import Screener  # noqa: E402
from drgaudit.services.screening import screen_batch  # noqa: E402


def _mib(kib: int) -> float:
    return kib / 1024


def prepare(out: Path, claims: int, seed: int) -> Path:
    """Generate (if needed) and import the demo; returns the SQLite casebook path."""
    manifest_path = out / "manifest.json"
    fresh = True
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        fresh = manifest.get("claims") != claims or manifest.get("seed") != seed
    if fresh:
        started = time.perf_counter()
        generate(out, seed=seed, claims=claims)
        print(
            f"generated {claims:,} demo claims in {time.perf_counter() - started:.1f}s -> {out}", flush=True
        )
    db = out / "bench.sqlite"
    if fresh or not db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{db}")
        started = time.perf_counter()
        with Session(engine) as session:
            for kind in ("hospitals", "groups", "claims"):
                import_file(out / f"{kind}.csv", kind=kind, session=session, imported_by="bench")
        seconds = time.perf_counter() - started
        print(f"imported into {db} in {seconds:.1f}s ({claims / seconds:,.0f} claims/s)", flush=True)
        engine.dispose()
    return db


def run_screen(
    db: Path, workers: int, prefilter: bool, cluster: str | None, output: Path, store: bool = True
) -> dict:
    """One screen of the batch, stored unless `store` is False (called in a child process, on its own copy
    of the casebook)."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session, open(output, "w", encoding="utf-8") as sink:
        batch = max(b.id for b in queries.list_batches(session=session) if b.kind == "claims")
        started = time.perf_counter()
        summary = screen_batch(
            session=session,
            batch_id=batch,
            workers=workers,
            output=sink,
            prefilter=prefilter,
            cluster=cluster,
            store=store,
        )
        seconds = time.perf_counter() - started
    return {
        "claims": summary.claims,
        "candidates": summary.candidates,
        "hits": summary.hits,
        "review_cases": summary.review_cases.get("created", 0),
        "seconds": seconds,
        "screen_seconds": summary.seconds,
        "claims_per_second": summary.claims / seconds,
        "rss_main_mib": _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "rss_worker_mib": _mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
        # A figure taken on a fallback path (a chunk screened the plain way or patient by patient) or
        # with patients that failed does not measure the code: the line says so.
        "fallbacks": summary.prefilter_fallbacks + summary.chunk_fallbacks,
        "failed_patients": len(summary.failed),
    }


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def child_screen(
    db: Path,
    label: str,
    workers: int,
    prefilter: bool,
    cluster: str | None = None,
    columns: bool = True,
    store: bool = True,
) -> dict:
    """Copy the casebook, screen the copy in a child process, report; the JSONL's digest compares hit sets.

    `columns=False` (1 worker only) pre-filters on the derived facts of every claim, not on the columns
    read before deriving any (the path before `engine.columns`). `store=False` writes only the JSONL
    (no hits, review queue or findings stored), as `bench/screen.py` measured before issue 17."""
    work = db.parent / f"run-{label}.sqlite"
    shutil.copyfile(db, work)
    output = db.parent / f"hits-{label}.jsonl"
    try:
        spec = json.dumps(
            {
                "db": str(work),
                "workers": workers,
                "prefilter": prefilter,
                "cluster": cluster,
                "output": str(output),
                "columns": columns,
                "store": store,
            }
        )
        child = subprocess.run(
            [sys.executable, __file__, "--child", spec], check=False, capture_output=True, text=True
        )
        if child.returncode != 0:
            raise SystemExit(f"screen {label} failed:\n{child.stderr[-3000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["digest"] = _digest(output)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        output.unlink(missing_ok=True)
    kept = (
        f"{result['candidates'] / result['claims']:.1%} of claims to durable-rules"
        + ("" if columns else ", pre-filter on derived facts")
        if prefilter
        else "no pre-filter"
    ) + ("" if store else ", not stored")
    if result.get("fallbacks"):
        kept += f"; WARNING: {result['fallbacks']} chunk(s) fell back to a slower way"
    if result.get("failed_patients"):
        kept += f"; WARNING: {result['failed_patients']} patient(s) failed"
    print(
        f"  {label:<34} {result['claims']:>9,} claims {result['hits']:>8,} hits in {result['seconds']:7.1f}s = "
        f"{result['claims_per_second']:>7,.0f} claims/s ({kept}); peak RSS main {result['rss_main_mib']:.0f} MiB, "
        f"largest worker {result['rss_worker_mib']:.0f} MiB",
        flush=True,
    )
    return result


class LocalCluster:
    """A Dask scheduler and `workers` single-thread workers on 127.0.0.1, as an operator would start them."""

    def __init__(self, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        scheduler = [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        worker = [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            self.address,
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
        ]
        self.procs = [subprocess.Popen([*scheduler, "--no-dashboard"], **quiet)]
        for _ in range(workers):
            self.procs.append(subprocess.Popen([*worker, "--no-dashboard", "--memory-limit", "0"], **quiet))
        from drgaudit.engine.cluster import connect

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                client = connect(self.address)
                try:
                    if len(client.nthreads()) >= workers:
                        return
                finally:
                    client.close()
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        self.close()
        raise SystemExit("the local Dask cluster did not start")

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)


def unimplemented(pack: RulePack, implemented: Iterable[str]) -> list[str]:
    """The active rules of the pack a baseline does not implement (its hits would not be comparable)."""
    return sorted({r.id for r in pack.rules if r.status == "active"} - set(implemented))


def compare_baselines(db: Path, claims_wanted: int) -> bool:
    """drgaudit's Screener against the bare durable-rules loop, a plain Python loop and DuckDB, in this
    process; True when every baseline implements every active rule and finds the same hits."""
    from bench.bare_durable import IMPLEMENTED, BareRules
    from bench.plain_rules import PYTHON_RULES, SQL_RULES, duckdb_rules, python_loop

    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        batch = max(b.id for b in queries.list_batches(session=session) if b.kind == "claims")
        partitions = []
        count = 0
        for patient_id, claims in queries.iter_batch_patients(session=session, batch_id=batch):
            partitions.append((patient_id, claims))
            count += len(claims)
            if count >= claims_wanted:
                break
        hospitals = queries.load_hospitals(session=session)
        groups = queries.load_groups(session=session)
    engine.dispose()
    pack = load_pack(bundled_rules_dir())
    codes = CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))
    # The hospital indicators (UPC-004) over the claims compared, as the pipeline works them out over a batch.
    levels = {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
    indicators = hospital_indicators(
        case_mix_of(c for _, claims in partitions for c in claims), levels, peers_by=peer_rule(pack)
    )
    bare = BareRules(pack, hospitals, groups, codes, indicators)
    timings: dict[str, float] = {}
    cpu_timings: dict[
        str, float
    ] = {}  # CPU seconds of this process: steadier than wall time on a busy machine
    found: dict[str, set[tuple[str, str]]] = {}
    chunk = 1000

    def drgaudit(prefilter: bool) -> set[tuple[str, str]]:
        screener = Screener(
            pack, ReferenceData(hospitals, groups, codes, pack, indicators), prefilter=prefilter
        )
        hits = set()
        for start in range(0, len(partitions), chunk):
            part = [(pid, claims, []) for pid, claims in partitions[start : start + chunk]]
            hits.update((h.rule_id, h.claim_id) for h in screener.screen_patients(part))
        return hits

    def bare_loop() -> set[tuple[str, str]]:
        bare.hits.clear()
        for patient_id, claims in partitions:
            bare.screen_patient(patient_id, claims)
        return set(bare.hits)

    def plain() -> set[tuple[str, str]]:
        return python_loop(bare, (bare.patient(claims) for _, claims in partitions))

    def duck() -> set[tuple[str, str]]:
        hits, loaded, queried = duckdb_rules(bare, (bare.patient(claims) for _, claims in partitions))
        timings["duckdb query"] = min(queried, timings.get("duckdb query", queried))
        return hits

    def plain_rules_only() -> set[tuple[str, str]]:
        return python_loop(bare, prepared)

    prepared = [bare.patient(claims) for _, claims in partitions]
    runs = {
        "drgaudit, pre-filter": lambda: drgaudit(True),
        "drgaudit, no pre-filter": lambda: drgaudit(False),
        "bare durable-rules loop": bare_loop,
        "plain Python loop": plain,
        "DuckDB": duck,
        "plain Python rules only": plain_rules_only,
    }
    implemented = {
        "bare durable-rules loop": IMPLEMENTED,
        "plain Python loop": PYTHON_RULES,
        "DuckDB": SQL_RULES,
        "plain Python rules only": PYTHON_RULES,
    }
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("\n(DuckDB is not installed: pip install -e '.[bench]' for its baseline; skipped)")
        del runs["DuckDB"]
    active = len(unimplemented(pack, ()))
    print(f"\nrules: {active} active rules in the bundled pack ({pack.version})")
    complete = True
    for name in ("bare durable-rules loop", "plain Python loop", "DuckDB"):
        if name not in runs:
            continue
        missing = unimplemented(pack, implemented[name])
        if missing:
            complete = False
            print(
                f"  {name:<28} DOES NOT IMPLEMENT {len(missing)}: {', '.join(missing)} (its hits are not comparable)"
            )
        else:
            print(f"  {name:<28} implements all {active}")
    for _ in range(2):  # twice each, keep the better run
        for name, run in runs.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            found[name] = run()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            timings[name] = min(seconds, timings.get(name, seconds))
            cpu_timings[name] = min(cpu, cpu_timings.get(name, cpu))
    ours = found["drgaudit, pre-filter"]
    load = os.getloadavg()
    print(
        f"\nthe same rules, one process, {count:,} claims of {len(partitions):,} patients in memory "
        f"(load average {load[0]:.1f}):"
    )
    base = count / timings["drgaudit, no pre-filter"]
    same_everywhere = True
    for name in runs:
        rate = count / timings[name]
        cpu_rate = count / cpu_timings[name] if cpu_timings[name] > 0 else float("inf")
        same = found[name] == ours
        same_everywhere &= same
        print(
            f"  {name:<28} {rate:>10,.0f} claims/s  {rate / base:6.2f}x drgaudit without pre-filter  "
            f"({cpu_rate:>9,.0f} per CPU second)  " + ("same hits" if same else "DIFFERENT HITS")
        )
    if "duckdb query" in timings:
        rate = count / timings["duckdb query"]
        print(
            f"  {'DuckDB query only':<28} {rate:>10,.0f} claims/s  {rate / base:6.2f}x drgaudit without pre-filter"
        )
    print(f"  ({len(ours):,} rule-claim pairs)")
    print("\nrule by rule (hits of drgaudit; each baseline: = when the same claims, else its count and *):")
    short = {
        "drgaudit, no pre-filter": "no pre-filter",
        "bare durable-rules loop": "bare durable",
        "plain Python loop": "Python loop",
        "DuckDB": "DuckDB",
        "plain Python rules only": "Python rules",
    }
    names = [n for n in runs if n != "drgaudit, pre-filter"]
    print(f"  {'rule':<14}{'drgaudit':>9}  " + "  ".join(f"{short.get(n, n):>14}" for n in names))
    by_rule: dict[str, dict[str, set[str]]] = {}
    for name, pairs in found.items():
        for rule_id, claim_id in pairs:
            by_rule.setdefault(rule_id, {}).setdefault(name, set()).add(claim_id)
    for rule in sorted({r.id for r in pack.rules if r.status == "active"} | set(by_rule)):
        theirs = by_rule.get(rule, {})
        mine = theirs.get("drgaudit, pre-filter", set())
        cells = ["=" if theirs.get(n, set()) == mine else f"{len(theirs.get(n, set())):,} *" for n in names]
        print(f"  {rule:<14}{len(mine):>9,}  " + "  ".join(f"{cell:>14}" for cell in cells))
    for name in runs:
        theirs = found[name]
        for label, pairs in ((f"only drgaudit vs {name}", ours - theirs), (f"only {name}", theirs - ours)):
            differing: dict[str, list[str]] = {}
            for rule_id, claim_id in sorted(pairs):
                differing.setdefault(rule_id, []).append(claim_id)
            for rule_id, claim_ids in differing.items():
                print(f"    {label} {rule_id}: {len(claim_ids):,} claims, e.g. {', '.join(claim_ids[:3])}")
    return complete and same_everywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument(
        "--small", type=int, default=200_000, help="claims of the run whose RSS the big one is compared with"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--baseline-claims", type=int, default=100_000, help="claims in the in-memory comparison (0: skip)"
    )
    parser.add_argument("--no-cluster", action="store_true", help="skip the local Dask cluster run")
    parser.add_argument(
        "--baselines-only",
        action="store_true",
        help="only the in-memory comparison with the baselines, on a demo of --baseline-claims claims "
        "(exit status 1 when a baseline misses an active rule or finds other hits)",
    )
    parser.add_argument(
        "--no-prefilter-run", action="store_true", help="skip the big run without the pre-filter"
    )
    parser.add_argument(
        "--no-unstored-run",
        action="store_true",
        help="skip the 2-worker run that writes only the JSONL (hits not stored), the measure of the "
        "bench before issue 17",
    )
    parser.add_argument(
        "--no-columns-run",
        action="store_true",
        help="skip the 1-worker run with the pre-filter on derived facts (before engine.columns)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the demo data (default: a temp folder, kept)"
    )
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        if not spec.get("columns", True):
            from drgaudit.engine import parallel

            parallel._columnar = lambda screener, loader: False  # type: ignore[assignment]
        result = run_screen(
            Path(spec["db"]),
            spec["workers"],
            spec["prefilter"],
            spec["cluster"],
            Path(spec["output"]),
            spec.get("store", True),
        )
        print(json.dumps(result))
        return
    root = args.out or Path(tempfile.gettempdir()) / "drgaudit-bench"
    if args.baselines_only:
        if args.baseline_claims <= 0:
            parser.error("--baselines-only needs --baseline-claims N (N > 0)")
        folder = root / f"demo-{args.baseline_claims}"
        folder.mkdir(parents=True, exist_ok=True)
        db = prepare(folder, args.baseline_claims, args.seed)
        sys.exit(0 if compare_baselines(db, args.baseline_claims) else 1)
    big_dir, small_dir = root / f"demo-{args.claims}", root / f"demo-{args.small}"
    for folder in (big_dir, small_dir):
        folder.mkdir(parents=True, exist_ok=True)
    big = prepare(big_dir, args.claims, args.seed)
    small = prepare(small_dir, args.small, args.seed)
    load = os.getloadavg()
    print(
        f"\nscreen --batch, bundled rule pack, {os.cpu_count()} CPUs, load average {load[0]:.1f} at the start:"
    )
    results = {
        "1 worker": child_screen(big, "1w", 1, True),
        "2 workers": child_screen(big, "2w", 2, True),
    }
    if not args.no_unstored_run:
        results["2 workers, not stored"] = child_screen(big, "2w-unstored", 2, True, store=False)
    if not args.no_columns_run:
        results["1 worker, filter on facts"] = child_screen(big, "1w-facts", 1, True, columns=False)
    if not args.no_prefilter_run:
        results["2 workers, no pre-filter"] = child_screen(big, "2w-nopf", 2, False)
    if not args.no_cluster:
        cluster = LocalCluster(2)
        try:
            results["Dask cluster, 2 workers"] = child_screen(big, "cluster", 1, True, cluster.address)
        finally:
            cluster.close()
    smaller = child_screen(small, f"2w-{args.small}", 2, True)
    reference = results["2 workers"]
    print("\nsummary:")
    for name, result in results.items():
        same = "identical hits" if result["digest"] == reference["digest"] else "HITS DIFFER"
        print(
            f"  {name:<26} {result['claims_per_second']:>8,.0f} claims/s  {same} (JSONL {result['digest']})"
        )
    if "2 workers, no pre-filter" in results:
        speedup = reference["claims_per_second"] / results["2 workers, no pre-filter"]["claims_per_second"]
        print(f"  pre-filter speed-up on 2 workers: {speedup:.2f}x")
    if "1 worker, filter on facts" in results:
        speedup = (
            results["1 worker"]["claims_per_second"]
            / results["1 worker, filter on facts"]["claims_per_second"]
        )
        print(f"  columnar pre-filter (before fact derivation) speed-up on 1 worker: {speedup:.2f}x")
    big_rss = max(reference["rss_main_mib"], reference["rss_worker_mib"])
    small_rss = max(smaller["rss_main_mib"], smaller["rss_worker_mib"])
    print(
        f"  peak RSS (largest process) {args.claims:,} claims: {big_rss:.0f} MiB, {args.small:,} claims: "
        f"{small_rss:.0f} MiB ({(big_rss / small_rss - 1):+.0%})"
    )
    if args.baseline_claims and not compare_baselines(big, args.baseline_claims):
        sys.exit(1)


if __name__ == "__main__":
    main()
