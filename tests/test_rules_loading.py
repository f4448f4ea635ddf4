"""Loading and linting rule packs: every problem as path:line:col with a hint, all in one pass."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drgaudit.engine.compiler import compile_profile
from drgaudit.engine.exceptions import RulePackError
from drgaudit.engine.loader import bundled_rules_dir, load_pack, read_pack


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A private copy of the bundled rule pack that a test may break."""
    target = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), target, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def messages(directory: Path) -> list[str]:
    result = read_pack(directory)
    root = str(directory) + "/"
    return [e.render().replace(root, "") for e in result.errors]


def test_bundled_pack_is_clean() -> None:
    result = read_pack(bundled_rules_dir())
    assert result.errors == []
    assert result.warnings == []
    pack = result.pack
    assert {r.id for r in pack.rules} >= {
        "SPLIT-001",
        "UPC-001",
        "UPC-002",
        "OUT-HIGH-001",
        "OUT-LOW-001",
        "LOS-001",
        "COST-001",
        "LOWADM-001",
        "FREQ-001",
        "COACH-001",
    }
    assert set(pack.regions) == {"510100", "510300", "510700", "511000", "511300"}
    assert len(pack.version) == 16


def test_typo_in_a_field_gives_position_and_hint(rules: Path) -> None:
    edit(
        rules / "outliers.yaml",
        "      - cost_ratio >= high_ratio_limit",
        "      - cost_rato >= high_ratio_limit",
    )
    assert messages(rules) == ["outliers.yaml:20:9: unknown field `cost_rato` (did you mean `cost_ratio`?)"]
    with pytest.raises(RulePackError) as caught:
        load_pack(rules)
    assert "outliers.yaml:20:9: unknown field `cost_rato`" in str(caught.value)


def test_every_error_is_collected_in_one_pass(rules: Path) -> None:
    edit(rules / "outliers.yaml", "cost_ratio >= high_ratio_limit", "cost_rato >= high_ratio_limit")
    edit(
        rules / "long_stay.yaml",
        "los_days >= params.max_los_days",
        "los_days >= params.max_los_day and admit_date > 3",
    )
    edit(
        rules / "frequent_admission.yaml",
        "principal_dx in lists.chemo_radiotherapy",
        "principal_dx in lists.chemo",
    )
    edit(rules / "regions/510700.yaml", "COST-001:", "COST-01:")
    assert messages(rules) == [
        "frequent_admission.yaml:24:25: unknown list `chemo` (lists live in rules/lists/<name>.yaml)",
        "long_stay.yaml:17:21: unknown param `max_los_day` (did you mean `max_los_days`?)",
        "long_stay.yaml:17:44: cannot compare a date with a number",
        "outliers.yaml:20:9: unknown field `cost_rato` (did you mean `cost_ratio`?)",
        "regions/510700.yaml:8:3: region 510700 overrides unknown rule `COST-01` (did you mean `COST-001`?)",
    ]


def test_text_compared_with_a_number_suggests_quotes(rules: Path) -> None:
    edit(
        rules / "low_standard_admission.yaml", '      - discharge_mode == "1"', "      - discharge_mode == 1"
    )
    assert messages(rules) == [
        'low_standard_admission.yaml:23:9: cannot compare a text with a number (`discharge_mode` is text: compare it with a quoted value such as "1")'
    ]


def test_yaml_syntax_error(rules: Path) -> None:
    (rules / "broken.yaml").write_text("rules:\n  - id: X\n    title: [unclosed\n", encoding="utf-8")
    [message] = messages(rules)
    assert message.startswith("broken.yaml:4:1: YAML syntax error:")


def test_unknown_key_enum_and_param_default(rules: Path) -> None:
    edit(rules / "long_stay.yaml", "    severity: medium", "    severty: medium")
    edit(rules / "cost_shifting.yaml", "    action: deduct", "    action: dedcut")
    edit(
        rules / "low_standard_admission.yaml",
        "      max_los_days: {default: 2, type: int",
        "      max_los_days: {type: int",
    )
    assert messages(rules) == [
        "cost_shifting.yaml:8:13: unknown action `dedcut` (did you mean `deduct`?)",
        "long_stay.yaml:2:5: rule is missing `severity`",
        "long_stay.yaml:6:5: unknown key `severty` in a rule (did you mean `severity`?)",
        "low_standard_admission.yaml:17:7: param `max_los_days` has no default (every param needs `default:`; regions may override it)",
    ]


def test_duplicate_ids_and_overlapping_versions(rules: Path) -> None:
    text = (rules / "long_stay.yaml").read_text(encoding="utf-8")
    # The file's first rule (LOS-001) again, as a second version.
    second = (
        text.split("rules:\n", 1)[1]
        .split("\n  - id: LOS-002", 1)[0]
        .replace("effective: {from: 2025-01-01}", "effective: {from: 2025-06-01}")
    )
    (rules / "long_stay_v2.yaml").write_text("rules:\n" + second, encoding="utf-8")
    assert messages(rules) == [
        "long_stay_v2.yaml:2:9: overlapping effective ranges for rule id `LOS-001` (also at long_stay.yaml:2:9) "
        "(give the new rule its own id, or end the old version with `effective.to` before the new `from`)"
    ]
    edit(
        rules / "long_stay.yaml",
        "effective: {from: 2025-01-01}",
        "effective: {from: 2025-01-01, to: 2025-05-31}",
    )
    assert messages(rules) == []
    pack = load_pack(rules)
    assert [r.effective_from.isoformat() for r in pack.rule_by_id("LOS-001")] == ["2025-01-01", "2025-06-01"]


def test_active_rule_without_examples_is_an_error(rules: Path) -> None:
    text = (rules / "long_stay.yaml").read_text(encoding="utf-8")
    (rules / "long_stay.yaml").write_text(text.split("    examples:")[0], encoding="utf-8")
    assert messages(rules) == [
        "long_stay.yaml:2:9: rule LOS-001 has no examples (add examples: {hit: [...], miss: [...]})"
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("__import__('os').system('true')", "only the built-in functions can be called"),
        ("__import__('os') == 1", "unknown function `__import__`"),
        ("total_cost.__class__ == 1", "unknown field `total_cost.__class__`"),
        ("(lambda: 1)() == 1", "only the built-in functions can be called"),
        ("total_cost[0] > 1", "indexing with [...] is not allowed in a rule expression"),
        ("total_cost = 1", "syntax error"),
        ("earlier.total_cost > 1", "`earlier.` names an earlier claim and is only available in a pair rule"),
    ],
)
def test_expressions_outside_the_language_are_refused(rules: Path, condition: str, expected: str) -> None:
    edit(rules / "long_stay.yaml", "      - los_days >= params.max_los_days", f'      - "{condition}"')
    [message] = messages(rules)
    assert message.startswith("long_stay.yaml:17:") and expected in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            "cost_ratio >= region.drg_high_ratio",
            "region setting `drg_high_ratio` may be a list of tiers (a region may give one number or tiers), "
            "not one number a rule can compare with (use `high_ratio_limit`, the value that applies to the claim)",
        ),
        (
            "los_days >= region.level_coefficients",
            "region setting `level_coefficients` is a mapping, not one number a rule can compare with",
        ),
        ("los_days >= region.drg_rat", "unknown region setting `drg_rat` (did you mean `drg_rate`?)"),
    ],
)
def test_a_region_setting_that_is_not_one_number_is_refused(
    rules: Path, condition: str, expected: str
) -> None:
    # 511000.yaml gives drg_high_ratio as tiers by group weight: comparing with it once crashed the compiler.
    edit(rules / "long_stay.yaml", "      - los_days >= params.max_los_days", f"      - {condition}")
    assert messages(rules) == [f"long_stay.yaml:17:{condition.index('region') + 9}: {expected}"]


def test_a_numeric_region_setting_compiles_in_a_pack_with_tiered_regions(rules: Path) -> None:
    edit(
        rules / "long_stay.yaml",
        "      - los_days >= params.max_los_days",
        "      - cost_ratio >= region.drg_extreme_ratio",
    )
    pack = load_pack(rules)
    assert "511000" in pack.regions
    compiled = compile_profile(pack, "511000")
    assert "LOS-001" in {c.bound.rule.id for c in compiled.rules}


def test_region_override_values_are_checked(rules: Path) -> None:
    edit(rules / "regions/510700.yaml", "max_self_share: 0.25", "max_self_share: 2.5")
    assert messages(rules) == [
        "regions/510700.yaml:10:23: param `max_self_share` = 2.5 is above its maximum 0.9"
    ]
    edit(rules / "regions/510700.yaml", "max_self_share: 2.5", "max_self_share: high")
    assert messages(rules) == [
        "regions/510700.yaml:10:23: param `max_self_share` of COST-001 must be of type number, got 'high'"
    ]
    edit(rules / "regions/510700.yaml", "max_self_share: high", "max_self_share: 25e-2")
    assert messages(rules) == [
        "regions/510700.yaml:10:23: param `max_self_share` of COST-001 must be of type number, got '25e-2' "
        "(YAML reads 25e-2 as text; write 25.0e-2, with a dot and a signed exponent)"
    ]


def test_region_ratio_settings_must_be_ordered(rules: Path) -> None:
    edit(rules / "regions/510700.yaml", "drg_high_ratio: 2.5", "drg_high_ratio: 25")
    assert messages(rules) == [
        "regions/510700.yaml:6:19: region 510700: drg_low_ratio (0.3) < drg_high_ratio (25) <= drg_extreme_ratio (5) must hold"
    ]
    edit(rules / "regions/510700.yaml", "drg_high_ratio: 25", '"drg_high_ratio": "2"')
    [message] = messages(rules)
    assert message.startswith(
        "regions/510700.yaml:6:21: `settings.drg_high_ratio` must be a number (DRG 高倍率"
    )
    assert message.endswith("got '2' (a quoted value is text: write 2 without quotes)")


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        (
            "[{weight_up_to: 1, ratio: 3}, {weight_up_to: 2, ratio: 2}]",
            "6:19: the last tier of drg_high_ratio must leave out weight_up_to (all heavier groups)",
        ),
        (
            "[{weight_up_to: 2, ratio: 3}, {weight_up_to: 1, ratio: 2}, {ratio: 1.5}]",
            "6:19: the tiers of drg_high_ratio must have increasing weight_up_to",
        ),
        (
            "[{weight_up_to: 1, ratio: 3}, {ratio: 6}]",
            "6:19: region 510700: drg_low_ratio (0.3) < drg_high_ratio (6) <= drg_extreme_ratio (5) must hold",
        ),
        (
            "[{weight_up_to: 1, ratio: 3}, {ratio: -1}]",
            "6:57: `settings.drg_high_ratio.1.ratio` must be greater than 0",
        ),
        ("[{weight_up_to: 1, ratoi: 3}, {ratio: 2}]", "6:38: unknown key `ratoi` (did you mean `ratio`?)"),
        ("[]", "6:19: `settings.drg_high_ratio` must have at least 1 item(s)"),
    ],
)
def test_tiered_high_ratio_settings_are_checked(rules: Path, tiers: str, expected: str) -> None:
    edit(rules / "regions/510700.yaml", "drg_high_ratio: 2.5", f"drg_high_ratio: {tiers}")
    found = messages(rules)
    assert any(m.startswith(f"regions/510700.yaml:{expected}") for m in found), found


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("drg_rate: -5", "5:13: `settings.drg_rate` must be greater than 0 (DRG 费率（元/权重）), got -5"),
        (
            "drg_rate: .inf",
            "5:13: `settings.drg_rate` must be a finite number (DRG 费率（元/权重）), got inf",
        ),
        (
            "drg_rate: .nan",
            "5:13: `settings.drg_rate` must be a finite number (DRG 费率（元/权重）), got nan",
        ),
        ("drg_rate: true", "5:13: `settings.drg_rate` must be a number (DRG 费率（元/权重）), got True"),
        ("drg_rate: 0", "5:13: `settings.drg_rate` must be greater than 0 (DRG 费率（元/权重）), got 0"),
        # YAML 1.1 reads these numbers as text: the message says how to write them
        (
            "drg_rate: 1.35e4",
            "5:13: `settings.drg_rate` must be a number (DRG 费率（元/权重）), got '1.35e4' "
            "(YAML reads 1.35e4 as text; write 1.35e+4, with a dot and a signed exponent)",
        ),
        (
            'drg_rate: "13500"',
            "5:13: `settings.drg_rate` must be a number (DRG 费率（元/权重）), got '13500' "
            "(a quoted value is text: write 13500 without quotes)",
        ),
        (
            "review_due_days: 3e1",
            "5:20: `settings.review_due_days` must be a whole number (审核案件自生成起的办结期限（天）), "
            "got '3e1' (YAML reads 3e1 as text; write the whole number 30)",
        ),
        ("drg_rat: 13500", "5:3: unknown key `drg_rat` (did you mean `drg_rate`?)"),
        ("lookback_days: 30", "5:3: `lookback_days` can only be set in national.yaml"),
        (
            "level_coefficients: {4: 1.0}",
            "5:24: key `4` of `settings.level_coefficients` must be one of 1, 2 or 3",
        ),
        (
            "special_review_quota_drg: 1.5",
            "5:29: `settings.special_review_quota_drg` must be at most 1 (特例单议病例数上限占 DRG 病例数的比例), got 1.5",
        ),
    ],
)
def test_region_settings_are_typed_with_ranges(rules: Path, line: str, expected: str) -> None:
    edit(rules / "regions/510100.yaml", "drg_rate: 13500", line)
    assert messages(rules) == [f"regions/510100.yaml:{expected}"]


def test_a_region_code_must_be_quoted_text(rules: Path) -> None:
    edit(rules / "regions/510700.yaml", 'region: "510700"', "region: 510700")
    assert messages(rules) == [
        'regions/510700.yaml:2:9: `510700` is not a 6-digit region code (quote it: region: "510700")'
    ]


def test_pack_metadata_is_typed(rules: Path) -> None:
    edit(rules / "pack.yaml", "name: drgaudit", "nmae: drgaudit")
    assert messages(rules) == [
        "pack.yaml:3:1: `name` is missing (规则包名称)",
        "pack.yaml:3:1: unknown key `nmae` (did you mean `name`?)",
    ]


def test_national_settings_must_include_the_payment_settings(rules: Path) -> None:
    edit(rules / "regions/national.yaml", "  dip_low_ratio: 0.5", "  # dip_low_ratio removed")
    [message] = messages(rules)
    assert message.startswith("regions/national.yaml:") and "`settings.dip_low_ratio` is missing" in message


def test_message_placeholders_are_checked(rules: Path) -> None:
    edit(rules / "long_stay.yaml", "{los_days}天（", "{los_dayz}天（")
    [message] = messages(rules)
    assert (
        message.startswith("long_stay.yaml:18:")
        and "unknown field `los_dayz` (did you mean `los_days`?)" in message
    )


def test_review_settings_are_required_and_checked(rules: Path) -> None:
    edit(
        rules / "regions/national.yaml",
        "review_case_actions: [special_review]",
        "review_case_actions: [special_reveiw]",
    )
    edit(rules / "regions/national.yaml", "{info: 0.5,", "{inof: 0.5,")
    found = messages(rules)
    assert len(found) == 2
    assert (
        "`settings.review_case_actions.0` must be one of 'note', 'hold', 'deduct' or 'special_review'"
        in found[0]
    )
    assert found[0].endswith("got 'special_reveiw' (did you mean `special_review`?)")
    assert "key `inof` of `settings.review_severity_weights` must be one of" in found[1]
    assert found[1].endswith("(did you mean `info`?)")
    edit(rules / "regions/national.yaml", "  review_due_days: 30", "  # review_due_days removed")
    assert any("`settings.review_due_days` is missing" in m for m in messages(rules))


def test_a_region_file_may_only_name_its_region(tmp_path: Path) -> None:
    """A file with only `region:` and `name:` names the region (reports) and shares the national profile."""
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (folder / "regions" / "510600.yaml").write_text('region: "510600"\nname: 德阳市\n', encoding="utf-8")
    pack = load_pack(folder)
    assert pack.profile_key("510600") == "national" and pack.region("510600").name == "德阳市"
    assert "510600" not in pack.profile_keys() and "510100" in pack.profile_keys()


DEEP_RULE = """rules:
  - id: DEEP-001
    title: 深层嵌套的条件
    family: outlier_review
    severity: info
    action: note
    scope: all
    schemes: [DRG, DIP, PER_DIEM, FFS]
    stage: 事后
    status: active
    effective: {from: 2025-01-01}
    reference: 医保办函〔2025〕3号 结算清单质控
    when:
      - CONDITION
    message: "{claim_id}"
    amount_at_risk: 0
    examples:
      hit: [{name: 例, claim: {total_cost: 100, age: 10}}]
      miss: [{name: 否, claim: {total_cost: 0, age: 0}}]
"""
# The C engine refuses to create a ruleset of this and/or nesting (error 113, "Could not create ruleset").
DEEP = " or ".join(
    "(" + " and ".join(f"(total_cost > {a} and age > {a} or total_cost > {a + 1} and age > {a + 1})" for a in (i, i + 2))
    + ")"
    for i in (1, 5)
)  # fmt: skip


def test_a_condition_durable_rules_refuses_is_a_check_error_naming_the_rule(rules: Path) -> None:
    (rules / "deep.yaml").write_text(DEEP_RULE.replace("CONDITION", DEEP), encoding="utf-8")
    assert messages(rules) == [
        "deep.yaml:2:5: rule DEEP-001: durable-rules refuses to create its compiled condition (Could not create "
        "ruleset, error code: 113) (nest and/or less deeply, or split the rule in two)"
    ]
    with pytest.raises(RulePackError, match="DEEP-001"):
        load_pack(rules)  # every mode loads through the same check: refused before screening


def test_a_shallower_form_of_the_same_condition_is_taken(rules: Path) -> None:
    (rules / "deep.yaml").write_text(
        DEEP_RULE.replace("CONDITION", "total_cost > 1 and age > 1 or total_cost > 5 and age > 5"),
        encoding="utf-8",
    )
    assert messages(rules) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        # A condition on parameters only that one region's override makes constant false.
        (
            "long_stay.yaml",
            "      - los_days >= params.max_los_days",
            "      - los_days >= params.max_los_days\n      - params.max_los_days < 70",
            "rule LOS-001 can never fire with these parameters",
        ),
        # A region setting read by a rule the region does not override: 511000 gives it as tiers.
        (
            "long_stay.yaml",
            "      - los_days >= params.max_los_days",
            "      - los_days >= params.max_los_days\n      - cost_ratio >= region.drg_high_ratio",
            "drg_high_ratio",
        ),
    ],
)
def test_a_problem_only_a_region_override_causes_is_still_found(
    rules: Path, file: str, old: str, new: str, expected: str
) -> None:
    # `rules check` compiles in a region's profile only the rules the region changes; a compile problem
    # that only the region's values cause must still be reported (here at the rule, once).
    edit(rules / file, old, new)
    edit(rules / "regions/510700.yaml", "rules:\n", "rules:\n  LOS-001:\n    params: {max_los_days: 90}\n")
    found = messages(rules)
    assert any(expected in m for m in found), found
