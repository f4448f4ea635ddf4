"""Benchmark: `drgaudit screen --batch` end to end, this checkout against the code of another commit.

    python bench/compare.py --base 2e21aa0 --claims 1000000 --workers 2             # issue 17's comparison
    python bench/compare.py --base 2e21aa0 --claims 50000 --rounds 3 --out /tmp/drgaudit-compare
    python bench/compare.py --base 2e21aa0 --no-store --json                        # JSON on stdout
    python bench/compare.py --base HEAD --base-python .venv/bin/python --claims 2000  # no venv made

What it does:
1. checks out `--base` as a detached git worktree (in `--out`, or a temp folder) and makes a venv for it
   (`python -m venv`, `pip install -e` of that checkout; a venv already in `--out` is reused); with
   `--base-python PATH` it makes neither and runs that interpreter, whose `drgaudit` must be a checkout
   of the base commit;
2. each version generates its own demo of `--claims` claims with its own generator
   (`drgaudit.demo.generator.generate(folder, seed=..., claims=...)`) and imports it into a fresh SQLite
   casebook with its own CLI (`drgaudit import hospitals|groups|claims FILE`, DRGAUDIT_DATABASE_URL set):
   each version's rules are tuned to the data it knows, and the code of before screening today's demo
   would misfire on it (at 1,000,000 claims: 803,858 hits and 311 s instead of 98,928 hits and 119 s).
   A demo and casebook made by the same commit with the same size and seed are reused from `--out`;
3. for `--rounds` rounds, base then current, runs `drgaudit screen --batch ID --workers W --output FILE`
   as a child process on a fresh copy of that version's casebook (a first, stored screen: hits, review
   queue and, for today's code, hospital findings stored). `--no-store` runs `screen_batch(...,
   store=False)` in a child instead (JSONL only; the code of before has no CLI option for it);
4. prints per run: the rules active in the version's bundled pack, the hits (lines of the JSONL), the
   wall time of the child, claims/s, its CPU time and the peak RSS of its largest process (the CLI or
   one of its workers: `os.wait4` of the child, what /usr/bin/time reports); then the ratio of
   claims/s current/base per round and their median.

The machine's speed drifts, so only runs taken back to back compare: the rounds alternate the two
versions. It is a measurement, not a gate: the exit status is 0 unless something could not run (git or
the commit missing, a child failed: then a one-line error and status 2). Progress goes to stderr; the
table, or with `--json` (no file) the figures as JSON, to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "2e21aa0"  # the code before issue 17
DEFAULT_SEED = 20250101  # drgaudit.demo.generator.DEFAULT_SEED (not imported: the script runs either version)

# Run by each version's interpreter (so nothing of this checkout is imported into the base's run).
_INFO = """
import json, os, drgaudit
from drgaudit.engine.loader import bundled_rules_dir, load_pack
rules = load_pack(bundled_rules_dir()).rules
print(json.dumps({"source": os.path.dirname(os.path.abspath(drgaudit.__file__)),
                  "rules": sum(r.status == "active" for r in rules)}))
"""
_GENERATE = """
import sys
from pathlib import Path
from drgaudit.demo.generator import generate
generate(Path(sys.argv[1]), seed=int(sys.argv[2]), claims=int(sys.argv[3]))
"""
_SCREEN_UNSTORED = """
import sys
from sqlmodel import Session
from drgaudit.casebook.db import make_engine
from drgaudit.services.screening import screen_batch
with Session(make_engine(sys.argv[1])) as session, open(sys.argv[4], "w", encoding="utf-8") as sink:
    screen_batch(session=session, batch_id=int(sys.argv[2]), workers=int(sys.argv[3]), output=sink, store=False)
"""


class CompareError(Exception):
    """Something the comparison needs is missing or failed: reported in one line, exit status 2."""


def progress(text: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def git(*args: str, cwd: Path = ROOT) -> str:
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise CompareError(
            "git is not installed (the comparison checks out the base commit with it)"
        ) from exc
    if done.returncode != 0:
        raise CompareError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve_commit(ref: str) -> str:
    """The full commit id of `ref` in this checkout's repository."""
    git("rev-parse", "--show-toplevel")  # a clear error outside a git checkout
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except CompareError as exc:
        raise CompareError(f"no commit {ref!r} in the repository of {ROOT}") from exc


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run(command: list[str], *, env: dict[str, str], cwd: Path, log: Path, what: str) -> None:
    with open(log, "w", encoding="utf-8") as sink:
        done = subprocess.run(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise CompareError(f"{what} failed (exit status {done.returncode}); end of {log}:\n{_tail(log)}")


@dataclass
class Version:
    """One side of the comparison: its code, the interpreter that runs it and its folder of data."""

    label: str  # "base" or "current"
    commit: str  # full id ("+changes" appended when the checkout has uncommitted changes)
    python: Path
    source: Path  # the checkout its drgaudit is imported from
    home: Path  # DRGAUDIT_HOME and its data, per commit
    rules: int = 0

    @property
    def short(self) -> str:
        return self.commit[:9] + ("+changes" if self.commit.endswith("+changes") else "")

    @property
    def cwd(self) -> Path:
        """Where its children run: never a checkout (Python puts the working folder first on sys.path,
        and this checkout's `drgaudit/` would shadow part of the other version)."""
        folder = self.home / "home"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def env(self, db: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["DRGAUDIT_HOME"] = str(self.home / "home")
        if db is not None:
            env["DRGAUDIT_DATABASE_URL"] = f"sqlite:///{db}"
        return env

    def info(self) -> dict[str, Any]:
        done = subprocess.run(
            [str(self.python), "-c", _INFO],
            env=self.env(),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise CompareError(
                f"{self.python} cannot load drgaudit's bundled rules for the {self.label} version:\n"
                + "\n".join(done.stderr.strip().splitlines()[-8:])
            )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def check(self) -> None:
        """The interpreter imports this version's checkout; note its active rules."""
        info = self.info()
        if Path(info["source"]).resolve().parent != self.source.resolve():
            raise CompareError(
                f"the {self.label} interpreter {self.python} imports drgaudit from {info['source']}, "
                f"not from {self.source}"
            )
        self.rules = int(info["rules"])


def checkout_state(source: Path) -> str:
    """The commit a checkout is at, with "+changes" when tracked files differ from it."""
    commit = git("rev-parse", "HEAD", cwd=source)
    changed = git("status", "--porcelain", "--untracked-files=no", cwd=source)
    return commit + ("+changes" if changed else "")


def base_version(commit: str, work: Path, base_python: Path | None, cleanup: list[Path]) -> Version:
    """The base's interpreter: `base_python` (checked to run a checkout of `commit`), else a worktree of
    the commit and a venv with it installed (reused when one for that commit is in `work`)."""
    home = work / f"base-{commit[:12]}"
    if base_python is not None:
        if not base_python.exists():
            raise CompareError(f"--base-python {base_python} does not exist")
        probe = Version("base", commit, base_python, Path("."), home)
        source = Path(probe.info()["source"]).parent
        at = checkout_state(source)
        if at.removesuffix("+changes") != commit:
            raise CompareError(
                f"--base-python {base_python} runs the drgaudit of {source}, at commit {at[:12]}, "
                f"not the base {commit[:12]}"
            )
        version = Version("base", at, base_python, source, home)
        version.check()
        return version
    source = work / f"src-{commit[:12]}"
    if source.exists():  # left by a run with --keep, or one that was killed
        try:
            git("worktree", "remove", "--force", str(source))
        except CompareError:
            shutil.rmtree(source)
    git("worktree", "prune")
    progress(f"checking out {commit[:12]} as a worktree in {source}")
    git("worktree", "add", "--detach", str(source), commit)
    cleanup.append(source)
    venv = work / f"venv-{commit[:12]}"
    python = venv / "bin" / "python"
    version = Version("base", commit, python, source, home)
    marker = venv / "drgaudit-compare.json"
    if python.exists() and marker.is_file() and json.loads(marker.read_text()).get("commit") == commit:
        progress(f"reusing the venv {venv}")
    else:
        shutil.rmtree(venv, ignore_errors=True)
        started = time.perf_counter()
        progress(f"setting up a venv for {commit[:12]} in {venv} (python -m venv, pip install -e)")
        venv.parent.mkdir(parents=True, exist_ok=True)
        log = work / f"venv-{commit[:12]}.log"
        _run(
            [sys.executable, "-m", "venv", str(venv)],
            env=dict(os.environ),
            cwd=work,
            log=log,
            what="python -m venv",
        )
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "-e", str(source)],
            env=dict(os.environ),
            cwd=work,
            log=log,
            what=f"pip install -e {source}",
        )
        marker.write_text(json.dumps({"commit": commit}))
        progress(f"venv ready in {time.perf_counter() - started:.0f}s")
    version.check()
    return version


def current_version(work: Path) -> Version:
    """This checkout, run by this interpreter (which must import its drgaudit)."""
    commit = checkout_state(ROOT)
    home = work / (f"current-{commit[:12]}" + ("-changes" if commit.endswith("+changes") else ""))
    version = Version("current", commit, Path(sys.executable), ROOT, home)
    version.check()
    return version


def prepare(version: Version, claims: int, seed: int) -> tuple[Path, int]:
    """The version's demo of `claims` claims, generated and imported with its own code (reused when the
    same commit made it with the same size and seed): the casebook and its claims batch."""
    folder = version.home / f"demo-{claims}-{seed}"
    db = folder / "casebook.sqlite"
    marker = folder / "drgaudit-compare.json"
    wanted = {"commit": version.commit, "claims": claims, "seed": seed}
    reusable = not version.commit.endswith("+changes")
    if reusable and db.exists() and marker.is_file() and json.loads(marker.read_text()).get("db") == wanted:
        progress(f"{version.label}: reusing the demo and casebook in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (version.home / "home").mkdir(parents=True, exist_ok=True)
        demo = folder / "demo"
        progress(f"{version.label}: generating {claims:,} demo claims with {version.short}'s generator")
        started = time.perf_counter()
        _run(
            [str(version.python), "-c", _GENERATE, str(demo), str(seed), str(claims)],
            env=version.env(),
            cwd=version.cwd,
            log=folder / "generate.log",
            what=f"generating the {version.label} demo",
        )
        progress(f"{version.label}: generated in {time.perf_counter() - started:.1f}s; importing it")
        started = time.perf_counter()
        for kind in ("hospitals", "groups", "claims"):
            _run(
                [str(version.python), "-m", "drgaudit", "import", kind, str(demo / f"{kind}.csv")],
                env=version.env(db),
                cwd=version.cwd,
                log=folder / f"import-{kind}.log",
                what=f"importing the {version.label} demo's {kind}",
            )
        progress(f"{version.label}: imported in {time.perf_counter() - started:.1f}s -> {db}")
        marker.write_text(json.dumps({"db": wanted}))
    with sqlite3.connect(db) as connection:
        (batch,) = connection.execute("SELECT max(id) FROM import_batch WHERE kind = 'claims'").fetchone()
    if batch is None:
        raise CompareError(f"no claims batch in {db}")
    return db, int(batch)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def screen(version: Version, db: Path, batch: int, claims: int, workers: int, store: bool, run: str) -> dict:
    """One screen of a fresh copy of the version's casebook in a child process: wall time, CPU and peak
    RSS of the child and its workers (`os.wait4`: the largest process's ru_maxrss), hits in the JSONL."""
    work = db.parent / "run.sqlite"
    output = db.parent / "run.jsonl"
    log = db.parent / f"screen-{run.replace('/', '-of-')}.log"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, work)
    if store:
        command = [str(version.python), "-m", "drgaudit", "screen", "--batch", str(batch)]
        command += ["--workers", str(workers), "--output", str(output)]
    else:
        command = [str(version.python), "-c", _SCREEN_UNSTORED, f"sqlite:///{work}", str(batch)]
        command += [str(workers), str(output)]
    progress(
        f"{version.label} ({version.short}), run {run}: screening {claims:,} claims on {workers} worker{'s' if workers != 1 else ''}"
    )
    try:
        with open(log, "w", encoding="utf-8") as sink:
            started = time.perf_counter()
            child = subprocess.Popen(
                command, env=version.env(work), cwd=version.cwd, stdout=sink, stderr=subprocess.STDOUT
            )
            # wait4, not getrusage(RUSAGE_CHILDREN): that keeps the largest RSS of every child ever waited
            # for, so a run would report the peak of the runs before it.
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise CompareError(
                f"the {version.label} screen failed (exit status {child.returncode}); end of {log}:\n{_tail(log)}"
            )
        with open(output, "rb") as f:
            hits = sum(1 for line in f if line.strip())
        digest = _sha256(output)
    finally:
        for path in (output, *(Path(f"{work}{s}") for s in ("", "-wal", "-shm"))):
            path.unlink(missing_ok=True)
    result = {
        "version": version.label,
        "commit": version.commit,
        "rules": version.rules,
        "claims": claims,
        "hits": hits,
        "seconds": round(seconds, 3),
        "claims_per_second": round(claims / seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "jsonl_sha256": digest,
    }
    progress(
        f"{version.label}, run {run}: {hits:,} hits in {seconds:.1f}s ({result['claims_per_second']:,.0f} "
        f"claims/s), peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    return result


def compare(args: argparse.Namespace, work: Path, cleanup: list[Path]) -> dict[str, Any]:
    """Set up both versions, screen them in alternation, and gather the figures."""
    base_commit = resolve_commit(args.base)
    current = current_version(work)
    base = base_version(base_commit, work, args.base_python, cleanup)
    prepared = {v.label: prepare(v, args.claims, args.seed) for v in (base, current)}
    load = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    for n in range(1, args.rounds + 1):
        pair = {}
        for version in (base, current):
            db, batch = prepared[version.label]
            pair[version.label] = screen(
                version, db, batch, args.claims, args.workers, not args.no_store, f"{n}/{args.rounds}"
            )
            pair[version.label]["round"] = n
            runs.append(pair[version.label])
        ratios.append(round(pair["current"]["claims_per_second"] / pair["base"]["claims_per_second"], 3))
        cpu_ratios.append(round(pair["base"]["cpu_seconds"] / max(pair["current"]["cpu_seconds"], 0.01), 3))
    return {
        "claims": args.claims,
        "seed": args.seed,
        "workers": args.workers,
        "stored": not args.no_store,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_before": round(load, 2),
        "base": {"commit": base.commit, "rules": base.rules, "python": str(base.python)},
        "current": {"commit": current.commit, "rules": current.rules, "python": str(current.python)},
        "runs": runs,
        "ratios": ratios,
        "median_ratio": round(statistics.median(ratios), 3),
        # CPU time moves less than wall time with the machine's load; the goal is wall time all the same.
        "cpu_ratios": cpu_ratios,
        "median_cpu_ratio": round(statistics.median(cpu_ratios), 3),
    }


def print_table(figures: dict[str, Any]) -> None:
    how = "stored (drgaudit screen --batch)" if figures["stored"] else "not stored (JSONL only)"
    workers = f"{figures['workers']} worker" + ("s" if figures["workers"] != 1 else "")
    print(
        f"screen --batch of {figures['claims']:,} demo claims (each version's own demo), {workers}, {how}; "
        f"{figures['cpus']} CPUs, load average {figures['load_before']:.1f} before the runs"
    )
    header = ("round", "version", "commit", "rules", "hits", "wall s", "claims/s", "CPU s", "peak RSS MiB")
    rows = [
        (
            str(r["round"]),
            r["version"],
            r["commit"][:9] + ("+changes" if r["commit"].endswith("+changes") else ""),
            str(r["rules"]),
            f"{r['hits']:,}",
            f"{r['seconds']:.1f}",
            f"{r['claims_per_second']:,.0f}",
            f"{r['cpu_seconds']:.1f}",
            f"{r['peak_rss_mib']:,.0f}",
        )
        for r in figures["runs"]
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        print(
            "  "
            + "  ".join(
                cell.ljust(w) if i < 3 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    ratios = ", ".join(f"{r:.2f}x" for r in figures["ratios"])
    print(f"claims/s current/base: {ratios} by round; median {figures['median_ratio']:.2f}x")
    cpu = ", ".join(f"{r:.2f}x" for r in figures["cpu_ratios"])
    print(f"CPU time base/current:  {cpu} by round; median {figures['median_cpu_ratio']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--base",
        default=DEFAULT_BASE,
        help=f"commit to compare with (default {DEFAULT_BASE}, before issue 17)",
    )
    parser.add_argument("--claims", type=int, default=1_000_000, help="demo claims per version")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="base/current pairs, run back to back")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="screen_batch(store=False) in a child: JSONL only, nothing stored",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the worktree, the venv and the demos (kept, and reused next time; "
        "default: a temp folder, removed)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the worktree (and the temp folder)")
    parser.add_argument(
        "--base-python",
        type=Path,
        help="an interpreter that runs a checkout of the base commit already (no worktree, no venv made)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="the figures as JSON: on stdout instead of the table, or also to FILE",
    )
    args = parser.parse_args(argv)
    if args.claims < 1000 or args.workers < 1 or args.rounds < 1:
        parser.error("--claims needs at least 1000 (the demo's least), --workers and --rounds at least 1")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        work = args.out.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="drgaudit-compare-"))
    cleanup: list[Path] = []
    try:
        figures = compare(args, work, cleanup)
    except (CompareError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            for source in cleanup:
                progress(f"removing the worktree {source}")
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)], check=False
                )
            if args.out is None:
                shutil.rmtree(work, ignore_errors=True)
        elif args.out is None:
            progress(f"kept {work}")
    if args.json == "-":
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
