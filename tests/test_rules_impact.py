"""`rules impact` against a real re-screen on the demo casebook, and `screen --dry-run`: both write nothing.

Moving LOS-001 from 60 to 70 days: the impact must name exactly the hits a re-screen with that pack
then removes and the review cases it withdraws, and leave every table (and, on SQLite, the database
file) exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, select, text
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screening import ScreenHit
from drgaudit.cli.root import app
from drgaudit.demo.run import run_demo
from drgaudit.engine.loader import bundled_rules_dir
from drgaudit.reports.periods import parse_period
from drgaudit.services.impact import ImpactRequest, rules_impact
from drgaudit.services.screening import screen_batch

DEMO_CLAIMS = 4000


def pack_with_los(tmp_path: Path, days: int) -> Path:
    folder = tmp_path / f"rules-los{days}"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "long_stay.yaml"
    text_ = path.read_text(encoding="utf-8")
    assert "max_los_days: {default: 60," in text_
    # LOS-001's, the first: LOS-005 (other per-diem departments) has the same default.
    path.write_text(
        text_.replace("max_los_days: {default: 60,", f"max_los_days: {{default: {days},", 1), "utf-8"
    )
    return folder


def snapshot(engine: Engine) -> str:
    """A digest of every row of every table (and PostgreSQL's sequences), in a fixed order."""
    digest = hashlib.sha256()
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name in sorted(meta.tables):
            table = meta.tables[name]
            rows = sorted(
                json.dumps(list(row), default=str, ensure_ascii=False) for row in conn.execute(select(table))
            )
            digest.update(name.encode())
            for row in rows:
                digest.update(row.encode())
        if engine.dialect.name == "postgresql":
            for (sequence,) in conn.execute(text("SELECT sequencename FROM pg_sequences ORDER BY 1")):
                value = conn.execute(text(f'SELECT last_value, is_called FROM "{sequence}"')).one()
                digest.update(f"{sequence}={value}".encode())
    return digest.hexdigest()


def file_bytes(url: str) -> dict[str, str]:
    path = Path(url.removeprefix("sqlite:///"))
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.parent.glob(path.name + "*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's files, generated once for the module."""
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder, claims=DEMO_CLAIMS, db_url=f"sqlite:///{folder / 'first.sqlite'}")
    return folder


@pytest.fixture
def demo_url(db_backend: str, db_url: str, tmp_path: Path, demo_folder: Path) -> str:
    """A demo casebook: a file on SQLite (to compare its bytes), the test's database on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'casebook.sqlite'}" if db_backend == "sqlite" else db_url
    run_demo(demo_folder, claims=DEMO_CLAIMS, db_url=url, reuse=True)
    return url


def test_impact_predicts_the_rescreen_and_writes_nothing(demo_url: str, tmp_path: Path) -> None:
    new = pack_with_los(tmp_path, 70)
    engine = make_engine(demo_url)
    before = snapshot(engine)
    with Session(engine) as session:
        batch_id = session.execute(select(ScreenHit.batch_id).limit(1)).scalar_one()
        stored_before = {tuple(r) for r in session.execute(select(ScreenHit.claim_id, ScreenHit.rule_id))}
        withdrawn_before = set(
            session.execute(select(ReviewCase.claim_id).where(ReviewCase.status == "withdrawn")).scalars()
        )
    engine.dispose()
    bytes_before = file_bytes(demo_url) if demo_url.startswith("sqlite") else None

    engine = make_engine(demo_url)
    with Session(engine) as session:
        result = rules_impact(session=session, request=ImpactRequest(new_dir=new, batch_id=batch_id))
    engine.dispose()
    if bytes_before is not None:
        assert file_bytes(demo_url) == bytes_before
    engine = make_engine(demo_url)
    assert snapshot(engine) == before

    # The prediction: LOS-001 only, stays of 60 to 69 days.
    assert result.removed and not result.added
    assert {rule for _, rule in result.removed} == {"LOS-001"}
    assert result.by_rule["LOS-001"].removed == len(result.removed)
    assert result.withdrawn and set(result.withdrawn) <= {claim for claim, _ in result.removed}
    assert result.baseline_drift == 0
    samples = result.samples["LOS-001"]
    assert samples and all(s.side == "removed" for s in samples)
    assert any(
        c.source == "los_days >= params.max_los_days" and c.before and c.after is False
        for c in samples[0].conditions
    )
    assert ("params.max_los_days", 60, 70) in samples[0].thresholds

    # The real re-screen with the changed pack.
    with Session(engine) as session:
        summary = screen_batch(session=session, batch_id=batch_id, rules_dir=new)
        stored_after = {tuple(r) for r in session.execute(select(ScreenHit.claim_id, ScreenHit.rule_id))}
        withdrawn_after = set(
            session.execute(select(ReviewCase.claim_id).where(ReviewCase.status == "withdrawn")).scalars()
        )
    engine.dispose()
    assert stored_before - stored_after == set(result.removed)
    assert stored_after - stored_before == set(result.added)
    assert summary.stored == result.stored
    assert withdrawn_after - withdrawn_before == set(result.withdrawn)
    assert {k: v for k, v in summary.review_cases.items() if v} == {
        k: v for k, v in result.case_counts.items() if v
    }


def test_dry_run_and_period_impact(demo_url: str, tmp_path: Path) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as session:
        batch_id = session.execute(select(ScreenHit.batch_id).limit(1)).scalar_one()
    before = snapshot(engine)
    new = pack_with_los(tmp_path, 25)
    with Session(engine) as session:
        dry = screen_batch(session=session, batch_id=batch_id, rules_dir=new, dry_run=True)
        same = screen_batch(session=session, batch_id=batch_id, dry_run=True)
        period = rules_impact(
            session=session,
            request=ImpactRequest(new_dir=new, period=parse_period("2025"), region="510100", samples=1),
        )
        whole = rules_impact(session=session, request=ImpactRequest(new_dir=new, batch_id=batch_id))
    assert snapshot(engine) == before
    engine.dispose()
    assert dry.run_id is None and dry.dry_run
    assert same.stored["new"] == 0 and same.stored["removed"] == 0
    assert set(same.review_cases.values()) <= {0, same.review_cases["unchanged"]}
    assert dry.review_cases["created"] > 0  # 25-59 day stays become cases
    assert whole.case_counts.get("created", 0) == dry.review_cases["created"]
    assert period.region == "510100" and 0 < period.by_rule["LOS-001"].added < whole.by_rule["LOS-001"].added
    assert set(period.by_region) == {"510100"}
    assert all(s.side == "added" for s in period.samples["LOS-001"])


def test_impact_cli_and_reports(demo_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    new = pack_with_los(tmp_path, 70)
    html, xlsx = tmp_path / "impact.html", tmp_path / "impact.xlsx"
    result = runner.invoke(
        app, ["rules", "impact", str(new), "--batch", "3", "--out", str(html), "--db", demo_url]
    )
    assert result.exit_code == 0, result.output
    assert "LOS-001" in result.output and "would close (withdrawn)" in result.output
    page = html.read_text(encoding="utf-8")
    assert "规则变更影响评估" in page and "LOS-001" in page and "不再命中" in page
    # Why a sample changed side, in the report's Chinese: no "true → false", no parameter's code name.
    why = "满足条件“住院天数 ≥ 超长住院天数标准”：成立 → 不成立；参数“超长住院天数标准”：60 → 70"
    assert why in page
    assert "→ false" not in page and "params." not in page  # the condition in words, not the rule's text
    assert "<td>新案件</td>" in page and "<td>new</td>" not in page  # a case's state by its name
    # Hospitals and regions by their names (the code beside them), in every table that shows one.
    assert re.search(r"<td>[^<>]*医院[^<>]*<br><span class=\"note\">H\d+</span></td><td>2025-\d\d</td>", page)
    assert re.search(r"<td>[^<>0-9]+（示例）<br><span class=\"note\">510\d{3}</span></td>", page)
    assert not re.search(r"<td>H\d+</td>", page)
    result = runner.invoke(
        app, ["rules", "impact", str(new), "--period", "2025Q3", "--out", str(xlsx), "--db", demo_url]
    )
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    book = load_workbook(xlsx)
    assert "按规则" in book.sheetnames and "审核案件变化" in book.sheetnames
    reasons = [row[-1] for row in book["样例"].iter_rows(min_row=2, values_only=True)]
    assert reasons and all("成立 → 不成立" in reason and "超长住院天数标准" in reason for reason in reasons)
    assert all("住院天数 ≥ 超长住院天数标准" in reason and "params." not in reason for reason in reasons)
    cases = list(book["审核案件变化"].iter_rows(values_only=True))
    heading = list(cases[0])
    states = {row[heading.index("现状态")] for row in cases[1:]}
    names = {row[heading.index("医院名称")] for row in cases[1:]}
    assert names and all(name and not name.startswith("H") for name in names)
    assert all(row[heading.index("统筹区名称")].endswith("（示例）") for row in cases[1:])
    assert states and states <= {
        "新案件",
        "已分派",
        "已排会",
        "已决定",
        "已结案",
        "申诉中",
        "已撤回",
        "（无案件）",
    }
    bad = runner.invoke(app, ["rules", "impact", str(new), "--db", demo_url])
    assert bad.exit_code == 2 and "--batch" in bad.output
    missing = runner.invoke(app, ["rules", "impact", str(new), "--batch", "99", "--db", demo_url])
    assert missing.exit_code == 1 and "no import batch 99" in missing.output
    dry = runner.invoke(app, ["screen", "--batch", "3", "--rules", str(new), "--dry-run", "--db", demo_url])
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing stored" in dry.output and "withdrawn" in dry.output
    assert "screened and stored" not in dry.output  # nothing was


def test_shadow_version_is_screened_stored_apart_and_shown(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from drgaudit.casebook.review_models import ReviewCase as Case
    from drgaudit.casebook.shadow import ShadowHit
    from drgaudit.services.packs import PromoteRequest, promote_pack, register_pack

    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    new = pack_with_los(tmp_path, 70)
    engine = make_engine(demo_url)
    with Session(engine) as session:
        batch_id = session.execute(select(ScreenHit.batch_id).limit(1)).scalar_one()
        version = register_pack(session=session, directory=new, actor="alice").version
        promote_pack(
            session=session,
            request=PromoteRequest(version.version, "national", dt.date(2025, 1, 1), stage="shadow"),
            actor="alice",
        )
        cases_before = session.execute(select(Case.claim_id, Case.status)).all()
        summary = screen_batch(session=session, batch_id=batch_id)
        assert summary.shadow == {version.version: summary.shadow[version.version]}
        stored = session.execute(select(ShadowHit.rule_id)).scalars().all()
        assert len(stored) == summary.shadow[version.version] and len(stored) < summary.hits
        assert session.execute(select(Case.claim_id, Case.status)).all() == cases_before  # never queued
        result = rules_impact(session=session, request=ImpactRequest(new_dir=new, batch_id=batch_id))
    engine.dispose()
    (standing,) = result.shadow
    assert standing.is_new and standing.version == version.version
    assert standing.shadow == result.totals.after and standing.live == result.totals.before
    assert standing.by_rule["LOS-001"] == (result.by_rule["LOS-001"].before, result.by_rule["LOS-001"].after)
