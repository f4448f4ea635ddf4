"""Log-in, log-out, changing one's password, and the start page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from drgaudit.casebook import accounts
from drgaudit.casebook.accounts import AccountError
from drgaudit.casebook.findings import FindingFilter
from drgaudit.casebook.queue_search import CaseQuery, search_cases
from drgaudit.services import accounts as account_service
from drgaudit.services import assist as assist_service
from drgaudit.services import findings as finding_service
from drgaudit.services import meetings as meeting_service
from drgaudit.services.access import Principal, may
from drgaudit.services.accounts import LoginRefused
from drgaudit.services.cases import case_scope
from drgaudit.web.deps import DB, Me, principal_changing_password
from drgaudit.web.security import LOGIN_COOKIE, SESSION_COOKIE
from drgaudit.web.templating import redirect, render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never `//host` or a scheme), else the start page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, *, next_url: str, error: str | None = None, status: int = 200, username: str = ""
) -> Response:
    signer = request.app.state.signer
    nonce, cookie = signer.new_login_nonce()
    request.state.login_csrf = signer.csrf_token(nonce)
    response = render(request, "login.html", {"next": next_url, "error": error, "username": username}, status)
    response.set_cookie(
        LOGIN_COOKIE, cookie, max_age=3600, path="/login", httponly=True, samesite="strict",
        secure=request.app.state.settings.cookie_secure,
    )  # fmt: skip
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The log-in page (the only page open without an account)."""
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the name and password; start a session (a fresh token, so a planted cookie is useless)."""
    settings = request.app.state.settings
    ip = request.client.host if request.client else None
    try:
        account = account_service.authenticate(
            session=session, username=username, password=password, ip=ip, policy=settings.login_policy
        )
    except LoginRefused as exc:
        return _login_page(
            request,
            next_url=_safe_next(next),
            error=str(exc),
            status=429 if exc.throttled else 401,
            username=username,
        )
    token = accounts.create_session(
        session=session, account=account, lifetime=timedelta(hours=settings.session_hours), ip=ip,
        user_agent=request.headers.get("user-agent"),
    )  # fmt: skip
    target = "/password" if account.must_change_password else _safe_next(next)
    response = redirect(request, target)
    response.set_cookie(
        SESSION_COOKIE, request.app.state.signer.session_cookie(token), max_age=int(settings.session_hours * 3600),
        path="/", httponly=True, samesite="lax", secure=settings.cookie_secure,
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, session: DB, _me: Annotated[Principal, Depends(principal_changing_password)]
) -> Response:
    """End the session."""
    token = getattr(request.state, "session_token", None)
    if token:
        accounts.end_session(session=session, token=token)
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/password")
def password_form(
    request: Request, me: Annotated[Principal, Depends(principal_changing_password)], session: DB
) -> Response:
    """Change one's own password (required after an administrator set it)."""
    account = accounts.get_account(session=session, username=me.username)
    return render(request, "password.html", {"must_change": account.must_change_password, "error": None})


@router.post("/password")
def change_password(
    request: Request,
    session: DB,
    me: Annotated[Principal, Depends(principal_changing_password)],
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Set a new password; the other sessions of the account end, this one starts afresh."""
    error = None
    if new != repeat:
        error = "两次输入的新密码不一致。"
    else:
        try:
            account_service.change_own_password(session=session, principal=me, current=current, new=new)
        except AccountError as exc:
            error = _password_error(str(exc))
    if error:
        account = accounts.get_account(session=session, username=me.username)
        return render(
            request, "password.html", {"must_change": account.must_change_password, "error": error}, 400
        )
    # set_password ended every session of the account, this one too: sign in again with the new password.
    response = redirect(request, "/login", message="密码已修改，请用新密码重新登录。")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


_PASSWORD_WORDS = {
    "the current password is not right": "当前密码不正确。",
    "the new password is the same as the old one": "新密码不能与原密码相同。",
    "the password may not be the account name": "密码不能与账户名相同。",
    "the password needs at least 4 different characters": "密码至少包含 4 个不同的字符。",
}


def _password_error(message: str) -> str:
    if length := re.fullmatch(r"a password needs at least (\d+) characters", message):
        return f"密码至少 {length[1]} 个字符。"  # it said 密码至少 least 个字符 (the word before the number)
    return _PASSWORD_WORDS.get(message, message)


@router.get("/")
def home(request: Request, me: Me, session: DB) -> Response:
    """The start page: what this account may do, and what waits for it."""
    waiting: list[tuple[str, int, str]] = []
    if may(me, "case.view"):
        cases = search_cases(session=session, query=CaseQuery(page_size=1), where=case_scope(me))
        waiting.append(("待处理的审核案件", cases.total, "/queue"))
    if may(me, "finding.view"):
        finding_service.confirm_overdue_lazily(session=session)
        _, open_findings = finding_service.list_findings(
            session=session, principal=me, filters=FindingFilter(states=("open",)), limit=0
        )
        _, appealed = finding_service.list_findings(
            session=session, principal=me, filters=FindingFilter(states=("appealed",)), limit=0
        )
        waiting.append(("待医院答复的疑点", open_findings, "/findings?state=open"))
        waiting.append(("医院申诉待复审的疑点", appealed, "/findings?state=appealed"))
    if may(me, "assist.view"):
        requests = assist_service.list_requests(session=session, principal=me, status="open")
        waiting.append(("未答复的协查请求", len(requests), "/assist"))
    if may(me, "meeting.view"):
        meetings = meeting_service.list_meetings(session=session, principal=me, status="open")
        waiting.append(("进行中的评议会议", len(meetings), "/meetings"))
    return render(request, "home.html", {"waiting": waiting})
