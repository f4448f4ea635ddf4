"""What happens around every `/api/` request, before and after its route: a pure ASGI middleware.

- **Request id.** The caller's `X-Request-ID` when it is a sane token (letters, digits, `._-`, at most
  64), else a fresh one; it is in `request.state.request_id`, in every answer (header and error body)
  and in the server log.
- **Size limit.** A body larger than `max_body_bytes` is refused with 413 `body_too_large`: at once
  when `Content-Length` says so, else as soon as the bytes received pass the limit (chunked uploads),
  before anything is parsed or stored.
- **Server-side latency.** From the request's arrival here to the start of its answer, sent as
  `Server-Timing: app;dur=<ms>` (what bench/api.py reads) and logged.
- **The log line.** One INFO line per request on the `drgaudit.api` logger: request id, method, path
  (control characters escaped, so that no path can forge a line), status, milliseconds, and the account
  and key that called (set by the authentication).
- **Start-up.** When the server starts a worker (the ASGI lifespan), `on_startup` runs first: the API
  compiles the active rule packs there, so that no caller waits for it.
- **Errors nobody caught** become 500 `internal_error` with the request id (the traceback goes to the
  log, never to the caller).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from drgaudit.api.errors import REQUEST_ID_HEADER, ApiError, error_response

log = logging.getLogger("drgaudit.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Characters that end or rewrite a log line: a decoded path holding them (%0A) forged log lines.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def loggable(text: str) -> str:
    """Text for one log line: control characters and line separators written as escapes (\\n, \\x00)."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


class BodyTooLarge(Exception):
    """The request body passed the limit while it was being received."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body larger than {limit} bytes")


def new_request_id(given: str | None) -> str:
    """The caller's id when it is a sane token, else a fresh random one."""
    if given and _REQUEST_ID.match(given):
        return given
    return uuid.uuid4().hex


class ApiContext:
    """The middleware (see the module docstring); paths outside `prefix` pass through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api/",
        max_body_bytes: int = 1 << 20,
        on_startup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.max_body_bytes = max_body_bytes
        self.on_startup = on_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.on_startup is not None:
            await self.app(scope, self._starting(receive), send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = new_request_id(headers.get(REQUEST_ID_HEADER))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = {"code": 500, "started": False}
        limit = self.max_body_bytes

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                elapsed = (time.perf_counter() - started) * 1000
                state["server_ms"] = elapsed
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", f"app;dur={elapsed:.3f}".encode()),
                ]
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(item for item in extra if item[0] not in names),
                ]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await error_response(
                    ApiError("body_too_large", f"Content-Length {declared} > {limit}", limit=limit),
                    request_id,
                )(scope, receive, send_with_context)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, limited_receive, send_with_context)
        except BodyTooLarge as exc:
            if status["started"]:
                raise
            await error_response(ApiError("body_too_large", str(exc), limit=exc.limit), request_id)(
                scope, receive, send_with_context
            )
        except Exception:
            log.exception("request %s %s %s failed", request_id, scope.get("method"), loggable(scope["path"]))
            if status["started"]:
                raise
            await error_response(ApiError("internal_error"), request_id)(scope, receive, send_with_context)
        finally:
            log.info(
                "request_id=%s method=%s path=%s status=%s ms=%.2f account=%s key=%s",
                request_id, scope.get("method"), loggable(scope["path"]), status["code"],
                (time.perf_counter() - started) * 1000, state.get("account", "-"), state.get("api_key", "-"),
            )  # fmt: skip

    def _starting(self, receive: Receive) -> Receive:
        """`receive` of the lifespan: runs `on_startup` when the server starts (each worker process)."""
        on_startup = self.on_startup

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and on_startup is not None:
                await on_startup()
            return message

        return wrapped
