"""Cookies, CSRF tokens and security headers of the review service.

- The session cookie (`drgaudit_session`) carries the session's random token, signed and time-stamped
  with itsdangerous (so a forged or stale cookie is refused before the database is asked); the session
  itself lives in the casebook (`casebook.accounts.WebSession`), so log-out and disabling an account
  end it at once. HttpOnly, SameSite=Lax, Secure when `cookie_secure`.
- CSRF: every form carries `csrf_token` = HMAC(secret, session token); a request that changes anything
  (POST, PUT, PATCH, DELETE) and is signed in by the cookie must present it (form field or the
  `X-CSRF-Token` header). The log-in form, before any session, uses a signed random nonce cookie
  (`drgaudit_login`) and a token derived from it.
- Headers on every response: a Content-Security-Policy without inline scripts, frame denial,
  nosniff, same-origin referrers, no caching of pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "drgaudit_session"
LOGIN_COOKIE = "drgaudit_login"
FLASH_COOKIE = "drgaudit_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Downloaded report HTML: print CSS inline and SVG charts, never a script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class Signer:
    """Signs and checks the cookie values and CSRF tokens with the service's secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._session = URLSafeTimedSerializer(secret, salt="drgaudit.session")
        self._login = URLSafeTimedSerializer(secret, salt="drgaudit.login")
        self._flash = URLSafeTimedSerializer(secret, salt="drgaudit.flash")

    def session_cookie(self, token: str) -> str:
        return self._session.dumps(token)

    def session_token(self, cookie: str | None, max_age: float) -> str | None:
        """The token in a session cookie, None when it is missing, forged or older than `max_age` seconds."""
        if not cookie:
            return None
        try:
            value = self._session.loads(cookie, max_age=int(max_age))
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def csrf_token(self, token: str) -> str:
        """The CSRF token of a session (or of a log-in nonce)."""
        return hmac.new(self._secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str | None, presented: str | None) -> bool:
        if not token or not presented:
            return False
        return hmac.compare_digest(self.csrf_token(token), presented)

    def new_login_nonce(self) -> tuple[str, str]:
        """(the nonce, its signed cookie value) for a log-in form."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._login.dumps(nonce)

    def login_nonce(self, cookie: str | None, max_age: float = 3600) -> str | None:
        if not cookie:
            return None
        try:
            value = self._login.loads(cookie, max_age=int(max_age))
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def flash_cookie(self, kind: str, message: str) -> str:
        return self._flash.dumps([kind, message[:500]])

    def flash(self, cookie: str | None) -> tuple[str, str] | None:
        if not cookie:
            return None
        try:
            kind, message = self._flash.loads(cookie, max_age=300)
        except (BadSignature, ValueError, TypeError):
            return None
        return str(kind), str(message)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (a response may set its own CSP),
    and `Cache-Control: no-store` on everything but static files."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(HEADERS)
                extra.setdefault("content-security-policy", CSP)
                if not static:
                    extra["cache-control"] = "no-store"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """ASGI middleware: refuse a request body larger than `limit` bytes with 413, by its Content-Length
    or while it streams (so an upload cannot fill the disk or memory before it is checked)."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        limit: int,
        larger: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # (method, path) → its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope.get("method", ""), scope.get("path", "")), self.limit)
        length = dict(scope.get("headers", [])).get(b"content-length")
        page = not str(scope.get("path", "")).startswith("/api/")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit, page=page)
            return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(send, limit, page=page)


class BodyTooLarge(Exception):
    """The request body went past the limit while streaming."""


# A page's refusal (the middleware runs before the application and its templates): the site's style
# sheet, what happened and what to do; a bare line of text before, naming a limit the forms did not.
_TOO_LARGE_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>内容过大 · drgaudit 医保基金审核</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main><section class="narrow"><h1>内容过大</h1>'
    '<p class="error" role="alert">一次提交的内容超过了 {mb} MB 的上限，未保存。请返回上一页，减少或压缩附件'
    "（一次合计不超过表单所示大小）后重新提交，较多的材料可分几次提交。</p>"
    '<p><a href="/">返回首页</a></p></section></main></body></html>'
)


async def _too_large(send: Send, limit: int, *, page: bool = False) -> None:
    mb = limit // (1024 * 1024)
    if page:
        body, kind = _TOO_LARGE_PAGE.format(mb=mb).encode(), b"text/html; charset=utf-8"
    else:
        body, kind = f"请求内容过大（上限 {mb} MB）".encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
