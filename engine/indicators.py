"""Hospital-level case-mix indicators over the screened batch, compared with peers of the same level.

For each hospital: its cross-region DRG cases in a severity-split group (`cc_mcc_class`), the share of
them in a group that claims complications (severity digit 1 or 3), the percentile rank of that share among the hospitals of the same
level (0-100: the percentage of peers whose share is at most this one), and the peers' median share.
Rules read them as `hospital.cross_drg_cases`, `hospital.cross_cc_mcc_share`,
`hospital.cross_cc_mcc_share_rank` and `hospital.peer_cc_mcc_share_median`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drgaudit.engine.pack import RulePack

NO_INDICATORS: dict[str, Any] = {
    "hospital__cross_drg_cases": 0,
    "hospital__cross_cc_mcc_share": None,
    "hospital__cross_cc_mcc_share_rank": None,
    "hospital__peer_cc_mcc_share_median": None,
    "hospital__cc_mcc_share_excess": None,
}
# The same indicators as an example's `hospital:` may give them (they come from the batch when screening).
INDICATOR_KEYS: tuple[str, ...] = tuple(key.removeprefix("hospital__") for key in NO_INDICATORS)


@dataclass(frozen=True)
class CaseMix:
    """One hospital's cross-region DRG cases in a batch, and how many of them claim CC/MCC."""

    hospital_id: str
    cross_drg_cases: int
    cross_cc_mcc_cases: int


# The one definition of the CC/MCC share, used by rules (UPC-004, through the batch case mix, in Python
# and in SQL: casebook.queries.batch_case_mix) and by reports (monitoring): a DRG group whose code ends in
# 1 (with MCC), 3 (with CC) or 5 (without) is split by severity and counts; one ending in 9 (not split),
# in another character (0000, *QY) or outside DRG does not. The share is the 1s and 3s among them.
SPLIT_DIGITS: tuple[str, ...] = ("1", "3", "5")
CC_MCC_DIGITS: tuple[str, ...] = ("1", "3")


def cc_mcc_class(scheme: str | None, group_code: str | None) -> tuple[bool, bool]:
    """(the claim is in a severity-split DRG group, that group claims a complication)."""
    digit = (group_code or "")[-1:]
    split = scheme == "DRG" and digit in SPLIT_DIGITS
    return split, split and digit in CC_MCC_DIGITS


def counts_for_case_mix(claim: Mapping[str, Any]) -> tuple[bool, bool]:
    """(counts as a cross-region DRG case of the case mix, claims CC/MCC), as `cc_mcc_class` says."""
    split, with_cc = cc_mcc_class(claim.get("payment_scheme"), claim.get("group_code"))
    counted = split and claim.get("insured_region") != claim.get("treatment_region")
    return counted, counted and with_cc


def case_mix_of(claims: Iterable[Mapping[str, Any]]) -> list[CaseMix]:
    """The case mix of claims held in memory (rule examples, tests), per hospital, sorted by hospital id."""
    cases: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for claim in claims:
        counted, with_cc = counts_for_case_mix(claim)
        if counted:
            entry = cases[claim["hospital_id"]]
            entry[0] += 1
            entry[1] += with_cc
    return [CaseMix(hid, total, with_cc) for hid, (total, with_cc) in sorted(cases.items())]


@dataclass(frozen=True)
class PeerRule:
    """Who counts as a peer: at least `min_cases` cross-region DRG cases; a rank needs `min_peers` of them."""

    min_cases: int = 1
    min_peers: int = 1


def peer_rule(pack: RulePack) -> PeerRule:
    """The national settings `indicator_peer_min_cases` and `indicator_min_peers`."""
    settings = pack.national.settings
    return PeerRule(int(settings["indicator_peer_min_cases"]), int(settings["indicator_min_peers"]))


def hospital_indicators(
    case_mix: list[CaseMix], levels: Mapping[str, int | None], *, peers_by: PeerRule = PeerRule()
) -> dict[str, dict[str, Any]]:
    """The indicator facts of every hospital with cross-region DRG cases (keys as in the fact dicts).

    Only hospitals with at least `min_cases` cross-region DRG cases are ranked and count as peers (the
    shares of hospitals with a handful of cases are mostly 0 or 1 and would drag the median), and only
    when their level has at least `min_peers` such hospitals (a rank among two says nothing).
    """
    min_cases = max(1, peers_by.min_cases)
    shares = {
        m.hospital_id: m.cross_cc_mcc_cases / m.cross_drg_cases for m in case_mix if m.cross_drg_cases > 0
    }
    peers: dict[int | None, list[float]] = defaultdict(list)
    for mix in case_mix:
        if mix.cross_drg_cases >= min_cases:
            peers[levels.get(mix.hospital_id)].append(shares[mix.hospital_id])
    result: dict[str, dict[str, Any]] = {}
    for mix in case_mix:
        share = shares.get(mix.hospital_id)
        if share is None:
            continue
        facts = {
            **NO_INDICATORS,
            "hospital__cross_drg_cases": mix.cross_drg_cases,
            "hospital__cross_cc_mcc_share": round(share, 6),
        }
        group = peers[levels.get(mix.hospital_id)]
        if mix.cross_drg_cases >= min_cases and len(group) >= peers_by.min_peers:
            facts["hospital__cross_cc_mcc_share_rank"] = round(
                100.0 * sum(1 for other in group if other <= share) / len(group), 4
            )
            facts["hospital__peer_cc_mcc_share_median"] = round(median(group), 6)
            # Worked out here, rounded, so that the rule compares one number and explain agrees with it.
            facts["hospital__cc_mcc_share_excess"] = round(share - median(group), 6)
        result[mix.hospital_id] = facts
    return result
