"""Accounts of the people (and systems) who work on the casebook: roles, passwords, web sessions, log-ins.

An account has a unique `username`, a status (active / disabled), an argon2id password hash (through
argon2-cffi; never the password) and one or more role grants (`account_role`), each optionally bound to
a scope: a hospital id for `hospital`, an insured region's code for `insured_region`, a treatment
region's code for the staff roles that may be limited to one region. What each role may do is declared
once, in `drgaudit.services.access`; this module only stores accounts and checks their shape.

Every change to an account is appended to the audit log (entity `account`) in the same transaction;
the log never holds a password or a hash. Web sessions (`web_session`) are stored by the hash of their
random token, so a stolen database does not yield live cookies; disabling an account or setting its
password ends its sessions. Failed log-ins count on the account and lock it for a while after too many
(`record_login`); every attempt is kept in `login_attempt` for throttling and for the administrator.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Column, DateTime, Integer, UniqueConstraint, delete, func, select, update
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import stored_id
from drgaudit.casebook.states import ROLE_SCOPES as ROLE_SCOPES
from drgaudit.errors import DrgauditError
from drgaudit.i18n import _
from drgaudit.labels import VALUE_LABELS, value_label

ACCOUNT = "account"

# Roles and what their scope is bound to: "hospital" (a hospital id, required), "insured" (an insured
# region's code, required), "region" (a treatment region's code, optional: without it the whole
# casebook), None (no scope): ROLE_SCOPES, in drgaudit.casebook.states. What each role may do is in
# drgaudit.services.access. `integration` is the settlement system calling the API (keys only, no
# password): always bound to its treatment region.
REQUIRED_SCOPES = ("hospital", "insured")
# Roles whose optional kind of scope is required all the same.
SCOPE_REQUIRED_ROLES = ("integration",)
# Chinese role names live in the one vocabulary (drgaudit.labels).
ROLE_LABELS = VALUE_LABELS["role"]
STATUSES = ("active", "disabled")
USERNAME_RE = re.compile(r"^[\w.@-]{1,64}$")
REGION_RE = re.compile(r"^\d{6}$")


class AccountError(DrgauditError):
    """An account request that cannot be done: unknown account, bad name, role or password."""


# ---------------------------------------------------------------------------------------------------
# Tables

_ACCOUNT_VERSION = Column("version", Integer, nullable=False)


def _when(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=DateTime(timezone=True))
    return Field(sa_type=DateTime(timezone=True))


class AccountBase(SQLModel):
    """Who an account is: its log-in name, the name people read, and where they work."""

    username: str = Field(unique=True, index=True)
    display_name: str
    organisation: str | None = None


class AccountCreate(AccountBase):
    """Input form of an account (the password and roles are given beside it)."""


class Account(AccountBase, table=True):
    """An account as stored. `password_hash` is an argon2id hash (None: no password log-in, e.g. API only)."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    status: str = "active"
    password_hash: str | None = None
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = _when(nullable=True)
    last_login_at: datetime | None = _when(nullable=True)
    password_changed_at: datetime | None = _when(nullable=True)
    created_by: str
    created_at: datetime = _when()
    updated_at: datetime = _when()
    version: int = Field(default=1, sa_column=_ACCOUNT_VERSION)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _ACCOUNT_VERSION}


class AccountRole(SQLModel, table=True):
    """A role granted to an account, bound to a scope ('' = the whole casebook)."""

    __tablename__ = "account_role"
    __table_args__ = (UniqueConstraint("account_id", "role", "scope", name="uq_account_role"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str
    scope: str = ""
    granted_by: str
    granted_at: datetime = _when()


class WebSession(SQLModel, table=True):
    """A signed-in browser: stored by the SHA-256 of its random token, ended by expiry, idleness or log-out."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _when()
    expires_at: datetime = _when()
    last_seen_at: datetime = _when()
    ip: str | None = None
    user_agent: str | None = None
    ended_at: datetime | None = _when(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """One log-in attempt, good or bad, by name and address (throttling and the administrator's view)."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    username: str = Field(index=True)
    ip: str | None = Field(default=None, index=True)
    ok: bool
    reason: str | None = None


# ---------------------------------------------------------------------------------------------------
# Passwords

# argon2id with argon2-cffi's defaults (RFC 9106's second recommended profile: 64 MiB, t=3, p=4).
# Stored hashes carry their own parameters; a hash made with other parameters is upgraded at the next
# successful log-in (`check_password` returns the new hash).
_hasher = PasswordHasher()


def configure_hasher(*, time_cost: int, memory_cost: int, parallelism: int) -> None:
    """Use other argon2id parameters for new hashes (memory in KiB). Existing hashes keep verifying."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(password: str) -> str:
    """The argon2id hash of a password."""
    return _hasher.hash(password)


# Verified when the account does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH: str | None = None


def check_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(whether `password` matches, a re-computed hash when the stored one used old parameters)."""
    global _DUMMY_HASH
    if password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return False, None
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None)


def password_problem(password: str, *, username: str, min_length: int = 10) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < min_length:
        return f"a password needs at least {min_length} characters"
    if len(password) > 1024:
        return "a password has at most 1024 characters"
    if password.strip().lower() == username.strip().lower():
        return "the password may not be the account name"
    if len(set(password)) < 4:
        return "the password needs at least 4 different characters"
    return None


def generate_password() -> str:
    """A random password people can type (16 characters, ~95 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


# ---------------------------------------------------------------------------------------------------
# Reading


def now() -> datetime:
    """The time stamp of a change (UTC)."""
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives it back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def count_accounts(*, session: Session) -> int:
    """How many accounts the casebook has (0: a private casebook nobody has set up for sharing)."""
    return int(session.execute(select(func.count()).select_from(Account)).scalar_one())


def find_account(*, session: Session, username: str) -> Account | None:
    """The account with this log-in name, or None."""
    return session.execute(select(Account).where(col(Account.username) == username.strip())).scalars().first()


def get_account(*, session: Session, username: str) -> Account:
    """The account with this log-in name; a clear error when there is none."""
    account = find_account(session=session, username=username)
    if account is None:
        raise AccountError(_("no account `{name}` (see `drgaudit users list`)").format(name=username))
    return account


def list_accounts(*, session: Session, role: str | None = None) -> list[Account]:
    """Every account by name (with `role`: those holding it)."""
    query = select(Account)
    if role is not None:
        query = query.where(
            col(Account.id).in_(select(col(AccountRole.account_id)).where(col(AccountRole.role) == role))
        )
    return list(session.execute(query.order_by(col(Account.username))).scalars())


@dataclass(frozen=True)
class GrantRow:
    """One role of an account, with its scope (None: the whole casebook)."""

    role: str
    scope: str | None

    def describe(self) -> str:
        return f"{self.role}:{self.scope}" if self.scope else self.role


def account_grants(*, session: Session, account_ids: list[int]) -> dict[int, list[GrantRow]]:
    """The roles of some accounts, in the order granted."""
    found: dict[int, list[GrantRow]] = {account_id: [] for account_id in account_ids}
    query = (
        select(AccountRole).where(col(AccountRole.account_id).in_(account_ids)).order_by(col(AccountRole.id))
    )
    for row in session.execute(query).scalars():
        found[row.account_id].append(GrantRow(row.role, row.scope or None))
    return found


def grants_of(*, session: Session, account: Account) -> list[GrantRow]:
    """The roles of one account."""
    assert account.id is not None
    return account_grants(session=session, account_ids=[account.id])[account.id]


def is_locked(account: Account, *, at: datetime | None = None) -> bool:
    """Whether the account is locked out (too many failed log-ins) at `at` (default: now)."""
    until = aware(account.locked_until)
    return until is not None and until > (at or now())


# ---------------------------------------------------------------------------------------------------
# Changing accounts


def check_grant(role: str, scope: str | None) -> GrantRow:
    """A role and scope checked against ROLE_SCOPES (role names, required scopes, the form of codes)."""
    role = role.strip()
    if role not in ROLE_SCOPES:
        raise AccountError(
            _("unknown role `{role}`; one of {roles}").format(
                role=role,
                roles=", ".join(ROLE_SCOPES),
                names="、".join(value_label("role", r) for r in ROLE_SCOPES),
            )
        )
    kind = ROLE_SCOPES[role]
    scope = (scope or "").strip() or None
    if kind is None and scope:
        raise AccountError(
            _("role {role} is not bound to a hospital or region").format(
                role=role, role_name=value_label("role", role)
            )
        )
    if (kind in REQUIRED_SCOPES or role in SCOPE_REQUIRED_ROLES) and not scope:
        # Written ROLE:SCOPE everywhere (`users add --role`, `users grant`); only `users add` also has
        # --hospital/--region, so a hint naming those alone sent `users grant` to an option it lacks.
        what, example, option = {
            "hospital": (_("a hospital id"), "H51010000001", "--hospital"),
            "insured": (_("an insured region's code"), "510700", "--region"),
        }.get(kind or "", (_("a treatment region's code"), "510100", "--region"))
        raise AccountError(
            _(
                "role {role} must be bound to {what}: write {role}:{example} (`users add` also takes {option})"
            ).format(
                role=role, what=what, example=example, option=option, role_name=value_label("role", role)
            )
        )
    if kind in ("insured", "region") and scope and not REGION_RE.match(scope):
        raise AccountError(_("`{scope}` is not a 6-digit region code").format(scope=scope))
    return GrantRow(role, scope)


def account_state(account: Account, grants: list[GrantRow]) -> dict[str, Any]:
    """What the audit log records of an account (never the password or its hash)."""
    return {
        "username": account.username,
        "display_name": account.display_name,
        "organisation": account.organisation,
        "status": account.status,
        "roles": [grant.describe() for grant in grants],
        "must_change_password": account.must_change_password,
        "locked_until": account.locked_until,
        "version": account.version,
    }


def create_account(
    *,
    session: Session,
    account: AccountCreate,
    grants: list[GrantRow],
    password: str | None,
    actor: str,
    must_change_password: bool = False,
    min_password_length: int = 10,
) -> Account:
    """Create an active account with its roles and (unless None, for API-only accounts) a password."""
    username = account.username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError(
            _(
                "`{name}` is not a usable account name (1–64 letters, digits, Chinese characters, . _ - @)"
            ).format(name=username)
        )
    if find_account(session=session, username=username) is not None:
        raise AccountError(_("account `{name}` already exists").format(name=username))
    if not grants:
        raise AccountError("an account needs at least one role")
    grants = _unique([check_grant(g.role, g.scope) for g in grants])
    password_hash = None
    if password is not None:
        problem = password_problem(password, username=username, min_length=min_password_length)
        if problem:
            raise AccountError(problem)
        password_hash = hash_password(password)
    stamp = now()
    stored = Account(
        username=username, display_name=account.display_name.strip() or username,
        organisation=(account.organisation or "").strip() or None, password_hash=password_hash,
        must_change_password=must_change_password, password_changed_at=stamp if password_hash else None,
        created_by=str(actor), created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    session.add(stored)
    session.flush()
    for grant in grants:
        session.add(_grant_row(stored, grant, actor, stamp))
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=ACCOUNT, entity_id=stored_id(stored), action="created",
        after=account_state(stored, grants),
    )  # fmt: skip
    session.commit()
    return stored


def _unique(grants: list[GrantRow]) -> list[GrantRow]:
    return list(dict.fromkeys(grants))


def _grant_row(account: Account, grant: GrantRow, actor: str, stamp: datetime) -> AccountRole:
    assert account.id is not None
    return AccountRole(
        account_id=account.id,
        role=grant.role,
        scope=grant.scope or "",
        granted_by=str(actor),
        granted_at=stamp,
    )


def _change(session: Session, account: Account, action: str, before: dict[str, Any], actor: str) -> None:
    account.updated_at = now()
    session.add(account)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=ACCOUNT, entity_id=stored_id(account), action=action, before=before,
        after=account_state(account, grants_of(session=session, account=account)),
    )  # fmt: skip
    session.commit()


def set_status(*, session: Session, username: str, status: str, actor: str) -> Account:
    """Disable (ends its sessions) or re-enable an account."""
    if status not in STATUSES:
        raise AccountError(f"status is one of {', '.join(STATUSES)}")
    account = get_account(session=session, username=username)
    if account.status == status:
        already = (
            _("account `{name}` is already active")
            if status == "active"
            else _("account `{name}` is already disabled")
        )
        raise AccountError(already.format(name=account.username))
    before = account_state(account, grants_of(session=session, account=account))
    account.status = status
    if status == "disabled":
        end_sessions(session=session, account_id=account.id, commit=False)
    else:
        account.failed_logins = 0
        account.locked_until = None
    _change(session, account, "disabled" if status == "disabled" else "enabled", before, actor)
    return account


def set_password(
    *,
    session: Session,
    username: str,
    password: str,
    actor: str,
    must_change: bool = False,
    min_password_length: int = 10,
) -> Account:
    """Set an account's password (reset by an administrator, or changed by its owner): unlocks the account
    and ends its other sessions. `must_change`: the owner must choose a new one at the next log-in."""
    account = get_account(session=session, username=username)
    problem = password_problem(password, username=account.username, min_length=min_password_length)
    if problem:
        raise AccountError(problem)
    if account.password_hash is not None and check_password(account.password_hash, password)[0]:
        raise AccountError("the new password is the same as the old one")
    before = account_state(account, grants_of(session=session, account=account))
    account.password_hash = hash_password(password)
    account.password_changed_at = now()
    account.must_change_password = must_change
    account.failed_logins = 0
    account.locked_until = None
    end_sessions(session=session, account_id=account.id, commit=False)
    _change(session, account, "password_set", before, actor)
    return account


def grant_role(
    *, session: Session, username: str, role: str, scope: str | None, actor: str, revoke: bool = False
) -> Account:
    """Grant a role (bound to `scope`) to an account, or with `revoke` take it away (not the last one)."""
    account = get_account(session=session, username=username)
    grant = check_grant(role, scope)
    grants = grants_of(session=session, account=account)
    before = account_state(account, grants)
    if revoke:
        if grant not in grants:
            raise AccountError(
                _("account `{name}` does not hold {role}").format(
                    name=account.username, role=grant.describe()
                )
            )
        if len(grants) == 1:
            raise AccountError(
                _("{role} is the only role of `{name}`; disable the account instead").format(
                    role=grant.describe(), name=account.username
                )
            )
        session.execute(
            delete(AccountRole).where(
                col(AccountRole.account_id) == account.id,
                col(AccountRole.role) == grant.role,
                col(AccountRole.scope) == (grant.scope or ""),
            )
        )
    else:
        if grant in grants:
            raise AccountError(
                _("account `{name}` already holds {role}").format(
                    name=account.username, role=grant.describe()
                )
            )
        session.add(_grant_row(account, grant, actor, now()))
    session.flush()
    _change(session, account, "role_revoked" if revoke else "role_granted", before, actor)
    return account


# ---------------------------------------------------------------------------------------------------
# Log-ins and sessions


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed log-ins lock an account and for how long; how many one address may try."""

    lock_after: int = 5
    lock_minutes: float = 15
    ip_window_minutes: float = 15
    ip_max_failures: int = 20


def recent_failures(*, session: Session, ip: str | None, since: datetime) -> int:
    """Failed log-ins from one address since a time (throttling)."""
    query = select(func.count()).where(col(LoginAttempt.ok).is_(False), col(LoginAttempt.at) >= since)
    query = query.where(col(LoginAttempt.ip) == ip) if ip else query.where(col(LoginAttempt.ip).is_(None))
    return int(session.execute(query).scalar_one())


def record_login(
    *,
    session: Session,
    username: str,
    account: Account | None,
    ok: bool,
    ip: str | None,
    policy: LoginPolicy,
    reason: str | None = None,
    new_hash: str | None = None,
) -> bool:
    """Record an attempt; count a failure on the account and lock it after `policy.lock_after` in a row
    (the lock-out goes to the audit log). Returns whether the account is locked now."""
    stamp = now()
    session.add(LoginAttempt(at=stamp, username=username[:128], ip=ip, ok=ok, reason=reason))
    locked = False
    if account is not None:
        if ok:
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": stamp}
            if new_hash is not None:
                values["password_hash"] = new_hash
            # Not version-checked: two log-ins of one account at once must both succeed.
            session.execute(
                update(Account)
                .where(col(Account.id) == account.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        else:
            # An atomic increment: two wrong passwords at once both count.
            session.execute(
                update(Account)
                .where(col(Account.id) == account.id)
                .values(failed_logins=Account.failed_logins + 1)
                .execution_options(synchronize_session=False)
            )
            session.refresh(account)
            if account.failed_logins >= policy.lock_after and not is_locked(account, at=stamp):
                before = account_state(account, grants_of(session=session, account=account))
                account.locked_until = stamp + timedelta(minutes=policy.lock_minutes)
                account.failed_logins = 0
                session.add(account)
                session.flush()
                auditlog.append(
                    session=session, actor=auditlog.Actor(account.username, channel="web"), entity=ACCOUNT,
                    entity_id=stored_id(account), action="locked", before=before,
                    after=account_state(account, grants_of(session=session, account=account)),
                )  # fmt: skip
                locked = True
    session.commit()
    return locked or (account is not None and is_locked(account, at=stamp))


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    *,
    session: Session,
    account: Account,
    lifetime: timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Start a web session for an account; returns its random token (only its hash is stored)."""
    assert account.id is not None
    token = secrets.token_urlsafe(32)
    stamp = now()
    session.add(
        WebSession(
            id=_token_id(token), account_id=account.id, created_at=stamp, expires_at=stamp + lifetime,
            last_seen_at=stamp, ip=ip, user_agent=(user_agent or "")[:300] or None,
        )
    )  # fmt: skip
    session.commit()
    return token


@dataclass
class LiveSession:
    """A web session that is still good, with its account."""

    record: WebSession
    account: Account


def find_session(*, session: Session, token: str, idle: timedelta) -> LiveSession | None:
    """The live session of a token: not ended, not expired, not idle longer than `idle`, and its account
    active. Marks it seen (at most once a minute, to spare writes)."""
    record = session.get(WebSession, _token_id(token))
    if record is None or record.ended_at is not None:
        return None
    stamp = now()
    expires, seen = aware(record.expires_at), aware(record.last_seen_at)
    assert expires is not None and seen is not None
    if expires <= stamp or seen + idle <= stamp:
        return None
    account = session.get(Account, record.account_id)
    if account is None or account.status != "active":
        return None
    if stamp - seen > timedelta(minutes=1):
        record.last_seen_at = stamp
        session.add(record)
        session.commit()
    return LiveSession(record, account)


def end_session(*, session: Session, token: str) -> None:
    """End one web session (log-out)."""
    record = session.get(WebSession, _token_id(token))
    if record is not None and record.ended_at is None:
        record.ended_at = now()
        session.add(record)
        session.commit()


def end_sessions(*, session: Session, account_id: int | None, commit: bool = True) -> int:
    """End every live session of an account; returns how many."""
    result = session.exec(  # exec: a CursorResult, which has the row count
        update(WebSession)
        .where(col(WebSession.account_id) == account_id, col(WebSession.ended_at).is_(None))
        .values(ended_at=now())
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return int(result.rowcount or 0)
