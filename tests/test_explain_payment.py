"""`drgaudit explain` on claim files shows the payment the treatment region's settings give (issue 13):
a DIP basic-disease claim (同城同病同价) gets the same estimate at a level-1 and a level-3 hospital, and a
claim of a region with DRG high-ratio tiers names the tier that applied."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.contract import FIELDS_BY_KIND
from tests.engine_support import claim, group, hospital

runner = CliRunner()
# 内江 (rules/regions/511000.yaml): DIP basic-disease groups, DRG high ratio by weight tiers.
REGION = "511000"


def _write(path: Path, kind: str, rows: list[dict[str, Any]]) -> Path:
    names = [f.name for f in FIELDS_BY_KIND[kind]]
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for row in rows:
            cells = []
            for name in names:
                value = row.get(name)
                if isinstance(value, list):
                    value = "|".join(value)
                elif isinstance(value, bool):
                    value = "true" if value else "false"
                cells.append("" if value is None else str(value))
            out.writerow(cells)
    return path


def _explain(tmp_path: Path, claim_id: str) -> str:
    hospitals = [hospital("N1", REGION, level="1"), hospital("N3", REGION, level="3")]
    groups = [
        group("J18.9-01", REGION, weight=95, avg_cost=9000, scheme="DIP"),
        group("J45.9-01", REGION, weight=80, avg_cost=7600, scheme="DIP"),
        group("FM19", REGION, weight=1.6, avg_cost=20000),
    ]
    claims = [
        claim(claim_id="B1", hospital_id="N1", treatment_region=REGION, payment_scheme="DIP", group_code="J18.9-01"),
        claim(claim_id="B3", hospital_id="N3", treatment_region=REGION, payment_scheme="DIP", group_code="J18.9-01"),
        claim(claim_id="O1", hospital_id="N1", treatment_region=REGION, payment_scheme="DIP", group_code="J45.9-01"),
        claim(claim_id="O3", hospital_id="N3", treatment_region=REGION, payment_scheme="DIP", group_code="J45.9-01"),
        claim(
            claim_id="T3", hospital_id="N3", treatment_region=REGION, group_code="FM19", total_cost=40000.0,
            fund_paid=37000.0, fee_drug=34000.0, procedures=["36.0700"],
        ),
    ]  # fmt: skip
    result = runner.invoke(
        app,
        [
            "explain", claim_id,
            "--claims", str(_write(tmp_path / "claims.csv", "claims", claims)),
            "--hospitals", str(_write(tmp_path / "hospitals.csv", "hospitals", hospitals)),
            "--groups", str(_write(tmp_path / "groups.csv", "groups", groups)),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def _estimate(output: str) -> str:
    line = next(x for x in output.splitlines() if "按就医地规则测算的支付金额" in x)
    return line.split("按就医地规则测算的支付金额 ", 1)[1].split("（", 1)[0]


def test_basic_disease_claim_is_paid_the_same_at_every_hospital_level(tmp_path: Path) -> None:
    level_1, level_3 = _explain(tmp_path, "B1"), _explain(tmp_path, "B3")
    # 分值 95 × 点值 95, no level coefficient.
    assert _estimate(level_1) == _estimate(level_3) == "9,025.00"
    assert "是否基层病种：是，不乘等级系数，各级医院同价" in level_1
    # Another DIP group still takes the level coefficient (0.85 and 1.05): 80 × 95 × coefficient.
    assert _estimate(_explain(tmp_path, "O1")) == "6,460.00"
    assert _estimate(_explain(tmp_path, "O3")) == "7,980.00"


def test_tiered_drg_high_ratio_names_the_tier(tmp_path: Path) -> None:
    output = _explain(tmp_path, "T3")
    line = next(x for x in output.splitlines() if "按就医地规则测算的支付金额" in x)
    # Weight 1.6 falls in 内江's 1 < weight ≤ 2 tier: high ratio at 2× the group's average cost.
    assert "就医地高倍率判定倍数 2" in line
    assert "高倍率判定所用的权重分档 1<权重≤2：2倍" in line
    assert "高倍率" in line and "费用倍率 2.00" in line
