"""Who may do what, on what: the one declaration of the access policy, checked on the server for every
channel (CLI, web pages, API).

`POLICY` maps every action to the roles that may do it and on which objects. A role's grant may be
bound to a scope (`casebook.accounts.ROLE_SCOPES`): a hospital account sees only its hospital's cases,
an insured region's account only requests about its insured persons, and a staff grant limited to a
treatment region only that region's cases. An action not declared here, or a role not listed for it,
is refused (deny by default). Two kinds of answer:

- `require(principal, action, target)` for an object the caller may see: the grant that allows the
  action (the role the audit log records), or `Denied`;
- `visible(principal, action, target)` / `NotFound` for reading: an object outside the principal's
  scope is reported exactly as a missing one, so a hospital cannot probe for another hospital's cases.

Listings filter with `scopes(principal, action)`: one `Scope` per grant that allows the action, which
the services turn into SQL conditions (OR-ed).

Adding an action: add it to `POLICY` with the roles that may do it (and `ATTENDING` where an expert
must attend the meeting), then call `require`/`visible` with it in the service that does the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from drgaudit.casebook.accounts import ROLE_LABELS, ROLE_SCOPES, GrantRow
from drgaudit.casebook.auditlog import Actor
from drgaudit.errors import DrgauditError


class AccessError(DrgauditError):
    """A request refused by the access policy."""


class Denied(AccessError):
    """The principal may see the object but not do this to it (HTTP 403)."""


class NotFound(AccessError):
    """No such object, or none the principal may see (HTTP 404): the two are never told apart."""


class Unauthenticated(AccessError):
    """Nobody is signed in (HTTP 401 / the log-in page)."""


class Rule(Enum):
    """On which objects a role may do an action (always within its grant's scope)."""

    SCOPE = "scope"  # any object within the grant's scope (the whole casebook for an unscoped grant)
    ATTENDING = "attending"  # objects of meetings the account attends (experts), within the scope


S, A = Rule.SCOPE, Rule.ATTENDING
STAFF_READ = {"auditor": S, "secretary": S, "viewer": S}

# action → {role: rule}. Keep it in one place: the CLI, the pages and the API all check through it.
POLICY: dict[str, dict[str, Rule]] = {
    # accounts and settings
    "users.manage": {"admin": S},
    "audit.verify": {"admin": S, "auditor": S, "viewer": S},
    # screening and rules
    "import.run": {"auditor": S},
    "screen.run": {"auditor": S},
    "rules.register": {"auditor": S},
    "rules.promote": {"auditor": S},
    "rules.impact": {"auditor": S},
    # pre-settlement screening through the API (the settlement system: `integration`, within its region)
    "claim.screen": {"integration": S, "auditor": S},
    "claim.explain": STAFF_READ | {"integration": S},
    "rules.view": STAFF_READ | {"integration": S},
    # the queue and its cases
    # (an insured region reads no case: it sees its 协查 requests and the claims they are about)
    "case.view": STAFF_READ | {"expert": A, "hospital": S, "integration": S},
    "case.log": STAFF_READ | {"expert": A},
    "case.assign": {"auditor": S},
    # whom a case may be assigned to (承办人): an auditor of the case's region
    "case.handle": {"auditor": S},
    "case.decide": {"secretary": S},
    "case.appeal": {"hospital": S, "auditor": S},
    "case.reply": {"hospital": S, "auditor": S},
    "case.attach": {"hospital": S, "auditor": S},
    "case.opinion": {"expert": A},
    "queue.export": STAFF_READ | {"hospital": S},
    # meetings
    "meeting.view": STAFF_READ | {"expert": A},
    "meeting.create": {"secretary": S},
    "meeting.schedule": {"secretary": S},
    "meeting.attendees": {"secretary": S},
    "meeting.close": {"secretary": S},
    # hospital findings (疑点)
    "finding.view": STAFF_READ | {"hospital": S},
    "finding.answer": {"hospital": S},
    "finding.rereview": {"auditor": S},
    "finding.confirm": {"auditor": S},
    # cross-region investigation requests (协查): asked by one side, answered by the other
    "assist.view": {"auditor": S, "viewer": S, "insured_region": S},
    "assist.request_as_insured": {"insured_region": S},
    "assist.request_as_treatment": {"auditor": S},
    "assist.answer_as_treatment": {"auditor": S},
    "assist.answer_as_insured": {"insured_region": S},
    # reports
    "report.summary": STAFF_READ,
    "report.monitoring": STAFF_READ,
    "report.packet": STAFF_READ | {"expert": A},
    "report.minutes": STAFF_READ | {"expert": A},
    "report.feedback": {"auditor": S, "viewer": S, "hospital": S},
    # the clearing statement between regions: an insured region's account gets its own insured persons' claims
    "report.clearing": STAFF_READ | {"insured_region": S},
}

# The OS user of a casebook that has no account yet (a private casebook, e.g. what `drgaudit demo`
# makes) may do everything from the command line; the first account created ends this.
OWNER = "owner"
CHANNELS = ("cli", "web", "api")


@dataclass(frozen=True)
class Grant:
    """A role held by a principal, bound to a scope (None: the whole casebook)."""

    role: str
    scope: str | None = None

    @property
    def label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(frozen=True)
class Principal:
    """Who is asking: the account, its grants and the channel the request came through."""

    username: str
    grants: tuple[Grant, ...]
    channel: str
    account_id: int | None = None
    display_name: str = ""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")

    @classmethod
    def of(
        cls, *, username: str, grants: Iterable[GrantRow | Grant], channel: str, account_id: int | None,
        display_name: str = "",
    ) -> Principal:  # fmt: skip
        """A principal from stored grants."""
        return cls(
            username=username, grants=tuple(Grant(g.role, g.scope) for g in grants), channel=channel,
            account_id=account_id, display_name=display_name or username,
        )  # fmt: skip

    @classmethod
    def owner(cls, username: str) -> Principal:
        """The OS user on a private casebook (no accounts yet): may do everything, from the CLI only."""
        return cls(username=username, grants=(Grant(OWNER),), channel="cli", display_name=username)

    @property
    def is_owner(self) -> bool:
        return any(g.role == OWNER for g in self.grants)

    def roles(self) -> set[str]:
        return {g.role for g in self.grants}

    def actor(self, grant: Grant) -> Actor:
        """The actor the audit log records for a change allowed by `grant`."""
        role = grant.role if grant.scope is None else f"{grant.role}:{grant.scope}"
        return Actor(self.username, role=role, channel=self.channel)


@dataclass(frozen=True)
class Target:
    """What an action is done on, as far as the policy cares: whose hospital, which regions, and which
    accounts attend the meeting(s) the object is on."""

    hospital_id: str | None = None
    treatment_region: str | None = None
    insured_region: str | None = None
    attendees: frozenset[int] = field(default_factory=frozenset)


NOTHING = Target()


def _rules(action: str) -> dict[str, Rule]:
    try:
        return POLICY[action]
    except KeyError:
        raise AccessError(
            f"unknown action `{action}` (declare it in drgaudit.services.access.POLICY)"
        ) from None


def in_scope(grant: Grant, target: Target) -> bool:
    """Whether the target lies within the grant's scope."""
    if grant.scope is None:
        return True
    kind = ROLE_SCOPES.get(grant.role)
    if kind == "hospital":
        return target.hospital_id == grant.scope
    if kind == "insured":
        return target.insured_region == grant.scope
    if kind == "region":
        return target.treatment_region == grant.scope
    return False


def allowing_grant(principal: Principal, action: str, target: Target = NOTHING) -> Grant | None:
    """The first of the principal's grants that allows `action` on `target`, or None."""
    rules = _rules(action)
    for grant in principal.grants:
        if grant.role == OWNER:
            if principal.channel == "cli":
                return grant
            continue
        rule = rules.get(grant.role)
        if rule is None or not in_scope(grant, target):
            continue
        if rule is Rule.ATTENDING and (
            principal.account_id is None or principal.account_id not in target.attendees
        ):
            continue
        return grant
    return None


def may(principal: Principal, action: str, target: Target | None = None) -> bool:
    """Whether the principal may do `action` on `target` (without a target: on something, somewhere)."""
    if target is None:
        return bool(scopes(principal, action))
    return allowing_grant(principal, action, target) is not None


def require(principal: Principal, action: str, target: Target = NOTHING) -> Grant:
    """The grant allowing `action` on `target`; `Denied` when there is none."""
    grant = allowing_grant(principal, action, target)
    if grant is None:
        held = (
            ", ".join(g.role if g.scope is None else f"{g.role}:{g.scope}" for g in principal.grants)
            or "none"
        )
        raise Denied(
            f"account `{principal.username}` (roles: {held}) may not {describe(action)} here "
            f"({action} needs one of: {', '.join(roles_allowed(action))}, within its scope)"
        )
    return grant


def visible(principal: Principal, action: str, target: Target, what: str) -> Grant:
    """The grant allowing `action` on `target`; `NotFound` (as for a missing object) when there is none."""
    grant = allowing_grant(principal, action, target)
    if grant is None:
        raise NotFound(f"no {what}")
    return grant


@dataclass(frozen=True)
class Scope:
    """What one grant lets a principal list: a column to match (None: everything) and whether only the
    objects of meetings the account attends."""

    column: str | None
    value: str | None
    attending: int | None = None


_SCOPE_COLUMNS = {"hospital": "hospital_id", "insured": "insured_region", "region": "treatment_region"}


def scopes(principal: Principal, action: str) -> list[Scope]:
    """The scopes within which the principal may do `action`; empty: nowhere."""
    found: list[Scope] = []
    rules = _rules(action)
    for grant in principal.grants:
        if grant.role == OWNER:
            if principal.channel == "cli":
                return [Scope(None, None)]
            continue
        rule = rules.get(grant.role)
        if rule is None:
            continue
        column = _SCOPE_COLUMNS.get(ROLE_SCOPES.get(grant.role) or "") if grant.scope else None
        attending = principal.account_id if rule is Rule.ATTENDING else None
        if rule is Rule.ATTENDING and attending is None:
            continue
        found.append(Scope(column, grant.scope if column else None, attending))
    return found


def unrestricted(found: list[Scope]) -> bool:
    """Whether the scopes cover everything (a grant without scope or attendance condition)."""
    return any(s.column is None and s.attending is None for s in found)


ACTION_WORDS = {
    "users.manage": "manage accounts",
    "case.decide": "record decisions",
    "case.assign": "assign cases",
    "case.handle": "handle cases",
    "screen.run": "screen batches",
    "rules.impact": "preview the impact of rule changes",
    "import.run": "import files",
    "meeting.create": "create meetings",
    "meeting.schedule": "put cases on a meeting's agenda",
    "meeting.close": "close meetings",
    "claim.screen": "screen claims",
    "claim.explain": "explain claims",
    "rules.view": "see the active rule packs",
}


def describe(action: str) -> str:
    """An action in words for refusals."""
    return ACTION_WORDS.get(action, f"do {action}")


def roles_allowed(action: str) -> list[str]:
    """The roles that may do an action (for messages and the docs)."""
    return list(_rules(action))
