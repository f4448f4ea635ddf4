"""`drgaudit screen`, `explain`, `batches` and `import codes` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.demo.generator import generate

runner = CliRunner()
HIT_FIELDS = [
    "claim_id",
    "rule_id",
    "family",
    "severity",
    "action",
    "amount_at_risk",
    "message",
    "evidence",
    "rule_version",
    "code_set",
]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo province (bundled code subset) generated once for this module."""
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=42, claims=1000)
    return out


@pytest.fixture
def three_files(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding just claims.csv, hospitals.csv and groups.csv."""
    for name in ("claims.csv", "hospitals.csv", "groups.csv"):
        shutil.copy(demo_dir / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def truth(demo_dir: Path) -> dict[str, set[str]]:
    planted: dict[str, set[str]] = {}
    with open(demo_dir / "truth.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["kind"] == "planted":
                planted.setdefault(row["family"], set()).add(row["claim_id"])
    return planted


def test_screen_three_csv_files_prints_jsonl_hits(three_files: Path, demo_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "screen",
            "claims.csv",
            "--hospitals",
            "hospitals.csv",
            "--groups",
            "groups.csv",
            "--format",
            "jsonl",
            "--output",
            "-",
        ],
    )
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits
    assert all(list(h) == HIT_FIELDS for h in hits)
    for hit in hits:
        assert hit["severity"] in ("info", "low", "medium", "high", "critical")
        assert hit["action"] in ("note", "hold", "deduct", "special_review")
        assert hit["amount_at_risk"] >= 0
        assert hit["claim_id"] in hit["message"] or hit["evidence"]["facts"]["patient_id"] in hit["message"]
        assert {"facts", "thresholds", "conditions", "related_claims", "rule"} <= set(hit["evidence"])
        assert all(c["value"] is (c["kind"] == "when") for c in hit["evidence"]["conditions"])
    found: dict[str, set[str]] = {}
    for hit in hits:
        found.setdefault(hit["family"], set()).add(hit["claim_id"])
    for family, claims in truth(demo_dir).items():
        assert claims <= found.get(family, set()), family
    split = next(h for h in hits if h["rule_id"] == "SPLIT-001")
    assert split["evidence"]["related_claims"]
    assert sorted(p.name for p in three_files.iterdir()) == ["claims.csv", "groups.csv", "hospitals.csv"]
    assert "screened 1000 claims" in result.stderr


def test_same_input_same_output(three_files: Path) -> None:
    args = ["screen", "claims.csv", "--hospitals", "hospitals.csv", "--groups", "groups.csv"]
    first = runner.invoke(app, args)
    second = runner.invoke(app, [*args, "--workers", "2"])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout


def test_a_bad_rule_pack_screens_nothing(three_files: Path) -> None:
    rules = three_files / "myrules"
    from drgaudit.engine.loader import bundled_rules_dir

    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    text = (
        (rules / "outliers.yaml")
        .read_text(encoding="utf-8")
        .replace("- cost_ratio >= high_ratio_limit", "- cost_rato >= high_ratio_limit", 1)
    )
    (rules / "outliers.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "screen",
            "claims.csv",
            "--hospitals",
            "hospitals.csv",
            "--groups",
            "groups.csv",
            "--rules",
            "myrules",
        ],
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "myrules/outliers.yaml:20:9: unknown field `cost_rato` (did you mean `cost_ratio`?)" in result.stderr
    )


def test_screen_needs_files_or_batch(three_files: Path) -> None:
    result = runner.invoke(app, ["screen"])
    assert result.exit_code == 2
    assert "give claim files or --batch ID" in result.output
    result = runner.invoke(app, ["screen", "claims.csv"])
    assert result.exit_code == 2
    assert "claim files need --hospitals and --groups files too" in result.output


def test_explain_from_files_shows_every_rule(three_files: Path, demo_dir: Path) -> None:
    with open(demo_dir / "truth.csv", encoding="utf-8") as f:
        splits = [
            r["claim_id"] for r in csv.DictReader(f) if r["kind"] == "planted" and r["rule_id"] == "SPLIT-001"
        ]
    claim_id = sorted(splits)[0]
    result = runner.invoke(
        app,
        [
            "explain",
            claim_id,
            "--claims",
            "claims.csv",
            "--hospitals",
            "hospitals.csv",
            "--groups",
            "groups.csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"claim {claim_id}: 人员编号 P")
    assert lines[1].startswith("code tables: CHS-DRG 1.1 (bundled) (")
    assert re.fullmatch(
        r"医疗费总额 [\d,]+\.\d\d；按就医地规则测算的支付金额 [\d,]+\.\d\d（\w+）；按就医地规则的病组支付标准 [\d,]+\.\d\d"
        r"（医院等级 [一二三]级）；"
        r"费用倍率 \d+\.\d\d（就医地低倍率判定倍数 0\.3，就医地高倍率判定倍数 (3\.0|2\.5)，就医地极端费用判定倍数 5\.0）",
        lines[2],
    ), lines[2]
    assert any(line.startswith("HIT  SPLIT-001  出院后短期内同院同类疾病再入院") for line in lines)
    assert "      when   true   earlier.hospital_id == hospital_id" in lines
    assert any(line.startswith("no   OUT-HIGH-001") for line in lines)
    assert any(line.startswith("      说明: 参保人") for line in lines)


def test_explain_unknown_claim(three_files: Path) -> None:
    result = runner.invoke(
        app,
        [
            "explain",
            "NOPE",
            "--claims",
            "claims.csv",
            "--hospitals",
            "hospitals.csv",
            "--groups",
            "groups.csv",
        ],
    )
    assert result.exit_code == 1
    assert result.stderr == "error: no claim NOPE in the casebook\n"


def test_batch_screen_stores_hits_and_rerun_is_idempotent(demo_dir: Path, db_url: str) -> None:
    for kind in ("hospitals", "groups", "claims"):
        result = runner.invoke(app, ["import", kind, str(demo_dir / f"{kind}.csv"), "--db", db_url])
        assert result.exit_code == 0, result.output
    batches = runner.invoke(app, ["batches", "--db", db_url])
    assert [line.split()[:2] for line in batches.stdout.splitlines()[1:-1]] == [
        ["1", "hospitals"],
        ["2", "groups"],
        ["3", "claims"],
    ]
    listed = json.loads(runner.invoke(app, ["batches", "--format", "json", "--db", db_url]).stdout)
    assert [(b["id"], b["kind"], b["file_name"]) for b in listed] == [
        (1, "hospitals", "hospitals.csv"),
        (2, "groups", "groups.csv"),
        (3, "claims", "claims.csv"),
    ]
    first = runner.invoke(app, ["screen", "--batch", "3", "--db", db_url, "--output", "-"])
    assert first.exit_code == 0, first.output
    count = len(first.stdout.splitlines())
    assert f"stored as screen run 1 of batch 3: {count} new, 0 unchanged, 0 removed" in first.stderr
    # The screening line's time leaves storing out; the last line gives the whole screen's.
    screened = re.search(r"patients in ([0-9.]+)s \(", first.stderr)
    in_all = re.search(r"screened and stored in ([0-9.]+)s in all \(([0-9,]+) claims/s\)", first.stderr)
    assert screened and in_all, first.stderr
    assert float(in_all.group(1)) >= float(screened.group(1))
    second = runner.invoke(app, ["screen", "--batch", "3", "--db", db_url])
    assert second.stdout == ""
    assert f"stored as screen run 2 of batch 3: 0 new, {count} unchanged, 0 removed" in second.stderr
    explained = runner.invoke(app, ["explain", first.stdout.splitlines()[0].split('"')[3], "--db", db_url])
    assert explained.exit_code == 0
    assert "rules fired" in explained.stdout


def test_screen_unknown_batch(db_url: str) -> None:
    result = runner.invoke(app, ["screen", "--batch", "99", "--db", db_url])
    assert result.exit_code == 1
    assert result.stderr == "error: no import batch 99 in the casebook (see `drgaudit batches`)\n"


def test_import_codes_then_screen_uses_them(demo_dir: Path, db_url: str) -> None:
    from drgaudit.engine.codes import bundled_codes_dir

    codes = bundled_codes_dir()
    result = runner.invoke(app, ["import", "codes", str(codes), "--name", "subset", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("code set `subset` loaded [set 1]: diagnoses ")
    again = runner.invoke(app, ["import", "codes", str(codes), "--name", "subset", "--db", db_url])
    assert again.stdout.startswith("code set `subset` already loaded [set 1]")


def test_bad_rows_of_a_code_table_are_all_listed_and_nothing_is_loaded(tmp_path: Path, db_url: str) -> None:
    import shutil

    from drgaudit.engine.codes import bundled_codes_dir

    codes = tmp_path / "codes"
    shutil.copytree(bundled_codes_dir(), codes)
    lines = (codes / "mcc.tsv").read_text(encoding="utf-8").splitlines()
    first_code, first_table = lines[1].split("\t")
    lines[3:3] = ["A00.000", "\tMDCX", f"{first_code}\t{first_table}X", "", f"{first_code}\t{first_table}"]
    (codes / "mcc.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "codes", str(codes), "--db", db_url])
    assert result.exit_code == 1
    path = codes / "mcc.tsv"
    assert result.stderr == (
        f"error: {path}: 3 bad rows; the code tables were not loaded:\n"
        f"  {path}:4: expected 2 columns (code, exclusion_table), found 1\n"
        f"  {path}:5: code: missing, beside exclusion_table 'MDCX'\n"
        f"  {path}:6: code: {first_code} is listed again with exclusion_table '{first_table}X' "
        f"(row 2 says '{first_table}')\n"
    )  # a blank line and a repeat with the same table are no problem
    listed = runner.invoke(app, ["import", "codes", str(bundled_codes_dir()), "--name", "ok", "--db", db_url])
    assert listed.stdout.startswith("code set `ok` loaded [set 1]")  # the bad folder loaded nothing


def test_hits_and_review_cases_are_one_transaction(
    three_files: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If building the review queue fails, the run's hits are not stored either; a re-run stores both."""
    from sqlmodel import Session, func, select

    from drgaudit.casebook.db import make_engine
    from drgaudit.casebook.review_models import ReviewCase
    from drgaudit.casebook.screening import ScreenHit, ScreenRun
    from drgaudit.services import screening as pipeline

    for kind in ("hospitals", "groups", "claims"):
        assert runner.invoke(app, ["import", kind, f"{kind}.csv", "--db", db_url]).exit_code == 0

    def broken(**_kwargs):
        raise RuntimeError("queue refresh failed")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "refresh_cases", broken)
        failed = runner.invoke(app, ["screen", "--batch", "3", "--db", db_url])
    assert failed.exit_code != 0
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ScreenHit)).one() == 0
        assert session.exec(select(ScreenRun.status)).all() == ["failed"]
    done = runner.invoke(app, ["screen", "--batch", "3", "--db", db_url])
    assert done.exit_code == 0, done.output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ScreenHit)).one() > 0
        assert session.exec(select(func.count()).select_from(ReviewCase)).one() > 0
    engine.dispose()


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so the CLI draws its progress bar into it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("screened", [6, 10])
def test_progress_bar_says_what_follows_once_every_claim_is_screened(
    screened: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import ExitStack

    from drgaudit.cli.screening import _progress_bar

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with ExitStack() as stack:
        update = _progress_bar(stack, "screening", then="storing the results")
        assert update is not None
        update(screened, 10)
    drawn = terminal.getvalue()
    assert "screening" in drawn
    # A stored screen writes for a while after the last claim: the full bar says so, not before.
    assert ("storing the results" in drawn) is (screened == 10)


def _drawn_lines(
    columns: int, label: str, then: str, total: int, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The lines the progress bar draws on a terminal `columns` wide, from the start to the full count."""
    import time
    from contextlib import ExitStack

    from drgaudit.cli.screening import _progress_bar

    monkeypatch.setenv("COLUMNS", str(columns))  # Rich's Console reads the width from it
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with ExitStack() as stack:
        update = _progress_bar(stack, label, then=then)
        assert update is not None
        update(total // 3, total)
        time.sleep(0.2)  # a refresh with the screening label
        update(total, total)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    return [line for line in dict.fromkeys(re.split(r"[\r\n]", plain)) if line.strip()]


@pytest.mark.parametrize("total", [1_000_000, 10_000_000])
@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize(
    ("label", "then"),
    [
        ("screening", "storing the results"),
        ("screening", "comparing with the stored results"),
        ("筛查", "正在保存结果"),
    ],
)
def test_progress_bar_fits_the_terminal_and_never_cuts_the_counts(
    columns: int, label: str, then: str, total: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich alone cut every column evenly: "10000000/10000…" at 80 columns on a dry run, "1000000/100…"
    at 60."""
    from rich.cells import cell_len

    lines = _drawn_lines(columns, label, then, total, monkeypatch)
    assert all(cell_len(line) <= columns for line in lines), lines
    assert any(f"{total // 3}/{total}" in line for line in lines), lines
    full = [line for line in lines if f"{total}/{total}" in line]
    assert full, lines
    # The label gives way before the counts: what is left of it starts the line, cut with an ellipsis.
    shown = re.split("[━╸╺]", full[-1], maxsplit=1)[0].strip()
    assert then.startswith(shown.removesuffix("…")) and (shown == then or shown.endswith("…")), full[-1]
    assert "━" in full[-1]


def test_fit_bar_gives_way_with_the_bar_first_then_the_label() -> None:
    from drgaudit.cli.screening import BAR_MIN, BAR_WIDTH, fit_bar

    # rest: "1000000/1000000" 15, "claims" 6, "0:00:00" 7, four gaps.
    rest = 15 + 6 + 7 + 4
    assert fit_bar(120, 19, rest) == (19, BAR_WIDTH)
    assert fit_bar(80, 19, rest) == (19, 80 - rest - 19)  # the bar shrinks
    assert fit_bar(60, 19, rest) == (60 - rest - BAR_MIN, BAR_MIN)  # at its least, the label is cut
    assert fit_bar(rest + 5, 19, rest) == (0, 5)  # no label left: the bar again
    for width in range(rest + 1, 200):
        label, bar = fit_bar(width, 33, rest)
        assert label + bar + rest <= width and bar >= 1
