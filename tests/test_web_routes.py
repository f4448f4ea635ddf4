"""Every route of the review service × every role (and a hospital and a region of the wrong id): allowed
or refused, as this table states independently of drgaudit.services.access. A route missing from the
table fails the test, so a new page (or API route) must say who may reach it.

Allowed = the request got past the access checks (200, a redirect elsewhere than the log-in page, or a
400/409 refusal of the form's content); refused = 403, 404 (out of scope is answered as missing), or
the log-in page. POSTs carry their CSRF token and a plausible form, so the services' object checks run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.routing import Mount, Route

from drgaudit.casebook.screenjobs import IMPACT_JOB, finish_job, insert_job, set_result
from drgaudit.labels import FORM_LABELS
from drgaudit.services.packs import register_pack
from tests import web_casebook
from tests.web_support import Browser, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")

ROLES = {
    "admin": "admin", "auditor": "审核员", "secretary": "秘书", "expert": "专家甲", "expert_elsewhere": "专家乙",
    "hospital": "h001", "other_hospital": "h002", "insured": "参保地", "other_region": "参保地乙", "viewer": "只读",
}  # fmt: skip
EVERYONE = set(ROLES)
CASE_READERS = {"auditor", "secretary", "viewer", "expert", "hospital"}
LIST_CASES = CASE_READERS | {"expert_elsewhere", "other_hospital"}
MEETING_READERS = {"auditor", "secretary", "viewer", "expert"}

# (method, path) → roles allowed. Paths are the routes' own templates.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/password"): EVERYONE,
    ("POST", "/password"): EVERYONE,
    ("GET", "/queue"): LIST_CASES,
    ("GET", "/queue.xlsx"): {"auditor", "secretary", "viewer", "hospital", "other_hospital"},
    ("GET", "/cases/{case_id}"): CASE_READERS,
    ("POST", "/cases/{case_id}/assign"): {"auditor"},
    ("POST", "/cases/{case_id}/reply"): {"auditor", "hospital"},
    ("POST", "/cases/{case_id}/appeal"): {"auditor", "hospital"},
    ("GET", "/attachments/{attachment_id}"): CASE_READERS,
    ("GET", "/meetings"): MEETING_READERS | {"expert_elsewhere"},
    ("POST", "/meetings"): {"secretary"},
    ("GET", "/meetings/{meeting_id}"): MEETING_READERS,
    ("POST", "/meetings/{meeting_id}/schedule"): {"secretary"},
    ("POST", "/meetings/{meeting_id}/attendees"): {"secretary"},
    ("GET", "/meetings/{meeting_id}/room"): MEETING_READERS,
    ("POST", "/meetings/{meeting_id}/cases/{case_id}/decide"): {"secretary"},
    ("POST", "/meetings/{meeting_id}/cases/{case_id}/opinion"): {"expert"},
    ("POST", "/meetings/{meeting_id}/close"): {"secretary"},
    ("GET", "/meetings/{meeting_id}/{kind}.{fmt}"): MEETING_READERS,
    ("GET", "/rules"): {"auditor", "secretary", "viewer"},
    ("GET", "/rules/{rule_id}"): {"auditor", "secretary", "viewer"},
    ("GET", "/rules/versions"): {"auditor", "secretary", "viewer"},
    ("GET", "/rules/versions/{version_id}"): {"auditor", "secretary", "viewer"},
    ("POST", "/rules/versions/{version_id}/promote"): {"auditor"},
    ("POST", "/rules/versions/unshadow"): {"auditor"},
    ("POST", "/rules/versions/{version_id}/impact"): {"auditor"},
    ("GET", "/rules/versions/{version_id}/impact/{job_id}"): {"auditor"},
    ("GET", "/rules/versions/{version_id}/impact/{job_id}/progress"): {"auditor"},
    ("GET", "/findings"): {"auditor", "secretary", "viewer", "hospital", "other_hospital"},
    ("GET", "/findings/{finding_id}"): {"auditor", "secretary", "viewer", "hospital"},
    ("POST", "/findings/{finding_id}/answer"): {"hospital"},
    ("POST", "/findings/{finding_id}/rereview"): {"auditor"},
    ("POST", "/findings/{finding_id}/escalate"): {"auditor"},
    ("GET", "/assist"): {"auditor", "viewer", "insured", "other_region"},
    ("POST", "/assist"): {"auditor", "insured"},
    ("POST", "/assist/{request_id}/answer"): {"auditor"},
    ("GET", "/reports"): {
        "auditor",
        "secretary",
        "viewer",
        "hospital",
        "other_hospital",
        "insured",
        "other_region",
    },
    ("GET", "/reports/summary.{fmt}"): {"auditor", "secretary", "viewer"},
    ("GET", "/reports/monitoring.{fmt}"): {"auditor", "secretary", "viewer"},
    ("GET", "/reports/feedback.{fmt}"): {"auditor", "viewer", "hospital"},
    ("GET", "/reports/clearing.{fmt}"): {"auditor", "secretary", "viewer", "insured", "other_region"},
    ("GET", "/batches"): {"auditor"},
    ("POST", "/batches"): {"auditor"},
    ("POST", "/batches/{batch_id}/screen"): {"auditor"},
    ("GET", "/batches/{batch_id}/rejects.xlsx"): {"auditor"},
    ("GET", "/batches/jobs/{job_id}"): {"auditor"},
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    ("POST", "/admin/roles"): {"admin"},
    ("POST", "/admin/users/{username}/{action}"): {"admin"},
}
# Routes open without an account, and routes checked elsewhere (log-in/-out: tests/test_web_auth.py).
PUBLIC = {("GET", "/login"), ("POST", "/login")}
# Swagger UI's own script and style sheet are static files (no data). The API's schema and docs page need a
# caller like everything else (the lead's decision: deny by default).
API_DOCS_ASSETS = re.compile(r"^/api/v1/docs/(start\.js|swagger-ui-bundle\.js|swagger-ui\.css)$")
API_DOCS = ("/api/v1/openapi.json", "/api/v1/docs")
ELSEWHERE = {("POST", "/logout")}


def forms(book: web_casebook.Book) -> dict[tuple[str, str], dict[str, object]]:
    """A plausible form for each POST, so that the services' own checks run."""
    return {
        ("POST", "/password"): {"current": "wrong", "new": "a new password 1", "repeat": "a new password 1"},
        ("POST", "/cases/{case_id}/assign"): {"assignee": "审核员"},
        ("POST", "/cases/{case_id}/reply"): {"body": "说明"},
        ("POST", "/cases/{case_id}/appeal"): {"reason": "不服"},
        ("POST", "/meetings"): {"region": "510100", "held_on": "2027-01-10", "capacity": "3"},
        ("POST", "/meetings/{meeting_id}/schedule"): {"cases": [str(book.case_h002)], "override": "测试"},
        ("POST", "/meetings/{meeting_id}/attendees"): {"attendee": "旁听", "role": "列席"},
        ("POST", "/meetings/{meeting_id}/cases/{case_id}/decide"): {"kind": "standard", "reason": "合理"},
        ("POST", "/meetings/{meeting_id}/cases/{case_id}/opinion"): {
            "suggestion": "standard",
            "body": "合理",
        },
        ("POST", "/meetings/{meeting_id}/close"): {},
        ("POST", "/findings/{finding_id}/answer"): {"decision": "appeal", "reason": "有医嘱"},
        ("POST", "/findings/{finding_id}/rereview"): {"outcome": "upheld", "reason": "维持"},
        ("POST", "/findings/{finding_id}/escalate"): {"reason": "上会"},
        ("POST", "/assist"): {"claim_id": "C000001", "question": "核实"},
        ("POST", "/assist/{request_id}/answer"): {"result": "confirmed", "answer": "属实"},
        ("POST", "/batches"): {"table": "claims"},  # no file: refused as incomplete (400)
        # a day that is none: refused (400) once the account and region are checked
        ("POST", "/rules/versions/{version_id}/promote"): {
            "region": "510100",
            "effective_from": "2026-02-30",
        },
        ("POST", "/rules/versions/unshadow"): {"region": "510100", "effective_from": "2026-02-30"},
        ("POST", "/rules/versions/{version_id}/impact"): {
            "batch": "2",
            "region": "5101",
        },  # not a region (400)
        ("POST", "/admin/users"): {"username": "新账户", "role": "viewer"},
        ("POST", "/admin/roles"): {"username": "dummy", "role": "secretary"},
        ("POST", "/admin/users/{username}/{action}"): {},
    }


def url(path: str, book: web_casebook.Book) -> str:
    values = {
        "case_id": book.case_h001, "meeting_id": book.meeting, "finding_id": book.finding_h001,
        "attachment_id": book.attachment, "request_id": book.request, "username": "dummy", "action": "reset",
        "kind": "minutes", "fmt": "html", "batch_id": 1,  # batch 1 holds hospitals: a screen is refused (400)
        "job_id": 1,  # the site's screen job of batch 2
        "rule_id": "LOS-001",
        "version_id": 1,  # the bundled pack, registered by the site
    }  # fmt: skip
    if "/impact/{job_id}" in path:
        path = path.replace("{job_id}", "2")  # the site's finished impact preview of version 1
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    query = {
        "/reports/summary.html": "?batch=2", "/reports/monitoring.html": "?period=2025",
        "/reports/feedback.html": "?hospital=H001&period=2025", "/reports/clearing.html": "?period=2025",
    }  # fmt: skip
    return path + query.get(path, "")


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route, also those of included routers (FastAPI includes them lazily: their
    effective routes carry the full path, prefix included)."""
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found += [(method, route.path) for method in sorted(route.methods) if method != "HEAD"]
        elif isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
        elif isinstance(route, Route):
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                methods = getattr(context.original_route, "methods", None) or set()
                found += [(method, context.path) for method in sorted(methods) if method != "HEAD"]
        else:
            raise AssertionError(f"a route of unknown kind: {route!r}")
    return found


@pytest.fixture
def site(db_url: str, session: Session, tmp_path: Path):
    book = web_casebook.build(session, tmp_path)
    # A screen job that ended, for the poll's route (/batches/jobs/{job_id}).
    finish_job(
        session=session, status="failed", error="测试",
        job_id=insert_job(session=session, batch_id=2, started_by="审核员", role="auditor", channel="web", total=0).id or 0,
    )  # fmt: skip
    register_pack(session=session, directory=None, actor="审核员", note="内置规则包")
    # A finished impact preview of that version (/rules/versions/{version_id}/impact/{job_id}).
    preview = insert_job(
        session=session,
        kind=IMPACT_JOB,
        batch_id=None,
        started_by="审核员",
        role="auditor",
        channel="web",
        total=0,
    )
    set_result(
        session=session,
        job_id=preview.id or 0,
        result={"request": {"version_id": 1, "batch_id": 2, "region": None}},
    )
    finish_job(session=session, job_id=preview.id or 0, status="failed", error="测试")
    return web_app(db_url, api=True), book


def outcome(response) -> str:
    location = response.headers.get("location", "")
    if response.status_code in (401, 403, 404) or location.startswith("/login"):
        return "refused"
    assert response.status_code < 500, response.text[:500]
    return "allowed"


def test_every_route_is_declared(site) -> None:
    app, _ = site
    declared = set(EXPECTED) | PUBLIC | ELSEWHERE
    routes = app_routes(app)
    assert ("POST", "/api/v1/screen") in routes, "the API is mounted as `drgaudit serve` runs it"
    missing = [r for r in routes if r not in declared and not r[1].startswith("/api/")]
    assert missing == [], "declare who may reach these routes in EXPECTED"
    assert [r for r in declared if r not in routes] == []


def test_nothing_is_reachable_without_an_account(site) -> None:
    app, book = site
    browser = Browser(app)
    for method, path in app_routes(app):
        if (method, path) in PUBLIC or API_DOCS_ASSETS.match(path):
            continue
        response = browser.client.request(method, url(path, book))
        assert outcome(response) == "refused", (method, path, response.status_code)
    assert browser.get("/login").status_code == 200
    assert browser.get("/static/app.js").status_code == 200


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_route_for_every_role(site, role: str) -> None:
    app, book = site
    browser = Browser(app)
    assert browser.login(ROLES[role]).status_code == 303
    bodies = forms(book)
    results = {}
    for method, path in app_routes(app):
        if (method, path) in PUBLIC | ELSEWHERE or path.startswith("/api/"):
            continue
        if method == "GET":
            response = browser.get(url(path, book))
        else:
            response = browser.post(url(path, book), bodies.get((method, path), {}))
        results[(method, path)] = outcome(response)
    wrong = {
        key: got for key, got in results.items() if got != ("allowed" if role in EXPECTED[key] else "refused")
    }
    assert wrong == {}, f"{role}: {wrong}"


def test_api_routes_refuse_requests_without_credentials(site) -> None:
    app, book = site
    browser = Browser(app)
    for method, path in app_routes(app):
        if path.startswith("/api/") and not API_DOCS_ASSETS.match(path):
            response = browser.client.request(method, url(path, book))
            if path == "/api/v1/docs":  # a page: sends the browser to the log-in page
                assert outcome(response) == "refused", (method, path, response.status_code)
                continue
            assert response.status_code in (401, 403, 404, 405), (method, path, response.status_code)


@pytest.mark.parametrize("role", ["hospital", "viewer"])
def test_api_documentation_needs_a_signed_in_account(site, role: str) -> None:
    app, _ = site
    browser = Browser(app)
    for path in API_DOCS:
        assert outcome(browser.client.get(path)) == "refused", path
    assert browser.login(ROLES[role]).status_code == 303
    for path in API_DOCS:
        assert browser.get(path).status_code == 200, path


def test_an_insured_region_reads_its_requests_with_their_claims_and_no_case(site) -> None:
    app, book = site
    insured = Browser(app)
    assert insured.login(ROLES["insured"]).status_code == 303
    page = insured.get("/assist").text
    assert "请核实是否在院" in page and "C000001" in page
    for label in ("人员编号", "入院日期", "主要诊断", "医疗费总额"):  # the claim, in Chinese
        assert label in page, label
    assert outcome(insured.get(f"/cases/{book.case_h001}")) == "refused"
    assert outcome(insured.get("/queue")) == "refused"
    other = Browser(app)
    assert other.login(ROLES["other_region"]).status_code == 303
    assert "C000001" not in other.get("/assist").text


def test_an_insured_region_gets_the_clearing_statement_of_its_own_insured_persons_only(site) -> None:
    app, _ = site
    insured = Browser(app)
    assert insured.login(ROLES["insured"]).status_code == 303
    page = insured.get("/reports")
    assert page.status_code == 200 and 'id="clearing-form"' in page.text and "清算对账表" in page.text
    assert "feedback-form" not in page.text and 'name="insured_region"' not in page.text
    own = insured.get("/reports/clearing.html?period=2025")
    assert own.status_code == 200 and "C000001" in own.text  # H001's patients are insured in 510700
    assert "510300" not in own.text  # H002's patients, insured in 510300, are another region's
    assert insured.get("/reports/clearing.html?period=2025&insured_region=510300").status_code == 404
    assert insured.get("/reports/clearing.html").status_code == 400  # no period: the form says so
    auditor = Browser(app)
    assert auditor.login(ROLES["auditor"]).status_code == 303
    both = auditor.get("/reports/clearing.html?period=2025").text
    assert "510300" in both and "510700" in both


def _inputs(dependant) -> set[str]:
    """The names of a route's form fields and query parameters, its dependencies' included."""
    found = {param.alias or param.name for param in (*dependant.body_params, *dependant.query_params)}
    for inner in dependant.dependencies:
        found |= _inputs(inner)
    return found


def test_every_input_of_the_pages_has_a_chinese_label(site) -> None:
    """A page that refuses a form names what was wrong as its form says it, never by field name."""
    app, _ = site
    names: set[str] = set()
    for route in app.routes:  # as `app_routes` walks them: included routers' routes are effective ones
        for context in route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else ():
            dependant = getattr(context.original_route, "dependant", None)
            if dependant is not None and not context.path.startswith("/api/"):
                names |= _inputs(dependant)
    assert len(names) > 30
    assert sorted(name for name in names if name not in FORM_LABELS) == []


def test_a_refused_form_names_its_inputs_in_chinese_and_a_bad_address_is_not_found(site) -> None:
    app, book = site
    browser = Browser(app)
    assert browser.login(ROLES["secretary"]).status_code == 303
    page = browser.post("/meetings", {"region": "510100", "capacity": "几个"})
    assert page.status_code == 400
    assert "以下内容缺失或格式不正确：会议日期" in page.text
    assert not re.search(r"held_on|capacity", page.text.split("<main", 1)[1])
    for address in ("/cases/abc", "/meetings/1.5", "/findings/%E4%B8%80"):
        page = browser.get(address)
        assert page.status_code == 404 and "未找到" in page.text, address


def test_a_nul_character_in_a_form_or_address_is_refused_in_chinese_and_nothing_is_stored(site) -> None:
    """PostgreSQL can neither store nor compare text with a NUL (a 500 there); SQLite kept it unseen."""
    app, book = site
    hospital = Browser(app)
    assert hospital.login(ROLES["hospital"]).status_code == 303
    refused = (
        hospital.post(f"/cases/{book.case_h001}/reply", {"body": "补充\x00病历说明"}),
        hospital.post(
            f"/findings/{book.finding_h001}/answer", {"decision": "appeal", "reason": "有医嘱\x00"}
        ),
        hospital.get("/queue?claim=C%00001"),
        hospital.get("/findings?period=2025%00"),
    )
    for page in refused:
        assert page.status_code == 400, page.text[:300]
        assert "空字符（NUL），未保存" in page.text
    assert "病历说明" not in hospital.get(f"/cases/{book.case_h001}").text
    assert "待医院答复" in hospital.get(f"/findings/{book.finding_h001}").text
    visitor = Browser(app)
    token = visitor.csrf("/login")
    page = visitor.client.post("/login", data={"username": "h0\x0001", "password": "x", "csrf_token": token})
    assert page.status_code == 400 and "空字符（NUL）" in page.text


def test_an_experts_suggested_amount_is_at_most_the_claims_cost(site) -> None:
    """As for the meeting's decision; 1e300 was stored on SQLite and a 500 on PostgreSQL (MONEY overflow)."""
    app, book = site
    expert = Browser(app)
    assert expert.login(ROLES["expert"]).status_code == 303
    path = f"/meetings/{book.meeting}/cases/{book.case_h001}/opinion"
    for amount in ("1e300", "20000.01"):
        page = expert.post(path, {"suggestion": "deduct", "body": "过高", "amount": amount})
        assert page.status_code == 400, (amount, page.text[:300])
        assert "建议金额不能超过该结算清单的医疗费用总额 20,000.00 元" in page.text
    assert "过高" not in expert.get(f"/meetings/{book.meeting}/room").text
    done = expert.post(path, {"suggestion": "deduct", "body": "全额扣减", "amount": "20000"})
    assert done.status_code == 303
    assert "20,000.00" in expert.get(f"/meetings/{book.meeting}/room").text


def test_a_meetings_capacity_that_is_not_a_whole_number_is_named_as_typed(site) -> None:
    """'三' or '3.5' read as 0 before, and the page said “… got 0” (in English) whatever was typed."""
    app, _ = site
    secretary = Browser(app)
    assert secretary.login(ROLES["secretary"]).status_code == 303
    form = {"region": "510100", "held_on": "2027-01-10"}
    for typed in ("三", "3.5", "-2", "３"):
        page = secretary.post("/meetings", {**form, "capacity": typed})
        assert page.status_code == 400, typed
        assert f"可审议案件数“{typed}”不是整数，请填写 1 以上的整数" in page.text
    page = secretary.post("/meetings", {**form, "capacity": "0"})
    assert page.status_code == 400 and "请填写可审议案件数（1 以上的整数）" in page.text
    assert "特例单议评议会议 510100 2027-01-10" not in secretary.get("/meetings").text
    assert secretary.post("/meetings", {**form, "capacity": " 3 "}).status_code == 303


def test_the_services_refusals_are_chinese_on_the_pages_without_cli_options(site) -> None:
    """Under any server locale: they were English there, naming CLI options (--merge-with CLAIM,
    --override-quota, `drgaudit meeting add`) a person on the page cannot use."""
    app, book = site
    secretary = Browser(app)
    assert secretary.login(ROLES["secretary"]).status_code == 303
    decide = f"/meetings/{book.meeting}/cases/{book.case_h001}/decide"
    refusals = {
        "合并须填写要合并的另一份结算清单号": {"kind": "merge", "reason": "同一次住院"},
        "金额 50.00 元与各支付项目之和 300.00 元不符": {
            "kind": "special", "reason": "新技术", "amount": "50", "item_name": ["ECMO", "输血"],
            "item_amount": ["100", "200"],
        },
        "超额理由只适用于同意特例支付": {"kind": "deduct", "reason": "重复收费", "amount": "10", "quota_override": "急"},
        "扣减金额 20,000.01 元超过该结算清单的医疗费用总额 20,000.00 元": {
            "kind": "deduct", "reason": "重复收费", "amount": "20000.01",
        },
        "审议结论“bogus”无效，请选择：按病组标准支付": {"kind": "bogus", "reason": "x"},
    }  # fmt: skip
    for message, form in refusals.items():
        page = secretary.post(decide, form)
        assert page.status_code == 400 and message in page.text, (message, page.text[-600:])
        shown = re.search(r'<p class="error"[^>]*>(.*?)</p>', page.text, re.S).group(1)
        assert not re.search(r"--|drgaudit |is not|needs| the ", shown), shown
    hospital = Browser(app)
    assert hospital.login(ROLES["hospital"]).status_code == 303
    page = hospital.post(f"/cases/{book.case_h001}/appeal", {"reason": "不服"})
    assert page.status_code == 400
    assert f"案件 {book.case_h001} 当前为“已排会”，只有“已决定或已结案”的案件才能申诉" in page.text
    auditor = Browser(app)
    assert auditor.login(ROLES["auditor"]).status_code == 303
    page = auditor.post(f"/assist/{book.request}/answer", {"result": "confirmed", "answer": "  "})
    assert page.status_code == 400 and "请写明协查结果说明：核查发现了什么" in page.text


def test_a_decision_sent_again_says_it_was_already_recorded_not_that_nothing_is_there(site) -> None:
    """A form sent twice, or again after going back once the case was decided or the meeting closed, was
    answered 未找到 / 无权查看 (a 404), as if the case or the secretary's rights were gone."""
    app, book = site
    secretary = Browser(app)
    assert secretary.login(ROLES["secretary"]).status_code == 303
    decide = f"/meetings/{book.meeting}/cases/{book.case_h001}/decide"
    form = {"kind": "deduct", "reason": "重复收费", "amount": "100"}
    assert secretary.post(decide, form).status_code == 303
    again = secretary.post(decide, {**form, "amount": "200"})
    assert again.status_code == 400, again.text[:300]
    assert f"案件 {book.case_h001} 在本次会议中已是“已决定”，本次提交未保存" in again.text
    assert "200.00" not in secretary.get(f"/cases/{book.case_h001}").text
    assert secretary.post(f"/meetings/{book.meeting}/close", {"note": "应到1人"}).status_code == 303
    closed = secretary.post(decide, form)
    assert (
        closed.status_code == 400
        and f"会议 {book.meeting} 已结束，不能再记录决定，本次提交未保存" in closed.text
    )
    for case in (book.case_h002, 2**31, 10**30):  # never on this meeting's agenda; ids no table holds
        page = secretary.post(f"/meetings/{book.meeting}/cases/{case}/decide", form)
        assert page.status_code == 404 and "未找到" in page.text, case


@pytest.mark.parametrize("role", ["auditor", "insured", "hospital", "secretary", "admin"])
def test_every_page_has_a_plain_title_and_each_id_once(site, role: str) -> None:
    """The reports page carried a copy of its clearing form inside <title>: the browser's tab read
    '报表<h2>异地就医审核结果清算对账表</h2> <form method=…', and the page had two #clearing-form."""
    app, book = site
    browser = Browser(app)
    assert browser.login(ROLES[role]).status_code == 303
    pages = (
        "/", "/queue", "/reports", "/findings", "/meetings", "/assist", "/admin/users", f"/cases/{book.case_h001}",
        f"/meetings/{book.meeting}", f"/meetings/{book.meeting}/room", f"/findings/{book.finding_h001}",
    )  # fmt: skip
    shown = 0
    for path in pages:
        page = browser.get(path)
        if page.status_code != 200:
            continue
        shown += 1
        title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)
        assert "<" not in title and "\n" not in title, (path, title[:200])
        ids = re.findall(r'\sid="([^"]+)"', page.text)
        assert sorted({i for i in ids if ids.count(i) > 1}) == [], path
    assert shown >= 2


def test_findings_meetings_and_the_roll_up_name_the_hospital_not_its_code(site) -> None:
    """They showed 'H001' where the queue and the case page show 甲市示例人民医院."""
    app, book = site
    cell = re.compile(r"<td>(H00\d)</td>|<dd>(H00\d)</dd>")
    for role, paths in (
        ("auditor", ("/findings", f"/findings/{book.finding_h001}", f"/meetings/{book.meeting}", "/reports")),
        ("hospital", ("/findings", f"/findings/{book.finding_h001}", "/reports")),
    ):
        browser = Browser(app)
        assert browser.login(ROLES[role]).status_code == 303
        for path in paths:
            page = browser.get(path).text
            assert "甲市示例人民医院" in page, (role, path)
            assert not cell.search(page), (role, path, cell.search(page))


def test_the_case_page_and_the_queue_give_the_regions_in_one_order(site) -> None:
    """The case page's summary said 就医地 → 参保地 and its claim table 参保地 → 就医地, the same two regions
    the other way round; the queue the summary's way. All say it as the patient travelled, as the case
    file and the 协查 page do."""
    app, book = site
    browser = Browser(app)
    assert browser.login(ROLES["auditor"]).status_code == 303
    page = browser.get(f"/cases/{book.case_h001}").text
    summary = re.search(r"<dt>参保地 → 就医地</dt><dd>([^<]*) → ([^<]*?)(（省内异地）|（本地）)?<", page)
    table = re.search(r"<th>参保地 → 就医地</th><td>([^<]*) → ([^<]*?)(（省内异地）|（本地）)?<", page)
    assert summary and table and summary.groups() == table.groups(), page
    insured, treatment, _ = summary.groups()
    assert insured != treatment
    queue = browser.get("/queue").text
    assert "<th>参保地 → 就医地</th>" in queue and f"<td>{insured} → {treatment}</td>" in queue
    assert "就医地 → 参保地" not in page + queue


def test_the_account_pages_refusals_are_chinese_and_name_the_scope_field(site) -> None:
    """They were English on the page, with CLI hints ('… (`users add` also takes --hospital)', 'see
    `drgaudit users list`')."""
    app, _ = site
    admin = Browser(app)
    assert admin.login(ROLES["admin"]).status_code == 303
    refusals = (
        ("/admin/users", {"username": "新医院", "role": "hospital"}, "定点医疗机构须指定医院编码：在“范围”中填写，如 H51010000001"),
        ("/admin/users", {"username": "dummy", "role": "viewer"}, "账户“dummy”已存在"),
        ("/admin/users", {"username": "a/b", "role": "viewer"}, "“a/b”不能用作账户名"),
        ("/admin/users", {"username": "新账户", "role": "insured_region", "scope": "5107"}, "“5107”不是 6 位统筹区编码"),
        ("/admin/roles", {"username": "nobody", "role": "viewer"}, "没有账户“nobody”"),
        ("/admin/roles", {"username": "dummy", "role": "auditor", "revoke": "1"}, "账户“dummy”没有角色 auditor"),
        ("/admin/users/admin/disable", {}, "管理员不能停用自己的账户，请由另一名管理员操作"),
        ("/admin/users/dummy/enable", {}, "账户“dummy”已是启用状态"),
    )  # fmt: skip
    for path, form, message in refusals:
        page = admin.post(path, form)
        assert page.status_code == 400 and message in page.text, (path, form, page.text[-500:])
        shown = re.search(r'<p class="error"[^>]*>(.*?)</p>', page.text, re.S).group(1)
        assert not re.search(r"--|drgaudit |users add| the ", shown), shown


def test_the_queue_reads_a_period_as_the_findings_reports_and_cli_do(site) -> None:
    """The queue compared the text with a month exactly: '2025', '2025Q1' or '2025-3' showed 共 0 件 as if
    nothing were there, and '2025-13' too, where the findings page refuses it."""
    app, _ = site
    auditor = Browser(app)
    assert auditor.login(ROLES["auditor"]).status_code == 303
    for period, shown in (
        ("2025", 2),
        ("2025Q1", 2),
        ("2025-3", 2),
        ("2025-03", 2),
        ("2025-04", 0),
        ("2024", 0),
    ):
        page = auditor.get(f"/queue?period={period}")
        assert page.status_code == 200 and f"共 {shown} 件" in page.text, period
        assert f'value="{period}"' in page.text  # the filter keeps what was typed
    assert "共 2 件" in auditor.get("/queue?period=2025-03-01..2025-03-31").text
    page = auditor.get("/queue?period=2025-13")
    assert page.status_code == 400
    assert "“2025-13”不是有效的期间：请写年份（2025）、季度（2025Q3）或月份（2025-07）" in page.text
    assert auditor.get("/queue.xlsx?period=2025Q1").status_code == 200


def test_an_unknown_address_and_a_forms_address_opened_by_hand_say_so_in_chinese(site) -> None:
    """They read 'Not Found' and 'Method Not Allowed' (Starlette's words); a refused form leaves its
    address in the browser's address bar, and pressing Enter there opens it."""
    app, book = site
    hospital = Browser(app)
    assert hospital.login(ROLES["hospital"]).status_code == 303
    for path, status, message in (
        ("/no-such-page", 404, "没有找到您要查看的内容，或您无权查看。"),
        ("/static/no-such.js", 404, "没有找到您要查看的内容，或您无权查看。"),
        (f"/cases/{book.case_h001}/reply", 405, "这个地址只用于提交表单，不能直接打开。请返回上一页"),
    ):
        page = hospital.get(path)
        assert page.status_code == status and message in page.text, (path, page.text[-400:])
        assert "Not Found" not in page.text and "Method Not Allowed" not in page.text


def test_a_page_number_past_the_last_shows_the_last_page(site) -> None:
    """/queue?page=5 of 2 cases read '共 2 件 … 第 5 / 1 页' over an empty table, with a link to page 4 (a
    link kept from before, or cases decided since, lead there); the findings list the same."""
    app, _ = site
    auditor = Browser(app)
    assert auditor.login(ROLES["auditor"]).status_code == 303
    for path, rows in (("/queue?page=5", "C000001"), ("/queue?page=99999999999999999999", "C000041"),
                       ("/findings?page=7", "C000042")):  # fmt: skip
        page = auditor.get(path).text
        assert "第 1 / 1 页" in page and rows in page, path
        assert "上一页" not in page, path


def test_the_reports_refusals_are_chinese(site) -> None:
    """A period without claims, or a batch that is not a screened claims batch, was refused in English
    ('no claims discharged in 1990年 or the period before …', '… see `drgaudit batches`')."""
    app, _ = site
    auditor = Browser(app)
    assert auditor.login(ROLES["auditor"]).status_code == 303
    for path, message in (
        ("/reports/monitoring.html?period=1990", "1990年及上一期间（1989-01-01 至 1989-12-31）都没有出院的结算清单，请换一个期间"),
        ("/reports/summary.html?batch=1", "第 1 批次导入的是医疗机构，不是结算清单"),
        ("/reports/summary.html?batch=99", "没有第 99 批次的导入数据"),
        ("/reports/feedback.html?hospital=H001&batch=99", "没有第 99 批次的导入数据"),
    ):  # fmt: skip
        page = auditor.get(path)
        assert page.status_code == 400 and message in page.text, (path, page.text[-400:])


def test_a_hits_facts_and_thresholds_are_named_on_the_case_page_and_in_the_room(site) -> None:
    """They were labelled twice, so every fact read 其他依据 and every threshold 规则阈值."""
    app, book = site
    for role, path in (("auditor", f"/cases/{book.case_h001}"), ("hospital", f"/cases/{book.case_h001}"),
                       ("secretary", f"/meetings/{book.meeting}/room")):  # fmt: skip
        browser = Browser(app)
        assert browser.login(ROLES[role]).status_code == 303
        page = browser.get(path).text
        facts = re.search(r"<caption>事实</caption>(.*?)</table>", page, re.S).group(1)
        assert "<th>医疗费总额</th><td>20,000.00</td>" in facts, (role, facts)
        assert "其他依据" not in page and "规则阈值" not in page, role


def test_the_earlier_stays_coded_facts_are_named_as_the_current_ones(site, session: Session) -> None:
    """前次住院·离院方式 showed the bare code 2 (医嘱转院) and 前次住院·医院等级 3 beside 医院等级 三级."""
    from drgaudit.engine.loader import bundled_rules_dir
    from drgaudit.services.reference import ReferenceCache
    from tests.review_support import bundled_pack

    files = ReferenceCache(bundled_rules_dir(), bundled_pack()).get(session).case_files(session)
    facts = {
        "discharge_mode": "2",
        "earlier.discharge_mode": "2",
        "hospital.level": 3,
        "earlier.hospital.level": 3,
    }
    view = files.hit_view(
        patient_id="P00001", rule_id="SPLIT-003", family="split", severity="medium", action="special_review",
        amount=100.0, message="转院", evidence={"facts": facts, "thresholds": {}},
    )  # fmt: skip
    assert dict(view.facts) == {
        "离院方式": "医嘱转院", "前次住院·离院方式": "医嘱转院", "医院等级": "三级", "前次住院·医院等级": "三级",
    }  # fmt: skip


def test_the_region_choices_are_pooling_regions_only(site) -> None:
    """The new-meeting form and the queue's filters offered 全国默认 (the rule pack's national defaults): a
    meeting for it was refused in English, and the filter always showed 共 0 件."""
    app, _ = site
    secretary = Browser(app)
    assert secretary.login(ROLES["secretary"]).status_code == 303
    for path in ("/meetings", "/queue"):
        page = secretary.get(path).text
        assert 'value="510100"' in page and 'value="national"' not in page and "全国默认" not in page, path
    page = secretary.post("/meetings", {"region": "51010x", "held_on": "2027-01-10", "capacity": "3"})
    assert page.status_code == 400 and "就医地“51010x”不是 6 位统筹区编码，请从列表中选择" in page.text


def test_only_an_experts_account_is_linked_as_an_attending_account(site) -> None:
    """The form lists expert accounts only; a forged post linked a hospital's account all the same."""
    app, book = site
    secretary = Browser(app)
    assert secretary.login(ROLES["secretary"]).status_code == 303
    path = f"/meetings/{book.meeting}/attendees"
    page = secretary.post(path, {"account": "h001", "role": "列席"})
    assert page.status_code == 400 and "“h001”的账户不是评审专家账户，不能关联" in page.text
    assert "h001" not in secretary.get(f"/meetings/{book.meeting}").text.split('id="attendees"', 1)[1]
    assert secretary.post(path, {"account": "专家乙", "role": "评审专家"}).status_code == 303


def test_a_secretary_bound_to_a_region_is_offered_only_its_region_for_a_meeting(
    site, session: Session
) -> None:
    """The new-meeting form offered every region, and all but its own were refused (无权操作)."""
    from tests.web_support import make_accounts

    app, _ = site
    make_accounts(session, ("秘书丙", "secretary:510300"))
    secretary = Browser(app)
    assert secretary.login("秘书丙").status_code == 303
    form = secretary.get("/meetings").text.split('name="region"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'value="(\d+)"', form) == ["510300"]
    everyone = Browser(app)
    assert everyone.login(ROLES["secretary"]).status_code == 303
    form = everyone.get("/meetings").text.split('name="region"', 1)[1].split("</select>", 1)[0]
    assert {"510100", "510300"} <= set(re.findall(r'value="(\d+)"', form))


def test_a_hospital_account_for_a_hospital_the_casebook_lacks_is_made_with_a_warning(site) -> None:
    """A typo in the hospital id (H0001 for H001) made an account that sees nothing, without a word."""
    app, _ = site
    admin = Browser(app)
    assert admin.login(ROLES["admin"]).status_code == 303
    page = admin.post("/admin/users", {"username": "新医院", "role": "hospital", "scope": "H0001"})
    assert page.status_code == 200 and 'id="new-password"' in page.text
    assert "注意：案卷中没有编码为 H0001 的定点医疗机构，该账户现在看不到任何案件" in page.text
    page = admin.post("/admin/users", {"username": "甲院", "role": "hospital", "scope": "H001"})
    assert 'id="new-password"' in page.text and "注意：" not in page.text
    granted = admin.post("/admin/roles", {"username": "dummy", "role": "hospital", "scope": "H0002"})
    assert "案卷中没有编码为 H0002 的定点医疗机构" in admin.get(granted.headers["location"]).text
