"""Rendering the pages: one Jinja2 environment (autoescaping, undefined names are errors), the context
every page gets (who is signed in, the CSRF token, the menu they may use, a flash message), filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from drgaudit.casebook.accounts import ROLE_LABELS
from drgaudit.services.access import Principal, may
from drgaudit.web.security import FLASH_COOKIE

# (label, path, action that shows it)
MENU = (
    ("审核队列", "/queue", "case.view"),
    ("评议会议", "/meetings", "meeting.view"),
    ("医院疑点", "/findings", "finding.view"),
    ("协查", "/assist", "assist.view"),
    ("导入与筛查", "/batches", "import.run"),
    ("报表与反馈函", "/reports", "report.summary"),
    ("规则", "/rules", "rules.view"),
    ("反馈函", "/reports", "report.feedback"),
    ("清算对账表", "/reports", "report.clearing"),
    ("账户管理", "/admin/users", "users.manage"),
)


def _money(value: Any) -> str:
    if value is None or value == "" or value != value:  # None, empty, or NaN (a figure withheld)
        return "—"
    return f"{float(value):,.2f}"


def _date(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        # The casebook stores moments in UTC; SQLite gives them back without their zone, PostgreSQL with
        # it: both are shown in the server's local time.
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
        return moment.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("drgaudit.web", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=_money, date=_date)
    env.globals.update(ROLE_LABELS=ROLE_LABELS)
    return env


ENV = _environment()


def menu(principal: Principal | None) -> list[tuple[str, str]]:
    """The menu entries the principal may use."""
    if principal is None:
        return []
    entries: list[tuple[str, str]] = []
    for label, path, action in MENU:
        if may(principal, action) and all(path != seen for _, seen in entries):
            entries.append((label, path))
    return entries


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page: `template` rendered with the common context and `context`."""
    principal: Principal | None = getattr(request.state, "principal", None)
    token = getattr(request.state, "session_token", None)
    signer = request.app.state.signer
    flash = signer.flash(request.cookies.get(FLASH_COOKIE))
    values = {
        "request": request,
        "me": principal,
        "csrf": signer.csrf_token(token) if token else getattr(request.state, "login_csrf", ""),
        "menu": menu(principal),
        "flash": flash,
        "may": (lambda action, target=None: may(principal, action, target))
        if principal
        else (lambda *a: False),
        "path": request.url.path,
        "scope_names": getattr(request.state, "scope_names", {}),
    }
    values.update(context or {})
    html = ENV.get_template(template).render(**values)
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, *, message: str | None = None, kind: str = "ok") -> Response:
    """A 303 redirect after a form, optionally with a one-time message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        settings = request.app.state.settings
        response.set_cookie(
            FLASH_COOKIE, request.app.state.signer.flash_cookie(kind, message), max_age=300, path="/",
            httponly=True, samesite="lax", secure=settings.cookie_secure,
        )  # fmt: skip
    return response
