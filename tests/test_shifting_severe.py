"""推诿重症/强制出院: one per-claim definition (engine.indicators.severe_shift_class, with SEV-001's params)
for the rule family shifting_severe and the monitoring report's hospital indicators."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from drgaudit.engine.indicators import SevereRule, severe_rule, severe_shift_class
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.reports import monitoring
from drgaudit.reports.config import load_settings
from drgaudit.reports.labels import Vocabulary
from drgaudit.reports.periods import parse_period

RULE = SevereRule(min_weight=2.0, max_los_days=2, transfer_level=3)


def test_the_monitoring_report_reads_sev_001s_params() -> None:
    assert severe_rule(load_pack(bundled_rules_dir())) == RULE


@pytest.mark.parametrize(
    ("group_code", "weight", "los", "mode", "level", "expected"),
    [
        ("ES31", 1.6, 2, "4", 3, (True, True)),  # with MCC, left against advice on day 2
        ("ES31", 1.6, 3, "4", 3, (True, False)),  # day 3: not early
        ("FM19", 2.0, 1, "2", 3, (True, True)),  # weight at the limit, transferred out of a level-3 hospital
        ("FM19", 1.99, 1, "2", 3, (False, False)),  # just under the weight, no MCC: not severe
        ("ES31", 1.6, 1, "2", 2, (True, False)),  # a level-2 hospital referring up
        ("ES31", 1.6, 1, "1", 3, (True, False)),  # discharged as advised
        ("ES31", 1.6, 1, "5", 3, (True, False)),  # died
    ],
)
def test_severe_shift_class_at_its_boundaries(
    group_code: str, weight: float, los: int, mode: str, level: int, expected: tuple[bool, bool]
) -> None:
    claim = {"payment_scheme": "DRG", "group_code": group_code, "discharge_mode": mode}
    assert severe_shift_class(claim, weight, level, los, RULE) == expected


def test_dip_scores_are_not_drg_weights() -> None:
    claim = {"payment_scheme": "DIP", "group_code": "J18.9-01", "discharge_mode": "4"}
    assert severe_shift_class(claim, 95.0, 3, 1, RULE) == (False, False)


def _claim(
    claim_id: str, discharge: dt.date, group_code: str, mode: str = "1", days: int = 5
) -> dict[str, Any]:
    return {
        "claim_id": claim_id, "patient_id": f"P-{claim_id}", "hospital_id": "H1", "treatment_region": "510100",
        "insured_region": "510700", "payment_scheme": "DRG", "group_code": group_code, "total_cost": 10000.0,
        "admit_date": discharge - dt.timedelta(days=days), "discharge_date": discharge, "discharge_mode": mode,
    }  # fmt: skip


def test_monitoring_counts_severe_cases_and_their_early_departures() -> None:
    now, before = dt.date(2025, 8, 10), dt.date(2025, 5, 10)
    claims = [
        # last quarter: 10 DRG cases, 4 severe
        *(_claim(f"B{i}", before, "ES31") for i in range(4)),
        *(_claim(f"C{i}", before, "ES35") for i in range(6)),
        # this quarter: 10 DRG cases, 2 severe, one of them left on day 1 against advice
        _claim("N0", now, "ES31", mode="4", days=1),
        _claim("N1", now, "ES31"),
        *(_claim(f"M{i}", now, "ES35") for i in range(8)),
    ]
    groups = {("510100", "DRG", "ES31"): {"weight": 1.6}, ("510100", "DRG", "ES35"): {"weight": 0.8}}
    period = parse_period("2025Q3")
    tally = monitoring._tally(claims, period, period.previous(), groups, 15, (RULE, {"H1": 3}))
    hospital = tally.now["H1"]
    assert (hospital.severe_cases, hospital.severe_left) == (2, 1)
    assert hospital.severe_share == pytest.approx(0.2) and hospital.severe_left_share == pytest.approx(0.5)
    assert tally.before["H1"].severe_share == pytest.approx(0.4)
    watch = load_settings().get("monitoring.watch")
    [row] = monitoring._hospital_table(
        tally, {"H1": {"name": "甲医院", "level": "3"}}, Vocabulary.load(None), watch, 15, 5
    )
    assert row.severe_share_drop == pytest.approx(0.2)
    assert "重症病例短期内非医嘱离院或转出50.0%" in row.reasons
    assert "重症（高权重）病例占比下降20.0个百分点" in row.reasons
