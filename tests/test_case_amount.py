"""A case's amount at risk counts what its claim can lose once: overlapping hits (two split-stay rules
each naming the whole payment) were summed to twice the claim's cost. The sum stands while it fits the
claim's total cost (or the largest single hit, where a group payment is more than a cheap claim cost);
the priority is scaled alike; the pre-settlement answer says the same amount."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import review
from drgaudit.casebook.review import claim_amount_at_risk
from drgaudit.engine.pack import RulePack
from tests.review_support import bundled_pack, claim, hit, import_claims, screen


def test_the_sum_is_capped_at_what_the_claim_can_lose() -> None:
    assert claim_amount_at_risk([5000.0, 300.0], 20000.0) == 5300.0  # fits: the sum stands
    assert claim_amount_at_risk([15000.0, 15000.0], 20000.0) == 20000.0  # the claim's total cost
    assert claim_amount_at_risk([26000.0, 26000.0], 20000.0) == 26000.0  # one payment above the cost
    assert claim_amount_at_risk([12000.0, 8000.0], 20000.0) == 20000.0  # exactly at the cost
    assert claim_amount_at_risk([12000.0, 8000.01], 20000.0) == 20000.0
    assert claim_amount_at_risk([700.0], None) == 700.0 and claim_amount_at_risk([], 20000.0) == 0.0


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return bundled_pack()


def test_a_case_with_two_split_stay_hits_counts_the_payment_once(
    session: Session, tmp_path: Path, pack: RulePack
) -> None:
    batch = import_claims(session, tmp_path, [claim(1), claim(2)])  # total cost 20,000 each
    hits = [
        hit("C000001", "SPLIT-001", severity="high", amount=18000.0),
        hit("C000001", "SPLIT-002", severity="medium", amount=18000.0),
        hit("C000002", "OUT-HIGH-001", severity="medium", amount=5000.0),
        hit("C000002", "COST-001", action="deduct", severity="high", amount=300.0),
    ]
    screen(session, batch, hits, pack)
    split, other = review.list_cases(session=session)
    assert split.claim_id == "C000001" and split.amount_at_risk == 20000.0  # was 36,000 for a 20,000 claim
    weights = pack.region("510100").settings["review_severity_weights"]
    expected = (18000.0 * weights["high"] + 18000.0 * weights["medium"]) * 20000.0 / 36000.0
    assert split.priority == pytest.approx(expected, abs=0.01)
    assert other.amount_at_risk == 5300.0
