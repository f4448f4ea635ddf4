"""API keys as the CLI and the API use them: making, listing and revoking keys (administrators), and
turning a presented key into the principal that acts through the API (channel `api`).

See `drgaudit.casebook.apikeys` for how keys are made and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from drgaudit.casebook import accounts, apikeys
from drgaudit.casebook.apikeys import ApiKey
from drgaudit.casebook.states import KEY_DAYS
from drgaudit.services.access import Principal
from drgaudit.services.accounts import acting


@dataclass
class NewKey:
    """A key just made: the stored row and the key text, shown this once."""

    key: ApiKey
    account: accounts.Account
    text: str


def add_key(
    *, session: Session, principal: Principal, username: str, name: str, days: int = KEY_DAYS
) -> NewKey:
    """Make a key for an account, working for `days` days (administrators): it acts with that account's
    roles and scopes."""
    actor = acting(principal, "users.manage")
    account = accounts.get_account(session=session, username=username)
    key, text = apikeys.create_key(session=session, account=account, name=name, actor=actor, days=days)
    return NewKey(key, account, text)


def revoke_key(*, session: Session, principal: Principal, prefix: str) -> ApiKey:
    """Revoke a key for good (administrators)."""
    return apikeys.revoke_key(session=session, prefix=prefix, actor=acting(principal, "users.manage"))


def list_keys(
    *, session: Session, principal: Principal, username: str | None = None
) -> list[tuple[ApiKey, accounts.Account]]:
    """Keys (of one account), oldest first (administrators)."""
    acting(principal, "users.manage")
    account = accounts.get_account(session=session, username=username) if username else None
    return apikeys.list_keys(session=session, account=account)


def ending_keys(
    rows: list[tuple[ApiKey, accounts.Account]], *, within_days: int
) -> list[tuple[ApiKey, accounts.Account, int]]:
    """The working keys of `rows` (not revoked, not expired) that stop working within `within_days`
    days, with the days left (0: today)."""
    now = datetime.now(UTC)
    found = []
    for key, account in rows:
        until = accounts.aware(key.expires_at)
        if key.revoked_at is None and until is not None and now < until <= now + timedelta(days=within_days):
            found.append((key, account, (until - now).days))
    return found


@dataclass(frozen=True)
class KeyCheck:
    """A presented key: `ok`, `revoked`, `expired`, `disabled` (its account) or `invalid`; the principal
    when ok."""

    outcome: str
    principal: Principal | None = None
    key: apikeys.KeyOwner | None = None


def authenticate_key(*, session: Session, text: str) -> KeyCheck:
    """Who a presented API key acts as (channel `api`), or why it does not work."""
    outcome, owner = apikeys.find_key(session=session, text=text)
    if owner is None:
        return KeyCheck(outcome)
    principal = Principal.of(
        username=owner.username, grants=owner.grants, channel="api", account_id=owner.account_id,
        display_name=owner.display_name,
    )  # fmt: skip
    return KeyCheck(outcome, principal if outcome == "ok" else None, owner)
