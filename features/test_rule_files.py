"""规则文件的检查和规则示例: a pack with one error is refused whole; rule examples run on the real engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pytest_bdd import given, scenarios, then, when

from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.loader import bundled_rules_dir, read_pack
from drgaudit.engine.ruletest import ExampleResult, describe, run_examples
from features.conftest import Audit, own_rules, step

scenarios("rule_files.feature")

EXPECT = {"命中": "hit", "不命中": "miss", "未命中": "miss"}
SHOWN = {"hit": "hit", "miss": "no hit"}
# A condition line of `describe`: its mark (✗ blocks the expected outcome, • brought the unexpected hit).
MARKED = re.compile(r"^\s+([✗•])\s+(when|unless)\s+(true|false)\s+(.+)$")


def _in_rules_dir(error: RuleFileError, rules_dir: Path) -> str:
    """The error as `path:line:col: message`, its path relative to the rules directory it points into."""
    path = Path(error.position.path)
    absolute = path if path.is_absolute() else Path.cwd() / path
    relative = absolute.resolve().relative_to(rules_dir.resolve()).as_posix()
    rendered = error.render()
    assert rendered.startswith(f"{error.position.path}:"), rendered
    return relative + rendered[len(error.position.path) :]


@given(step('审核人员把 {文件} 中的 "{改后}" 改回 "{原文}"'))
def undo_rule_text(audit: Audit, tmp_path: Path, 文件: str, 改后: str, 原文: str) -> None:
    path = own_rules(audit, tmp_path) / 文件
    text = path.read_text(encoding="utf-8")
    assert 改后 in text, f"{文件} 中没有 {改后!r}"
    path.write_text(text.replace(改后, 原文, 1), encoding="utf-8")


@then(step('规则包不能加载，唯一的报错为 "{报错}"'))
def pack_refused(audit: Audit, 报错: str) -> None:
    assert audit.load_error is not None, "规则包应当拒绝加载"
    assert audit.rules_dir is not None
    assert [_in_rules_dir(e, audit.rules_dir) for e in audit.load_error.errors] == [报错]
    check = read_pack(audit.rules_dir)
    assert check.pack is None, "有错误的规则包不能交出一个可用的规则包"
    assert [_in_rules_dir(e, audit.rules_dir) for e in check.errors] == [报错]


@then("没有筛查任何病例")
def nothing_screened(audit: Audit) -> None:
    assert audit.batch, "本批次应有病例"
    assert audit.hits is None
    assert audit.screened == []


@given("内置规则包检查无误")
def bundled_pack_is_clean(audit: Audit) -> None:
    check = read_pack(bundled_rules_dir())
    assert check.errors == [] and check.warnings == [], [e.render() for e in check.errors + check.warnings]
    audit.rules_dir = None


@given(step("审核人员把 {文件} 中 {规则} 的示例“{名称}”改为{预期}示例"))
def flip_example(audit: Audit, tmp_path: Path, 文件: str, 规则: str, 名称: str, 预期: str) -> None:
    """Move one example between a rule's `hit:` and `miss:` lists (YAML load and dump of the rule file)."""
    target = EXPECT[预期]
    source = "miss" if target == "hit" else "hit"
    path = own_rules(audit, tmp_path) / 文件
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule = next(r for r in document["rules"] if r["id"] == 规则)
    examples: dict[str, list[dict[str, Any]]] = rule["examples"]
    example = next(e for e in examples[source] if e["name"] == 名称)
    examples[source].remove(example)
    examples.setdefault(target, []).append(example)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


@when("运行规则示例")
def run_rule_examples(audit: Audit) -> None:
    audit.results = run_examples(audit.pack(), audit.code_tables())


def _failed_example(audit: Audit) -> ExampleResult:
    assert audit.failure is not None, "前面的步骤没有指明是哪个示例"
    return audit.failure


def _failures(results: list[ExampleResult]) -> list[ExampleResult]:
    return [r for r in results if not r.passed or not r.engines_agree]


@then("每个示例都通过")
def every_example_passes(audit: Audit) -> None:
    assert audit.results, "规则包应有示例"
    failed = _failures(audit.results)
    report = [f"{r.rule.id} {r.example.name}\n" + "\n".join(describe(r)) for r in failed]
    assert not failed, "\n".join(report)


@then("以下规则都既有命中示例又有不命中示例")
def rules_have_both_kinds(audit: Audit, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["规则"]
    for (rule_id,) in rows:
        kinds = {r.example.expect for r in audit.results if r.rule.id == rule_id}
        assert kinds == {"hit", "miss"}, f"{rule_id} 的示例：{sorted(kinds) or '无'}"


@then(step("只有 {规则} 的示例“{名称}”未通过"))
def only_this_example_fails(audit: Audit, 规则: str, 名称: str) -> None:
    failed = _failures(audit.results)
    assert [(r.rule.id, r.example.name) for r in failed] == [(规则, 名称)]
    assert failed[0].engines_agree
    audit.failure = failed[0]


@then(step("该示例的失败说明是预期{预期}、实际{实际}"))
def failure_outcome(audit: Audit, 预期: str, 实际: str) -> None:
    lines = describe(_failed_example(audit))
    assert lines[0].split() == [
        "expected:",
        *SHOWN[EXPECT[预期]].split(),
        "actual:",
        *SHOWN[EXPECT[实际]].split(),
    ], lines


@then("失败说明标出的条件为")
def failure_marks(audit: Audit, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["条件"]
    lines = describe(_failed_example(audit))
    marked = [m.group(4) for m in map(MARKED.match, lines) if m]
    assert marked == [row[0] for row in rows], "\n".join(lines)
