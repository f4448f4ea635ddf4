"""Payment estimate (engine.payment) and hospital case-mix indicators (engine.indicators, casebook SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.ingest import import_file
from drgaudit.contract import CROSS_PROVINCE, CROSS_REGION, LOCAL
from drgaudit.engine.exceptions import UnconfiguredRegionError
from drgaudit.engine.facts import claim_facts
from drgaudit.engine.indicators import CaseMix, PeerRule, case_mix_of, hospital_indicators
from drgaudit.engine.payment import (
    EXTREME,
    HIGH,
    LOW,
    STANDARD,
    group_standard,
    grouped_payment,
    per_diem_payment,
    ratio_limits,
)
from drgaudit.ingest.rows import RowConverter
from tests.engine_support import bundled, claim, group, hospital, reference


@pytest.fixture(scope="module")
def pack_and_codes():
    return bundled()


def test_group_standard_uses_rate_level_and_cross_region_coefficient(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    chengdu = pack.region("510100").typed
    assert group_standard(chengdu, "DRG", 0.8, 3, LOCAL) == 11340.00
    assert group_standard(chengdu, "DRG", 0.8, 3, CROSS_REGION) == 11113.20
    assert group_standard(chengdu, "DIP", 95, 2, LOCAL) == 9025.00
    assert group_standard(chengdu, "DRG", 0.8, None, LOCAL) is None
    # A basic-disease group is paid alike at every level: no level coefficient (an unknown level too).
    assert group_standard(chengdu, "DIP", 95, 1, LOCAL, basic=True) == 9500.00
    assert group_standard(chengdu, "DIP", 95, 3, LOCAL, basic=True) == 9500.00
    assert group_standard(chengdu, "DIP", 95, None, CROSS_REGION, basic=True) == 9310.00
    # The in-province cross-region coefficient never prices a cross-province claim.
    assert group_standard(chengdu, "DRG", 0.8, 3, CROSS_PROVINCE) == 11340.00


@pytest.mark.parametrize(
    ("total", "kind", "amount"),
    [
        (9500, STANDARD, 11340.00),
        (28500, HIGH, 11340.00),
        (30400, HIGH, 11340.00 + 1900 * 0.9),
        (47500, HIGH, 11340.00 + 19000 * 0.9),
        (47600, EXTREME, 11340.00 + 19100 * 0.9),
        (2851, STANDARD, 11340.00),
        (2850, LOW, 2850.00),
    ],
)
def test_drg_ratio_boundaries(pack_and_codes, total: float, kind: str, amount: float) -> None:
    pack, _ = pack_and_codes
    region = pack.region("510100").typed
    estimate = grouped_payment(region, "DRG", 11340.00, ratio_limits(region, "DRG", 0.8), total, total, 9500)
    assert (estimate.kind, estimate.amount, estimate.standard) == (kind, pytest.approx(amount), 11340.00)


@pytest.mark.parametrize(
    ("weight", "high", "tier"),
    [
        (0.5, 3.0, "权重≤1：3倍"),
        (1.0, 3.0, "权重≤1：3倍"),
        (1.01, 2.0, "1<权重≤2：2倍"),
        (2.0, 2.0, "1<权重≤2：2倍"),
        (2.01, 1.5, "权重>2：1.5倍"),
        (6.0, 1.5, "权重>2：1.5倍"),
    ],
)
def test_drg_high_ratio_tiered_by_weight(pack_and_codes, weight: float, high: float, tier: str) -> None:
    pack, _ = pack_and_codes
    neijiang = pack.region("511000").typed
    limits = ratio_limits(neijiang, "DRG", weight)
    assert (limits.high, limits.tier, limits.low, limits.extreme) == (high, tier, 0.3, 5.0)
    # A flat threshold has no tier.
    assert ratio_limits(pack.region("510100").typed, "DRG", weight).tier is None


def test_outside_purchases_count_in_the_case_cost_but_items_pay_what_was_billed(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    region = pack.region("510100").typed
    limits = ratio_limits(region, "DRG", 0.8)
    # 2,000 billed + 1,000 bought outside = 3,000: over 0.3 × 9,500, so not a low-ratio case.
    assert grouped_payment(region, "DRG", 11340.00, limits, 3000, 2000, 9500).kind == STANDARD
    # 2,000 + 500 = 2,500: low-ratio, paid by items, i.e. the 2,000 the hospital billed.
    low = grouped_payment(region, "DRG", 11340.00, limits, 2500, 2000, 9500)
    assert (low.kind, low.amount) == (LOW, 2000.00)
    # 27,000 billed + 2,000 outside = 29,000 ≥ 3 × 9,500: high-ratio on the case's cost.
    high = grouped_payment(region, "DRG", 11340.00, limits, 29000, 27000, 9500)
    assert (high.kind, high.amount) == (HIGH, pytest.approx(11340.00 + 500 * 0.9))


def test_dip_follows_the_national_dip_formulas(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    region = pack.region("510100").typed
    limits = ratio_limits(region, "DIP", 95)
    assert (limits.high, limits.low, limits.extreme) == (2.0, 0.5, 5.0)
    assert grouped_payment(region, "DIP", 9000.0, limits, 27000, 27000, 9000).amount == pytest.approx(
        9000 * 2
    )
    assert grouped_payment(region, "DIP", 9000.0, limits, 3600, 3600, 9000).amount == pytest.approx(
        9000 * 0.4
    )


def test_per_diem_rate_by_department_then_default(pack_and_codes) -> None:
    pack, _ = pack_and_codes
    region = pack.region("510100").typed
    assert per_diem_payment(region, 10, "A15", 3).amount == pytest.approx(10 * 320 * 1.05)
    assert per_diem_payment(region, 10, "A21", 3).amount == pytest.approx(10 * 480 * 1.05)
    assert per_diem_payment(region, 10, "A24", 3).amount == pytest.approx(10 * 400 * 1.05)
    assert per_diem_payment(region, 10, "A03", 3).amount == pytest.approx(10 * 450 * 1.05)
    assert per_diem_payment(region, 10, None, None).kind == "unknown"
    # A sub-specialty (诊疗科目 A15.01 精神病专业) is paid at its department's rate, as LOS-002's department
    # list counts it psychiatric; it was priced at the default 450.
    assert per_diem_payment(region, 10, "A15.01", 3).amount == pytest.approx(10 * 320 * 1.05)
    assert per_diem_payment(region, 10, "A21.02", 3).amount == pytest.approx(10 * 480 * 1.05)
    assert per_diem_payment(region, 10, "A150", 3).amount == pytest.approx(10 * 450 * 1.05)  # not A15's


def test_cross_province_claims_are_a_fact_and_priced_by_items(pack_and_codes) -> None:
    pack, codes = pack_and_codes
    ref = reference(pack, codes, [hospital("H1")], [group("ES35")])
    local = claim_facts(claim(insured_region="510100", total_cost=9500.0), ref)
    in_province = claim_facts(claim(insured_region="510700", total_cost=9500.0), ref)
    chongqing = claim_facts(claim(insured_region="500100", total_cost=9500.0), ref)
    assert [
        (f["region_relation"], f["is_cross_region"], f["is_cross_province"])
        for f in (local, in_province, chongqing)
    ] == [
        ("local", False, False),
        ("cross_region", True, False),
        ("cross_province", False, True),
    ]
    assert (local["payment_estimate"], local["payment_kind"]) == (11340.00, STANDARD)
    assert (in_province["payment_estimate"], in_province["payment_kind"]) == (11113.20, STANDARD)
    assert (chongqing["payment_estimate"], chongqing["payment_kind"], chongqing["case_payment"]) == (
        9500.00, "fee_for_service", None,
    )  # fmt: skip


def test_unconfigured_treatment_region_is_refused_unless_the_pack_allows_placeholders(
    pack_and_codes, tmp_path: Path
) -> None:
    import dataclasses

    pack, codes = pack_and_codes
    ref = reference(pack, codes, [hospital("H9", region="510400")], [group("ES35", region="510400")])
    stay = claim(hospital_id="H9", treatment_region="510400", total_cost=9500.0)
    with pytest.raises(UnconfiguredRegionError, match=r"treatment region 510400 has no configuration"):
        claim_facts(stay, ref)
    # As an earlier stay (context, not screened) it is priced and marked, never refused.
    assert claim_facts(stay, ref, target=False)["payment_placeholder"] is True
    allowing = dataclasses.replace(pack, allow_placeholder_rates=True)
    ref = reference(allowing, codes, [hospital("H9", region="510400")], [group("ES35", region="510400")])
    facts = claim_facts(stay, ref)
    # National placeholder rates: 0.8 × 12,000 × 1.05 × 1.0.
    assert (facts["payment_placeholder"], facts["payment_estimate"]) == (True, 10080.00)
    assert pack.unpriced(["510100", "510400"]) == ["510400"] and allowing.unpriced(["510400"]) == []


def test_region_threshold_changes_the_kind_of_the_same_claim(pack_and_codes) -> None:
    pack, codes = pack_and_codes
    ref = reference(
        pack,
        codes,
        [hospital("H1"), hospital("M1", region="510700")],
        [group("ES35"), group("ES35", region="510700")],
    )
    chengdu = claim_facts(claim(total_cost=24700.0), ref)
    mianyang = claim_facts(
        claim(total_cost=24700.0, hospital_id="M1", treatment_region="510700", insured_region="510100"), ref
    )
    assert (chengdu["payment_kind"], chengdu["high_ratio_limit"]) == ("standard", 3.0)
    assert (mianyang["payment_kind"], mianyang["high_ratio_limit"]) == ("high_ratio", 2.5)
    assert mianyang["payment_estimate"] == pytest.approx(9912.00 + 950 * 0.9)


def test_unknown_group_and_fee_for_service(pack_and_codes) -> None:
    pack, codes = pack_and_codes
    ref = reference(pack, codes, [hospital("H1")], [group("ES35")])
    assert claim_facts(claim(group_code="ES99"), ref)["payment_kind"] == "unknown"
    ffs = claim_facts(claim(payment_scheme="FFS", group_code=None), ref)
    assert (ffs["payment_kind"], ffs["payment_estimate"]) == ("fee_for_service", 9000.0)
    ungrouped = claim_facts(claim(group_code="0000"), ref)
    assert (ungrouped["payment_kind"], ungrouped["payment_estimate"]) == ("ungroupable", 9000.0)


def test_indicators_rank_against_peers_of_the_same_level() -> None:
    mix = [
        CaseMix("A", 10, 7),
        CaseMix("B", 10, 3),
        CaseMix("C", 10, 4),
        CaseMix("D", 10, 5),
        CaseMix("E", 20, 20),
    ]
    levels = {"A": 3, "B": 3, "C": 3, "D": 3, "E": 2}
    result = hospital_indicators(mix, levels)
    assert result["A"]["hospital__cross_cc_mcc_share_rank"] == 100.0
    assert result["B"]["hospital__cross_cc_mcc_share_rank"] == 25.0
    assert result["A"]["hospital__peer_cc_mcc_share_median"] == pytest.approx(0.45)
    # the only level-2 hospital is its own peer group
    assert result["E"]["hospital__cross_cc_mcc_share_rank"] == 100.0
    assert result["E"]["hospital__peer_cc_mcc_share_median"] == 1.0


def test_small_hospitals_are_neither_ranked_nor_peers() -> None:
    mix = [
        CaseMix("A", 40, 28),
        CaseMix("B", 40, 12),
        CaseMix("C", 40, 14),
        CaseMix("S1", 3, 3),
        CaseMix("S2", 4, 0),
    ]
    result = hospital_indicators(mix, dict.fromkeys("ABC", 3) | {"S1": 3, "S2": 3}, peers_by=PeerRule(30, 3))
    assert result["A"]["hospital__peer_cc_mcc_share_median"] == pytest.approx(0.35)
    assert result["B"]["hospital__cross_cc_mcc_share_rank"] == pytest.approx(100 / 3, abs=1e-3)
    assert result["S1"]["hospital__cross_cc_mcc_share"] == 1.0
    assert result["S1"]["hospital__cross_cc_mcc_share_rank"] is None
    assert result["S1"]["hospital__peer_cc_mcc_share_median"] is None


def test_no_rank_among_too_few_peers() -> None:
    mix = [CaseMix("A", 40, 28), CaseMix("B", 40, 12)]
    result = hospital_indicators(mix, {"A": 3, "B": 3}, peers_by=PeerRule(30, 3))
    assert result["A"]["hospital__cross_cc_mcc_share_rank"] is None
    assert (
        hospital_indicators(mix, {"A": 3, "B": 3}, peers_by=PeerRule(30, 2))["A"][
            "hospital__cross_cc_mcc_share_rank"
        ]
        == 100.0
    )


def test_sql_case_mix_agrees_with_the_python_definition(
    session: Session, make_claim, write_rows, tmp_path: Path
) -> None:
    rows = []
    for n in range(60):
        code = ("ES31", "ES33", "ES35", "0000", "ESQY", "ES35", "FR19")[n % 7]
        rows.append(make_claim(n, group_code=code, payment_scheme="DIP" if n % 11 == 0 else "DRG"))
    report = import_file(write_rows(tmp_path / "claims.csv", rows), kind="claims", session=session)
    sql = queries.batch_case_mix(session=session, batch_id=report.batch_id)
    records = [RowConverter("claims", "x")(2, row) for row in rows]
    assert sql == case_mix_of(records)
    assert sum(m.cross_drg_cases for m in sql) > 0 and sum(m.cross_cc_mcc_cases for m in sql) > 0
