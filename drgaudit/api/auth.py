"""Who calls the API: the account of the API key in `Authorization: Bearer <key>`, on channel `api`.

`caller(action)` is the dependency of every route: it authenticates the key (401 `unauthenticated`,
`invalid_api_key`, `api_key_revoked`, `api_key_expired`, `account_disabled`), takes a token from the key's rate limit
(429 `rate_limited`), and refuses an account none of whose roles may do `action` anywhere (403
`forbidden`; deny by default). Which objects the account may act on (its hospital, its region) the
services check. The dependency carries `.action`, which the route × role test reads.

Only the Authorization header is read: a request that carries it and no session cookie is exempt from
the pages' CSRF check (drgaudit.web.deps.csrf_guard), so an API key in any other header would not be.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from sqlmodel import Session

from drgaudit.api.errors import ApiError
from drgaudit.api.ratelimit import RateLimiter
from drgaudit.services.access import Principal, may
from drgaudit.services.apikeys import authenticate_key

KEY_REFUSALS = {
    "invalid": "invalid_api_key",
    "revoked": "api_key_revoked",
    "expired": "api_key_expired",
    "disabled": "account_disabled",
}


@dataclass(frozen=True)
class ApiCaller:
    """An authenticated caller: the principal (channel `api`) and the key's prefix."""

    principal: Principal
    key: str


def presented_key(request: Request) -> str:
    """The key of `Authorization: Bearer <key>`; 401 without one."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError("unauthenticated", "no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthenticated", "Authorization must be `Bearer <API key>`")
    return token.strip()


def caller(action: str) -> Callable[[Request], Awaitable[ApiCaller]]:
    """The dependency authenticating a route's caller who may do `action` (see the module docstring)."""

    async def dependency(request: Request) -> ApiCaller:
        text = presented_key(request)
        state = request.app.state
        # One indexed look-up (key with its account, then its grants): fast enough to run here, in the
        # event loop, rather than pay a hop to the thread pool on every request.
        with Session(state.engine) as session:
            check = authenticate_key(session=session, text=text)
        if check.key is not None:
            request.state.api_key = check.key.prefix
        if check.principal is None or check.key is None:
            raise ApiError(KEY_REFUSALS[check.outcome])
        principal = check.principal
        request.state.account = principal.username
        limiter: RateLimiter = state.api_limiter
        wait = limiter.take(check.key.key_id)
        if wait > 0:
            seconds = limiter.retry_after(wait)
            raise ApiError(
                "rate_limited", f"key {check.key.prefix} over its rate limit",
                headers={"Retry-After": str(seconds)}, retry_after=seconds,
            )  # fmt: skip
        if not may(principal, action):
            roles = ", ".join(g.role if g.scope is None else f"{g.role}:{g.scope}" for g in principal.grants)
            raise ApiError(
                "forbidden", f"account `{principal.username}` ({roles or 'no role'}) may not do {action}"
            )
        return ApiCaller(principal, check.key.prefix)

    dependency.action = action  # type: ignore[attr-defined]  # read by the route × role test
    return dependency
