"""Rule packs that run the rule language's functions through the real tools (check, test, screen, explain).

`examples_pack` copies the bundled pack and adds one draft rule per function example of the registry:
`<expression> == <result>` with the example as a `hit`, and `<expression> != <result>` with it as a `miss`
(an example whose result is missing misses both). `drgaudit rules test` then runs each example on
durable-rules and with the Python evaluator, and fails when either disagrees with the declared result.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from drgaudit.engine.checker import Checker, Scope
from drgaudit.engine.exceptions import RuleFileError
from drgaudit.engine.expr import parse_expression
from drgaudit.engine.functions import FUNCTIONS, Function, FunctionExample, literal
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.vocabulary import BOOL, DATE, NUMBER, TEXT
from drgaudit.engine.yamlsource import Position

FAMILY = "function_examples"
_PLACEHOLDER = {NUMBER: "0", TEXT: '""', DATE: 'date("2000-01-01")', BOOL: "true"}


def copy_bundled_pack(target: Path) -> Path:
    """A copy of the bundled rule pack that a test may add rule files to."""
    shutil.copytree(bundled_rules_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    return target


def _type_of(expression: str) -> str | None:
    pack = load_pack(bundled_rules_dir())
    errors: list[RuleFileError] = []
    parsed = parse_expression(expression, Position("<example>", 1, 1))
    scope = Scope(params={}, pair=False, lists=pack.lists, region_settings=frozenset())
    kind = Checker(parsed, scope, errors).check()
    assert not errors, errors
    return kind


def _case(name: str, example: FunctionExample) -> dict[str, Any]:
    case: dict[str, Any] = {"name": name, "claim": dict(example.claim)}
    if example.history:
        case["history"] = [dict(h) for h in example.history]
    return case


def _rule(rule_id: str, condition: str, expect: str, case: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "title": f"函数示例：{condition}",
        "family": FAMILY,
        "severity": "info",
        "action": "note",
        "scope": "all",
        "schemes": ["DRG", "DIP", "PER_DIEM", "FFS"],
        "stage": "事前",
        "status": status,
        "effective": {"from": dt.date(2025, 1, 1)},
        "reference": "engine/functions.py 函数示例",
        "when": [condition],
        "message": "病例{claim_id}满足函数示例条件",
        "amount_at_risk": "0",
        "examples": {expect: [case]},
    }


def example_rules(function: Function, *, status: str = "draft") -> list[dict[str, Any]]:
    """Two rules per example of a function: equal to the declared result (hit), different from it (miss)."""
    rules = []
    for index, example in enumerate(function.examples, start=1):
        name = f"{function.name} 示例{index}: {example.expression}"
        case = _case(name, example)
        base = f"FN-{function.name}-{index}"
        if example.result is None:
            kind = _type_of(example.expression)
            assert kind is not None, example.expression
            value = _PLACEHOLDER[kind]
            rules.append(_rule(f"{base}-EQ", f"{example.expression} == {value}", "miss", case, status))
            rules.append(_rule(f"{base}-NE", f"{example.expression} != {value}", "miss", case, status))
            continue
        value = literal(example.result)
        rules.append(_rule(f"{base}-EQ", f"{example.expression} == {value}", "hit", case, status))
        rules.append(_rule(f"{base}-NE", f"{example.expression} != {value}", "miss", case, status))
    return rules


def write_rules(pack_dir: Path, name: str, rules: Iterable[Mapping[str, Any]]) -> Path:
    """A rule file declaring the function-examples family and holding `rules`."""
    path = pack_dir / name
    document = {"families": {FAMILY: "函数示例"}, "rules": list(rules)}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def examples_pack(target: Path, functions: Iterable[Function] | None = None) -> Path:
    """The bundled pack plus `functions.yaml`, the examples of every function (default: the registry)."""
    copy_bundled_pack(target)
    chosen = list(FUNCTIONS.values()) if functions is None else list(functions)
    write_rules(target, "function_examples.yaml", [r for f in chosen for r in example_rules(f)])
    return target
