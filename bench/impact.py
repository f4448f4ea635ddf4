"""Benchmark: `rules impact` against one `screen --batch` of the same stored claims.

    python bench/impact.py                       # 200,000 demo claims, 1 worker
    python bench/impact.py --claims 50000 --workers 2 --out /tmp/drgaudit-bench-impact

What it does:
1. generates the demo province (seed 20250101) unless the folder already holds the same size and seed,
   and imports it into a fresh SQLite casebook (not timed against anything);
2. times `screen --batch` of the claims batch with the bundled pack, storing hits and refreshing the
   review queue (`drgaudit.services.screening.screen_batch`), in a fresh child process; then
3. times `rules impact` of a copy of the bundled pack with LOS-001 at 70 days against the bundled pack on
   the same batch (`drgaudit.services.impact.rules_impact`: both packs screen every claim, the hits are
   compared, the review cases planned, samples explained; nothing written), in a fresh child process;
4. prints both, their ratio (the goal: at most 2.5), the peak RSS of each, and checks that the impact
   run left the casebook file unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
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
from drgaudit.engine.loader import bundled_rules_dir  # noqa: E402

GOAL = 2.5


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
    db = out / "bench-impact.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    with Session(engine) as session:
        for kind in ("hospitals", "groups", "claims"):
            import_file(out / f"{kind}.csv", kind=kind, session=session, imported_by="bench")
    print(f"imported into {db} in {time.perf_counter() - started:.1f}s")
    engine.dispose()
    return db


def changed_pack(folder: Path) -> Path:
    """A copy of the bundled pack with LOS-001 at 70 days."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "long_stay.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("max_los_days: {default: 60,", "max_los_days: {default: 70,"), "utf-8")
    return folder


def _batch(session: Session) -> int:
    return max(b.id for b in queries.list_batches(session=session) if b.kind == "claims")


def run(kind: str, db: Path, workers: int, pack: Path) -> dict:
    """One timed run in this (child) process: `screen` or `impact`."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        batch = _batch(session)
        started = time.perf_counter()
        if kind == "screen":
            from drgaudit.services.screening import screen_batch

            summary = screen_batch(session=session, batch_id=batch, workers=workers)
            detail = {"claims": summary.claims, "hits": summary.hits}
        else:
            from drgaudit.services.impact import ImpactRequest, rules_impact

            result = rules_impact(
                session=session, request=ImpactRequest(new_dir=pack, batch_id=batch, workers=workers)
            )
            detail = {
                "claims": result.claims,
                "removed": len(result.removed),
                "added": len(result.added),
                "withdrawn": len(result.withdrawn),
            }
        seconds = time.perf_counter() - started
    engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "rss_mib": usage / 1024, "worker_rss_mib": children / 1024, **detail}


def in_child(kind: str, db: Path, workers: int, pack: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--db",
        str(db),
        "--workers",
        str(workers),
        "--pack",
        str(pack),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def digest(db: Path) -> str:
    value = hashlib.sha256()
    for suffix in ("", "-wal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            value.update(path.read_bytes())
    return value.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "drgaudit-bench-impact")
    parser.add_argument("--child", choices=("screen", "impact"))
    parser.add_argument("--db", type=Path)
    parser.add_argument("--pack", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.db, args.workers, args.pack)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    db = prepare(args.out, args.claims, args.seed)
    pack = changed_pack(args.out / "rules-los70")
    screen = in_child("screen", db, args.workers, pack)
    print(
        f"screen --batch: {screen['claims']:,} claims in {screen['seconds']:.1f}s "
        f"({screen['claims'] / screen['seconds']:,.0f} claims/s), {screen['hits']:,} hits stored; "
        f"peak RSS {screen['rss_mib']:.0f} MiB (workers {screen['worker_rss_mib']:.0f} MiB)"
    )
    before = digest(db)
    impact = in_child("impact", db, args.workers, pack)
    unchanged = digest(db) == before
    print(
        f"rules impact:   {impact['claims']:,} claims in {impact['seconds']:.1f}s, both packs "
        f"({impact['removed']:,} hits removed, {impact['added']:,} added, {impact['withdrawn']:,} cases withdrawn); "
        f"peak RSS {impact['rss_mib']:.0f} MiB (workers {impact['worker_rss_mib']:.0f} MiB); "
        f"casebook {'unchanged' if unchanged else 'CHANGED'}"
    )
    ratio = impact["seconds"] / screen["seconds"]
    print(f"impact / screen = {ratio:.2f} (goal ≤ {GOAL}; workers {args.workers})")
    if ratio > GOAL or not unchanged:
        sys.exit(1)


if __name__ == "__main__":
    main()
