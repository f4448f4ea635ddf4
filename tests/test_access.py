"""The access policy (drgaudit.services.access): deny by default, scopes, attendance, the owner, listings."""

from __future__ import annotations

import pytest

from drgaudit.casebook.accounts import ROLE_SCOPES
from drgaudit.services.access import (
    POLICY,
    AccessError,
    Denied,
    Grant,
    NotFound,
    Principal,
    Scope,
    Target,
    allowing_grant,
    may,
    require,
    scopes,
    visible,
)

CASE = Target(hospital_id="H1", treatment_region="510100", insured_region="510700", attendees=frozenset({7}))


def who(*grants: Grant, channel: str = "web", account_id: int | None = 1) -> Principal:
    return Principal(username="u", grants=grants, channel=channel, account_id=account_id)


def test_unknown_actions_and_roles_are_refused() -> None:
    with pytest.raises(AccessError, match="unknown action"):
        may(who(Grant("admin")), "case.delete_everything", CASE)
    assert not may(who(Grant("superuser")), "case.view", CASE)
    assert not may(who(), "case.view", CASE)
    assert all(role in ROLE_SCOPES for rules in POLICY.values() for role in rules)


def test_a_hospital_sees_only_its_own_cases_and_cannot_decide() -> None:
    mine, other = who(Grant("hospital", "H1")), who(Grant("hospital", "H2"))
    assert may(mine, "case.view", CASE) and may(mine, "case.appeal", CASE)
    assert not may(other, "case.view", CASE)
    with pytest.raises(NotFound):
        visible(other, "case.view", CASE, "review case 1")
    with pytest.raises(Denied):
        require(mine, "case.decide", CASE)
    assert scopes(mine, "case.view") == [Scope("hospital_id", "H1")]


def test_insured_region_and_staff_region_scopes() -> None:
    insured = who(Grant("insured_region", "510700"))
    assert may(insured, "assist.view", CASE) and may(insured, "assist.request_as_insured", CASE)
    assert not may(who(Grant("insured_region", "510100")), "assist.view", CASE)
    assert not may(insured, "case.view", CASE)  # its 协查 requests, never the treatment region's queue
    assert not may(insured, "assist.answer_as_treatment", CASE)
    local = who(Grant("auditor", "510100"))
    assert may(local, "case.assign", CASE)
    assert not may(who(Grant("auditor", "510300")), "case.assign", CASE)
    assert scopes(local, "case.view") == [Scope("treatment_region", "510100")]


def test_experts_see_the_cases_of_meetings_they_attend() -> None:
    assert may(who(Grant("expert"), account_id=7), "case.view", CASE)
    assert may(who(Grant("expert"), account_id=7), "case.opinion", CASE)
    assert not may(who(Grant("expert"), account_id=8), "case.view", CASE)
    assert not may(who(Grant("expert"), account_id=7), "case.decide", CASE)
    assert scopes(who(Grant("expert"), account_id=7), "case.view") == [Scope(None, None, 7)]


def test_the_grant_that_allows_is_the_role_recorded() -> None:
    both = who(Grant("viewer"), Grant("secretary"))
    grant = require(both, "case.decide", CASE)
    assert grant == Grant("secretary")
    actor = both.actor(grant)
    assert (str(actor), actor.role, actor.channel) == ("u", "secretary", "web")
    assert who(Grant("hospital", "H1")).actor(Grant("hospital", "H1")).role == "hospital:H1"


def test_the_owner_of_a_private_casebook_acts_only_from_the_cli() -> None:
    owner = Principal.owner("root")
    assert allowing_grant(owner, "case.decide", CASE) == Grant("owner")
    web_owner = Principal(username="root", grants=(Grant("owner"),), channel="web")
    assert not may(web_owner, "case.decide", CASE)


def test_admin_manages_accounts_but_reads_no_case() -> None:
    boss = who(Grant("admin"))
    assert may(boss, "users.manage", Target())
    assert not may(boss, "case.view", CASE)
    assert not may(who(Grant("auditor")), "users.manage", Target())
