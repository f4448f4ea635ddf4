"""Request dependencies of the review service: the casebook session, who is signed in, `require(action)`,
and the CSRF guard every route runs first (an app-wide dependency)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlmodel import Session

from drgaudit.casebook import accounts, queries
from drgaudit.services.access import Denied, Principal, Unauthenticated, may
from drgaudit.services.accounts import principal_of
from drgaudit.web.forms import FormError
from drgaudit.web.security import CSRF_FIELD, CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE, UNSAFE_METHODS


def db(request: Request) -> Iterator[Session]:
    """A casebook session for one request."""
    with Session(request.app.state.engine) as session:
        yield session


DB = Annotated[Session, Depends(db)]


class CsrfError(Exception):
    """A state-changing request without the right CSRF token."""


class MustChangePassword(Exception):
    """The account must choose a new password before anything else."""


def session_token(request: Request) -> str | None:
    """The token of the request's session cookie, if it carries a well-signed, unexpired one."""
    settings = request.app.state.settings
    token: str | None = request.app.state.signer.session_token(
        request.cookies.get(SESSION_COOKIE), settings.session_hours * 3600
    )
    return token


async def csrf_guard(request: Request) -> None:
    """Refuse a state-changing request signed in by cookie (or a log-in) without its CSRF token.

    Requests that carry an `Authorization` header and no session cookie (API keys), and `/api/` requests
    without a session cookie, are the API's to authenticate and are not cookie-borne, so CSRF does not
    apply to them.
    """
    if request.method not in UNSAFE_METHODS:
        return
    signer = request.app.state.signer
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None and ("authorization" in request.headers or request.url.path.startswith("/api/")):
        return  # no cookie, no ambient credential to forge with: the API authenticates its own callers
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if request.url.path == "/login":
        nonce = signer.login_nonce(request.cookies.get(LOGIN_COOKIE))
        if signer.csrf_ok(nonce, presented):
            return
        raise CsrfError()
    token = session_token(request)
    if not signer.csrf_ok(token, presented):
        raise CsrfError()


async def text_guard(request: Request) -> None:
    """Refuse a page request whose address, query or form text holds a NUL character (one pasted from
    another program): PostgreSQL can neither store nor compare such text, so it failed as a server error
    there, and SQLite kept a character nobody can see. The API answers its own callers."""
    if request.url.path.startswith("/api/"):
        return
    texts = [*request.path_params.values(), *request.query_params.keys(), *request.query_params.values()]
    content_type = request.headers.get("content-type", "")
    if request.method in UNSAFE_METHODS and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # parsed once: Starlette keeps it for the route and the CSRF guard
        texts += [*form.keys(), *(value for value in form.values() if isinstance(value, str))]
    if any("\x00" in str(value) for value in texts):
        raise FormError(
            "提交的内容含有不可见的空字符（NUL），未保存。请删除该字符后重新提交"
            "（从其他软件复制粘贴的文字可能带有此字符）。"
        )


def _principal(request: Request, session: Session, *, allow_password_change: bool) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = session_token(request)
    if token is None:
        raise Unauthenticated("not signed in")
    settings = request.app.state.settings
    live = accounts.find_session(session=session, token=token, idle=timedelta(minutes=settings.idle_minutes))
    if live is None:
        raise Unauthenticated("session ended")
    if live.account.must_change_password and not allow_password_change:
        raise MustChangePassword()
    principal = principal_of(session=session, account=live.account, channel="web")
    request.state.principal = principal
    request.state.session_token = token
    request.state.scope_names = _scope_names(request, session, principal)
    return principal


def _scope_names(request: Request, session: Session, principal: Principal) -> dict[str, str]:
    """What the page header calls the scopes of the signed-in account's roles: a hospital by its name, a
    region by the rule pack's name for it (成都市（示例）), not by their codes."""
    scopes = {g.scope for g in principal.grants if g.scope}
    if not scopes:
        return {}
    regions = request.app.state.pack.regions
    names = {code: regions[code].name for code in scopes if code in regions and regions[code].name}
    names.update(queries.hospital_names(session=session, hospital_ids=scopes - names.keys()))
    return {code: name for code, name in names.items() if name}


def current_principal(request: Request, session: DB) -> Principal:
    """Who is signed in (web channel); `Unauthenticated` sends the browser to the log-in page."""
    return _principal(request, session, allow_password_change=False)


def principal_changing_password(request: Request, session: DB) -> Principal:
    """Who is signed in, also while they must still choose a new password."""
    return _principal(request, session, allow_password_change=True)


Me = Annotated[Principal, Depends(current_principal)]


def require(action: str) -> Callable[..., Principal]:
    """A dependency: the signed-in principal, who may do `action` somewhere (else 403). The route then
    checks the object itself through the services (out of scope → 404, as for a missing object)."""

    def dependency(principal: Me) -> Principal:
        if not may(principal, action):
            raise Denied(f"{principal.username} may not do {action}")
        return principal

    dependency.action = action  # type: ignore[attr-defined]  # read by the route × role test
    return dependency


def require_any(*actions: str) -> Callable[..., Principal]:
    """A dependency: the signed-in principal, who may do at least one of `actions` somewhere (else 403)."""

    def dependency(principal: Me) -> Principal:
        if not any(may(principal, action) for action in actions):
            raise Denied(f"{principal.username} may not do any of {', '.join(actions)}")
        return principal

    dependency.action = actions  # type: ignore[attr-defined]
    return dependency


def login_url(request: Request) -> str:
    """The log-in page, coming back to this page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}" if target != "/" else "/login"
