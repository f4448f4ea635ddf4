"""Review meetings: list and create, the agenda within the quota, attendees, the meeting room (one case at
a time, experts' opinions, the decision form), closing, and the packet and minutes downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from drgaudit.casebook import accounts, meetings
from drgaudit.casebook.models import row_number
from drgaudit.casebook.quota import quota_standing
from drgaudit.casebook.replies import case_opinions
from drgaudit.casebook.review import DecisionRequest
from drgaudit.casebook.review_models import DECISION_KINDS, ReviewMeetingCreate
from drgaudit.reports.meeting import build_minutes, build_packet
from drgaudit.services import cases as case_service
from drgaudit.services import meetings as meeting_service
from drgaudit.services.access import NotFound, Principal, may
from drgaudit.services.casepage import case_view
from drgaudit.services.labels import log_action, log_actor, name
from drgaudit.web.deps import DB, require
from drgaudit.web.forms import FormError, count, day, number, report_response, text
from drgaudit.web.routes.cases import case_context
from drgaudit.web.templating import redirect, render

router = APIRouter()
Viewer = Annotated[Principal, Depends(require("meeting.view"))]


@router.get("/meetings")
def meetings_page(request: Request, session: DB, me: Viewer) -> Response:
    """The meetings the account may see, newest first; secretaries create one here."""
    reference = request.app.state.reference.get(session)
    rows = meeting_service.list_meetings(session=session, principal=me)
    sizes = {m.id: meetings.agenda_size(session=session, meeting_id=m.id or 0) for m in rows}
    return render(
        request, "meetings.html",
        {"meetings": rows, "sizes": sizes, "words": reference.words, "regions": meeting_service.regions_to_create(me, reference.words.pooling_regions())},
    )  # fmt: skip


@router.post("/meetings")
def create_meeting(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(require("meeting.create"))],
    region: Annotated[str, Form(max_length=6)],
    held_on: Annotated[str, Form(max_length=20)],
    capacity: Annotated[str, Form(max_length=6)],
    title: Annotated[str, Form(max_length=200)] = "",
    location: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a meeting of a region for a day."""
    when = day(held_on, "会议日期")
    if when is None:
        raise FormError("请填写会议日期")
    size = count(capacity, "可审议案件数")
    if not size:  # empty, or 0 (a bad number said “got 0” before, whatever was typed)
        raise FormError("请填写可审议案件数（1 以上的整数）")
    data = ReviewMeetingCreate(
        region=region.strip(), held_on=when, capacity=size, title=text(title) or f"特例单议评议会议 {region.strip()} {when}",
        location=text(location),
    )  # fmt: skip
    meeting = meeting_service.create(session=session, principal=me, meeting=data)
    return redirect(request, f"/meetings/{meeting.id}", message=f"已创建会议：{meeting.title}")


@router.get("/meetings/{meeting_id}")
def meeting_page(request: Request, meeting_id: int, session: DB, me: Viewer) -> Response:
    """A meeting: agenda with the quota standing of each case, attendees, the cases waiting, and forms."""
    reference = request.app.state.reference.get(session)
    page = meeting_service.meeting_page(
        session=session, principal=me, meeting_id=meeting_id, pack=request.app.state.pack
    )
    return render(
        request,
        "meeting.html",
        {
            "page": page,
            "m": page.meeting,
            "words": reference.words,
            "name": name,
            "hospitals": reference.hospitals,
        },
    )


@router.post("/meetings/{meeting_id}/schedule")
def schedule(
    request: Request,
    meeting_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("meeting.schedule"))],
    cases: Annotated[list[str], Form()] = [],  # noqa: B006
    fill: Annotated[str, Form(max_length=5)] = "",
    override: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Put the chosen cases (or, with `fill`, the waiting ones by priority) on the agenda; over quota needs a reason."""
    refs = [number for number in map(row_number, cases) if number is not None]
    if not refs and not fill:
        raise FormError("请勾选要排入议程的案件，或选择“按优先级自动排满”")
    report = meeting_service.schedule(
        session=session, principal=me, meeting_id=meeting_id, pack=request.app.state.pack, refs=refs, fill=bool(fill),
        quota_override=text(override),
    )  # fmt: skip
    left = (
        f"；{len(report.over_quota)} 件因超出额度未排入（填写超额理由后可排入）" if report.over_quota else ""
    )
    return redirect(request, f"/meetings/{meeting_id}", message=f"已排入 {len(report.added)} 件{left}")


@router.post("/meetings/{meeting_id}/attendees")
def add_attendee(
    request: Request,
    meeting_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("meeting.attendees"))],
    role: Annotated[str, Form(max_length=100)],
    attendee: Annotated[str, Form(max_length=100)] = "",
    account: Annotated[str, Form(max_length=64)] = "",
    organisation: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Record an attendee: a person by name, or an account (an expert, who then reads the packet and gives opinions)."""
    linked = accounts.find_account(session=session, username=account) if text(account) else None
    if text(account) and (linked is None or linked.status != "active"):
        raise FormError(f"没有可用的账户“{account}”")
    person = text(attendee) or (linked.display_name if linked else None)
    if person is None:
        raise FormError("请填写参会人员姓名或选择账户")
    meeting_service.add_attendees(
        session=session, principal=me, meeting_id=meeting_id, attendees=[(person, role, text(organisation))],
        account_ids={person: linked.id} if linked is not None and linked.id is not None else None,
    )  # fmt: skip
    return redirect(
        request, f"/meetings/{meeting_id}#attendees", message=f"已登记参会人员：{person}（{role.strip()}）"
    )


@router.get("/meetings/{meeting_id}/room")
def room(request: Request, meeting_id: int, session: DB, me: Viewer, item: int = 1) -> Response:
    """The meeting room: one case of the agenda at a time, with the experts' opinions and the decision form."""
    reference = request.app.state.reference.get(session)
    meeting, entry, count = meeting_service.agenda_case(
        session=session, principal=me, meeting_id=meeting_id, position=item
    )
    position = min(max(item, 1), count)
    case_id = entry.case.id
    assert case_id is not None
    view = case_view(session=session, principal=me, ref=case_id, reference=reference)
    opinions = case_opinions(session=session, case_id=case_id, meeting_id=meeting_id)
    special = None
    if meeting.status == "open" and view.can["case.decide"]:
        special = quota_standing(
            session=session, case=entry.case, pack=request.app.state.pack, counting="special"
        )
    mine = next((o for o in opinions if o.expert == me.username), None)
    context = case_context(request, view, reference) | {
        "m": meeting, "entry": entry, "position": position, "count": count, "opinions": opinions, "mine": mine,
        "special_quota": special, "kinds": DECISION_KINDS, "may_opine": meeting.status == "open" and view.can["case.opinion"],
        "log_actor": log_actor, "log_action": log_action,
    }  # fmt: skip
    return render(request, "room.html", context)


def _decision(form: dict[str, object], names: list[str], amounts: list[str]) -> DecisionRequest:
    items = []
    for item, amount in zip(names, amounts, strict=False):
        if text(item) or text(amount):
            value = number(amount, f"项目“{item}”的金额")
            if not text(item) or value is None:
                raise FormError("特例支付的每个项目都须填写名称和金额")
            items.append((str(item).strip(), value))
    kind = str(form.get("kind") or "")
    return DecisionRequest(
        kind=kind, reason=str(form.get("reason") or ""), amount=number(form.get("amount"), "金额"),
        items=items or None, merged_with=text(form.get("merge_with")),
    )  # fmt: skip


@router.post("/meetings/{meeting_id}/cases/{case_id}/decide")
def decide(
    request: Request,
    meeting_id: int,
    case_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("case.decide"))],
    kind: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=20000)],
    item: Annotated[int, Form()] = 1,
    amount: Annotated[str, Form(max_length=40)] = "",
    merge_with: Annotated[str, Form(max_length=64)] = "",
    quota_override: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form()] = None,
    item_name: Annotated[list[str], Form()] = [],  # noqa: B006
    item_amount: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """Record the meeting's decision on the case shown in the room, then show the next case."""
    request_ = _decision(
        {"kind": kind, "reason": reason, "amount": amount, "merge_with": merge_with}, item_name, item_amount
    )
    meeting_service.waiting_for_decision(
        session=session, principal=me, meeting_id=meeting_id, case_id=case_id
    )
    outcome = case_service.decide(
        session=session, principal=me, ref=case_id, request=request_, pack=request.app.state.pack,
        expected_version=version, quota_override=text(quota_override),
    )  # fmt: skip
    decided = outcome.decision
    message = f"案件 {case_id}：{name('decision', decided.kind)} {decided.amount:,.2f} 元，已记录"
    return redirect(request, f"/meetings/{meeting_id}/room?item={item + 1}", message=message)


@router.post("/meetings/{meeting_id}/cases/{case_id}/opinion")
def opinion(
    request: Request,
    meeting_id: int,
    case_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("case.opinion"))],
    suggestion: Annotated[str, Form(max_length=20)],
    body: Annotated[str, Form(max_length=20000)],
    item: Annotated[int, Form()] = 1,
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """An attending expert records (or revises) their opinion on the case shown in the room."""
    case_service.opinion(
        session=session, principal=me, meeting_id=meeting_id, ref=case_id, suggestion=suggestion, text=body,
        amount=number(amount, "金额"),
    )  # fmt: skip
    return redirect(request, f"/meetings/{meeting_id}/room?item={item}", message="您的意见已记录")


@router.post("/meetings/{meeting_id}/close")
def close(
    request: Request,
    meeting_id: int,
    session: DB,
    me: Annotated[Principal, Depends(require("meeting.close"))],
    note: Annotated[str, Form(max_length=5000)] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """Close the meeting: decided cases close, undecided ones go back to the queue."""
    report = meeting_service.close(
        session=session, principal=me, meeting_id=meeting_id, note=text(note), expected_version=version
    )
    return redirect(
        request,
        f"/meetings/{meeting_id}",
        message=f"会议已结束：{report.closed} 件结案，{report.deferred} 件退回审核队列",
    )


@router.get("/meetings/{meeting_id}/{kind}.{fmt}")
def papers(request: Request, meeting_id: int, kind: str, fmt: str, session: DB, me: Viewer) -> Response:
    """The meeting's packet or minutes as PDF or HTML."""
    if kind not in ("packet", "minutes") or fmt not in ("pdf", "html"):
        raise NotFound("no such document")
    meeting = meeting_service.find_meeting(session=session, principal=me, meeting_id=meeting_id)
    target = meeting_service.meeting_target(session=session, meeting=meeting)
    if not may(me, f"report.{kind}", target):
        raise NotFound("no such document")
    build = build_packet if kind == "packet" else build_minutes
    report = build(session=session, meeting_id=meeting_id, rules_dir=request.app.state.rules_dir)
    label = "会议材料" if kind == "packet" else "会议纪要"
    return report_response(report, fmt, f"第{meeting_id}次特例单议{label}.{fmt}")
