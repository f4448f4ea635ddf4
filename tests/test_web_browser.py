"""A whole meeting in a real browser (Playwright on the system's chromium) against `drgaudit serve` on a
demo casebook: a secretary with two expert accounts creates a meeting, fills its agenda within the quota
(with a recorded override), records attendees, runs the meeting room (opinions, decisions), closes it and
downloads the minutes PDF, whose text holds the decisions; the hospital sees only its cases and appeals
one with a PDF, which the auditor then sees on the case; an insured region answers a 协查 request; a
`deduct` finding is appealed by its hospital and re-reviewed by an auditor, another one left unanswered
is confirmed at its due date; the web decision shows its account in `queue show` and `casebook verify`.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session
from typer.testing import CliRunner

from drgaudit.casebook.db import make_engine
from drgaudit.casebook.findings import Finding
from drgaudit.casebook.models import Claim
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.cli.root import app as cli
from drgaudit.demo.run import run_demo
from tests import web_casebook
from tests.web_casebook import PDF
from tests.web_support import PASSWORD, make_accounts, serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    ),
    pytest.mark.usefixtures("fast_passwords"),
]
SECRET = "browser-test-secret-" + "y" * 40


@pytest.fixture
def casebook_url(db_backend: str, db_url: str, tmp_path: Path) -> str:
    """A casebook the server process can open: a SQLite file, or the test's PostgreSQL database."""
    return f"sqlite:///{tmp_path / 'casebook.sqlite'}" if db_backend == "sqlite" else db_url


class Scene:
    """What the demo casebook offers the scenario: a region, a hospital of it with cases and findings."""

    def __init__(self, url: str) -> None:
        engine = make_engine(url)
        with Session(engine) as session:
            cases = list(
                session.exec(
                    select(ReviewCase).where(ReviewCase.status == "new").order_by(ReviewCase.priority.desc())
                ).scalars()
            )
            findings = list(session.exec(select(Finding).where(Finding.state == "open")).scalars())
            by_hospital: dict[str, list[Finding]] = {}
            for finding in findings:
                by_hospital.setdefault(finding.hospital_id, []).append(finding)
            top: dict[str, list[ReviewCase]] = {}
            for case in cases:
                top.setdefault(case.region, []).append(case)

            def fits(case: ReviewCase) -> bool:
                mine = by_hospital.get(case.hospital_id, [])
                return any(f.action == "deduct" for f in mine) and len(mine) >= 2

            region, chosen = next(
                (region, case)
                for region, region_cases in top.items()
                for case in region_cases[:30]
                if fits(case)
            )
            region_cases = top[region]
            self.region, self.hospital, self.case = region, chosen.hospital_id, chosen.id
            self.other_case = next(c.id for c in region_cases[:30] if c.id != chosen.id)
            mine = by_hospital[self.hospital]
            self.deduct = next(f.id for f in mine if f.action == "deduct")
            self.unanswered = next(f.id for f in mine if f.id != self.deduct)
            claim = (
                session.exec(
                    select(Claim).where(Claim.treatment_region == region, Claim.insured_region != region)
                )
                .scalars()
                .first()
            )
            self.claim, self.insured = claim.claim_id, claim.insured_region
        engine.dispose()


@pytest.fixture
def served(casebook_url: str, tmp_path: Path):
    """The demo province (3,000 claims) in the casebook, accounts made, `drgaudit serve` running on it."""
    run_demo(tmp_path / "demo", claims=3000, db_url=casebook_url)
    scene = Scene(casebook_url)
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        make_accounts(
            session, ("审核员", "auditor"), ("秘书", "secretary"), ("专家甲", "expert"), ("专家乙", "expert"),
            ("医院", f"hospital:{scene.hospital}"), ("参保地", f"insured_region:{scene.insured}"),
        )  # fmt: skip
    engine.dispose()
    with serving(casebook_url, tmp_path / "home", SECRET) as base:
        yield base, scene, casebook_url


@pytest.fixture
def small_served(casebook_url: str, tmp_path: Path):
    """The small casebook of tests/web_casebook.py, `drgaudit serve` running on it."""
    engine = make_engine(casebook_url)
    with Session(engine) as session:
        book = web_casebook.build(session, tmp_path)
    engine.dispose()
    with serving(casebook_url, tmp_path / "home", SECRET) as base:
        yield base, book


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(browser, base: str, username: str):
    """A fresh browser context signed in as `username`; confirmation dialogs are accepted."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(\?.*)?$"))
    assert page.locator(".who .account").inner_text() == username
    return context, page


def flash(page) -> str:
    return page.locator("p.flash").inner_text()


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_whole_meeting_and_the_hospital_and_region_sides(browser, served, tmp_path: Path) -> None:
    base, scene, url = served
    held_on = (date.today() + timedelta(days=3)).isoformat()

    # The secretary creates the meeting and fills its agenda, over quota with a recorded reason.
    secretary, page = sign_in(browser, base, "秘书")
    page.click("nav.menu >> text=评议会议")
    page.select_option("select[name=region]", scene.region)
    page.fill("input[name=held_on]", held_on)
    page.fill("input[name=capacity]", "2")
    page.fill("input[name=title]", "浏览器测试评议会")
    page.click("form[action='/meetings'] button[type=submit]")
    assert "已创建会议" in flash(page)
    meeting = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    assert page.locator("text=本院本期额度").count() >= 1  # the quota is shown for every waiting case
    page.check(f"input[name=cases][value='{scene.case}']")
    page.check(f"input[name=cases][value='{scene.other_case}']")
    page.fill("input[name=override]", "高额病例须上会审议")
    page.click("form[action$='/schedule'] button:not([name])")
    assert "已排入 2 件" in flash(page)
    agenda = page.locator("h2:has-text('议程') + table tbody tr")
    assert agenda.count() == 2
    for name, role in (("专家甲", "主审专家"), ("专家乙", "评审专家")):
        page.select_option("select[name=account]", name)
        page.fill("input[name=role]", role)
        page.click("form[action$='/attendees'] button")
        assert name in flash(page)
    page.fill("input[name=attendee]", "李四")
    page.fill("input[name=role]", "医保局代表")
    page.click("form[action$='/attendees'] button")
    assert page.locator("#attendees + table tbody tr").count() == 3

    # Both experts read the cases of their meeting and give their opinions, one case at a time.
    for expert, suggestion in (("专家甲", "deduct"), ("专家乙", "standard")):
        context, room = sign_in(browser, base, expert)
        room.goto(f"{base}/meetings/{meeting}/room")
        for item in (1, 2):
            assert f"第 {item} / 2 项" in room.locator("section.room h1").inner_text()
            room.select_option("#opinion-form select[name=suggestion]", suggestion)
            room.fill("#opinion-form textarea[name=body]", f"{expert}意见{item}")
            room.click("#opinion-form button[type=submit]")
            assert "您的意见已记录" in flash(room)
            if item == 1:
                room.click("text=下一案")
        assert room.locator("#decision-form").count() == 0  # experts do not decide
        context.close()

    # The secretary runs the meeting room: opinions shown, decisions recorded, next case follows.
    page.goto(f"{base}/meetings/{meeting}/room?item=1")
    case_one = int(re.search(r"案件 (\d+)", page.locator("section.room h2").inner_text()).group(1))
    assert page.locator("text=专家甲意见1").count() == 1 and page.locator("text=专家乙意见1").count() == 1
    page.check("#decision-form input[name=kind][value=deduct]")
    page.fill("#decision-form input[name=amount]", "1200")
    page.fill("#decision-form textarea[name=reason]", "部分检查无医嘱依据予以扣减")
    page.click("#decision-form button[type=submit]")
    assert "已记录" in flash(page) and "第 2 / 2 项" in page.locator("section.room h1").inner_text()
    page.check("#decision-form input[name=kind][value=special]")
    page.fill("#decision-form input[name=item_name]", "体外膜肺氧合")
    page.fill("#decision-form input[name=item_amount]", "18000")
    page.click("#decision-form [data-add-item]")
    page.locator("#decision-form input[name=item_name]").nth(1).fill("输血")
    page.locator("#decision-form input[name=item_amount]").nth(1).fill("2000")
    page.fill("#decision-form input[name=quota_override]", "抢救病例确需追加")
    page.fill("#decision-form textarea[name=reason]", "危重抢救同意特例追加支付")
    page.click("#decision-form button[type=submit]")
    assert "20,000.00" in flash(page)
    page.goto(f"{base}/meetings/{meeting}")
    page.fill("form[action$='/close'] textarea[name=note]", "应到4人，实到4人")
    page.click("form[action$='/close'] button")
    assert "会议已结束" in flash(page)
    minutes = secretary.request.get(f"{base}/meetings/{meeting}/minutes.pdf")
    assert minutes.ok and minutes.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    text = squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(minutes.body())).pages))
    for expected in (
        "部分检查无医嘱依据予以扣减",
        "危重抢救同意特例追加支付",
        "1,200.00",
        "20,000.00",
        "应到4人，实到4人",
    ):
        assert expected in text, expected
    secretary.close()

    # The hospital sees only its own cases and appeals its decided case with a PDF.
    hospital, page = sign_in(browser, base, "医院")
    page.goto(f"{base}/queue?status=all")
    names = set(page.locator("table.queue tbody td:nth-child(3)").all_inner_texts())
    assert len(names) == 1
    decided = scene.case
    page.goto(f"{base}/cases/{scene.other_case}")
    assert (
        "未找到" in page.title() or scene.hospital in page.content()
    )  # another hospital's case is "not found"
    page.goto(f"{base}/cases/{decided}")
    assert page.locator("form[action$='/appeal']").count() == 1
    page.fill("form[action$='/appeal'] textarea[name=reason]", "补充提供了完整医嘱与检查报告")
    page.set_input_files(
        "form[action$='/appeal'] input[type=file]",
        {"name": "医嘱.pdf", "mimeType": "application/pdf", "buffer": PDF},
    )
    page.click("form[action$='/appeal'] button")
    assert "申诉已提交" in flash(page)
    hospital_page = page

    # The auditor sees the appeal and its PDF on the case.
    auditor, page = sign_in(browser, base, "审核员")
    page.goto(f"{base}/cases/{decided}")
    assert page.locator("text=补充提供了完整医嘱与检查报告").count() == 1
    link = page.locator("a:has-text('医嘱.pdf')")
    attachment = auditor.request.get(base + link.get_attribute("href"))
    assert attachment.body() == PDF and attachment.headers["content-type"] == "application/pdf"

    # 协查: the treatment region asks the insured region, whose account answers.
    page.goto(f"{base}/assist")
    page.fill("input[name=claim_id]", scene.claim)
    page.fill("textarea[name=question]", "请核实该参保人同期是否在参保地住院")
    page.fill("input[name=due]", (date.today() + timedelta(days=5)).isoformat())
    page.click("form[action='/assist'] button")
    assert "已发出" in flash(page)
    region, answer = sign_in(browser, base, "参保地")
    answer.goto(f"{base}/assist")
    row = answer.locator("tr", has_text="请核实该参保人同期是否在参保地住院")
    row.locator("select[name=result]").select_option("not_confirmed")
    row.locator("textarea[name=answer]").fill("经核实同期未在参保地住院")
    row.locator("button").click()
    assert "已答复" in flash(answer)
    region.close()
    page.goto(f"{base}/assist?status=all")
    assert page.locator("text=经核实同期未在参保地住院").count() == 1

    # A deduct finding: the hospital appeals it, the auditor re-reviews it.
    page_h = hospital_page
    page_h.goto(f"{base}/findings/{scene.deduct}")
    page_h.check("input[name=decision][value=appeal]")
    page_h.fill("form[action$='/answer'] textarea[name=reason]", "该费用有医嘱及病程记录")
    page_h.click("form[action$='/answer'] button")
    assert "申诉已提交" in flash(page_h)
    page.goto(f"{base}/findings/{scene.deduct}")
    assert page.locator("text=该费用有医嘱及病程记录").count() == 1
    page.check("input[name=outcome][value=adjusted]")
    page.fill("form[action$='/rereview'] input[name=amount]", "10")
    page.fill("form[action$='/rereview'] textarea[name=reason]", "部分费用有依据")
    page.click("form[action$='/rereview'] button")
    assert "复审结论已记录" in flash(page)
    assert page.locator("text=复审调整金额").count() >= 1

    # Another finding left unanswered is confirmed once its due date has passed.
    engine = make_engine(url)
    with Session(engine) as session:
        session.execute(
            update(Finding)
            .where(Finding.id == scene.unanswered)
            .values(due_date=date.today() - timedelta(days=1))
        )
        session.commit()
    engine.dispose()
    done = CliRunner().invoke(cli, ["findings", "confirm-overdue", "--user", "审核员", "--db", url])
    assert done.exit_code == 0 and f"finding {scene.unanswered} " in done.output, done.output
    page_h.goto(f"{base}/findings/{scene.unanswered}")
    assert page_h.locator("text=逾期未答复，视为认可").count() >= 1
    assert page_h.locator("form[action$='/answer']").count() == 0
    hospital.close()
    auditor.close()

    # The decision made on the web names its account in `queue show` and in the verified log.
    shown = CliRunner().invoke(cli, ["queue", "show", str(case_one), "--db", url])
    assert "by 秘书 in meeting" in shown.output and "秘书 (secretary, web) decided" in shown.output
    verified = CliRunner().invoke(cli, ["casebook", "verify", "--tail", "400", "--db", url])
    assert verified.exit_code == 0 and "秘书 (secretary, web) decided review_case" in verified.output
    assert "audit log intact" in verified.output


# Click a button, and again 5 ms later: an impatient second click while the first request is on its way.
CLICK_TWICE = "(button) => { button.click(); setTimeout(() => button.click(), 5); }"


def test_a_form_clicked_twice_is_sent_once_and_can_be_sent_again_after_going_back(
    browser, small_served
) -> None:
    """Two clicks sent a changing form twice (two identical 协查 requests, replies, meetings; an
    "already exists" page instead of an account's one-time password)."""
    base, _ = small_served
    context, page = sign_in(browser, base, "参保地")

    def requests(text: str) -> int:
        page.goto(f"{base}/assist?status=all")
        return page.locator("td", has_text=text).count()

    page.goto(f"{base}/assist")
    page.fill("input[name=claim_id]", "C000005")
    page.fill("textarea[name=question]", "请核实是否挂床")
    page.locator("form[action='/assist'] button").evaluate(CLICK_TWICE)
    page.wait_for_selector("p.flash")
    page.wait_for_timeout(300)  # a second request, had one gone, would be answered by now
    assert requests("请核实是否挂床") == 1

    # A refused form, then the browser's back button: the form is sent again once corrected.
    page.goto(f"{base}/assist")
    page.fill("input[name=claim_id]", "C000006")
    page.fill("textarea[name=question]", "请核实同期是否在参保地住院")
    page.fill("input[name=due]", "2020-01-01")
    page.click("form[action='/assist'] button")
    assert "已过" in page.locator("p.error").inner_text()
    page.go_back()
    page.fill("input[name=claim_id]", "C000006")
    page.fill("textarea[name=question]", "请核实同期是否在参保地住院")
    page.fill("input[name=due]", "")
    page.click("form[action='/assist'] button")
    assert "已发出" in flash(page)
    assert requests("请核实同期是否在参保地住院") == 1
    context.close()


def test_a_decision_sends_only_the_fields_of_the_kind_chosen_last(browser, small_served) -> None:
    """An amount typed for a deduction, the kind then changed to 按病组标准支付, was sent all the same and
    the decision refused ('不填写金额') by a field the page no longer showed."""
    base, book = small_served
    context, page = sign_in(browser, base, "秘书")
    page.goto(f"{base}/meetings/{book.meeting}/room")
    page.check("#decision-form input[name=kind][value=deduct]")
    page.fill("#decision-form input[name=amount]", "1200")
    page.check("#decision-form input[name=kind][value=standard]")
    assert not page.locator("#decision-form input[name=amount]").is_visible()
    page.fill("#decision-form textarea[name=reason]", "费用合理，按病组标准支付")
    page.click("#decision-form button[type=submit]")
    assert "按病组标准支付 0.00 元，已记录" in flash(page)
    context.close()
