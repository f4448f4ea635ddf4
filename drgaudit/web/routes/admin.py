"""Account administration on the web (administrators): list, create with a one-time password, disable,
enable, reset a password, grant or revoke a role — the same services as `drgaudit users`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from drgaudit.casebook.accounts import ROLE_LABELS, ROLE_SCOPES, GrantRow, generate_password
from drgaudit.services import accounts as account_service
from drgaudit.services.access import NotFound, Principal
from drgaudit.web.deps import DB, require
from drgaudit.web.forms import text
from drgaudit.web.templating import redirect, render

router = APIRouter()
Admin = Annotated[Principal, Depends(require("users.manage"))]


@router.get("/admin/users")
def users_page(request: Request, session: DB, me: Admin) -> Response:
    """Every account with its roles, status and last log-in."""
    rows = account_service.list_users(session=session, principal=me)
    return render(
        request,
        "users.html",
        {"rows": rows, "roles": ROLE_LABELS, "scopes": ROLE_SCOPES, "password": None, "warning": None},
    )


@router.post("/admin/users")
def create_user(
    request: Request,
    session: DB,
    me: Admin,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=30)],
    scope: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    organisation: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an account with a generated password, shown once; it must be changed at the first log-in."""
    password = generate_password()
    grants = [GrantRow(role, text(scope))]
    account = account_service.add_user(
        session=session, principal=me, username=username, grants=grants, password=password,
        display_name=text(display_name), organisation=text(organisation), must_change_password=True,
    )  # fmt: skip
    rows = account_service.list_users(session=session, principal=me)
    return render(
        request, "users.html",
        {"rows": rows, "roles": ROLE_LABELS, "scopes": ROLE_SCOPES, "password": (account.username, password),
         "warning": _unknown_hospital(session, grants)},
    )  # fmt: skip


def _unknown_hospital(session: DB, grants: list[GrantRow]) -> str | None:
    unknown = account_service.unknown_hospitals(session=session, grants=grants)
    if not unknown:
        return None
    return (
        f"注意：案卷中没有编码为 {'、'.join(unknown)} 的定点医疗机构，该账户现在看不到任何案件。"
        "请核对医院编码（有误时收回该角色后重新授予），或先导入医疗机构数据。"
    )


@router.post("/admin/roles")
def change_role(
    request: Request,
    session: DB,
    me: Admin,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=30)],
    scope: Annotated[str, Form(max_length=64)] = "",
    revoke: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Grant a role (bound to a scope) to an account, or revoke it."""
    account_service.grant(
        session=session, principal=me, username=username, role=role, scope=text(scope), revoke=bool(revoke)
    )
    warning = None if revoke else _unknown_hospital(session, [GrantRow(role, text(scope))])
    done = f"账户 {username} 的角色已{'收回' if revoke else '授予'}"
    return redirect(request, "/admin/users", message=f"{done}。{warning}" if warning else done)


@router.post("/admin/users/{username}/{action}")
def change_user(
    request: Request,
    username: str,
    action: str,
    session: DB,
    me: Admin,
) -> Response:
    """disable, enable, or reset (a generated password, shown once)."""
    if action == "disable":
        account_service.disable_user(session=session, principal=me, username=username)
        return redirect(request, "/admin/users", message=f"账户 {username} 已停用")
    if action == "enable":
        account_service.enable_user(session=session, principal=me, username=username)
        return redirect(request, "/admin/users", message=f"账户 {username} 已启用")
    if action == "reset":
        password = generate_password()
        account_service.reset_password(session=session, principal=me, username=username, password=password)
        rows = account_service.list_users(session=session, principal=me)
        return render(
            request, "users.html",
            {"rows": rows, "roles": ROLE_LABELS, "scopes": ROLE_SCOPES, "password": (username, password), "warning": None},
        )  # fmt: skip
    raise NotFound("no such action")
