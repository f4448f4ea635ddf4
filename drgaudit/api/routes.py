"""The routes of `/api/v1`: thin, each one authenticates, checks its action, calls one service, answers JSON.

The logic is in the services (`drgaudit.services.presettlement`, `.warm`, `.cases`, `.apikeys`); the
refusals they raise become the JSON errors of `drgaudit.api.errors` in `ApiRoute`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal, get_args, get_origin

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.responses import Response

from drgaudit.api import schemas
from drgaudit.api.auth import ApiCaller, caller
from drgaudit.api.context import BodyTooLarge
from drgaudit.api.errors import ApiError, error_response, json_response
from drgaudit.casebook.models import MAX_STORED_INT
from drgaudit.casebook.reviewconfig import ConflictError, ReviewError
from drgaudit.errors import DrgauditError
from drgaudit.jsontext import duplicate_keys, nul_paths
from drgaudit.services import settlement
from drgaudit.services.access import Denied, NotFound, Unauthenticated
from drgaudit.services.presettlement import ClaimInputError, ClaimNotFound, TooManyClaimsError
from drgaudit.services.settlement import RegionDenied, StoredElsewhere
from drgaudit.services.warm import NoActivePackError
from drgaudit.web.deps import CsrfError


class ApiRoute(APIRoute):
    """A route whose refusals, whatever raised them, are the API's JSON errors with the request id."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        names, several = _query_names(self.dependant)

        async def route(request: Request) -> Response:
            request_id = getattr(request.state, "request_id", "-")
            try:
                _refuse_unknown_query(request, names, several)
                _refuse_nul(_nul_in_address(request))
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every refusal becomes a JSON error; the rest re-raised
                error = as_api_error(exc)
                if error is None:
                    raise
                return error_response(error, request_id)

        return route


def _query_names(dependant: Dependant) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters a route (with its dependencies) takes, and those of them that take a list."""
    names: set[str] = set()
    several: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        for param in current.query_params:
            names.add(param.alias)
            annotation = param.field_info.annotation
            if list in (get_origin(annotation), *(get_origin(a) for a in get_args(annotation))):
                several.add(param.alias)
        todo.extend(current.dependencies)
    return frozenset(names), frozenset(several)


def _refuse_unknown_query(request: Request, names: frozenset[str], several: frozenset[str]) -> None:
    """A query parameter the route does not take, or one of its own given twice, is refused: ignored, a
    misspelt `?stroe=true` screened without storing and `?hospital=` listed every hospital's cases."""
    given = request.query_params
    takes = ", ".join(sorted(names)) or "no query parameters"
    problems = [
        f"query.{name}: unknown parameter; this address takes {takes}" for name in given if name not in names
    ]
    problems += [
        f"query.{name}: given {len(given.getlist(name))} times; give it once"
        for name in names - several
        if len(given.getlist(name)) > 1
    ]
    if problems:
        raise ApiError("invalid_request", "; ".join(problems), problems=problems)


def _nul_in_address(request: Request) -> list[str]:
    """The path and query parameters whose text holds a NUL character."""
    found = [f"path.{name}" for name, value in request.path_params.items() if "\x00" in str(value)]
    found += [f"query.{name}" for name, value in request.query_params.multi_items() if "\x00" in name + value]
    return found


def _refuse_nul(paths: list[str]) -> None:
    """Text with a NUL character is refused (`invalid_request`): PostgreSQL can neither store nor compare
    it (a server error there), and SQLite kept a character nobody can see. Claims' fields are checked by
    the importer's converter; this is for addresses, query parameters and decisions."""
    if paths:
        problems = [f"{path}: holds a NUL character (U+0000); remove it" for path in sorted(set(paths))]
        raise ApiError("invalid_request", "; ".join(problems), problems=problems)


def as_api_error(exc: Exception) -> ApiError | None:
    """The API error of an exception raised while serving a request (None: a bug, answered 500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, BodyTooLarge):
        return ApiError("body_too_large", str(exc), limit=exc.limit)
    if isinstance(exc, RequestValidationError):
        if any(error.get("type") == "json_invalid" for error in exc.errors()):  # FastAPI's own parse
            return ApiError("invalid_json", "; ".join(str(error.get("msg", "")) for error in exc.errors()))
        problems = [
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', '')}"
            for error in exc.errors()
        ]
        return ApiError("invalid_request", "; ".join(problems), problems=problems)
    if isinstance(exc, ClaimInputError):
        return ApiError("invalid_claims", str(exc), problems=exc.problems, count=len(exc.problems))
    if isinstance(exc, TooManyClaimsError):
        return ApiError("too_many_claims", str(exc), limit=exc.limit, count=exc.count)
    if isinstance(exc, NoActivePackError):
        return ApiError("no_active_pack", str(exc), region=exc.region)
    if isinstance(exc, Unauthenticated):
        return ApiError("unauthenticated", str(exc))
    if isinstance(exc, CsrfError):
        return ApiError("forbidden", "a request signed in by the pages' session cookie needs its CSRF token")
    if isinstance(exc, NotFound | ClaimNotFound):
        return ApiError("not_found", str(exc))
    if isinstance(exc, RegionDenied):
        return ApiError(
            "region_forbidden", str(exc), index=exc.index, ordinal=exc.index + 1, region=exc.region,
            scope="、".join(exc.scopes),
        )  # fmt: skip
    if isinstance(exc, StoredElsewhere):
        return ApiError("claim_of_other_scope", str(exc), ordinal=exc.index + 1, claim_id=exc.claim_id)
    if isinstance(exc, Denied):
        return ApiError("forbidden", str(exc))
    if isinstance(exc, ConflictError):
        return ApiError("conflict", str(exc))
    if isinstance(exc, ReviewError | DrgauditError):
        return ApiError("refused", str(exc))
    return None


def _session(request: Request) -> Session:
    return Session(request.app.state.engine)


Screener = Annotated[ApiCaller, Depends(caller("claim.screen"))]
Explainer = Annotated[ApiCaller, Depends(caller("claim.explain"))]
Viewer = Annotated[ApiCaller, Depends(caller("case.view"))]
Decider = Annotated[ApiCaller, Depends(caller("case.decide"))]
PackViewer = Annotated[ApiCaller, Depends(caller("rules.view"))]

router = APIRouter(prefix="/api/v1", route_class=ApiRoute, responses=schemas.ERROR_RESPONSES)


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError("unsupported_media_type", f"Content-Type {content_type or '(none)'}")
    body = await request.body()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError("invalid_json", str(exc)) from None
    _refuse_repeated_names(body)
    return parsed


async def _checked_body(request: Request) -> None:
    """The dependency of a route whose JSON body FastAPI parses into a model, after the caller's: the
    body gets /screen's checks (415 for another media type, `invalid_json` for bad JSON, NaN or a name
    given twice), and NUL characters are refused. Without it a text/plain decision was 'body: Input
    should be a valid dictionary' and a repeated name kept its last value."""
    await _json_body(request)
    _refuse_nul([f"body.{path}" for path in nul_paths(await request.body())])


def _refuse_repeated_names(body: bytes) -> None:
    """A member named twice in one object is refused (`invalid_json`), never one of its values kept."""
    repeated = duplicate_keys(body)
    if repeated:
        problems = [f"{path}: given more than once in one object; send it once" for path in repeated]
        raise ApiError("invalid_json", "; ".join(problems), problems=problems)


@router.post(
    "/screen",
    summary="审核结算清单（结算前）",
    description=schemas.SCREEN_DESCRIPTION,
    response_model=schemas.ScreenAnswer,
    openapi_extra=schemas.SCREEN_REQUEST,
    tags=["审核"],
)
async def screen(
    request: Request,
    caller: Screener,
    store: Annotated[bool, Query(description="同时保存结算清单、命中结果并生成特例单议案件（幂等）")] = False,
) -> Response:
    payload = await _json_body(request)
    state = request.app.state

    def work() -> dict[str, Any]:
        with _session(request) as session:
            return settlement.screen(
                session=session, engine=state.warm, principal=caller.principal, payload=payload, store=store,
                max_claims=state.api_settings.max_claims, request_id=request.state.request_id,
            )  # fmt: skip

    # Screening without storing only reads (one indexed query for the patient's history) and runs the
    # engine, which holds the GIL anyway: done here, in the event loop, it saves the hand-off to a pool
    # thread, which on a busy machine costs more than the work (a scheduler tick to wake the thread).
    # Storing writes and may wait for the database's write lock, so it goes to the thread pool.
    answer = await run_in_threadpool(work) if store else work()
    return json_response({**answer, "request_id": request.state.request_id})


@router.get(
    "/claims/{claim_id:path}/explain",  # :path: a claim id may hold "/" (JS/2025/001)
    summary="解释一份已保存的结算清单：逐条规则是否命中及每个条件的取值",
    response_model=schemas.Explanation,
    tags=["审核"],
)
def explain(request: Request, caller: Explainer, claim_id: Annotated[str, Path(max_length=64)]) -> Response:
    with _session(request) as session:
        answer = settlement.explain(
            session=session, engine=request.app.state.warm, principal=caller.principal, claim_id=claim_id
        )
    return json_response({**answer, "request_id": request.state.request_id})


@router.get(
    "/cases",
    summary="特例单议案件列表（按优先级）",
    response_model=schemas.CaseList,
    tags=["案件"],
)
def cases(
    request: Request,
    caller: Viewer,
    status: Annotated[list[str] | None, Query(description="状态，可多个；缺省为未办结的")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="就医地统筹区")] = None,
    hospital_id: Annotated[str | None, Query(max_length=64)] = None,
    # The forms the queue reads (drgaudit.periods): YYYY-MM alone refused the year and the quarter its own
    # error message ("use 2025 (year), 2025Q3 (quarter) or 2025-07 (month)") sent the caller to.
    period: Annotated[
        str | None, Query(max_length=32, description="出院时间：年 2025、季度 2025Q3 或月 2025-07")
    ] = None,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_STORED_INT)] = 0,
) -> Response:
    with _session(request) as session:
        answer = settlement.list_cases(
            session=session, principal=caller.principal, statuses=status, region=region, hospital_id=hospital_id,
            period=period, claim_id=claim_id, limit=min(limit, request.app.state.api_settings.page_size),
            offset=offset,
        )  # fmt: skip
    return json_response({**answer, "request_id": request.state.request_id})


@router.get(
    "/cases/{case_id}",
    summary="一个案件：命中、决定与版本号",
    response_model=schemas.CaseDetail,
    tags=["案件"],
)
def case(
    request: Request, caller: Viewer, case_id: Annotated[int, Path(ge=1, le=MAX_STORED_INT)]
) -> Response:
    with _session(request) as session:
        answer = settlement.case_detail(session=session, principal=caller.principal, case_id=case_id)
    return json_response({**answer, "request_id": request.state.request_id})


class DecisionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=200, description="特例单议核准的项目")
    amount: float = Field(gt=0, description="核准金额（元）")


class DecisionBody(BaseModel):
    """A decision on a case, with the version of the case the decider read (the version guard)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["standard", "special", "deduct", "merge", "refer"] = Field(description="决定类型")
    reason: str = Field(min_length=1, max_length=2000, description="理由")
    expected_version: int = Field(ge=1, description="读取案件时的版本号；案件已被他人修改时返回 409")
    amount: float | None = Field(default=None, ge=0, description="金额（元）")
    items: list[DecisionItem] | None = Field(default=None, max_length=200)
    merged_with: str | None = Field(default=None, max_length=64, description="合并的另一份结算清单")
    quota_override: str | None = Field(default=None, max_length=2000, description="超出特例单议额度的理由")


@router.post(
    "/cases/{case_id}/decisions",
    summary="记录会议对案件的决定（带版本校验）",
    status_code=201,
    response_model=schemas.DecisionAnswer,
    tags=["案件"],
)
def decide(
    request: Request,
    caller: Decider,
    _checked: Annotated[None, Depends(_checked_body)],
    case_id: Annotated[int, Path(ge=1, le=MAX_STORED_INT)],
    body: DecisionBody,
) -> Response:
    with _session(request) as session:
        answer = settlement.decide(
            session=session, principal=caller.principal, case_id=case_id, body=body.model_dump(),
            pack=request.app.state.pack,
        )  # fmt: skip
    return json_response({**answer, "request_id": request.state.request_id}, status=201)


@router.get(
    "/rule-packs/active",
    summary="各就医地当前启用的规则包版本",
    response_model=schemas.ActivePacks,
    tags=["规则包"],
)
def active_packs(
    request: Request,
    caller: PackViewer,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="只看一个就医地")] = None,
) -> Response:
    with _session(request) as session:
        answer = settlement.active_packs(
            session=session, engine=request.app.state.warm, principal=caller.principal, region=region
        )
    return json_response({**answer, "request_id": request.state.request_id})
