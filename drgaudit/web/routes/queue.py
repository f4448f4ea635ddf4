"""The review queue page: filters, sort, paging, and the XLSX export of what is shown."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from drgaudit.casebook.queue_search import SORTS, CaseQuery, iter_cases, search_cases
from drgaudit.casebook.review_models import CASE_STATUSES, OPEN_STATUSES
from drgaudit.reports.document import Column, Report, Sheet
from drgaudit.reports.labels import FAMILY_NAMES
from drgaudit.services.access import Principal, scopes, unrestricted
from drgaudit.services.cases import case_scope
from drgaudit.services.labels import name
from drgaudit.web.deps import DB, require
from drgaudit.web.forms import day, number, report_response, text, whole
from drgaudit.web.templating import render

router = APIRouter()
FILTERS = (
    "status",
    "region",
    "insured",
    "hospital",
    "family",
    "rule",
    "period",
    "assignee",
    "claim",
    "min_priority",
    "due_before",
)


def query_of(request: Request, page_size: int) -> CaseQuery:
    """The queue query of the page's URL (bad values are ignored or reported, never a crash)."""
    params = request.query_params
    statuses = [s for s in params.getlist("status") if s in (*CASE_STATUSES, "all")]
    chosen: tuple[str, ...] | None = OPEN_STATUSES
    if statuses:
        chosen = None if "all" in statuses else tuple(statuses)
    sort = str(params.get("sort")) if params.get("sort") in SORTS else "priority"
    return CaseQuery(
        statuses=chosen, region=text(params.get("region")), insured_region=text(params.get("insured")),
        hospital_id=text(params.get("hospital")), family=text(params.get("family")), rule_id=text(params.get("rule")),
        period=text(params.get("period")), assignee=text(params.get("assignee")), claim_id=text(params.get("claim")),
        min_priority=number(params.get("min_priority"), "最低优先级"), due_before=day(params.get("due_before"), "办结期限"),
        sort=sort, descending=params.get("order", "desc") != "asc", page=max(1, whole(params.get("page"), "页", 1)),
        page_size=page_size,
    )  # fmt: skip


def _link(request: Request, **changes: object) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and v]
    params += [(k, str(v)) for k, v in changes.items() if v is not None]
    return "?" + urlencode(params)


@router.get("/queue")
def queue(request: Request, session: DB, me: Annotated[Principal, Depends(require("case.view"))]) -> Response:
    """Cases the account may see, filtered, sorted and paged."""
    settings = request.app.state.settings
    reference = request.app.state.reference.get(session)
    query = query_of(request, settings.page_size)
    page = search_cases(session=session, query=query, where=case_scope(me))
    if query.page > page.pages:  # past the last page (a link kept from before, cases decided since): the last
        query.page = page.pages
        page = search_cases(session=session, query=query, where=case_scope(me))
    hospitals = sorted(
        ((hid, h.get("name") or hid) for hid, h in reference.hospitals.items()), key=lambda item: item[0]
    )
    # A hospital's account filters by its own hospital(s) only: the list named every other hospital.
    own = {s.value for s in scopes(me, "case.view") if s.column == "hospital_id" and s.value}
    if own and not unrestricted(scopes(me, "case.view")):
        hospitals = [(hid, label) for hid, label in hospitals if hid in own]
    rules = sorted({(rule.id, rule.title) for rule in reference.pack.rules})
    return render(
        request,
        "queue.html",
        {
            "page": page, "query": query, "params": request.query_params, "statuses": CASE_STATUSES,
            "chosen_statuses": set(query.statuses or ()), "all_statuses": query.statuses is None,
            "regions": reference.words.pooling_regions(), "hospitals": hospitals, "rules": rules,
            "families": sorted({**FAMILY_NAMES, **reference.words.families}.items()), "today": date.today(),
            "link": lambda **changes: _link(request, **changes), "words": reference.words, "name": name,
            "export": "/queue.xlsx" + _link(request, page=None),
        },
    )  # fmt: skip


@router.get("/queue.xlsx")
def export(
    request: Request, session: DB, me: Annotated[Principal, Depends(require("queue.export"))]
) -> Response:
    """The filtered queue (every page) as an XLSX workbook."""
    reference = request.app.state.reference.get(session)
    query = query_of(request, 2000)
    words = reference.words
    columns = [
        Column("案件号", "int", 8), Column("结算清单号", width=16), Column("医院", width=24), Column("就医地", width=14),
        Column("参保地", width=14), Column("出院月份", width=9), Column("状态", width=10), Column("严重程度", width=8),
        Column("涉及金额（元）", "yuan", 14), Column("优先级", "decimal", 12), Column("命中规则", width=30),
        Column("承办人", width=10), Column("办结期限", "date", 12), Column("疑点状态", width=30),
    ]  # fmt: skip
    rows = (
        (
            row.case.id, row.case.claim_id, row.hospital_name, words.region(row.case.region),
            words.region(row.case.insured_region), row.case.period, name("status", row.case.status),
            name("severity", row.case.severity), row.case.amount_at_risk, row.case.priority, row.case.rules,
            row.case.assignee, row.case.due_date,
            "；".join(f"{name('finding', s)} {n}" for s, n in sorted(row.findings.items())) or None,
        )
        for row in iter_cases(session=session, query=query, where=case_scope(me))
    )  # fmt: skip
    report = Report(
        "queue",
        "特例单议审核队列",
        "",
        {},
        sheets=lambda: [Sheet("审核队列", columns, rows)],
        formats=("xlsx",),
    )
    return report_response(report, "xlsx", "审核队列.xlsx")
