"""Accounts as the CLI, the pages and the API use them: who is acting, managing accounts, signing in.

- `cli_principal`: the CLI's `--user`. On a casebook with accounts it must name an existing, active
  account (default: `$DRGAUDIT_USER`, else the OS user); a CLI run on the casebook's own machine is
  trusted to say who it is, and the log records channel `cli`. A casebook without any account is
  private (what `drgaudit demo` makes): its OS user acts as its owner until the first account exists.
- `add_user`, `list_users`, `disable_user`, `enable_user`, `reset_password`, `grant`: account management,
  `users.manage` (admin) only; the very first account of a casebook can be created by its owner from
  the CLI with no account, and must be an administrator.
- `authenticate`: a web log-in, throttled per address and locking an account after repeated failures.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from drgaudit.casebook import accounts
from drgaudit.casebook.accounts import Account, AccountCreate, AccountError, GrantRow, LoginPolicy
from drgaudit.casebook.auditlog import Actor
from drgaudit.i18n import _
from drgaudit.services.access import NOTHING, AccessError, Denied, Principal, Target, require

USER_ENV = "DRGAUDIT_USER"


def os_user() -> str:
    """The name the CLI acts under without --user: $DRGAUDIT_USER, else the OS user."""
    return (os.environ.get(USER_ENV) or "").strip() or getpass.getuser()


def principal_of(*, session: Session, account: Account, channel: str) -> Principal:
    """The principal of an account on a channel, with its stored grants."""
    return Principal.of(
        username=account.username, grants=accounts.grants_of(session=session, account=account), channel=channel,
        account_id=account.id, display_name=account.display_name,
    )  # fmt: skip


def cli_principal(*, session: Session, user: str | None) -> Principal:
    """Who runs a CLI command (see the module docstring); a clear error when the account cannot act."""
    name = (user or "").strip() or os_user()
    if accounts.count_accounts(session=session) == 0:
        return Principal.owner(name)
    account = accounts.find_account(session=session, username=name)
    if account is None:
        hint = "" if user else f" (the OS user; give --user NAME or set ${USER_ENV})"
        raise AccessError(
            f"no account `{name}`{hint}: this casebook has accounts, so every change needs one "
            "(see `drgaudit users list`)"
        )
    if account.status != "active":
        raise AccessError(f"account `{name}` is disabled")
    return principal_of(session=session, account=account, channel="cli")


def acting(principal: Principal, action: str, target: Target = NOTHING) -> Actor:
    """The actor recorded for `action` on `target`, after checking the principal may do it."""
    return principal.actor(require(principal, action, target))


def cli_actor(*, session: Session, user: str | None, action: str, target: Target = NOTHING) -> Actor:
    """The CLI's actor for an action: `--user` resolved and checked (see `cli_principal`)."""
    return acting(cli_principal(session=session, user=user), action, target)


# ---------------------------------------------------------------------------------------------------
# Managing accounts


def _manager(session: Session, principal: Principal) -> Actor:
    if principal.is_owner and accounts.count_accounts(session=session) > 0:
        # The owner of a private casebook stops being anybody once the first account exists.
        raise Denied("this casebook has accounts: give --user NAME of an administrator")
    return acting(principal, "users.manage")


def add_user(
    *,
    session: Session,
    principal: Principal,
    username: str,
    grants: list[GrantRow],
    password: str | None,
    display_name: str | None = None,
    organisation: str | None = None,
    must_change_password: bool = False,
) -> Account:
    """Create an account. The first account of a casebook may be created by its owner (the CLI on a
    casebook without accounts) and must hold the admin role; every later one needs an administrator."""
    if accounts.count_accounts(session=session) == 0:
        if not principal.is_owner:
            raise Denied("the casebook has no account yet; create the first administrator from the CLI")
        if not any(g.role == "admin" for g in grants):
            raise AccountError(
                "the first account of a casebook must be an administrator (--role admin); "
                "it then creates the others"
            )
    actor = _manager(session, principal)
    data = AccountCreate(username=username, display_name=display_name or username, organisation=organisation)
    return accounts.create_account(
        session=session, account=data, grants=grants, password=password, actor=actor,
        must_change_password=must_change_password,
    )  # fmt: skip


@dataclass
class UserRow:
    """An account as listings show it."""

    account: Account
    grants: list[GrantRow]

    @property
    def locked(self) -> bool:
        return accounts.is_locked(self.account)


def list_users(*, session: Session, principal: Principal, role: str | None = None) -> list[UserRow]:
    """Every account with its roles (administrators only)."""
    _manager(session, principal)
    rows = accounts.list_accounts(session=session, role=role)
    grants = accounts.account_grants(session=session, account_ids=[a.id for a in rows if a.id is not None])
    return [UserRow(a, grants[a.id]) for a in rows if a.id is not None]


def _not_self(principal: Principal, username: str, message: str) -> None:
    if principal.username == username.strip():
        raise AccountError(message)


def disable_user(*, session: Session, principal: Principal, username: str) -> Account:
    """Disable an account and end its sessions."""
    actor = _manager(session, principal)
    _not_self(
        principal, username, _("an administrator cannot disable their own account; ask another administrator")
    )
    return accounts.set_status(session=session, username=username, status="disabled", actor=actor)


def enable_user(*, session: Session, principal: Principal, username: str) -> Account:
    """Enable a disabled account again (and lift a lock-out)."""
    actor = _manager(session, principal)
    return accounts.set_status(session=session, username=username, status="active", actor=actor)


def reset_password(
    *, session: Session, principal: Principal, username: str, password: str, must_change: bool = True
) -> Account:
    """Set a new password for an account (it must choose its own at the next log-in unless told otherwise)."""
    actor = _manager(session, principal)
    return accounts.set_password(
        session=session, username=username, password=password, actor=actor, must_change=must_change
    )


def grant(
    *,
    session: Session,
    principal: Principal,
    username: str,
    role: str,
    scope: str | None,
    revoke: bool = False,
) -> Account:
    """Grant a role (bound to a scope) to an account, or revoke it."""
    actor = _manager(session, principal)
    if revoke and role == "admin":
        _not_self(
            principal,
            username,
            _(
                "an administrator cannot take the admin role from their own account; ask another administrator"
            ),
        )
    return accounts.grant_role(
        session=session, username=username, role=role, scope=scope, actor=actor, revoke=revoke
    )


def change_own_password(*, session: Session, principal: Principal, current: str, new: str) -> Account:
    """An account changes its own password (knowing the current one)."""
    account = accounts.get_account(session=session, username=principal.username)
    if not accounts.check_password(account.password_hash, current)[0]:
        raise AccountError("the current password is not right")
    actor = Actor(account.username, role="self", channel=principal.channel)
    return accounts.set_password(session=session, username=account.username, password=new, actor=actor)


# ---------------------------------------------------------------------------------------------------
# Signing in


class LoginRefused(AccessError):
    """A log-in that did not succeed; the message never says whether the name exists."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


BAD_LOGIN = "用户名或密码不正确；多次失败后账户将被暂时锁定，请稍后再试。"
THROTTLED = "此地址登录失败次数过多，请稍后再试。"


def authenticate(
    *, session: Session, username: str, password: str, ip: str | None, policy: LoginPolicy
) -> Account:
    """The account whose name and password these are, active and not locked out; `LoginRefused` otherwise
    (one message for every reason). Every attempt is recorded; failures count towards the lock-out."""
    username = username.strip()[:128]
    since = accounts.now() - timedelta(minutes=policy.ip_window_minutes)
    if accounts.recent_failures(session=session, ip=ip, since=since) >= policy.ip_max_failures:
        accounts.record_login(
            session=session,
            username=username,
            account=None,
            ok=False,
            ip=ip,
            policy=policy,
            reason="throttled",
        )
        raise LoginRefused(THROTTLED, throttled=True)
    account = accounts.find_account(session=session, username=username) if username else None
    ok, new_hash = accounts.check_password(account.password_hash if account else None, password)
    reason = None
    if account is None:
        reason = "unknown account"
    elif not ok:
        reason = "wrong password"
    elif account.status != "active":
        reason, ok = "disabled", False
    elif accounts.is_locked(account):
        reason, ok = "locked", False
    counted = account if reason in (None, "wrong password") else None
    accounts.record_login(
        session=session, username=username, account=counted, ok=ok, ip=ip, policy=policy, reason=reason,
        new_hash=new_hash,
    )  # fmt: skip
    if not ok or account is None:
        raise LoginRefused(BAD_LOGIN)
    session.refresh(account)
    return account


def unknown_hospitals(*, session: Session, grants: list[GrantRow]) -> list[str]:
    """The hospital ids of `grants` the casebook holds no hospital for: a typo (H0001 for H001) gave an
    account that sees nothing, created without a word (the hospitals may also not be imported yet)."""
    from drgaudit.casebook.models import Hospital

    return [
        g.scope for g in grants if g.role == "hospital" and g.scope and session.get(Hospital, g.scope) is None
    ]
