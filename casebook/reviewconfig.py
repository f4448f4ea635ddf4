"""The review-queue settings of a treatment region, read from the rule pack's region configuration.

The numbers live in rules/regions/*.yaml `settings:` (national.yaml holds the defaults); this module
only reads and checks them: `review_case_actions`, `review_severity_weights`, `review_due_days` and
`special_review_quota_<scheme>` (e.g. `special_review_quota_drg`).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from drgaudit.engine.pack import RulePack
from drgaudit.errors import DrgauditError


class ReviewError(DrgauditError):
    """A review-queue request that cannot be done: unknown case, wrong state, bad input, missing setting."""


class ConflictError(ReviewError):
    """Someone else changed the record since it was read; nothing was saved."""


class QuotaError(ReviewError):
    """The hospital's special-review quota for the period is used up and no override reason was given."""


# What a decision on a finding may rest on when the reviewer registered or promoted the rule-pack version
# that produced it: a second reviewer's confirmation and/or a meeting (a meeting always does).
AUTHOR_DECISIONS = ("second_reviewer", "meeting")


@dataclass(frozen=True)
class ReviewSettings:
    """The review settings in force for one treatment region."""

    region: str
    case_actions: frozenset[str]
    severity_weights: dict[str, float]
    due_days: int
    quota_ratios: dict[str, float]
    finding_actions: frozenset[str] = frozenset({"hold", "deduct"})
    finding_reply_days: int = 10
    author_decisions: frozenset[str] = frozenset(AUTHOR_DECISIONS)

    def weight(self, severity: str) -> float:
        """The priority weight of a severity; an unknown severity is a configuration error."""
        try:
            return self.severity_weights[severity]
        except KeyError:
            known = ", ".join(sorted(self.severity_weights))
            raise ReviewError(
                f"region {self.region}: severity `{severity}` has no weight in settings "
                f"review_severity_weights (has {known})"
            ) from None

    def quota_ratio(self, scheme: str) -> float | None:
        """The special-review quota ratio for a payment scheme, None when the scheme has none."""
        return self.quota_ratios.get(scheme.upper())


QUOTA_PREFIX = "special_review_quota_"


def review_settings(pack: RulePack, region: str | None) -> ReviewSettings:
    """The checked review settings of a treatment region (its file over the national defaults)."""
    config = pack.region(region)
    settings: dict[str, Any] = config.settings
    where = f"{config.path} settings"

    def need(name: str) -> Any:
        if name not in settings:
            raise ReviewError(f"{where}: `{name}` is missing (the review queue needs it)")
        return settings[name]

    actions = need("review_case_actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
        raise ReviewError(f"{where}: review_case_actions must be a list of hit actions, got {actions!r}")
    weights = need("review_severity_weights")
    if not isinstance(weights, dict) or not all(_number(v) and v >= 0 for v in weights.values()):
        raise ReviewError(
            f"{where}: review_severity_weights must map severities to numbers ≥ 0, got {weights!r}"
        )
    due = need("review_due_days")
    if not isinstance(due, int) or isinstance(due, bool) or due < 0:
        raise ReviewError(f"{where}: review_due_days must be a whole number of days ≥ 0, got {due!r}")
    finding_actions = need("finding_actions")
    if not isinstance(finding_actions, list) or not all(isinstance(a, str) for a in finding_actions):
        raise ReviewError(f"{where}: finding_actions must be a list of hit actions, got {finding_actions!r}")
    reply_days = need("finding_reply_days")
    if not isinstance(reply_days, int) or isinstance(reply_days, bool) or reply_days < 1:
        raise ReviewError(
            f"{where}: finding_reply_days must be a whole number of days ≥ 1, got {reply_days!r}"
        )
    author = need("rule_author_decisions")
    if not isinstance(author, list) or "meeting" not in author or not set(author) <= set(AUTHOR_DECISIONS):
        raise ReviewError(
            f"{where}: rule_author_decisions must list meeting and optionally second_reviewer, got {author!r}"
        )
    ratios = {}
    for key, value in settings.items():
        if key.startswith(QUOTA_PREFIX):
            if not _number(value) or not 0 <= value <= 1:
                raise ReviewError(f"{where}: {key} must be a ratio between 0 and 1, got {value!r}")
            ratios[key[len(QUOTA_PREFIX) :].upper()] = float(value)
    return ReviewSettings(
        region=region or config.code,
        case_actions=frozenset(actions),
        severity_weights={str(k): float(v) for k, v in weights.items()},
        due_days=due,
        quota_ratios=ratios,
        finding_actions=frozenset(finding_actions),
        finding_reply_days=reply_days,
        author_decisions=frozenset(author),
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def actor_name(user: str | None) -> str:
    """Who acts: the given user name, else the OS user."""
    name = (user or "").strip()
    return name or getpass.getuser()
