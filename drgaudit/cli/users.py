"""`drgaudit users …`: accounts and roles of the review service (administrators only).

The first account of a casebook is created from the command line on the casebook's machine with no
account (it must be an administrator); every later change needs `--user` to name an administrator.
Passwords are typed twice at a hidden prompt, read from stdin (`--password-stdin`), or generated and
shown once (`--generate-password`); there is never a default password.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.casebook.states import KEY_DAYS, MAX_KEY_DAYS, ROLE_SCOPES
from drgaudit.cli.options import DbOption
from drgaudit.cli.output import Column, plain, table_lines
from drgaudit.cli.reviewopts import UserOption, casebook, principal
from drgaudit.i18n import N_, _
from drgaudit.labels import VALUE_LABELS
from drgaudit.terminal import chinese, coded

if TYPE_CHECKING:
    from drgaudit.casebook.accounts import GrantRow

ROLE_LABELS = VALUE_LABELS["role"]


def _roles(grants: list[str]) -> str:
    """Roles as `role:scope` (`hospital:H001`); in Chinese by their names (定点医疗机构 H001)."""
    if not chinese():
        return ", ".join(grants)
    named = []
    for grant in grants:
        role, _sep, scope = grant.partition(":")
        named.append(f"{coded('role', role)} {scope}".strip())
    return "、".join(named)


ACCOUNT_COLUMNS = [
    Column("username", N_("account")),
    Column("name", N_("name")),
    Column("status", N_("status"), values="account.status"),
    Column("last_login", N_("last log-in"), show=lambda v: (v or "-")[:19]),
    Column("roles", N_("roles"), show=_roles),
]


app = typer.Typer(
    help="Accounts and roles of the review service: add, list, disable, enable, reset-password, grant; "
    "API keys: add-key, keys, revoke-key.",
    no_args_is_help=True,
)

ROLE_HELP = (
    "ROLE or ROLE:SCOPE (repeatable). Roles: "
    + ", ".join(f"{role} ({label})" for role, label in ROLE_LABELS.items())
    + ". hospital needs a hospital id (hospital:H51010000001), insured_region a region code "
    "(insured_region:510700); auditor, secretary, expert and viewer may be limited to one treatment "
    "region (auditor:510100)."
)
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Account (log-in) name.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
GeneratePassword = Annotated[
    bool,
    typer.Option(
        "--generate-password", help="Generate a random password, print it once; it must be changed at log-in."
    ),
]


def _grants(roles: list[str], hospital: str | None, region: str | None) -> list[GrantRow]:
    from drgaudit.casebook.accounts import GrantRow

    grants = []
    for text in roles:
        role, _sep, scope = text.partition(":")
        role = role.strip()
        if not scope:
            kind = ROLE_SCOPES.get(role)
            scope = (
                hospital if kind == "hospital" else region if kind in ("insured", "region") else None
            ) or ""
        grants.append(GrantRow(role, scope.strip() or None))
    return grants


def _password(stdin: bool, generate: bool, *, confirm: bool = True) -> tuple[str, bool]:
    """(the password, whether it was generated)."""
    from drgaudit.casebook.accounts import generate_password

    if stdin and generate:
        raise typer.BadParameter(_("give --password-stdin or --generate-password, not both"))
    if generate:
        return generate_password(), True
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise typer.BadParameter(_("no password on stdin"), param_hint="--password-stdin")
        return line, False
    if not sys.stdin.isatty():
        raise typer.BadParameter(
            _(
                "stdin is not a terminal: give --password-stdin (password on the first line) or --generate-password"
            )
        )
    return typer.prompt("password", hide_input=True, confirmation_prompt=confirm), False


@app.command("add")
def add(
    name: NameArg,
    role: Annotated[list[str], typer.Option("--role", "-r", metavar="ROLE[:SCOPE]", help=ROLE_HELP)],
    hospital: Annotated[
        str | None,
        typer.Option("--hospital", metavar="ID", help="Scope of a hospital role given without one."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="CODE", help="Scope of a region-bound role given without one."),
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--name", metavar="TEXT", help="The name people read (default: NAME).")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option("--org", metavar="TEXT", help="Where they work.")
    ] = None,
    password_stdin: PasswordStdin = False,
    generate: GeneratePassword = False,
    api_only: Annotated[
        bool,
        typer.Option("--api-only", help="No password: the account only acts through API keys (add-key)."),
    ] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Create an account with its roles and a password (or none, with --api-only).

    The first account of a casebook must be an administrator; it is created from the command line on
    the casebook's machine, with no account. Every later one needs --user to name an administrator.

    Examples:

        drgaudit users add admin --role admin --name 系统管理员

        drgaudit users add 王秘书 --role secretary --user admin

        echo 'a long passphrase' | drgaudit users add h001 --role hospital --hospital H51010000001 --password-stdin --user admin

        drgaudit users add settlement-510100 --role integration:510100 --api-only --user admin
    """
    from drgaudit.services import accounts as account_service

    grants = _grants(role, hospital, region)
    if api_only and (password_stdin or generate):
        raise typer.BadParameter(_("--api-only takes no password"), param_hint="--api-only")
    password, generated = (None, False) if api_only else _password(password_stdin, generate)
    with casebook(db, create=True) as session:  # the first account may be the casebook's first record
        account = account_service.add_user(
            session=session, principal=principal(session, user), username=name, grants=grants, password=password,
            display_name=display_name, organisation=organisation, must_change_password=generated,
        )  # fmt: skip
        typer.echo(
            _("account {name} created: {roles}").format(
                name=account.username, roles=_roles([g.describe() for g in grants])
            )
        )
    if generated:
        typer.echo(
            _("password (shown once; to be changed at the first log-in): {password}").format(
                password=password
            )
        )


def _format(value: str) -> str:
    if value not in ("table", "json", "csv"):
        raise typer.BadParameter("one of table, json, csv", param_hint="--format")
    return value


@app.command("list")
def list_(
    role: Annotated[
        str | None, typer.Option("--role", metavar="ROLE", help="Only accounts holding this role.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json|csv", callback=_format, help="Output form.")
    ] = "table",
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """List the accounts with their roles, status and last log-in (administrators).

    Examples:

        drgaudit users list --user admin

        drgaudit users list --role hospital --format csv --user admin
    """
    from drgaudit.services import accounts as account_service

    with casebook(db) as session:
        rows = account_service.list_users(session=session, principal=principal(session, user), role=role)
    records: list[dict[str, Any]] = [
        {
            "username": r.account.username,
            "name": r.account.display_name,
            "organisation": r.account.organisation,
            "roles": [g.describe() for g in r.grants],
            "status": "locked" if r.locked and r.account.status == "active" else r.account.status,
            "last_login": plain(r.account.last_login_at),
        }
        for r in rows
    ]
    if fmt == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["username", "name", "organisation", "roles", "status", "last_login"])
        for r in records:
            writer.writerow([r["username"], r["name"], r["organisation"] or "", " ".join(r["roles"]), r["status"],
                             r["last_login"] or ""])  # fmt: skip
        return
    if not records:
        typer.echo(_("no accounts"))
        return
    typer.echo("".join(line + "\n" for line in table_lines(records, ACCOUNT_COLUMNS)), nl=False)


@app.command("disable")
def disable(name: NameArg, user: UserOption = None, db: DbOption = None) -> None:
    """Disable an account: it can no longer log in or act, and its sessions end.

    Example:

        drgaudit users disable 王秘书 --user admin
    """
    from drgaudit.services import accounts as account_service

    with casebook(db) as session:
        account_service.disable_user(session=session, principal=principal(session, user), username=name)
    typer.echo(_("account {name} disabled").format(name=name))


@app.command("enable")
def enable(name: NameArg, user: UserOption = None, db: DbOption = None) -> None:
    """Enable a disabled account again (also lifts a lock-out after failed log-ins).

    Example:

        drgaudit users enable 王秘书 --user admin
    """
    from drgaudit.services import accounts as account_service

    with casebook(db) as session:
        account_service.enable_user(session=session, principal=principal(session, user), username=name)
    typer.echo(_("account {name} enabled").format(name=name))


@app.command("reset-password")
def reset_password(
    name: NameArg,
    password_stdin: PasswordStdin = False,
    generate: GeneratePassword = False,
    keep: Annotated[
        bool,
        typer.Option("--no-change", help="Do not make the owner choose a new password at the next log-in."),
    ] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Set a new password for an account; it unlocks the account and ends its sessions. The owner must
    choose a new password at the next log-in (unless --no-change).

    Example:

        drgaudit users reset-password 王秘书 --generate-password --user admin
    """
    from drgaudit.services import accounts as account_service

    password, generated = _password(password_stdin, generate)
    with casebook(db) as session:
        account_service.reset_password(
            session=session, principal=principal(session, user), username=name, password=password,
            must_change=not keep,
        )  # fmt: skip
    typer.echo(_("password of {name} set").format(name=name))
    if generated:
        typer.echo(_("password (shown once): {password}").format(password=password))


@app.command("grant")
def grant(
    name: NameArg,
    role: Annotated[str, typer.Argument(metavar="ROLE[:SCOPE]", help=ROLE_HELP)],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the role away instead.")] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Grant a role to an account (or take it away with --revoke).

    Examples:

        drgaudit users grant 王秘书 auditor --user admin

        drgaudit users grant 李专家 expert:510100 --revoke --user admin
    """
    from drgaudit.services import accounts as account_service

    role_name, _sep, scope = role.partition(":")
    with casebook(db) as session:
        account = account_service.grant(
            session=session, principal=principal(session, user), username=name, role=role_name.strip(),
            scope=scope.strip() or None, revoke=revoke,
        )  # fmt: skip
        done = _("account {name}: revoked {role}") if revoke else _("account {name}: granted {role}")
        typer.echo(done.format(name=account.username, role=_roles([role])))


# ---------------------------------------------------------------------------------------------------
# API keys


@app.command("add-key")
def add_key(
    name: NameArg,
    purpose: Annotated[
        str, typer.Option("--name", metavar="TEXT", help="What the key is for (shown by `users keys`).")
    ] = "API",
    days: Annotated[
        int,
        typer.Option(
            "--days",
            min=1,
            max=MAX_KEY_DAYS,
            metavar="DAYS",
            help=f"How many days the key works (1 to {MAX_KEY_DAYS}); then requests get 401 api_key_expired.",
        ),
    ] = KEY_DAYS,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Make an API key for an account and print it once; it acts with the account's roles and scopes.

    Only the key's first part and a hash of it are kept: copy the key now into the calling system's
    configuration (it is sent as `Authorization: Bearer <key>`). A key works for --days days (a year
    unless told): make the next one before it ends (`users keys` says when). Lost keys are revoked and
    replaced.

    Example:

        drgaudit users add-key settlement-510100 --name 医保结算系统 --days 180 --user admin
    """
    from drgaudit.services import apikeys

    with casebook(db) as session:
        made = apikeys.add_key(
            session=session, principal=principal(session, user), username=name, name=purpose, days=days
        )
        until = made.key.expires_at.strftime("%Y-%m-%d %H:%M UTC") if made.key.expires_at else "never"
        typer.echo(
            f"API key {made.key.prefix} for account {made.account.username} ({purpose}), "
            f"works until {until}; shown once:"
        )
    typer.echo(made.text)


@app.command("keys")
def keys(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this account's keys.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json|csv", callback=_format, help="Output form.")
    ] = "table",
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """List API keys (never the keys themselves): prefix, account, name, made, until when it works, and
    revoked when, by whom. A working key that ends within 30 days is named on stderr.

    Examples:

        drgaudit users keys --user admin

        drgaudit users keys settlement-510100 --format json --user admin
    """
    from drgaudit.services import apikeys

    with casebook(db) as session:
        rows = apikeys.list_keys(session=session, principal=principal(session, user), username=name)
        records = [
            {
                "prefix": key.prefix, "account": account.username, "name": key.name,
                "created_at": plain(key.created_at), "created_by": key.created_by,
                "revoked_at": plain(key.revoked_at),
                "revoked_by": key.revoked_by,
                "expires_at": plain(key.expires_at),
            }
            for key, account in rows
        ]  # fmt: skip
        ending = apikeys.ending_keys(rows, within_days=30)
    _show_keys(records, fmt)
    for key, account, days_left in ending:
        typer.echo(
            # Whole days left, rounded down, said "in 9 day(s)" of a key just made for 10 and "in 0 day(s)"
            # of one working till this hour tomorrow: the moment, and the days it is within.
            f"warning: API key {key.prefix} of {account.username} stops working on "
            f"{_utc(key.expires_at)}, in less than {days_left + 1} day(s): "
            f"make a new one (`drgaudit users add-key {account.username}`) and revoke this one",
            err=True,
        )


def _utc(moment: datetime | None) -> str:
    """A stored moment as `2026-12-08 11:31 UTC` (SQLite gives it back without its zone, which is UTC)."""
    if moment is None:
        return "never"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _show_keys(records: list[dict[str, str | None]], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(list(records[0]) if records else ["prefix"])
        for r in records:
            writer.writerow(["" if v is None else v for v in r.values()])
        return
    if not records:
        typer.echo("no API keys")
        return
    typer.echo(f"{'key':<14} {'account':<20} {'made':<20} {'works until':<20} {'revoked':<20} name")
    for r in records:
        typer.echo(
            f"{r['prefix']:<14} {r['account']:<20} {(r['created_at'] or '')[:19]:<20} "
            f"{(r['expires_at'] or 'no end')[:19]:<20} {(r['revoked_at'] or '-')[:19]:<20} {r['name']}"
        )


@app.command("revoke-key")
def revoke_key(
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="The key's prefix (see `users keys`) or the key.")
    ],
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Revoke an API key for good: every later request with it gets 401 `api_key_revoked`.

    Example:

        drgaudit users revoke-key 3f9c0a1b2c4d --user admin
    """
    from drgaudit.services import apikeys

    with casebook(db) as session:
        revoked = apikeys.revoke_key(session=session, principal=principal(session, user), prefix=key)
        typer.echo(_("API key {key} revoked").format(key=revoked.prefix))
