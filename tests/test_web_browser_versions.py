"""Rule-pack versions in a real browser (Playwright on the system's chromium) against `drgaudit serve`: a
version registered (as `drgaudit rules register` does), its impact previewed from its page (in the
background: the page shows the progress, polled, then the result), then promoted for 510100, where two
auditors must agree: the first one's request waits, the second one approves it from the versions page,
and the rules page then names the version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import packs
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.ingest import import_file
from drgaudit.services.accounts import cli_actor
from drgaudit.services.impact import ImpactRequest, rules_impact
from drgaudit.services.packs import register_pack
from drgaudit.services.screening import screen_batch
from tests import web_casebook
from tests.test_rule_packs import pack_copy
from tests.test_web_browser import CHROMIUM, SECRET, browser, casebook_url, flash, sign_in  # noqa: F401
from tests.test_web_versions_impact import stays
from tests.web_support import make_accounts, serving

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    ),
    pytest.mark.usefixtures("fast_passwords"),
]


@pytest.fixture
def served(casebook_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """The web casebook with a screened batch of long stays, a second auditor, the pack with LOS-001 at
    70 days registered; `drgaudit serve` on it."""
    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        web_casebook.build(session, tmp_path)
        make_accounts(session, ("审核员乙", "auditor"))
        batch = import_file(stays(tmp_path), kind="claims", session=session).batch_id
        screen_batch(
            session=session,
            batch_id=batch,
            actor=cli_actor(session=session, user="审核员", action="screen.run"),
        )
        version = register_pack(
            session=session,
            directory=pack_copy(tmp_path, "p70", los=70),
            actor="审核员",
            note="LOS-001 提高到70天",
        ).version
        direct = rules_impact(
            session=session,
            request=ImpactRequest(new_version=f"#{version.id}", batch_id=batch, region="510100"),
        )
    engine.dispose()
    with serving(casebook_url, tmp_path / "home", SECRET) as base:
        yield base, int(version.id or 0), batch, direct


def test_preview_then_promote_with_two_auditors_in_the_browser(
    browser,  # noqa: F811
    served,
    casebook_url: str,  # noqa: F811
) -> None:
    base, version, batch, direct = served
    context, page = sign_in(browser, base, "审核员")
    page.click("nav >> text=规则")
    page.click("text=规则包版本：登记的版本、影响评估与上线")
    row = page.locator(f"#version-{version}")
    assert "LOS-001 提高到70天" in row.inner_text() and "草稿（未上线）" in row.inner_text()
    row.locator("a").first.click()

    # The preview: started, its progress polled, then its result on the same address.
    page.select_option("#impact-form select[name=batch]", str(batch))
    page.select_option("#impact-form select[name=region]", "510100")
    page.click("#impact-form button[type=submit]")
    page.locator("#totals").wait_for(timeout=120_000)
    assert "评估完成" in flash(page)
    assert page.locator("#removed").inner_text() == f"{direct.totals.removed:,}"
    assert page.locator("#withdrawn").inner_text() == str(direct.case_counts.get("withdrawn", 0))
    assert "成立 → 不成立" in page.locator("table.samples").inner_text()

    # The first auditor asks to promote it for 510100 from today: it waits for a second auditor.
    page.click(f"a[href='/rules/versions/{version}']")
    today = dt.date.today().isoformat()
    page.select_option("#promote-form select[name=region]", "510100")
    page.fill("#promote-form input[name=effective_from]", today)
    page.fill("#promote-form input[name=note]", "提高到70天")
    page.click("#promote-form button[type=submit]")
    said = flash(page)
    assert "已提交第" in said and "还需另外 1 名审核员确认" in said
    assert "您已确认" in page.locator("#pending").inner_text()
    context.close()

    # The second auditor approves it from the versions page; it is in force at once.
    context, page = sign_in(browser, base, "审核员乙")
    page.goto(base + "/rules/versions")
    pending = page.locator("#pending tr", has_text="510100")
    assert "1 / 2（审核员）" in pending.inner_text()
    pending.locator("button", has_text="确认上线").click()
    page.wait_for_url(f"**/rules/versions/{version}")
    assert "现已生效" in flash(page)
    page.goto(base + "/rules/versions")
    assert f"#{version}" in page.locator("#region-510100").inner_text()
    assert "批准人 审核员乙" in page.locator("#region-510100").inner_text()
    page.goto(base + "/rules?region=510100")
    assert f"第 {version} 号登记版本" in page.locator("main").inner_text()
    context.close()
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        assert packs.active_version(session=session, region="510100").id == version
    engine.dispose()
