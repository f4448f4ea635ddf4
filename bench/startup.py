"""How quickly the `drgaudit` command starts: wall and CPU time of commands that do little work.

    python bench/startup.py              # 15 runs of each command; median, best and CPU time
    python bench/startup.py --runs 30 --limit 0.4

Each command runs as a user runs it (the installed console script, a fresh process every time, in a
private DRGAUDIT_HOME). The package's bytecode is compiled first, as `pip install` does for an installed
package: in an editable checkout run with PYTHONDONTWRITEBYTECODE set (as some CI images and
containers do), every start would otherwise compile all our modules from source again. Wall time depends on the machine's load; CPU time (user + system of the child)
much less, so both are printed, with the load average. Exit code 1 when a command's median wall time
is above --limit seconds (default 0.4; 0 turns the check off).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: list[list[str]] = [
    ["--version"],
    ["--help"],
    ["queue", "--help"],
    ["report", "monitoring", "--help"],
    ["rules", "check"],
    ["rules", "facts"],
]
# Commands the start-up limit applies to (the issue's: `--help` and `rules check`).
LIMITED = {("--help",), ("rules", "check")}


def _script() -> str:
    beside = Path(sys.executable).with_name("drgaudit")
    found = str(beside) if beside.exists() else shutil.which("drgaudit")
    if not found:
        sys.exit("drgaudit is not installed (pip install -e .)")
    return found


def _time(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--limit", type=float, default=0.4, help="median wall seconds allowed (0: no check)")
    args = parser.parse_args()
    script = _script()
    failed = []
    root = Path(__file__).resolve().parent.parent
    folders = [
        str(root / name) for name in ("drgaudit", "engine", "casebook", "reports") if (root / name).is_dir()
    ]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders], check=True, stdout=subprocess.DEVNULL
    )
    with tempfile.TemporaryDirectory(prefix="drgaudit-bench-") as home:
        env = {**os.environ, "DRGAUDIT_HOME": home}
        env.pop("DRGAUDIT_DATABASE_URL", None)
        print(f"drgaudit start-up, {args.runs} runs each ({script})")
        print(
            f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
        )
        print(f"{'command':<34} {'median s':>9} {'best s':>8} {'CPU s':>7}")
        for command in COMMANDS:
            _time([script, *command], env)  # warm the file cache
            runs = [_time([script, *command], env) for _ in range(args.runs)]
            walls = [w for w, _ in runs]
            median = statistics.median(walls)
            cpu = statistics.median(c for _, c in runs)
            limited = tuple(command) in LIMITED and args.limit > 0
            mark = " over the limit" if limited and median > args.limit else ""
            print(f"drgaudit {' '.join(command):<25} {median:>9.3f} {min(walls):>8.3f} {cpu:>7.3f}{mark}")
            if mark:
                failed.append(" ".join(command))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if failed:
        print(f"median start-up above {args.limit}s: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
