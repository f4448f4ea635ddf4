"""A rule-pack version's impact previewed from its page (/rules/versions/{id}): started in the background,
polled, then shown as `rules impact` reports it; the page's figures are exactly those of
`services.impact.rules_impact` called directly, nothing is written; refusals in Chinese (no batch, a batch
without the region's claims, a region outside the account's scope, an unknown version), and a preview
is seen only by who may preview its region.

The casebook is a SQLite file (or the test's PostgreSQL database): the preview's thread reads while the
requests write the job's row."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screenjobs import ScreenJob, finish_job, insert_job, set_result
from drgaudit.reports.impact import impact_data, impact_from_data
from drgaudit.services.accounts import cli_actor
from drgaudit.services.impact import ImpactRequest, rules_impact
from drgaudit.services.packs import register_pack
from drgaudit.services.screening import screen_batch
from tests import web_casebook
from tests.conftest import claim_row, write_table
from tests.test_rule_packs import pack_copy
from tests.test_web_browser import casebook_url  # noqa: F401  (a SQLite file, or the test's PostgreSQL)
from tests.web_support import Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")
ADMIT = date(2025, 1, 2)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Materialised packs go to a private home, never ~/.drgaudit."""
    folder = tmp_path / "home"
    monkeypatch.setenv("DRGAUDIT_HOME", str(folder))
    return folder


@pytest.fixture
def session(casebook_url: str) -> Iterator[Session]:  # noqa: F811
    """A session on the casebook the site serves."""
    engine = make_engine(casebook_url)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


def stays(tmp_path: Path) -> Path:
    """A claims file of 510100 (H001): stays of 55, 65 and 75 days and short ones."""
    rows = []
    for n, days in enumerate((55, 65, 75, 66, 5, 7)):
        row = claim_row(
            900 + n, hospital_id="H001", treatment_region="510100", insured_region="510700",
            claim_id=f"L{n:03d}", patient_id=f"PL{n:03d}", payment_scheme="DRG", group_code="FM19",
        )  # fmt: skip
        row["admit_date"] = ADMIT.isoformat()
        row["discharge_date"] = (ADMIT + timedelta(days=days)).isoformat()
        rows.append(row)
    return write_table(tmp_path / "长住院.csv", rows)


@pytest.fixture
def site(casebook_url: str, session: Session, tmp_path: Path):  # noqa: F811
    """The web casebook, a claims batch with long stays screened with the bundled pack (LOS-001 at 60
    days: review cases), the pack with LOS-001 at 70 days registered, an auditor bound to 510700."""
    from drgaudit.casebook.ingest import import_file

    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    make_accounts(session, ("审核绵阳", "auditor:510700"))
    report = import_file(stays(tmp_path), kind="claims", session=session)
    assert report.rows_rejected == 0, report.first_errors
    actor = cli_actor(session=session, user="审核员", action="screen.run")
    screen_batch(session=session, batch_id=report.batch_id, actor=actor)
    version = register_pack(
        session=session, directory=pack_copy(tmp_path, "p70", los=70), actor="审核员", note="LOS-001 70天"
    ).version
    return web_app(casebook_url), int(version.id or 0), report.batch_id


def _signed_in(app, user: str) -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 303
    return browser


def _finished(browser: Browser, location: str, timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Poll the preview the redirect names until it has ended: (its last state, its page then)."""
    match = re.fullmatch(r"/rules/versions/(\d+)/impact/(\d+)", location)
    assert match, location
    deadline = time.monotonic() + timeout
    while True:
        state = browser.get(location + "/progress")
        assert state.status_code == 200 and state.headers["cache-control"] == "no-store", state.text[:300]
        job = state.json()
        if not job["running"]:
            page = browser.get(location)
            assert page.status_code == 200
            return dict(job), page.text
        assert 0 <= job["done"] <= job["total"] and 0 <= job["percent"] <= 100
        assert time.monotonic() < deadline, f"the preview did not end in {timeout} s: {job}"
        time.sleep(0.1)


def _cell(page: str, cell: str) -> str:
    found = re.search(rf'id="{cell}">([^<]*)<', page)
    assert found, cell
    return found.group(1)


def test_the_preview_on_the_page_is_rules_impact(site, session: Session) -> None:
    app, version, batch = site
    auditor = _signed_in(app, "审核员")
    form = auditor.get(f"/rules/versions/{version}").text
    assert 'id="impact-form"' in form and f'<option value="{batch}">' in form
    cases_before = len(session.exec(select(ReviewCase)).all())
    started = auditor.post(f"/rules/versions/{version}/impact", {"batch": str(batch), "region": "510100"})
    assert started.status_code == 303, started.text[:500]
    job, page = _finished(auditor, started.headers["location"])
    assert job["kind"] == "ok" and "评估完成" in job["text"], job
    direct = rules_impact(
        session=session, request=ImpactRequest(new_version=f"#{version}", batch_id=batch, region="510100")
    )
    assert impact_from_data(impact_data(direct)) == direct  # what the job keeps reads back the same
    t = direct.totals
    assert t.removed >= 2  # the 65- and 66-day stays: LOS-001 no longer at 70 days
    assert _cell(page, "added") == f"{t.added:,}" and _cell(page, "removed") == f"{t.removed:,}"
    assert _cell(page, "amount").startswith(f"{t.amount_before:,.2f} → {t.amount_after:,.2f}")
    for outcome in ("created", "reopened", "withdrawn", "refreshed"):
        assert _cell(page, outcome) == str(direct.case_counts.get(outcome, 0)), outcome
    assert direct.case_counts.get("withdrawn", 0) >= 1
    cases = page[page.index("四、") : page.index("五、变化样例")]
    assert "<td>新案件</td>" in cases and "<td>new</td>" not in cases  # a case's state by its name
    name = direct.hospital_names.get("H001")  # the hospital by its name, its code beside it
    assert name and f"<td>{name}（H001）</td>" in cases and "<td>H001</td>" not in cases
    assert f"<td>{name}（H001）</td>" in page[page.index("五、变化样例") :]
    rule = page[page.index('id="rule-LOS-001"') :]
    cells = re.findall(r'<td class="num">([^<]*)</td>', rule[: rule.index("</tr>")])
    los = direct.by_rule["LOS-001"]
    assert cells[:5] == [str(los.before), str(los.after), str(los.added), str(los.removed), str(los.changed)]
    hospital = direct.by_hospital["H001"]
    row = page[page.index('id="hospital-H001"') :]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row[: row.index("</tr>")])
    assert cells == [
        str(hospital.before), str(hospital.after), str(hospital.added), str(hospital.removed),
        str(hospital.changed), f"{hospital.amount_before:,.2f}", f"{hospital.amount_after:,.2f}",
    ]  # fmt: skip
    # The samples, explained in Chinese: the hit's own sentence and the condition that differs.
    assert "不再命中" in page and "满足条件“" in page and "成立 → 不成立" in page
    samples = page[page.index("五、变化样例") :]
    assert "参数“超长住院天数标准”：60 → 70" in samples, samples[:3000]
    # Nothing was written by the preview.
    session.expire_all()
    assert len(session.exec(select(ReviewCase)).all()) == cases_before


def test_preview_refusals_and_who_sees_a_preview(site, session: Session) -> None:
    app, version, batch = site
    auditor = _signed_in(app, "审核员")
    cases = [
        ({"batch": "", "region": "510100"}, "请选择要评估的"),
        ({"batch": "abc", "region": "510100"}, "不是批次号"),
        ({"batch": "9999", "region": "510100"}, "没有第 9999 批次"),
        ({"batch": "99999999999999999999999", "region": "510100"}, "批次"),
        ({"batch": "1", "region": "510100"}, "没有第 1 批次"),  # the hospitals' batch
        ({"batch": str(batch), "region": "510300"}, "没有就医地为 510300 的结算清单，无可比较"),
        ({"batch": str(batch), "region": "5101"}, "不是 6 位统筹区编码"),
    ]
    for form, words in cases:
        response = auditor.post(f"/rules/versions/{version}/impact", form)
        assert response.status_code == 400 and words in response.text, (form, response.text[-800:])
    assert auditor.post("/rules/versions/999/impact", {"batch": str(batch)}).status_code == 404
    regional = _signed_in(app, "审核绵阳")
    for region, words in (("510100", "不在您的账户范围内"), ("", "请选择统筹区")):
        response = regional.post(f"/rules/versions/{version}/impact", {"batch": str(batch), "region": region})
        assert response.status_code == 400 and words in response.text, region
    assert (
        _signed_in(app, "秘书").post(f"/rules/versions/{version}/impact", {"batch": str(batch)}).status_code
        == 403
    )
    bare = auditor.client.post(
        f"/rules/versions/{version}/impact", data={"batch": str(batch), "region": "510100"}
    )
    assert bare.status_code == 403
    # A preview of 510100: its starter and unscoped auditors see it; the 510700 auditor does not, nor
    # under another version's address.
    started = auditor.post(f"/rules/versions/{version}/impact", {"batch": str(batch), "region": "510100"})
    location = started.headers["location"]
    _finished(auditor, location)
    assert (
        regional.get(location).status_code == 404 and regional.get(location + "/progress").status_code == 404
    )
    other = location.replace(f"/rules/versions/{version}/", f"/rules/versions/{version + 100}/")
    assert auditor.get(other).status_code == 404
    # A result the service can no longer read (kept by another version of it): said, not a server error.
    job_id = int(location.rsplit("/", 1)[1])
    job = session.get(ScreenJob, job_id)
    set_result(
        session=session, job_id=job_id, result={**(job.result or {}), "impact": {"totals": {"kept": 1}}}
    )
    page = auditor.get(location)
    assert page.status_code == 200 and "无法显示；请重新评估" in page.text
    screen = insert_job(
        session=session, batch_id=batch, started_by="审核员", role="auditor", channel="web", total=0
    )
    finish_job(session=session, job_id=int(screen.id or 0), status="failed", error="测试")
    assert auditor.get(f"/rules/versions/{version}/impact/{screen.id}").status_code == 404  # not a preview


def test_a_preview_is_interrupted_only_when_its_process_is_gone(session: Session) -> None:
    """A running preview whose heartbeat stopped (on SQLite, another writer holding the casebook) is not
    judged gone while its process of this host lives; when that process has ended, it is, said in Chinese."""
    import os
    import socket
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from drgaudit.casebook.screenjobs import IMPACT_JOB
    from drgaudit.services.screenjobs import reap_stale_jobs

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    old = datetime.now(UTC) - timedelta(minutes=10)
    jobs = {}
    for name, pid in (("alive", os.getppid()), ("ended", ended.pid)):
        job = ScreenJob(
            kind=IMPACT_JOB,
            started_by="审核员",
            started_at=old,
            heartbeat_at=old,
            host=socket.gethostname(),
            pid=pid,
        )
        session.add(job)
        session.commit()
        jobs[name] = int(job.id or 0)
    reaped = {int(job.id or 0) for job in reap_stale_jobs(session=session)}
    assert reaped == {jobs["ended"]}
    session.expire_all()
    assert session.get(ScreenJob, jobs["alive"]).status == "running"
    gone = session.get(ScreenJob, jobs["ended"])
    assert gone.status == "interrupted" and "影响评估在完成前中断" in (gone.error or "")
