"""The review-queue settings of a treatment region, read from the rule pack's region configuration.

The numbers live in rules/regions/*.yaml `settings:` (national.yaml holds the defaults), declared and
checked with the other region settings (engine.regionsettings): `review_case_actions`,
`review_severity_weights`, `review_due_days`, `special_review_quota_drg` / `_dip` and
`special_review_quota_period`; and, for hospital findings, `finding_actions`, `finding_reply_days` and
`rule_author_decisions`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from drgaudit.engine.pack import RulePack
from drgaudit.errors import DrgauditError


class ReviewError(DrgauditError):
    """A review-queue request that cannot be done: unknown case, wrong state, bad input, missing setting."""


class ConflictError(ReviewError):
    """Someone else changed the record since it was read; nothing was saved (exit code 3)."""

    exit_code = 3
    prefix = "conflict"


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
    quota_period: str  # the settlement period the quota is counted over (month, quarter, year)
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


def review_settings(pack: RulePack, region: str | None) -> ReviewSettings:
    """The review settings of a treatment region (its file over the national defaults, typed and checked on load)."""
    config = pack.region(region)
    values = config.typed
    return ReviewSettings(
        region=region or config.code,
        case_actions=frozenset(values.review_case_actions),
        severity_weights={str(k): float(v) for k, v in values.review_severity_weights.items()},
        due_days=values.review_due_days,
        quota_ratios={"DRG": values.special_review_quota_drg, "DIP": values.special_review_quota_dip},
        quota_period=values.special_review_quota_period,
        finding_actions=frozenset(values.finding_actions),
        finding_reply_days=values.finding_reply_days,
        author_decisions=frozenset(values.rule_author_decisions),
    )


def actor_name(user: str | None) -> str:
    """Who acts: the given user name, else the OS user."""
    name = (user or "").strip()
    return name or getpass.getuser()
