"""One vocabulary of Chinese labels (drgaudit.labels) for every field, fact and coded value."""

from __future__ import annotations

import ast
from pathlib import Path

from drgaudit import labels
from drgaudit.contract import CLAIM_FIELDS, GROUP_FIELDS, HOSPITAL_FIELDS
from drgaudit.engine.loader import load_pack
from drgaudit.engine.vocabulary import FACTS, param_labels

ROOT = Path(__file__).resolve().parents[1]


def test_every_field_and_fact_has_a_label_of_its_own() -> None:
    missing = [f.name for f in CLAIM_FIELDS if not labels.has_label(f.name)]
    missing += [f"hospital.{f.name}" for f in HOSPITAL_FIELDS if not labels.has_label(f"hospital.{f.name}")]
    missing += [f"group.{f.name}" for f in GROUP_FIELDS if not labels.has_label(f"group.{f.name}")]
    missing += [name for name in FACTS if not labels.has_label(name)]
    assert missing == [], "add their Chinese labels to drgaudit/labels.py"


def test_the_contract_and_the_facts_take_their_labels_from_the_vocabulary() -> None:
    assert [f.label for f in CLAIM_FIELDS] == [labels.CLAIM_LABELS[f.name] for f in CLAIM_FIELDS]
    assert [f.label for f in HOSPITAL_FIELDS] == [labels.label(f"hospital.{f.name}") for f in HOSPITAL_FIELDS]
    assert FACTS["los_days"].label == "住院天数" and FACTS["group.avg_cost"].label == "病组次均费用"
    assert FACTS["cost_ratio"].note == labels.FACT_NOTES["cost_ratio"]
    # No Chinese label strings are written in contract.py or engine/vocabulary.py any more.
    for name in ("drgaudit/contract.py", "engine/vocabulary.py"):
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        chinese = [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and id(n) not in docstrings
            and isinstance(n.value, str)
            and any("\u4e00" <= c <= "\u9fff" for c in n.value)
        ]
        assert chinese in ([], ["结算清单字段"]), (name, chinese)


def test_every_region_setting_has_a_label() -> None:
    from drgaudit.engine.regionsettings import RegionSettings

    missing = [name for name in RegionSettings.model_fields if not labels.has_label(f"region.{name}")]
    assert missing == [], "add their Chinese labels (region.<name>) to drgaudit/labels.py SETTING_LABELS"


def test_names_rules_write_get_labels() -> None:
    assert labels.label("earlier.discharge_date") == "前次住院·出院日期"
    assert labels.label("group__avg_cost") == "病组次均费用"
    assert labels.label("region.drg_high_ratio") == "DRG 高倍率判定倍数"
    assert labels.label("region.not_a_setting") == "就医地参数 not_a_setting"
    pack = load_pack()
    split = next(r for r in pack.rules if r.id == "SPLIT-001")
    extra = param_labels(split)
    assert labels.label("params.window_days", extra) == split.params["window_days"].description
    assert labels.label("params.window_days") == "规则参数 window_days"
    assert labels.label("no_such_field") == "no_such_field"


def test_coded_values_have_names() -> None:
    assert labels.value_label("discharge_mode", "5") == "死亡"
    assert labels.value_label("earlier.discharge_mode", "1") == "医嘱离院"
    assert labels.value_label("family", "split_hospitalization") == "分解住院"
    assert labels.value_label("action", "special_review") == "特例单议"
    assert labels.value_label("hospital.level", 3) == "三级"
    assert labels.value_label("is_cross_region", True) == "是"
    assert labels.value_label("gender", None) == "—"
    assert labels.value_label("family", "my_own_family") == "my_own_family"
    for field in CLAIM_FIELDS:
        if field.type == "enum":
            assert set(labels.values_of(field.name)) == set(field.choices), field.name
