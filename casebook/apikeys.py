"""API keys: how the settlement system (and other programs) sign in to `/api/v1`.

A key is bound to one account, so it acts with that account's roles and scopes (an `integration`
account bound to its treatment region, typically). A key is shown once, when it is made, as
`dga_<prefix>_<secret>`; the casebook keeps only its `prefix` (to find it) and the SHA-256 of the whole
key. SHA-256 and not a slow password hash, because the secret is 256 random bits, which no guessing
can reach (a slow hash protects low-entropy passwords, and here it would add its cost to every
request). A revoked key stays in the table (revoked_at, revoked_by) and never works again. A key works
until `expires_at` (`users add-key --days`, a year unless told; keys made before expiry existed have
none), so a key copied into a forgotten configuration does not work for ever. Making and revoking a key
is appended to the audit log (entity `api_key`), never the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, select
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.accounts import Account, AccountError, GrantRow, aware
from drgaudit.casebook.states import KEY_DAYS, MAX_KEY_DAYS
from drgaudit.errors import DrgauditError

API_KEY = "api_key"
KEY_PREFIX = "dga"
_KEY_RE = re.compile(r"^dga_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class ApiKeyError(DrgauditError):
    """An API-key request that cannot be done (unknown key, already revoked)."""


class ApiKeyBase(SQLModel):
    """What a key is for and whose it is (never the key itself)."""

    account_id: int = Field(foreign_key="account.id", index=True)
    name: str
    prefix: str = Field(unique=True, index=True)
    key_hash: str
    created_by: str


class ApiKeyCreate(ApiKeyBase):
    """Input form of a key."""


class ApiKey(ApiKeyBase, table=True):
    """A key as stored: its prefix, the SHA-256 of the whole key, and when it was made and revoked."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by: str | None = None
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_state(key: ApiKey, account: Account) -> dict[str, Any]:
    """What the audit log records of a key (never the key or its hash)."""
    return {
        "prefix": key.prefix,
        "name": key.name,
        "account": account.username,
        "revoked_at": key.revoked_at,
        "revoked_by": key.revoked_by,
        "expires_at": key.expires_at,
    }


def create_key(
    *, session: Session, account: Account, name: str, actor: str, days: int = KEY_DAYS
) -> tuple[ApiKey, str]:
    """Make a key for an account, working for `days` days; returns it with the key text, which is never
    available again."""
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name saying what it is for")
    if not 1 <= days <= MAX_KEY_DAYS:
        raise ApiKeyError(f"a key works for 1 to {MAX_KEY_DAYS} days, not {days}")
    if account.status != "active":
        raise AccountError(f"account `{account.username}` is disabled")
    if account.id is None:
        raise AccountError(f"account `{account.username}` is not stored yet")
    prefix = secrets.token_hex(6)
    text = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    made = datetime.now(UTC)
    key = ApiKey(
        account_id=account.id, name=name, prefix=prefix, key_hash=_digest(text), created_by=str(actor),
        created_at=made, expires_at=made + timedelta(days=days),
    )  # fmt: skip
    session.add(key)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=API_KEY, entity_id=key.prefix, action="created",
        after=key_state(key, account),
    )  # fmt: skip
    session.commit()
    session.refresh(key)
    return key, text


@dataclass(frozen=True)
class KeyOwner:
    """A presented key that matched: the key's id and prefix, its account and the account's grants."""

    key_id: int
    prefix: str
    revoked: bool
    expires_at: datetime | None
    account_id: int
    username: str
    display_name: str
    account_active: bool
    grants: list[GrantRow]


def prefix_of(text: str) -> str | None:
    """The prefix of a well-formed key text, None for anything else."""
    match = _KEY_RE.match(text)
    return match.group(1) if match else None


_keys = SQLModel.metadata.tables["api_key"]
_accounts = SQLModel.metadata.tables["account"]
_roles = SQLModel.metadata.tables["account_role"]
_key, _account, _role = _keys.c, _accounts.c, _roles.c
# Built once: every API request runs it (the key, its account and the account's roles in one query).
_FIND_KEY = (
    select(
        _key.id, _key.key_hash, _key.revoked_at, _key.expires_at, _account.id, _account.username, _account.display_name,
        _account.status, _role.role, _role.scope,
    )
    .select_from(
        _keys.join(_accounts, _account.id == _key.account_id).outerjoin(_roles, _role.account_id == _account.id)
    )
    .where(_key.prefix == bindparam("prefix"))
    .order_by(_role.id)
)  # fmt: skip


def find_key(*, session: Session, text: str) -> tuple[str, KeyOwner | None]:
    """Look a presented key up: ("ok", owner), ("revoked", owner), ("expired", owner), ("disabled", owner)
    or ("invalid", None).

    The comparison of the stored hash is constant-time; a malformed key is never looked up.
    """
    prefix = prefix_of(text)
    if prefix is None:
        return "invalid", None
    rows = session.connection().execute(_FIND_KEY, {"prefix": prefix}).all()
    if not rows or not hmac.compare_digest(rows[0][1], _digest(text)):
        return "invalid", None
    key_id, _hash, revoked_at, expires_at, account_id, username, display_name, status = rows[0][:8]
    grants = [GrantRow(role, scope or None) for *_, role, scope in rows if role is not None]
    expires_at = aware(expires_at)
    owner = KeyOwner(
        key_id, prefix, revoked_at is not None, expires_at, account_id, username, display_name,
        status == "active", grants,
    )  # fmt: skip
    if owner.revoked:
        return "revoked", owner
    if expires_at is not None and datetime.now(UTC) >= expires_at:
        return "expired", owner
    if not owner.account_active:
        return "disabled", owner
    return "ok", owner


def get_key(*, session: Session, prefix: str) -> tuple[ApiKey, Account]:
    """A key by its prefix (as `users keys` lists it), with its account."""
    prefix = prefix.strip()
    if prefix.startswith(f"{KEY_PREFIX}_"):  # the whole key, or its first part as shown
        prefix = prefix[len(KEY_PREFIX) + 1 :].split("_")[0]
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, col(Account.id) == col(ApiKey.account_id))
        .where(col(ApiKey.prefix) == prefix)
    ).first()
    if row is None:
        raise ApiKeyError(f"no API key {prefix} (see `drgaudit users keys`)")
    return row[0], row[1]


def revoke_key(*, session: Session, prefix: str, actor: str) -> ApiKey:
    """Revoke a key for good; revoking a revoked key is an error (it says when and by whom)."""
    key, account = get_key(session=session, prefix=prefix)
    if key.revoked_at is not None:
        raise ApiKeyError(
            f"API key {key.prefix} was already revoked by {key.revoked_by} at {key.revoked_at:%Y-%m-%d %H:%M}"
        )
    before = key_state(key, account)
    key.revoked_at = datetime.now(UTC)
    key.revoked_by = str(actor)
    session.add(key)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=API_KEY, entity_id=key.prefix, action="revoked", before=before,
        after=key_state(key, account),
    )  # fmt: skip
    session.commit()
    session.refresh(key)
    return key


def list_keys(*, session: Session, account: Account | None = None) -> list[tuple[ApiKey, Account]]:
    """Every key (of one account), oldest first."""
    query = select(ApiKey, Account).join(Account, col(Account.id) == col(ApiKey.account_id))
    if account is not None:
        query = query.where(col(ApiKey.account_id) == account.id)
    return [(key, owner) for key, owner in session.execute(query.order_by(col(ApiKey.id)))]
