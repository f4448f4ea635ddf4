"""The rules page (规则): the pack that screens each region the account may read and its rules in force,
in Chinese, with the region's own parameter values and switched-off rules; one rule's page; access."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from tests import web_casebook
from tests.conftest import write_table
from tests.web_support import Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def site(db_url: str, session: Session, tmp_path: Path):
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    hospitals = [
        {"hospital_id": "H701", "name": "绵阳示例医院", "region": "510700", "level": "3"},
        {"hospital_id": "H1301", "name": "南充示例医院", "region": "511300", "level": "3"},
    ]
    import_file(write_table(tmp_path / "more.csv", hospitals), kind="hospitals", session=session)
    make_accounts(session, ("审核绵阳", "auditor:510700"))
    return web_app(db_url)


def _signed_in(app, user: str) -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 303
    return browser


def test_the_rules_in_force_with_the_regions_own_values(site) -> None:
    auditor = _signed_in(site, "审核员")
    page = auditor.get("/rules?region=510700")
    assert page.status_code == 200 and "在用审核规则" in page.text
    text = page.text
    row = text[text.index('href="/rules/COST-001?region=510700"') :]
    row = row[: row.index("</tr>")]
    # Chinese names, never codes; the region's own value (0.25, marked 本地) over the national default 0.3.
    assert "自费及院外购药占比过高" in row and "转嫁费用" in row and "cost_shifting" not in row
    assert "自费及院外购药占比上限：0.25" in row and "本地" in row
    assert 'href="/rules"' in text  # the menu
    national = auditor.get("/rules?region=510100").text
    row = national[national.index('href="/rules/COST-001?region=510100"') :]
    assert "自费及院外购药占比上限：0.3<" in row[: row.index("</tr>")]
    off = auditor.get("/rules?region=511300").text
    row = off[off.index('href="/rules/COST-002?region=511300"') :]
    assert "不执行" in row[: row.index("</tr>")]


def test_one_rule_with_its_basis_conditions_and_examples(site) -> None:
    auditor = _signed_in(site, "审核员")
    page = auditor.get("/rules/COST-001?region=510700")
    assert page.status_code == 200
    text = page.text
    assert "COST-001 自费及院外购药占比过高" in text and "self_share &gt;= params.max_self_share" in text
    assert "本统筹区设置" in text and "应命中" in text and "不应命中" in text
    assert "川医保办发" in text or "《" in text  # the basis, as references.yaml names it
    assert auditor.get("/rules/NOPE-001?region=510700").status_code == 404


def test_who_reads_which_regions_rules(site) -> None:
    regional = _signed_in(site, "审核绵阳")
    page = regional.get("/rules").text
    assert 'value="510700" selected' in page and 'value="510100"' not in page
    assert regional.get("/rules?region=510100").status_code == 404
    assert regional.get("/rules/COST-001?region=510100").status_code == 404
    for user in ("专家甲", "秘书", "只读"):
        assert _signed_in(site, user).get("/rules").status_code in (200, 403), user
    hospital = _signed_in(site, "h001")
    assert hospital.get("/rules").status_code == 403
    assert 'href="/rules"' not in hospital.get("/queue").text
