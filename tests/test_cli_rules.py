"""`drgaudit rules check|test|facts`: exact output and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.loader import bundled_rules_dir

runner = CliRunner()


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(
        bundled_rules_dir(), tmp_path / "rules", ignore=shutil.ignore_patterns("__init__.py", "__pycache__")
    )
    return tmp_path / "rules"


def test_check_bundled_pack() -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "OK: 44 rules (43 active), 15 lists, 5 regions with overrides, 0 warnings"
    # Then every document the rules cite, each article with the rules citing it.
    assert lines[1] == "references by document (rules/references.yaml):"
    assert (
        "  川医保办发〔2025〕18号  《关于开展省内异地就医住院费用纳入按病种付费管理工作的通知》"
        in result.stdout
    )
    assert "    政策辅导期: COACH-001" in lines
    assert "    低标准入院: LOWADM-001" in lines


def test_check_refuses_a_reference_that_does_not_resolve(rules: Path) -> None:
    path = rules / "coaching_period.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("管理通知（2025） 政策辅导期", "管理通知（2025） 政策辅导"), encoding="utf-8"
    )
    result = runner.invoke(app, ["rules", "check", "rules"])
    assert result.exit_code == 1
    assert (
        "rules/coaching_period.yaml:16:17: reference `国家医保局定点医疗机构管理通知（2025） 政策辅导`: "
        "国家医保局定点医疗机构管理通知（2025） has no article `政策辅导` in references.yaml "
        "(did you mean `政策辅导期`?)"
    ) in result.stdout
    path.write_text(
        text.replace("国家医保局定点医疗机构管理通知（2025） 政策辅导期", "某某通知 第三条"), encoding="utf-8"
    )
    result = runner.invoke(app, ["rules", "check", "rules"])
    assert (
        "rules/coaching_period.yaml:16:17: reference `某某通知 第三条`: no document `某某通知`"
        in result.stdout
    )


def test_check_reports_typos_and_fails(rules: Path) -> None:
    path = rules / "outliers.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "- cost_ratio >= high_ratio_limit", "- cost_rato >= high_ratio_limit", 1
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", "rules"])
    assert result.exit_code == 1
    assert result.stdout == (
        "rules/outliers.yaml:20:9: unknown field `cost_rato` (did you mean `cost_ratio`?)\n"
        "1 error, 0 warnings; nothing was loaded\n"
    )


def test_check_shows_warnings(rules: Path) -> None:
    path = rules / "long_stay.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "      max_los_days:", "      unused: {default: 1, type: int}\n      max_los_days:", 1
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", "rules"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == [
        "rules/long_stay.yaml:15:7: warning: param `unused` of LOS-001 is never used",
        "OK: 44 rules (43 active), 15 lists, 5 regions with overrides, 1 warning",
    ]


def test_rules_test_passes_on_the_bundled_pack() -> None:
    result = runner.invoke(app, ["rules", "test"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == f"{len(lines) - 1} examples: {len(lines) - 1} passed, 0 failed"
    assert all(line.startswith("PASS ") for line in lines[:-1])


def test_rules_test_fails_on_a_wrong_expectation_and_says_which_condition(rules: Path) -> None:
    path = rules / "long_stay.yaml"
    text = (
        path.read_text(encoding="utf-8")
        .replace("      miss:\n        - name: 住院59天", "      hit:\n        - name: 住院59天")
        .replace("      hit:\n        - name: 住院65天", "      miss:\n        - name: 住院65天")
    )
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["rules", "test", "rules", "--rule", "LOS-001"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "FAIL LOS-001 hit  住院59天  (rules/long_stay.yaml:27)",
        "  expected: hit    actual: no hit",
        "  ✗ when   false  los_days >= params.max_los_days",
        "                 住院天数 = 59；阈值 超长住院天数标准 = 60",
        "FAIL LOS-001 miss 住院65天  (rules/long_stay.yaml:22)",
        "  expected: no hit    actual: hit",
        "  • when   true   los_days >= params.max_los_days",
        "                 住院天数 = 65；阈值 超长住院天数标准 = 60",
        "  every `when` condition held and no `unless` condition did",
        "FAIL LOS-001 miss 住院恰好60天  (rules/long_stay.yaml:24)",
        "  expected: no hit    actual: hit",
        "  • when   true   los_days >= params.max_los_days",
        "                 住院天数 = 60；阈值 超长住院天数标准 = 60",
        "  every `when` condition held and no `unless` condition did",
        "3 examples: 0 passed, 3 failed",
    ]


def test_facts_lists_the_vocabulary() -> None:
    result = runner.invoke(app, ["rules", "facts"])
    assert result.exit_code == 0
    assert (
        "los_days                                   number  住院天数 — 出院日期减入院日期，当日出入院计1天"
        in result.stdout
    )
    assert "group.avg_cost" in result.stdout


def test_a_misspelt_rules_folder_is_named_as_missing(tmp_path: Path) -> None:
    """`rules check rulse/` said 'not a rules directory', which left the user guessing whether the folder
    was missing or wrong; it now says there is no such directory and what to give."""
    for command in ("check", "test"):
        result = runner.invoke(app, ["rules", command, str(tmp_path / "rulse")])
        assert result.exit_code == 1
        assert "rulse:1:1: no such directory; give the folder that holds pack.yaml" in result.output
