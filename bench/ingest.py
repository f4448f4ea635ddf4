"""Benchmark: import a large synthetic claims CSV into a fresh casebook and print claims/second and peak RSS.

    python bench/ingest.py                      # 1,000,000 claims into a fresh SQLite file
    python bench/ingest.py --rows 200000
    python bench/ingest.py --line-end crlf --quote all   # as Excel and some hospital systems write CSV
    python bench/ingest.py --db postgresql+psycopg://user@127.0.0.1:5432/bench

The CSV is written first (its own fast generator: valid fields, no realism beyond that; LF line ends and
no quotes unless `--line-end crlf` (a file saved on Windows) or `--quote all` (every field quoted)), then imported
with `drgaudit.casebook.ingest.import_file`; only the import is timed. Peak RSS is
`resource.getrusage(...).ru_maxrss` after the import (KiB on Linux): RUSAGE_SELF for this process (the
high-water mark of the whole process, generation included, which streams and stays small) and
RUSAGE_CHILDREN for the worker process that reads and checks the file for big imports.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.contract import CLAIM_FIELDS

_DX = [
    "I21.000",
    "I10.x05",
    "E11.900",
    "K22.301",
    "J18.900",
    "C34.900x001",
    "N18.900x012",
    "I63.900",
    "J44.100",
    "K80.100",
    "S72.000",
    "O80.000",
    "Z51.003",
    "I50.900",
    "A09.000",
    "R50.900",
]
_PX = ["36.0600", "96.0800x005", "60.5x02", "88.5500", "45.2300", "81.5100", "99.0400", "38.9301"]
_GROUPS = ["FM19", "GZ13", "MA19", "RC19", "ES23", "FR25", "BR25", "IB29"]
_REGIONS = ["510100", "510300", "510400", "510500", "510600", "510700"]
_HEADER = [f.name for f in CLAIM_FIELDS]


def generate(
    path: Path, rows: int, seed: int = 20250301, *, line_end: str = "lf", quote: str = "minimal"
) -> None:
    """Write `rows` valid synthetic claims to a CSV at `path`, streaming. `line_end`: "lf" or "crlf";
    `quote`: "minimal" (no value needs quotes) or "all" (every field quoted, as csv.QUOTE_ALL writes)."""
    end = "\r\n" if line_end == "crlf" else "\n"

    def styled(line: str) -> str:  # a line of values, with "\n" at its end
        if quote == "all":
            line = '"' + line[:-1].replace(",", '","') + '"\n'
        return line if end == "\n" else line[:-1] + end

    rnd = random.Random(seed)
    base = date(2024, 1, 1)
    days = [(base + timedelta(days=i)).isoformat() for i in range(800)]
    patients = max(1, rows // 3)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(styled(",".join(_HEADER) + "\n"))
        lines = []
        for n in range(rows):
            admit = rnd.randrange(700)
            los = rnd.randrange(1, 30)
            scheme = "DRG" if n % 10 else "FFS"
            total = rnd.randrange(2000, 200000) / 10
            drug = round(total * 0.3, 2)
            material = round(total * 0.2, 2)
            secondary = "|".join(rnd.sample(_DX, rnd.randrange(0, 4)))
            procedures = "|".join(rnd.sample(_PX, rnd.randrange(0, 3)))
            line = (
                f"C{n:09d},P{rnd.randrange(patients):08d},{1 + n % 2},{rnd.randrange(1, 95)},,,"
                f"{_REGIONS[n % 6]},{_REGIONS[(n // 7) % 6]},{'employee' if n % 3 else 'resident'},"
                f"H{n % 200:04d},D{n % 40:02d},{days[admit]},{days[admit + los]},2,1,1,"
                f"{_DX[n % 16]},{secondary},{procedures},,,{scheme},{_GROUPS[n % 8] if scheme == 'DRG' else ''},"
                f"{total:.2f},{total * 0.7:.2f},{total * 0.2:.2f},{total * 0.1:.2f},,"
                f"{drug:.2f},{material:.2f},,,,,,,\n"
            )
            lines.append(styled(line))
            if len(lines) == 10_000:
                f.writelines(lines)
                lines.clear()
        f.writelines(lines)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="claims to generate (default 1,000,000)")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file beside the CSV)")
    parser.add_argument("--dir", type=Path, help="folder for the CSV and database (default: a temp folder)")
    parser.add_argument("--line-end", choices=["lf", "crlf"], default="lf", help="the CSV's line ends")
    parser.add_argument(
        "--quote", choices=["minimal", "all"], default="minimal", help="quote no field (default) or every one"
    )
    parser.add_argument("--profile", action="store_true", help="run the import under cProfile, print the top")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="drgaudit-bench-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        style = "" if (args.line_end, args.quote) == ("lf", "minimal") else f"-{args.line_end}-{args.quote}"
        csv_path = folder / f"claims-{args.rows}{style}.csv"
        if not csv_path.exists():
            started = time.perf_counter()
            generate(csv_path, args.rows, line_end=args.line_end, quote=args.quote)
            print(
                f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
        db_path = folder / f"bench-{args.rows}.sqlite"
        for stale in folder.glob(f"{db_path.name}*"):
            stale.unlink()
        engine = make_engine(args.db or f"sqlite:///{db_path}")
        with Session(engine) as session:
            cpu_self = resource.getrusage(resource.RUSAGE_SELF)
            cpu_children = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                report = profiler.runcall(import_file, csv_path, kind="claims", session=session)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            else:
                report = import_file(csv_path, kind="claims", session=session)
            seconds = time.perf_counter() - started
        cpu_self_s = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(cpu_self)
        cpu_worker_s = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(cpu_children)
        engine.dispose()
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if report.rows_rejected:
            print(
                f"warning: {report.rows_rejected} rows rejected, e.g. {report.first_errors[:3]}",
                file=sys.stderr,
            )
        print(f"database:       {args.db or 'sqlite (fresh file)'}")
        print(f"rows imported:  {report.rows_ok:,} of {report.rows_total:,}")
        print(f"seconds:        {seconds:.2f}")
        print(f"claims/second:  {report.rows_ok / seconds:,.0f}")
        # CPU time is the steadier figure on a shared machine (wall time follows the other load).
        print(
            f"CPU seconds:    {cpu_self_s:.2f} importing process, {cpu_worker_s:.2f} worker "
            f"(load average {os.getloadavg()[0]:.1f} at the end)"
        )
        print(f"peak RSS:       {peak_kib / 1024:.0f} MiB (getrusage RUSAGE_SELF ru_maxrss, this process)")
        print(
            f"worker RSS:     {worker_kib / 1024:.0f} MiB (getrusage RUSAGE_CHILDREN ru_maxrss, 0: no worker)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
