"""就医地参数: treatment-region settings and rule overrides in rules/regions/, edited by the auditor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_bdd import given, scenarios, then

from features.conftest import Audit, own_rules, step

scenarios("region_parameters.feature")


def _edit_params(
    audit: Audit, tmp_path: Path, file: str, rule_id: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Load a region file of the auditor's copy with YAML, change one rule's params, write it back."""
    path = own_rules(audit, tmp_path) / file
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    params = document.setdefault("rules", {}).setdefault(rule_id, {}).setdefault("params", {})
    change(params)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


@given(step("审核人员把 {文件} 中 {规则} 的参数 {参数} 删去"))
def drop_region_param(audit: Audit, tmp_path: Path, 文件: str, 规则: str, 参数: str) -> None:
    def drop(params: dict[str, Any]) -> None:
        assert 参数 in params, f"{文件} 没有设置 {规则} 的 {参数}"
        del params[参数]

    _edit_params(audit, tmp_path, 文件, 规则, drop)


@then(step("该命中的疑点金额为病例 {编号} 的病组支付标准 {金额:money} 元减去医疗费总额"))
def amount_is_payment_minus_cost(audit: Audit, 编号: str, 金额: float) -> None:
    hit = audit.current()
    assert hit.amount_at_risk == pytest.approx(金额 - audit.claim(编号)["total_cost"], abs=0.005)
    assert f"按病组支付标准{金额:,.2f}元结算" in hit.message, hit.message
