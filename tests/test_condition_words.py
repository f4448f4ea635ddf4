"""A rule's conditions in words (`engine.explain.condition_words`, `nodes.render_words`): what the impact
report and the version page show people who do not read the rule language."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgaudit.engine.exceptions import ExpressionError
from drgaudit.engine.explain import condition_words
from drgaudit.engine.expr import parse_expression
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.nodes import render_words
from drgaudit.engine.yamlsource import Position

PACK = load_pack(bundled_rules_dir())
# What the rule language writes and words must not: dotted names, operators, connectives.
CODE = re.compile(r"\b(params|lists|earlier|hospital|group|region)\.\w|>=|<=|==|!=|\band\b|\bor\b|\bnot\b")


def words_of(rule_id: str) -> dict[str, str]:
    rule = next(r for r in PACK.rules if r.id == rule_id)
    return condition_words(rule, PACK.lists)


def test_conditions_read_in_chinese() -> None:
    assert words_of("LOS-001") == {"los_days >= params.max_los_days": "住院天数 ≥ 超长住院天数标准"}
    ghost = words_of("GHOST-001")
    assert (
        ghost["(case_cost - fee_bed - fee_nursing) / los_days <= params.max_daily_care_cost"]
        == "（病例费用（含院外购药） − 床位费 − 护理费） ÷ 住院天数 ≤ 扣除床位费、护理费后的日均医疗费用上限（元/天）"
    )
    assert ghost['discharge_mode == "5"'] == "离院方式 = “死亡”"  # a code by its name
    assert ghost["dept_code in lists.hospice_departments"] == "出院科别 属于 名单“安宁疗护科室（出院科别）”"
    low = words_of("OUT-LOW-001")
    assert low['discharge_mode in ["2", "3", "4", "5"]'].startswith("离院方式 属于 ［“医嘱转院”、")
    assert words_of("DQ-003")["not group.known"] == "并非病组在就医地病组表中"
    sev = words_of("SEV-001")
    assert sev[
        'discharge_mode == "4" or (discharge_mode == "2" and hospital.level >= params.transfer_level)'
    ] == (
        "离院方式 = “非医嘱离院” 或 离院方式 = “医嘱转院” 且 医院等级 ≥ 转出医院等级不低于此级才审（上转不审）"
    )


@pytest.mark.parametrize("rule", [r for r in PACK.rules if r.status == "active"], ids=lambda r: r.id)
def test_every_active_condition_is_written_without_rule_code(rule) -> None:
    for source, words in condition_words(rule, PACK.lists).items():
        assert words and not CODE.search(words), (source, words)


# Expressions of the language's grammar over a few names (the checker is not run: words need no types).
_names = st.sampled_from(
    ["los_days", "total_cost", "params.max_los_days", "earlier.discharge_date", "discharge_mode"]
)
_atoms = st.one_of(
    _names,
    st.integers(-999, 999).map(str),
    st.sampled_from(['"5"', '"PER_DIEM"', "true", "false", '["1", "2"]']),
)
_expressions = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.tuples(
            inner, st.sampled_from(["+", "-", "*", "/", ">=", "<", "==", "!=", "and", "or"]), inner
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_expressions)
def test_any_expression_of_the_language_has_words(text: str) -> None:
    try:
        expr = parse_expression(text, Position("t.yaml", 1, 1))
    except ExpressionError:  # too deep, or outside the language: the parser says so
        return
    written = render_words(
        expr.root, lambda name: f"〔{name}〕", lambda name: f"〈{name}〉", lambda _n, code: code
    )
    assert written and not re.search(r"\band\b|\bor\b|\bnot\b|>=|==|!=", written)
