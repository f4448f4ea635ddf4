"""The review service's FastAPI application: `create_app(settings)`.

One application serves the pages (`drgaudit.web.routes`) and the pre-settlement API (`/api/v1`, which
`drgaudit.api.app` mounts on it: `drgaudit serve` runs `drgaudit.api.app:app_from_environment`).
Middleware, outermost first: security headers on every response, a request-body size
limit. Every route first runs the CSRF guard, then the NUL guard (app-wide dependencies); every route
but the log-in page and the static files requires a signed-in account, and each checks its action through
`drgaudit.services.access`. Errors become Chinese pages (or JSON under /api/).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from drgaudit.casebook.accounts import AccountError
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.reviewconfig import ConflictError
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.errors import DrgauditError
from drgaudit.i18n import speaking
from drgaudit.labels import FORM_LABELS, label
from drgaudit.services.access import Denied, NotFound, Unauthenticated
from drgaudit.services.reference import ReferenceCache
from drgaudit.services.screenjobs import interrupt_mine, reap_stale_jobs
from drgaudit.web.deps import CsrfError, MustChangePassword, csrf_guard, login_url, text_guard
from drgaudit.web.security import SESSION_COOKIE, BodyLimit, SecurityHeaders, Signer
from drgaudit.web.settings import WebSettings
from drgaudit.web.templating import render


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The review service on the casebook of `settings` (migrated to the newest schema first)."""
    settings = settings or WebSettings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with Session(engine) as session:
            reap_stale_jobs(session=session)  # screens a stopped server left marked running
        yield
        interrupt_mine(engine)  # the screens running on this process's threads stop with it
        engine.dispose()

    app = FastAPI(
        title="drgaudit 审核服务",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_guard), Depends(text_guard)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.signer = Signer(settings.secret())
    app.state.rules_dir = settings.rules_dir or bundled_rules_dir()
    app.state.pack = load_pack(app.state.rules_dir)
    app.state.reference = ReferenceCache(app.state.rules_dir, app.state.pack)
    # Data files imported from the pages may be far larger than attachments: their one route gets its own cap.
    app.add_middleware(
        BodyLimit,
        limit=settings.max_upload_bytes + 1024 * 1024,
        larger={("POST", "/batches"): settings.max_import_bytes + 1024 * 1024},
    )
    app.add_middleware(ChinesePages)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(packages=[("drgaudit.web", "static")]), name="static")
    _handlers(app)
    _routers(app)
    return app


class ChinesePages:
    """Pages speak Chinese on a server started under any locale: a message the services raise through
    `drgaudit.i18n._()` is shown in Chinese there (it was English under LANG=C, with CLI options in it).
    The API keeps the environment's language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        with speaking("zh_CN"):
            await self.app(scope, receive, send)


def app_from_environment() -> FastAPI:
    """The pages alone, configured from the environment (`DRGAUDIT_WEB_*`); `drgaudit serve`'s workers
    import `drgaudit.api.app:app_from_environment`, the same with the API mounted."""
    return create_app(WebSettings())


def _routers(app: FastAPI) -> None:
    from drgaudit.web.routes import (
        admin,
        assist,
        auth,
        batches,
        cases,
        findings,
        meetings,
        queue,
        reports,
        rules,
        versions,
    )

    # versions before rules: /rules/versions is not the page of a rule called "versions"
    for module in (auth, queue, cases, meetings, findings, assist, batches, reports, versions, rules, admin):
        app.include_router(module.router)


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _json_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        if _api(request):
            return _json_error(401, "unauthenticated", "sign in or give an API key")
        response = RedirectResponse(login_url(request), status_code=303)
        if SESSION_COOKIE in request.cookies:
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.exception_handler(MustChangePassword)
    async def must_change(request: Request, exc: MustChangePassword) -> Response:
        if _api(request):
            return _json_error(403, "password_change_required", "choose a new password first")
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> Response:
        if _api(request):
            return _json_error(403, "csrf", "missing or wrong CSRF token")
        return _error_page(
            request,
            403,
            "表单已失效",
            "表单已过期或来源不明（CSRF 校验未通过）。请返回上一页，刷新后重新提交。",
        )

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        if _api(request):
            return _json_error(403, "forbidden", str(exc))
        return _error_page(
            request, 403, "无权操作", "您的账户没有执行此操作的权限。如需开通，请联系系统管理员。"
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _api(request):
            return _json_error(404, "not_found", str(exc))
        return _error_page(request, 404, "未找到", "没有找到您要查看的内容，或您无权查看。")

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> Response:
        if _api(request):
            return _json_error(409, "conflict", str(exc))
        return _error_page(
            request,
            409,
            "记录已被他人修改",
            f"在您操作期间，其他人已修改了这条记录，本次操作未保存。请刷新后重试。（{exc}）",
        )

    @app.exception_handler(DrgauditError)
    async def refused(request: Request, exc: DrgauditError) -> Response:
        if _api(request):
            return _json_error(400, "refused", str(exc))
        return _error_page(request, 400, "无法完成操作", str(exc))

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> Response:
        return await refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if _api(request):
            fields = sorted({".".join(str(p) for p in error.get("loc", ())[1:]) for error in errors})
            return JSONResponse(
                {"error": {"code": "invalid_request", "message": "invalid request", "fields": fields}},
                status_code=422,
            )
        if any(error.get("loc", ("",))[0] == "path" for error in errors):
            # An address whose number is not a number names nothing: the page of a missing case.
            return _error_page(request, 404, "未找到", "没有找到您要查看的内容，或您无权查看。")
        names = sorted({str(error.get("loc", ("", ""))[-1]) for error in errors})
        shown = "、".join(dict.fromkeys(FORM_LABELS.get(name) or label(name) for name in names))
        return _error_page(request, 400, "填写有误", "以下内容缺失或格式不正确：" + shown)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _api(request):
            return _json_error(exc.status_code, "http_error", str(exc.detail))
        titles = {404: "未找到", 405: "不支持的请求方式", 413: "内容过大"}
        # Starlette's own details are English ('Not Found', 'Method Not Allowed'): say it in Chinese, and
        # what to do (a form's address opened by hand, e.g. after a refused form, is not a page).
        messages = {
            404: "没有找到您要查看的内容，或您无权查看。",
            405: "这个地址只用于提交表单，不能直接打开。请返回上一页，在页面上重新操作。",
        }
        message = messages.get(exc.status_code) or str(exc.detail)
        return _error_page(request, exc.status_code, titles.get(exc.status_code, "请求有误"), message)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message, "status": status}, status)
