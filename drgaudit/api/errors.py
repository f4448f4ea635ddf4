"""The API's errors: a stable code, an HTTP status and a Chinese message, as JSON with the request id.

Every refusal of `/api/v1` has the same shape, whatever refused it (the route, the authentication, the
size limit, the rate limit, an unknown path)::

    {"error": {"code": "invalid_claims", "message": "结算清单数据有误（共 2 处）",
               "detail": "claims[0].age: 'abc' is not a whole number; …",
               "problems": ["claims[0].age: 'abc' is not a whole number", …]},
     "request_id": "5f0c…"}

`code` is stable (callers branch on it), `message` is for people (Chinese), `detail` is the technical
reason (English, as the CLI says it), `problems` lists every bad field where there are several. The
codes, their statuses and messages are declared once, in `CODES`; README "API" lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True)
class Code:
    status: int
    message: str  # Chinese; may use {placeholders} filled from ApiError.params


CODES: dict[str, Code] = {
    "unauthenticated": Code(401, "缺少 API 密钥：请在请求头 Authorization: Bearer <密钥> 中提供"),
    "invalid_api_key": Code(401, "API 密钥无效"),
    "api_key_revoked": Code(401, "API 密钥已被吊销，请向系统管理员申请新密钥"),
    "api_key_expired": Code(401, "API 密钥已过期，请向系统管理员申请新密钥"),
    "account_disabled": Code(401, "API 密钥所属账户已停用"),
    "forbidden": Code(403, "该账户无权执行此操作"),
    "region_forbidden": Code(
        403, "该账户只能处理就医地为本统筹区（{scope}）的结算清单，第 {ordinal} 份为 {region}，未作任何保存"
    ),
    "claim_of_other_scope": Code(
        403,
        "第 {ordinal} 份结算清单的流水号 {claim_id} 已作为本账户无权处理的结算清单保存，不能修改，"
        "未作任何保存；请核对流水号",
    ),
    "not_found": Code(404, "未找到该资源，或无权查看"),
    "method_not_allowed": Code(405, "该地址不支持此请求方法"),
    "conflict": Code(409, "记录已被他人修改，本次操作未保存；请重新读取后再试"),
    "body_too_large": Code(413, "请求体过大，上限为 {limit} 字节"),
    "too_many_claims": Code(413, "单次请求最多 {limit} 份结算清单，本次 {count} 份"),
    "unsupported_media_type": Code(415, "请求体须为 JSON（Content-Type: application/json）"),
    "invalid_json": Code(422, "请求体不是合法的 JSON（UTF-8，同一对象中的字段名不得重复）"),
    "invalid_claims": Code(422, "结算清单数据有误（共 {count} 处），未作任何保存"),
    "invalid_request": Code(422, "请求参数有误"),
    "no_active_pack": Code(422, "就医地 {region} 没有启用的规则包，无法审核，未作任何保存"),
    "refused": Code(422, "无法完成该操作"),
    "rate_limited": Code(429, "请求过于频繁，请 {retry_after} 秒后重试"),
    "internal_error": Code(500, "服务器内部错误，请联系系统管理员并提供请求编号 {request_id}"),
}


class ApiError(Exception):
    """A refusal with a stable code (see CODES), the technical detail, and parameters of the message."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        problems: list[str] | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"undeclared API error code {code!r}")
        self.code = code
        self.detail = detail
        self.problems = problems
        self.headers = headers or {}
        self.params = params
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def status(self) -> int:
        return CODES[self.code].status


def error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    """The JSON body of a refusal."""
    message = CODES[error.code].message.format_map(_Params(request_id=request_id, **error.params))
    body: dict[str, Any] = {"code": error.code, "message": message}
    if error.detail:
        body["detail"] = error.detail
    if error.problems is not None:
        body["problems"] = error.problems
    return {"error": body, "request_id": request_id}


class _Params(dict[str, Any]):
    """Message parameters; one a refusal did not give shows as `?` rather than failing."""

    def __missing__(self, key: str) -> str:
        return "?"


def error_response(error: ApiError, request_id: str) -> Response:
    """A refusal as the JSON response the API sends."""
    return json_response(
        error_body(error, request_id),
        status=error.status,
        headers={**error.headers, REQUEST_ID_HEADER: request_id},
    )


def json_response(content: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON encoded with orjson (non-ASCII kept as it is, dates as ISO text)."""
    return Response(
        orjson.dumps(content, default=_default),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
