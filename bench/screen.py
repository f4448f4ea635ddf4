"""Benchmark: screen demo claims with the bundled rule pack; claims/second and peak RSS, beside a bare loop.

    python bench/screen.py                          # 1,000,000 demo claims, 1 and 2 workers
    python bench/screen.py --claims 200000 --workers 1,2,4
    python bench/screen.py --baseline-claims 100000 # size of the engine-vs-bare comparison

What it does:
1. generates the demo province (`drgaudit.demo.generate`, seed 20250101) unless the folder already holds
   the same size and seed, and imports it into a fresh SQLite casebook (timed, but not screening);
2. screens the claims batch through `drgaudit.services.screening.screen_batch` (casebook read by patient,
   worker processes, JSONL written to /dev/null, hits not stored) once per worker count, each run in a
   fresh child process: claims/second over the whole run, and peak RSS of the main process and of the
   largest worker (`getrusage` RUSAGE_SELF and RUSAGE_CHILDREN, ru_maxrss);
3. compares, on the same in-memory patients in one process, drgaudit's Screener with a bare hand-written
   durable-rules loop over the same rules (bench/bare_durable.py), and checks both find the same hits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
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
        print(f"generated {claims:,} demo claims in {time.perf_counter() - started:.1f}s -> {out}")
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
        print(f"imported into {db} in {seconds:.1f}s ({claims / seconds:,.0f} claims/s)")
        engine.dispose()
    return db


def run_screen(db: Path, workers: int) -> dict:
    """One screening run (called in a child process): timing and peak RSS."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session, open(os.devnull, "w", encoding="utf-8") as sink:
        batch = max(b.id for b in queries.list_batches(session=session) if b.kind == "claims")
        started = time.perf_counter()
        summary = screen_batch(session=session, batch_id=batch, workers=workers, output=sink, store=False)
        seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "claims": summary.claims,
        "patients": summary.patients,
        "hits": summary.hits,
        "seconds": seconds,
        "claims_per_second": summary.claims / seconds,
        "rss_main_mib": _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "rss_worker_mib": _mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
    }


def compare_with_bare(db: Path, claims_wanted: int) -> None:
    """drgaudit's Screener against the bare durable-rules loop on the same patients, in this process."""
    from bench.bare_durable import BareRules

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
    pack = load_pack(bundled_rules_dir())
    codes = CodeTables.from_dir(resolve_codes_dir(None, bundled_rules_dir()))
    # The hospital indicators (UPC-004) over the claims compared, as the pipeline works them out over a batch.
    levels = {hid: int(h["level"]) if h.get("level") is not None else None for hid, h in hospitals.items()}
    indicators = hospital_indicators(
        case_mix_of(c for _, claims in partitions for c in claims), levels, peers_by=peer_rule(pack)
    )
    screener = Screener(pack, ReferenceData(hospitals, groups, codes, pack, indicators))
    settings = {key: pack.region(key).settings for key in ("national", *pack.regions)}
    bare = BareRules(hospitals, groups, codes, settings, indicators)
    timings = {}
    ours: set[tuple[str, str]] = set()
    for name in ("bare", "drgaudit", "bare", "drgaudit"):  # twice each, keep the better run
        started = time.perf_counter()
        if name == "bare":
            bare.hits.clear()
            for patient_id, claims in partitions:
                bare.screen_patient(patient_id, claims)
        else:
            ours = set()
            for patient_id, claims in partitions:
                ours.update((h.rule_id, h.claim_id) for h in screener.screen_patient(patient_id, claims))
        seconds = time.perf_counter() - started
        timings[name] = min(seconds, timings.get(name, seconds))
    same = set(bare.hits) == ours
    bare_rate, our_rate = count / timings["bare"], count / timings["drgaudit"]
    print(
        f"\nengine vs bare durable-rules loop, one process, {count:,} claims of {len(partitions):,} patients in memory:"
    )
    print(f"  bare hand-written durable-rules loop: {bare_rate:>9,.0f} claims/s")
    print(
        f"  drgaudit Screener (facts, compiled rules, evidence): {our_rate:>9,.0f} claims/s  = {our_rate / bare_rate:.2f}x the bare loop"
    )
    print(f"  same hits: {same} ({len(ours):,} rule-claim pairs)")
    theirs = set(bare.hits)
    for label, pairs in (("only drgaudit", ours - theirs), ("only bare", theirs - ours)):
        by_rule: dict[str, list[str]] = {}
        for rule_id, claim_id in sorted(pairs):
            by_rule.setdefault(rule_id, []).append(claim_id)
        for rule_id, claim_ids in by_rule.items():
            print(f"    {label} {rule_id}: {len(claim_ids):,} claims, e.g. {', '.join(claim_ids[:3])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument(
        "--baseline-claims",
        type=int,
        default=100_000,
        help="claims in the engine-vs-bare comparison (0: skip)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the demo data (default: a temp folder, kept between runs)",
    )
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        db, workers = args.child.rsplit(",", 1)
        print(json.dumps(run_screen(Path(db), int(workers))))
        return
    out = args.out or Path(tempfile.gettempdir()) / f"drgaudit-bench-{args.claims}"
    out.mkdir(parents=True, exist_ok=True)
    db = prepare(out, args.claims, args.seed)
    print(f"\nscreening {args.claims:,} claims, bundled rule pack, {os.cpu_count()} CPUs:")
    results = []
    for workers in (int(w) for w in args.workers.split(",")):
        child = subprocess.run(
            [sys.executable, __file__, "--child", f"{db},{workers}"],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"  workers={workers}: {result['claims']:,} claims, {result['hits']:,} hits in {result['seconds']:.1f}s = "
            f"{result['claims_per_second']:,.0f} claims/s; peak RSS main {result['rss_main_mib']:.0f} MiB, "
            f"largest worker {result['rss_worker_mib']:.0f} MiB"
        )
    if len(results) > 1:
        base = results[0]["claims_per_second"]
        for result in results[1:]:
            speedup = result["claims_per_second"] / base
            print(f"  speed-up {results[0]['workers']}->{result['workers']} workers: {speedup:.2f}x")
    if args.baseline_claims:
        compare_with_bare(db, args.baseline_claims)


if __name__ == "__main__":
    main()
