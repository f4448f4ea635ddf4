"""Accounts: creation and bootstrap, passwords (argon2id), roles and scopes, disabling, log-ins with
lock-out and throttling, and the audit log's account, role and channel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from drgaudit.casebook import accounts, auditlog
from drgaudit.casebook.accounts import AccountError, GrantRow, LoginAttempt, LoginPolicy
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.services import accounts as svc
from drgaudit.services.access import AccessError, Denied, Principal
from drgaudit.services.accounts import LoginRefused

pytestmark = pytest.mark.usefixtures("fast_passwords")
PASSWORD = "correct horse battery"
OWNER = Principal.owner("root")


def admin(session: Session) -> Principal:
    """Create the first administrator (as the casebook's owner) and return them as a CLI principal."""
    svc.add_user(
        session=session,
        principal=OWNER,
        username="admin",
        grants=[GrantRow("admin", None)],
        password=PASSWORD,
    )
    return svc.cli_principal(session=session, user="admin")


def add(
    session: Session, by: Principal, name: str, *roles: str, password: str | None = PASSWORD
) -> accounts.Account:
    grants = [GrantRow(r.partition(":")[0], r.partition(":")[2] or None) for r in roles]
    return svc.add_user(session=session, principal=by, username=name, grants=grants, password=password)


def test_the_first_account_is_an_administrator_made_by_the_owner(session: Session) -> None:
    with pytest.raises(AccountError, match="first account of a casebook must be an administrator"):
        svc.add_user(
            session=session,
            principal=OWNER,
            username="w",
            grants=[GrantRow("auditor", None)],
            password=PASSWORD,
        )
    web = Principal(username="x", grants=(), channel="web")
    with pytest.raises(Denied):
        svc.add_user(
            session=session, principal=web, username="w", grants=[GrantRow("admin", None)], password=PASSWORD
        )
    boss = admin(session)
    assert boss.roles() == {"admin"} and boss.channel == "cli"
    # From now on the owner is nobody: the CLI needs an account.
    with pytest.raises(AccessError, match="no account `root`"):
        svc.cli_principal(session=session, user="root")
    with pytest.raises(Denied):
        add(session, Principal.owner("root"), "w", "auditor")
    add(session, boss, "w", "auditor")
    auditor = svc.cli_principal(session=session, user="w")
    with pytest.raises(Denied, match="users.manage"):
        svc.cli_actor(session=session, user="w", action="users.manage")
    with pytest.raises(Denied):
        add(session, auditor, "v", "viewer")


def test_passwords_are_argon2id_hashes_and_never_logged(session: Session) -> None:
    boss = admin(session)
    account = add(session, boss, "王审核", "auditor")
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    text = " ".join(f"{e.before} {e.after}" for e in session.exec(select(AuditEntry)).scalars())
    assert "argon2" not in text and PASSWORD not in text
    assert accounts.check_password(account.password_hash, PASSWORD)[0]
    assert not accounts.check_password(account.password_hash, PASSWORD + "x")[0]


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (["hospital"], "must be bound to a hospital id"),
        (["insured_region"], "must be bound to an insured region"),
        (["insured_region:5107"], "not a 6-digit region code"),
        (["admin:510100"], "not bound to a hospital or region"),
        (["superuser"], "unknown role `superuser`"),
        ([], "needs at least one role"),
    ],
)
def test_roles_and_scopes_are_checked(session: Session, roles: list[str], message: str) -> None:
    boss = admin(session)
    with pytest.raises(AccountError, match=message):
        add(session, boss, "x1", *roles)


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 10"), ("aaaaaaaaaaaa", "4 different"), ("x1-account", "not be the account name")],
)
def test_weak_passwords_are_refused(session: Session, password: str, message: str) -> None:
    boss = admin(session)
    with pytest.raises(AccountError, match=message):
        add(session, boss, "x1-account", "viewer", password=password)


def test_names_must_be_unique_and_usable(session: Session) -> None:
    boss = admin(session)
    add(session, boss, "王审核", "auditor")
    with pytest.raises(AccountError, match="already exists"):
        add(session, boss, "王审核", "viewer")
    with pytest.raises(AccountError, match="not a usable account name"):
        add(session, boss, "a b", "viewer")


def test_grant_revoke_disable_enable_and_the_log_says_who(session: Session) -> None:
    boss = admin(session)
    add(session, boss, "李", "secretary")
    svc.grant(session=session, principal=boss, username="李", role="auditor", scope="510100")
    assert {
        g.describe()
        for g in accounts.grants_of(
            session=session, account=accounts.get_account(session=session, username="李")
        )
    } == {"secretary", "auditor:510100"}
    with pytest.raises(AccountError, match="already holds"):
        svc.grant(session=session, principal=boss, username="李", role="secretary", scope=None)
    svc.grant(session=session, principal=boss, username="李", role="secretary", scope=None, revoke=True)
    with pytest.raises(AccountError, match="only role"):
        svc.grant(session=session, principal=boss, username="李", role="auditor", scope="510100", revoke=True)
    with pytest.raises(AccountError, match="their own account"):
        svc.disable_user(session=session, principal=boss, username="admin")
    svc.disable_user(session=session, principal=boss, username="李")
    with pytest.raises(AccessError, match="disabled"):
        svc.cli_principal(session=session, user="李")
    svc.enable_user(session=session, principal=boss, username="李")
    entries = list(
        session.exec(
            select(AuditEntry).where(AuditEntry.entity == "account").order_by(AuditEntry.seq)
        ).scalars()
    )
    assert [(e.action, e.actor, e.role, e.channel) for e in entries][-5:] == [
        ("created", "admin", "admin", "cli"),
        ("role_granted", "admin", "admin", "cli"),
        ("role_revoked", "admin", "admin", "cli"),
        ("disabled", "admin", "admin", "cli"),
        ("enabled", "admin", "admin", "cli"),
    ]
    assert entries[0].actor == "root" and entries[0].role == "owner"
    assert auditlog.verify_log(session=session).ok


def test_the_log_chain_holds_entries_with_and_without_role_and_channel(session: Session) -> None:
    auditlog.append(session=session, actor="old", entity="x", entity_id=1, action="a", after={"v": 1})
    auditlog.append(
        session=session, actor=auditlog.Actor("new", role="auditor", channel="web"), entity="x", entity_id=1,
        action="b", after={"v": 2},
    )  # fmt: skip
    session.commit()
    assert auditlog.verify_log(session=session).ok
    entry = session.get(AuditEntry, 2)
    assert (entry.actor, entry.role, entry.channel) == ("new", "auditor", "web")
    entry.role = "admin"  # someone edits the role afterwards
    session.add(entry)
    session.commit()
    report = auditlog.verify_log(session=session)
    assert not report.ok and report.bad_seq == 2 and "content edited" in report.problem


POLICY = LoginPolicy(lock_after=3, lock_minutes=15, ip_window_minutes=15, ip_max_failures=10)


def login(session: Session, name: str, password: str, ip: str = "10.0.0.1") -> accounts.Account:
    return svc.authenticate(session=session, username=name, password=password, ip=ip, policy=POLICY)


def test_lock_out_after_repeated_failures_then_unlock(session: Session) -> None:
    boss = admin(session)
    add(session, boss, "王审核", "auditor")
    assert login(session, "王审核", PASSWORD).username == "王审核"
    messages = set()
    for _ in range(3):
        with pytest.raises(LoginRefused) as refused:
            login(session, "王审核", "wrong password!")
        messages.add(str(refused.value))
    # Locked: even the right password is refused, with the same message as a wrong one.
    with pytest.raises(LoginRefused) as refused:
        login(session, "王审核", PASSWORD)
    messages.add(str(refused.value))
    with pytest.raises(LoginRefused) as refused:
        login(session, "nobody", PASSWORD)
    messages.add(str(refused.value))
    assert len(messages) == 1
    account = accounts.get_account(session=session, username="王审核")
    assert accounts.is_locked(account)
    locked = session.exec(select(AuditEntry).where(AuditEntry.action == "locked")).scalars().one()
    assert locked.actor == "王审核" and locked.channel == "web"
    # The lock ends by itself…
    assert not accounts.is_locked(account, at=accounts.now() + timedelta(minutes=16))
    # …or when an administrator resets the password.
    svc.reset_password(session=session, principal=boss, username="王审核", password="another long one")
    assert login(session, "王审核", "another long one").must_change_password


def test_one_address_is_throttled_after_many_failures(session: Session) -> None:
    admin(session)
    for n in range(10):
        with pytest.raises(LoginRefused) as refused:
            login(session, f"guess{n}", "x" * 12, ip="10.9.9.9")
        assert not refused.value.throttled
    with pytest.raises(LoginRefused) as refused:
        login(session, "admin", PASSWORD, ip="10.9.9.9")
    assert refused.value.throttled
    assert login(session, "admin", PASSWORD, ip="10.0.0.2").username == "admin"
    reasons = [a.reason for a in session.exec(select(LoginAttempt).order_by(LoginAttempt.id)).scalars()]
    assert reasons[-2:] == ["throttled", None]


def test_disabled_accounts_cannot_log_in_and_their_sessions_end(session: Session) -> None:
    boss = admin(session)
    account = add(session, boss, "王审核", "auditor")
    token = accounts.create_session(session=session, account=account, lifetime=timedelta(hours=1))
    assert accounts.find_session(session=session, token=token, idle=timedelta(minutes=30)) is not None
    svc.disable_user(session=session, principal=boss, username="王审核")
    assert accounts.find_session(session=session, token=token, idle=timedelta(minutes=30)) is None
    with pytest.raises(LoginRefused):
        login(session, "王审核", PASSWORD)


def test_sessions_expire_and_go_idle(session: Session) -> None:
    boss = admin(session)
    account = add(session, boss, "王审核", "auditor")
    token = accounts.create_session(session=session, account=account, lifetime=timedelta(hours=1))
    record = session.get(accounts.WebSession, accounts._token_id(token))
    record.last_seen_at = accounts.now() - timedelta(minutes=31)
    session.add(record)
    session.commit()
    assert accounts.find_session(session=session, token=token, idle=timedelta(minutes=30)) is None
    assert accounts.find_session(session=session, token=token, idle=timedelta(minutes=60)) is not None
    record = session.get(accounts.WebSession, accounts._token_id(token))
    record.expires_at = accounts.now() - timedelta(seconds=1)
    session.add(record)
    session.commit()
    assert accounts.find_session(session=session, token=token, idle=timedelta(minutes=60)) is None
    assert accounts.find_session(session=session, token="made-up", idle=timedelta(minutes=60)) is None
