"""Rule-pack versions on the pages (规则包版本): the registered versions and what is in force per region,
promoting from the page with a second auditor where the region needs one (the same person cannot approve
twice), stopping a shadow run, the audit log's account, role and channel, and every refusal in Chinese
(roles, scope, CSRF, bad dates, unknown versions)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import auditlog, packs
from drgaudit.casebook.ingest import import_file
from drgaudit.services.packs import register_pack
from tests import web_casebook
from tests.conftest import write_table
from tests.test_rule_packs import pack_copy
from tests.web_support import Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")
TODAY = dt.date.today().isoformat()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Materialised packs go to a private home, never ~/.drgaudit."""
    folder = tmp_path / "home"
    monkeypatch.setenv("DRGAUDIT_HOME", str(folder))
    return folder


@pytest.fixture
def site(db_url: str, session: Session, tmp_path: Path):
    """The web casebook (510100 needs two people to promote, by the bundled pack), the bundled pack and a
    copy with LOS-001 at 70 days registered, a second auditor and one bound to 510700."""
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    hospitals = [{"hospital_id": "H701", "name": "绵阳示例医院", "region": "510700", "level": "3"}]
    import_file(write_table(tmp_path / "more.csv", hospitals), kind="hospitals", session=session)
    make_accounts(session, ("审核员乙", "auditor"), ("审核绵阳", "auditor:510700"))
    bundled = register_pack(session=session, directory=None, actor="审核员", note="内置规则包").version
    seventy = register_pack(
        session=session,
        directory=pack_copy(tmp_path, "p70", los=70),
        actor="审核员",
        note="LOS-001 提高到70天",
    ).version
    return web_app(db_url), bundled.id, seventy.id


def _signed_in(app, user: str) -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 303
    return browser


def _flash(browser: Browser, response) -> str:
    assert response.status_code == 303, response.text[:500]
    return browser.get(response.headers["location"]).text


def test_the_versions_and_what_each_region_uses(site) -> None:
    app, bundled, seventy = site
    page = _signed_in(app, "秘书").get("/rules/versions")
    assert page.status_code == 200 and "规则包版本" in page.text
    row = page.text[page.text.index(f'id="version-{seventy}"') :]
    row = row[: row.index("</tr>")]
    assert "LOS-001 提高到70天" in row and "审核员" in row and "草稿（未上线）" in row
    assert 'href="/rules/versions"' in _signed_in(app, "只读").get("/rules").text
    one = _signed_in(app, "只读").get(f"/rules/versions/{seventy}")
    assert one.status_code == 200 and "long_stay.yaml" in one.text
    assert 'id="promote-form"' not in one.text  # a viewer reads, never promotes
    assert _signed_in(app, "h001").get("/rules/versions").status_code == 403
    assert _signed_in(app, "专家甲").get("/rules/versions").status_code == 403


def test_promotion_with_a_second_auditor_from_the_page(site, session: Session) -> None:
    app, bundled, seventy = site
    first = _signed_in(app, "审核员")
    form = {"region": "510100", "stage": "active", "effective_from": TODAY, "note": "提高到70天"}
    said = _flash(first, first.post(f"/rules/versions/{seventy}/promote", form))
    assert "已提交第" in said and "须 2 人确认" in said and "还需另外 1 名审核员确认" in said
    page = first.get("/rules/versions").text
    pending = page[page.index('id="pending"') :]
    assert "1 / 2（审核员）" in pending and "还需 1 人" in pending and "您已确认" in pending
    # The same person again: refused, saying how many more are needed; nothing changes.
    again = first.post(f"/rules/versions/{seventy}/promote", form)
    assert again.status_code == 400 and "同一人不能再次确认" in again.text and "还需另外 1 名" in again.text
    assert packs.active_version(session=session, region="510100") is None
    # A second auditor approves it from the overview's button: in force today.
    second = _signed_in(app, "审核员乙")
    assert "确认上线" in second.get("/rules/versions").text
    said = _flash(second, second.post(f"/rules/versions/{seventy}/promote", {**form, "note": ""}))
    assert "已确认第" in said and "现已生效" in said
    session.expire_all()
    assert packs.active_version(session=session, region="510100").id == seventy
    row = second.get("/rules/versions").text
    row = row[row.index('id="region-510100"') :]
    assert f"#{seventy}" in row[: row.index("</tr>")] and "批准人 审核员乙" in row[: row.index("</tr>")]
    promotion = packs.promotions(session=session, region="510100")[0]
    log = auditlog.entries_for(session=session, entity=packs.PROMOTION_ENTITY, entity_id=promotion.id)
    assert [(e.actor, e.action, e.role, e.channel) for e in log] == [
        ("审核员", "requested", "auditor", "web"),
        ("审核员乙", "approved", "auditor", "web"),
    ]
    # The rules page now names the promoted version for 510100.
    assert "第 " + str(seventy) + " 号登记版本" in second.get("/rules?region=510100").text


def test_one_auditor_suffices_where_the_region_says_so_and_shadow_stops(site, session: Session) -> None:
    app, bundled, seventy = site
    auditor = _signed_in(app, "审核员")
    form = {"region": "510700", "stage": "shadow", "effective_from": TODAY}
    said = _flash(auditor, auditor.post(f"/rules/versions/{seventy}/promote", form))
    assert "已发布" in said and "影子运行" in said
    session.expire_all()
    assert packs.shadow_version(session=session, region="510700").id == seventy
    page = auditor.get("/rules/versions").text
    assert "停止影子运行" in page[page.index('id="region-510700"') :]
    said = _flash(
        auditor, auditor.post("/rules/versions/unshadow", {"region": "510700", "effective_from": TODAY})
    )
    assert "不再影子运行" in said
    session.expire_all()
    assert packs.shadow_version(session=session, region="510700") is None


def test_a_region_stops_a_shadow_it_inherits_for_itself_alone(site, session: Session) -> None:
    """A shadow published for every region had no stop button on a region's row: a regional auditor could
    not stop it for their region. Their region's own promotion comes before the national one."""
    app, bundled, seventy = site
    form = {"region": "national", "stage": "shadow", "effective_from": TODAY}
    for auditor in ("审核员", "审核员乙"):  # as many as the national publication needs
        browser = _signed_in(app, auditor)
        _flash(browser, browser.post(f"/rules/versions/{seventy}/promote", form))
        session.expire_all()
        if packs.shadow_version(session=session, region="510700") is not None:
            break
    assert packs.shadow_version(session=session, region="510700").id == seventy
    regional = _signed_in(app, "审核绵阳")
    row = regional.get("/rules/versions").text
    row = row[row.index('id="region-510700"') :]
    row = row[: row.index("</tr>")]
    assert "沿用全部统筹区的发布" in row and "停止影子运行" in row and "对其他统筹区照旧" in row
    said = _flash(
        regional, regional.post("/rules/versions/unshadow", {"region": "510700", "effective_from": TODAY})
    )
    assert "不再影子运行" in said
    session.expire_all()
    assert packs.shadow_version(session=session, region="510700") is None
    assert packs.shadow_version(session=session, region="510100").id == seventy  # others keep it


def test_a_regional_auditor_sees_and_promotes_its_region_only(site, session: Session) -> None:
    app, bundled, seventy = site
    regional = _signed_in(app, "审核绵阳")
    page = regional.get("/rules/versions").text
    assert (
        'id="region-510700"' in page
        and 'id="region-510100"' not in page
        and 'id="region-national"' not in page
    )
    form = regional.get(f"/rules/versions/{seventy}").text
    assert (
        '<option value="510700">' in form and 'value="510100"' not in form and 'value="national"' not in form
    )
    for region, words in (("510100", "不在您的账户范围内"), ("national", "不能为全部统筹区发布")):
        refused = regional.post(
            f"/rules/versions/{seventy}/promote",
            {"region": region, "stage": "active", "effective_from": TODAY},
        )
        assert refused.status_code == 400 and words in refused.text, region
    assert packs.promotions(session=session) == []
    said = _flash(
        regional,
        regional.post(f"/rules/versions/{seventy}/promote", {"region": "510700", "effective_from": TODAY}),
    )
    assert "已发布" in said


def test_refusals(site, session: Session) -> None:
    app, bundled, seventy = site
    auditor = _signed_in(app, "审核员")
    cases = [
        ({"region": "510700", "effective_from": "2026-13-01"}, "不是日期"),
        ({"region": "510700", "effective_from": ""}, "请填写生效日期"),
        ({"region": "51070", "effective_from": TODAY}, "不是 6 位统筹区编码"),
        ({"region": "", "effective_from": TODAY}, "请选择统筹区"),
        ({"region": "510700", "effective_from": TODAY, "stage": "live"}, "请选择上线方式"),
    ]
    for form, words in cases:
        response = auditor.post(f"/rules/versions/{seventy}/promote", form)
        assert response.status_code == 400 and words in response.text, form
    for path in ("/rules/versions/999/promote", "/rules/versions/99999999999999999999999/promote"):
        response = auditor.post(path, {"region": "510700", "effective_from": TODAY})
        assert response.status_code == 404 and "未找到" in response.text
    assert auditor.get("/rules/versions/999").status_code == 404
    assert auditor.get("/rules/versions/abc").status_code == 404
    # Without the form's CSRF token, or by a role that may not promote: refused, nothing stored.
    bare = auditor.client.post(
        f"/rules/versions/{seventy}/promote", data={"region": "510700", "effective_from": TODAY}
    )
    assert bare.status_code == 403 and "CSRF" in bare.text
    secretary = _signed_in(app, "秘书")
    assert (
        secretary.post(
            f"/rules/versions/{seventy}/promote", {"region": "510700", "effective_from": TODAY}
        ).status_code
        == 403
    )
    assert (
        secretary.post("/rules/versions/unshadow", {"region": "510700", "effective_from": TODAY}).status_code
        == 403
    )
    assert packs.promotions(session=session) == []


def test_three_auditors_where_the_version_asks_for_three(site, session: Session, tmp_path: Path) -> None:
    """`pack_promotion_approvers: 3`: the second auditor's approval is recorded and the page says one
    more is needed; neither of the two may approve again; the third puts it in force."""
    app, bundled, seventy = site
    make_accounts(session, ("审核员丙", "auditor"))
    three = register_pack(
        session=session, directory=pack_copy(tmp_path, "three", approvers=3), actor="审核员"
    ).version
    form = {"region": "510700", "stage": "active", "effective_from": TODAY}
    first, second = _signed_in(app, "审核员"), _signed_in(app, "审核员乙")
    assert "须 3 人确认" in _flash(first, first.post(f"/rules/versions/{three.id}/promote", form))
    said = _flash(second, second.post(f"/rules/versions/{three.id}/promote", form))
    assert "已确认 2 / 须确认 3 人" in said and "还需另外 1 名" in said
    assert "2 / 3（审核员、审核员乙）" in second.get("/rules/versions").text
    for who in (first, second):
        again = who.post(f"/rules/versions/{three.id}/promote", form)
        assert (
            again.status_code == 400 and "同一人不能再次确认" in again.text and "还需另外 1 名" in again.text
        )
    session.expire_all()
    assert packs.active_version(session=session, region="510700") is None
    third = _signed_in(app, "审核员丙")
    assert "现已生效" in _flash(third, third.post(f"/rules/versions/{three.id}/promote", form))
    session.expire_all()
    assert packs.active_version(session=session, region="510700").id == three.id
