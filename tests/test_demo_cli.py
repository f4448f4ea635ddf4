"""`drgaudit demo` and `run_demo`: generate, import into the casebook, summarise."""

from __future__ import annotations

import re
import shlex
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.demo.run import run_demo
from drgaudit.engine.codes import CodeTables


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_run_demo_imports_every_file_once(tmp_path: Path) -> None:
    db = tmp_path / "casebook.sqlite"
    stages: list[tuple[str, int, int]] = []
    result = run_demo(
        tmp_path / "out", claims=1200, db_url=str(db), progress=lambda *args: stages.append(args)
    )
    assert {kind: r.rows_ok for kind, r in result.imports.items()} == {
        "hospitals": 30,
        "groups": result.manifest.groups,
        "claims": 1200,
    }
    assert all(r.rows_rejected == 0 for r in result.imports.values())
    assert result.claims_batch_id == result.imports["claims"].batch_id
    assert count(db, "claim") == 1200 and count(db, "hospital") == 30
    assert ("claims", 1000, 1000) in stages and ("generate", 1200, 1200) in stages
    assert stages[-1] == ("screen", 1200, 1200)
    assert result.codes_dir is None and result.database_url.endswith("casebook.sqlite")
    assert result.screen is not None and result.screen.claims == 1200 and result.screen.run_id == 1
    assert result.score.detected == result.score.planted > 0
    assert result.score.lookalikes_hit == 0

    again = run_demo(tmp_path / "out", claims=1200, db_url=str(db))
    assert all(r.already_imported for r in again.imports.values())
    assert count(db, "claim") == 1200
    assert again.screen.stored == {"new": 0, "unchanged": result.screen.hits, "removed": 0}


def test_demo_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo-out"
    result = CliRunner().invoke(
        app,
        ["demo", "--claims", "1500", "--seed", "5", "--out", str(out), "--db", str(tmp_path / "c.sqlite")],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"code tables: CHS-DRG 1.1 (bundled) ({CodeTables.bundled().digest})"
    assert lines[1].startswith("generated 1500 claims of ") and lines[1].endswith(str(out))
    truth = (out / "truth.csv").read_text(encoding="utf-8")
    split_rows = [r for r in truth.splitlines() if ",split_hospitalization,SPLIT-" in r]
    planted = sum(",planted," in r for r in split_rows)
    assert planted >= 30
    assert any(line.split()[:3] == ["split_hospitalization", str(planted), "planted"] for line in lines)
    assert "claims.csv: batch 3, 1500 rows (1500 new, 0 unchanged, 0 revised)" in lines
    assert any(line.startswith("claims batch: 3 (sqlite:///") for line in lines)
    assert count(tmp_path / "c.sqlite", "claim") == 1500
    assert any(line.startswith("screened 1500 claims in ") for line in lines)
    assert any(
        line.split()[:4] == ["split_hospitalization", str(planted), str(planted), "100.0%"] for line in lines
    )
    # Hits and money at risk by family and by action; the totals agree with the screen summary.
    screened = next(line for line in lines if line.startswith("screened 1500 claims in "))
    hits, amount = screened.split(": ")[1].split(" hits, ")[0], screened.split(" hits, ")[1].split(" yuan")[0]
    start = lines.index("hits and amounts at risk, by family and by action:")
    assert lines[start + 1].split() == ["family", "hits", "amount", "at", "risk", "(yuan)"]
    actions = lines.index("  action                       hits  amount at risk (yuan)")
    assert {line.split()[0] for line in lines[actions + 1 : actions + 5]} == {
        "special_review",
        "hold",
        "deduct",
        "note",
    }
    assert lines[actions + 5].split() == ["total", hits, amount]
    family_hits = sum(int(line.split()[1]) for line in lines[start + 2 : actions])
    assert family_hits == int(hits)
    detection = lines.index(
        "detection against truth.csv (precision: share of hits on claims planted for the family):"
    )
    assert lines[detection + 1].split() == [
        "family", "/", "rule", "planted", "found", "recall", "hits", "true", "precision", "look-alikes", "hit"
    ]  # fmt: skip
    for line in lines[detection + 2 : detection + 11]:
        family, planted_n, found, recall, hit_n, true, precision, spared, _, lookalikes = line.split()
        assert planted_n == found and recall == precision == "100.0%" and hit_n == true and spared == "0", (
            line
        )
    total_planted = truth.count(",planted,")
    assert f"found {total_planted} of {total_planted} planted cases; 0 legitimate look-alikes hit." in lines
    assert lines[-6].startswith("why a claim was hit: drgaudit explain ")
    assert lines[-5] == "all hits as JSONL: drgaudit screen --batch 3 --output -"
    assert re.fullmatch(
        r"special-review queue: [1-9]\d* new cases, 0 refreshed, 0 unchanged; by priority: drgaudit queue list",
        lines[-4],
    )
    db = shlex.quote(str(tmp_path / "c.sqlite"))
    assert lines[-3:] == [
        "review service: create the first administrator (you choose the password), then start the server",
        f"  drgaudit users add admin --role admin --db {db}",
        f"  drgaudit serve --db {db}    # then sign in at http://127.0.0.1:8000/",
    ]
    explained = CliRunner().invoke(
        app, ["explain", lines[-6].split()[-1], "--db", str(tmp_path / "c.sqlite")]
    )
    assert explained.exit_code == 0 and "HIT " in explained.stdout

    again = CliRunner().invoke(
        app,
        ["demo", "--claims", "1500", "--seed", "5", "--out", str(out), "--db", str(tmp_path / "c.sqlite")],
    )
    assert again.exit_code == 0 and "claims.csv: already imported as batch 3, nothing changed" in again.stdout


def test_demo_command_reports_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--claims", "50", "--out", str(tmp_path / "o"), "--db", str(tmp_path / "c.sqlite")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the demo needs at least")


def test_the_demo_is_the_same_wherever_it_is_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo once drew its codes from ../shared/reference when the folder it ran in had one beside it;
    now it always uses the tables bundled in the package (or --codes), so the files and the result match."""
    beside_reference = tmp_path / "checkout" / "main"
    beside_reference.mkdir(parents=True)
    decoy = tmp_path / "checkout" / "shared" / "reference" / "chs-drg-1.1"
    decoy.mkdir(parents=True)
    for name in ("diagnoses", "procedures", "mcc", "cc", "principal_exclusion", "drg_groups"):
        header = "principal_code\texclusion_table" if name == "principal_exclusion" else "code\tname"
        (decoy / f"{name}.tsv").write_text(header + "\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outputs = []
    for folder in (beside_reference, elsewhere):
        monkeypatch.chdir(folder)
        result = CliRunner().invoke(
            app, ["demo", "--claims", "1200", "--seed", "3", "--out", "demo", "--db", "c.sqlite"]
        )
        assert result.exit_code == 0, result.output
        outputs.append(
            (
                (folder / "demo" / "claims.csv").read_bytes(),
                [
                    line
                    for line in result.stdout.splitlines()
                    if not re.search(r"\d+\.\ds|claims batch:", line)
                ],
            )
        )
    assert outputs[0] == outputs[1]
