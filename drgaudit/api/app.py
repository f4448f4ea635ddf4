"""The review service with the pre-settlement API mounted on it: what `drgaudit serve` runs.

`create_app(settings)` is the pages' application (`drgaudit.web.app.create_app`) with `/api/v1` mounted
(`mount`); `app_from_environment` is the factory `drgaudit serve`'s workers import. The API is a sibling
of the pages in the top layer and mounts itself on their application, so the pages never import it.

Per worker process: one `WarmEngine` (rule packs compiled once, see drgaudit.services.warm), one rate
limiter, the API settings. The API's middleware (`ApiContext`: request id, size limit, timing, log
line) wraps the whole application but acts on `/api/` paths only. Errors the application raises for
`/api/` paths outside the API's routes (an unknown path, a wrong method) get the API's JSON form too;
other paths keep the pages' handlers.

The OpenAPI schema is at `/api/v1/openapi.json` and Swagger UI at `/api/v1/docs`; like everything
but the log-in page and static files they need a caller: a valid API key (any role) or a signed-in
account of the pages (deny by default). Without one the schema answers 401 and the docs page sends the
browser to the log-in page. Swagger UI's own script and style files are static files. Swagger UI's files come from the
`fastapi-offline` package and are served here (no CDN), started by a script file rather than an inline
script, so the pages' Content-Security-Policy holds.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from drgaudit.api.auth import KEY_REFUSALS, presented_key
from drgaudit.api.context import ApiContext
from drgaudit.api.errors import ApiError, error_response, json_response
from drgaudit.api.ratelimit import RateLimiter, SharedRateLimiter
from drgaudit.api.routes import as_api_error, router
from drgaudit.api.settings import ApiSettings
from drgaudit.services.access import Unauthenticated
from drgaudit.services.apikeys import authenticate_key
from drgaudit.services.warm import WarmEngine
from drgaudit.web.app import create_app as create_web_app
from drgaudit.web.deps import MustChangePassword, current_principal, login_url
from drgaudit.web.settings import WebSettings

PREFIX = "/api/v1"
_STATUS_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_request",
                 429: "rate_limited"}  # fmt: skip
_SWAGGER = Path(str(files("fastapi_offline").joinpath("static")))
_DOCS_PAGE = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>drgaudit 结算前审核 API</title>
<link rel="stylesheet" href="{PREFIX}/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{PREFIX}/docs/swagger-ui-bundle.js"></script>
<script src="{PREFIX}/docs/start.js"></script></body></html>
"""
_DOCS_START = f"""window.ui = SwaggerUIBundle({{url: "{PREFIX}/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"}});
"""
API_DESCRIPTION = """\
结算前审核服务：医保结算系统在结算前逐份（或成批）提交结算清单，实时得到审核结论、命中规则及理由。

认证：每个请求在请求头带 `Authorization: Bearer <API 密钥>`。密钥由系统管理员用
`drgaudit users add-key 账户名` 生成（只显示一次），绑定账户的角色与统筹区；`integration`（结算系统接口）
角色只能审核、查看本就医统筹区的结算清单与案件。

错误：统一为 `{"error": {"code", "message", "detail", "problems"}, "request_id"}`，`code` 稳定，
`message` 为中文说明。每个应答带 `X-Request-ID`（可由调用方在请求头中提供）和服务端耗时 `Server-Timing`。
"""


def create_app(settings: WebSettings | None = None, api_settings: ApiSettings | None = None) -> FastAPI:
    """The review service (pages) on the casebook of `settings`, with the API mounted."""
    app = create_web_app(settings)
    mount(app, rules_dir=app.state.settings.rules_dir, settings=api_settings)
    return app


def app_from_environment() -> FastAPI:
    """The application configured from the environment (`DRGAUDIT_WEB_*`, `DRGAUDIT_API_*`): what
    `drgaudit serve`'s workers import (`uvicorn drgaudit.api.app:app_from_environment --factory`)."""
    return create_app(WebSettings())


def mount(app: FastAPI, *, rules_dir: Path | None = None, settings: ApiSettings | None = None) -> None:
    """Add `/api/v1` to the review service's application (see the module docstring).

    `rules_dir`: a folder that screens every region (`drgaudit serve --rules`); without it each region
    is screened by the version promoted active in the casebook.
    """
    settings = settings or ApiSettings()
    app.state.api_settings = settings
    app.state.warm = WarmEngine(rules_dir=rules_dir, check_seconds=settings.check_seconds)
    app.state.api_limiter = (
        SharedRateLimiter(settings.rate_file, per_minute=settings.rate_per_minute, burst=settings.rate_burst)
        if settings.rate_file is not None
        else RateLimiter(per_minute=settings.rate_per_minute, burst=settings.rate_burst)
    )
    app.include_router(router)
    # The settlement system's requests are most of the traffic: the API's routes are matched first
    # (Starlette tries routes in order, and the pages have some forty; their paths never start /api/).
    routes = app.router.routes
    routes[:] = sorted(routes, key=lambda route: not getattr(route, "path", "").startswith("/api/"))
    _docs(app)
    _errors(app)

    async def warm_up() -> None:
        await run_in_threadpool(_warm_up, app)

    app.add_middleware(ApiContext, prefix="/api/", max_body_bytes=settings.max_body_bytes, on_startup=warm_up)
    logger = logging.getLogger("drgaudit.api")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _warm_up(app: FastAPI) -> None:
    """Compile the packs of every region the casebook knows (its hospitals' regions, promoted regions) and
    read the reference data, before the first request."""
    from sqlmodel import Session

    from drgaudit.services.settlement import known_regions
    from drgaudit.services.warm import NoActivePackError

    warm: WarmEngine = app.state.warm
    with Session(app.state.engine) as session:
        regions = known_regions(session=session) or ["national"]
        for region in regions:
            try:
                pack = warm.pack_for(session=session, region=region)
            except NoActivePackError:
                continue
            warm.screener_for(session=session, warm=pack)
        session.rollback()
    logging.getLogger("drgaudit.api").info(
        "rule packs compiled for %d region(s): %s", len(regions), ", ".join(regions)
    )


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema of the API's routes only (the pages are not an API)."""
    cached = getattr(app.state, "api_openapi", None)
    if cached is None:
        cached = get_openapi(
            title="drgaudit 结算前审核 API", version="1", description=API_DESCRIPTION, routes=router.routes
        )
        cached["components"].setdefault("securitySchemes", {})["apiKey"] = {
            "type": "http", "scheme": "bearer", "description": "drgaudit users add-key 生成的 API 密钥",
        }  # fmt: skip
        cached["security"] = [{"apiKey": []}]
        app.state.api_openapi = cached
    return cached


def _docs_refusal(request: Request) -> ApiError | None:
    """Why the request may not read the API's documentation, or None: it may with a valid API key (any
    role) or as a signed-in account of the pages."""
    if "authorization" in request.headers:
        try:
            text = presented_key(request)
        except ApiError as refusal:
            return refusal
        with Session(request.app.state.engine) as session:
            check = authenticate_key(session=session, text=text)
        return None if check.principal is not None else ApiError(KEY_REFUSALS[check.outcome])
    with Session(request.app.state.engine) as session:
        try:
            current_principal(request, session)
        except (Unauthenticated, MustChangePassword):
            return ApiError(
                "unauthenticated", "the API documentation needs an API key or a signed-in account"
            )
    return None


def _docs(app: FastAPI) -> None:
    async def schema(request: Request) -> Response:
        refusal = await run_in_threadpool(_docs_refusal, request)
        if refusal is not None:
            return error_response(refusal, getattr(request.state, "request_id", "-"))
        return json_response(openapi_schema(request.app))

    async def page(request: Request) -> Response:
        if await run_in_threadpool(_docs_refusal, request) is not None:
            return RedirectResponse(login_url(request), status_code=303)
        return HTMLResponse(_DOCS_PAGE)

    async def start(_request: Request) -> Response:
        return Response(_DOCS_START, media_type="text/javascript")

    def asset(name: str, media_type: str) -> Any:
        async def serve(_request: Request) -> Response:
            return FileResponse(_SWAGGER / name, media_type=media_type)

        return serve

    app.add_route(f"{PREFIX}/openapi.json", schema, include_in_schema=False)
    app.add_route(f"{PREFIX}/docs", page, include_in_schema=False)
    app.add_route(f"{PREFIX}/docs/start.js", start, include_in_schema=False)
    app.add_route(f"{PREFIX}/docs/swagger-ui-bundle.js", asset("swagger-ui-bundle.js", "text/javascript"),
                  include_in_schema=False)  # fmt: skip
    app.add_route(
        f"{PREFIX}/docs/swagger-ui.css", asset("swagger-ui.css", "text/css"), include_in_schema=False
    )


def _errors(app: FastAPI) -> None:
    """Errors raised for /api/ paths outside the API's routes answer in the API's JSON form."""
    for kind in (StarletteHTTPException, RequestValidationError):
        previous = app.exception_handlers.get(kind)

        async def handler(request: Request, exc: Exception, previous: Any = previous) -> Response:
            if request.url.path.startswith("/api/"):
                return error_response(_api_error(exc), getattr(request.state, "request_id", "-"))
            if previous is None:
                raise exc
            response: Response = await previous(request, exc)
            return response

        app.add_exception_handler(kind, handler)


def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, StarletteHTTPException):
        return ApiError(_STATUS_CODES.get(exc.status_code, "invalid_request"), str(exc.detail))
    return as_api_error(exc) or ApiError("internal_error")
