"""Benchmark: detection quality of the bundled rule pack on the demo province, against its ground truth.

    python bench/detect.py                          # default demo (50,000 claims), temp folder
    python bench/detect.py --claims 200000 --seed 7
    python bench/detect.py --out /tmp/demo --reuse  # screen an already generated folder again
    python bench/detect.py --no-fail                # report only, exit 0 even below target
    python bench/detect.py --codes DIR          # other code tables (default: the bundled CHS-DRG 1.1)
    python bench/detect.py --rules my-rules/        # where do my-rules' thresholds sit? (see README)

What it does:
1. generates the demo province (`drgaudit.demo.run_demo`: seed 20250101 by default) into a folder, or
   with --reuse keeps a folder that already holds the same seed, size and code tables; imports it into a
   SQLite casebook in that folder (re-importing the same files changes nothing);
2. screens the claims batch with the bundled rules, storing the hits;
3. scores the stored hits against truth.csv (`drgaudit.demo.score`): per family and per rule, planted
   cases, found, recall, hits, true hits, precision and legitimate look-alikes hit; then hits and yuan at
   risk by family and by action; then claims/second of each stage and peak RSS (`getrusage`
   RUSAGE_SELF and RUSAGE_CHILDREN, ru_maxrss).

Exits 1 when a family is below the recall or precision target or hits a look-alike (unless --no-fail).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drgaudit.demo.generator import DEFAULT_CLAIMS, DEFAULT_SEED  # noqa: E402
from drgaudit.demo.run import run_demo  # noqa: E402
from drgaudit.demo.score import amount_lines, table_lines  # noqa: E402

TARGET_RECALL = 0.95
TARGET_PRECISION = 0.90


def _mib(kib: int) -> float:
    return kib / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=DEFAULT_CLAIMS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1, help="screening worker processes")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the demo and its casebook (default: a temp folder)"
    )
    parser.add_argument("--db", default=None, help="casebook URL or SQLite path (default: OUT/detect.sqlite)")
    parser.add_argument(
        "--codes", type=Path, default=None, help="national code tables folder (default: the bundled subset)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep a folder that already holds this demo")
    parser.add_argument("--recall", type=float, default=TARGET_RECALL, help="recall target per family")
    parser.add_argument(
        "--precision", type=float, default=TARGET_PRECISION, help="precision target per family"
    )
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a family misses the target")
    parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="screen with this rule pack (the demo is still built at the bundled pack's thresholds)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="drgaudit-detect-") as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        db = args.db or str(out / "detect.sqlite")
        if not args.reuse and args.db is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        result = run_demo(
            out / "demo",
            seed=args.seed,
            claims=args.claims,
            codes_dir=args.codes,
            db_url=db,
            workers=args.workers,
            reuse=args.reuse,
            rules_dir=args.rules,
        )
    card, summary = result.score, result.screen
    assert card is not None and summary is not None
    m = result.manifest
    print(
        f"demo: {m.claims:,} claims of {m.patients:,} patients, seed {m.seed}, "
        f"{'reused' if result.reused else 'generated'} in {m.out_dir}"
    )
    print(f"\ndetection against truth.csv, {summary.hits:,} hits (rules version {summary.rules_version}):")
    for line in table_lines(card):
        print(f"  {line}")
    print("\nhits and amounts at risk:")
    for line in amount_lines(card):
        print(f"  {line}")
    print("\ntimings:")
    for stage, seconds in result.seconds.items():
        rate = f" = {m.claims / seconds:,.0f} claims/s" if seconds > 0 and stage != "score" else ""
        print(f"  {stage:<9} {seconds:>7.2f}s{rate}")
    print(
        f"  screening alone: {summary.claims_per_second:,.0f} claims/s with {args.workers} worker(s); "
        f"peak RSS main {_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss):.0f} MiB, "
        f"largest child {_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss):.0f} MiB"
    )
    shortfalls = card.shortfalls(recall=args.recall, precision=args.precision)
    if shortfalls:
        print(f"\nbelow target (recall >= {args.recall}, precision >= {args.precision}, no look-alike hit):")
        for line in shortfalls:
            print(f"  {line}")
        return 0 if args.no_fail else 1
    print(
        f"\nevery family meets the target (recall >= {args.recall}, precision >= {args.precision}, no look-alike hit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
