"""The function registry: each function declared once works in `rules check`, `rules test`, screening and
`explain`, its examples hold on durable-rules and in the Python evaluator, and the docs come from it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from drgaudit.cli.root import app
from drgaudit.engine.compiler import compile_profile
from drgaudit.engine.functions import (
    FUNCTIONS,
    LITERAL,
    Arg,
    DurableTest,
    Function,
    FunctionExample,
    LoweringContext,
    reference_markdown,
)
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.nodes import And, Cmp, Node
from drgaudit.engine.vocabulary import BOOL, NUMBER, TEXT
from tests.function_support import copy_bundled_pack, example_rules, examples_pack, write_rules

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _rule_ids(text: str) -> list[str]:
    return re.findall(r"^(?:PASS|FAIL) (\S+)", text, flags=re.M)


def test_every_function_has_a_signature_a_summary_and_examples() -> None:
    assert set(FUNCTIONS) >= {"any_in", "count_in", "len", "min", "max", "abs", "round", "date"}
    for function in FUNCTIONS.values():
        assert function.summary and function.label, function.name
        assert function.examples, f"{function.name} has no examples"
        assert function.signature.startswith(f"{function.name}(")


def test_a_function_is_declared_once() -> None:
    with pytest.raises(ValueError, match="already declared"):
        FUNCTIONS.register(FUNCTIONS["len"])


def test_every_function_example_holds_on_durable_rules_and_in_python(tmp_path: Path) -> None:
    pack = examples_pack(tmp_path / "rules")
    check = runner.invoke(app, ["rules", "check", str(pack)])
    assert check.exit_code == 0, check.stdout
    ids = sorted({rule["id"] for f in FUNCTIONS.values() for rule in example_rules(f)})
    result = runner.invoke(app, ["rules", "test", str(pack), *(f"--rule={i}" for i in ids)])
    assert result.exit_code == 0, result.stdout
    assert sorted(set(_rule_ids(result.stdout))) == ids
    assert "FAIL" not in result.stdout


def test_a_wrong_example_result_fails_rules_test(tmp_path: Path) -> None:
    wrong = Function(
        "len",
        FUNCTIONS["len"].args,
        NUMBER,
        len,
        "x",
        "x",
        examples=(FunctionExample("len(secondary_dx)", 3, {"secondary_dx": ["I10.x00x002"]}),),
    )
    pack = copy_bundled_pack(tmp_path / "rules")
    write_rules(pack, "wrong.yaml", example_rules(wrong))
    result = runner.invoke(
        app, ["rules", "test", str(pack), "--rule", "FN-len-1-EQ", "--rule", "FN-len-1-NE"]
    )
    assert result.exit_code == 1
    assert "FAIL FN-len-1-EQ hit" in result.stdout and "FAIL FN-len-1-NE miss" in result.stdout


def test_readme_function_table_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- functions:start -->\n(.*?)<!-- functions:end -->", readme, flags=re.S)
    assert match, "README.md lacks the <!-- functions:start --> … <!-- functions:end --> block"
    assert match.group(1) == reference_markdown(), (
        "README's function table is out of date; regenerate it with\n"
        "  .venv/bin/python -c 'from drgaudit.engine.functions import reference_markdown as r; print(r(), end=\"\")'"
    )


def test_rules_facts_lists_every_function_with_its_signature() -> None:
    result = runner.invoke(app, ["rules", "facts"])
    assert result.exit_code == 0
    for function in FUNCTIONS.values():
        assert function.signature in result.stdout


# ---- a new function, added to the registry alone -------------------------------------------------


def _between_durable(ctx: LoweringContext, args: tuple[Node, ...], negated: bool) -> DurableTest | None:
    # A native lowering that rewrites the call into the language's own comparisons.
    value, low, high = args
    return ctx.test(
        And(value.offset, (Cmp(value.offset, ">=", value, low), Cmp(value.offset, "<=", value, high))),
        negated,
    )


NEW_FUNCTIONS = {
    # Lowered as a derived field (the default): computed once per claim in Python.
    "ends_with": Function(
        "ends_with",
        (Arg("text", (TEXT,)), Arg("suffix", (TEXT,), form=LITERAL)),
        BOOL,
        lambda text, suffix: str(text).endswith(str(suffix)),
        "the text ends with the suffix",
        "文本以该后缀结尾",
        examples=(
            FunctionExample('ends_with(principal_dx, "x001")', True, {"principal_dx": "J96.900x001"}),
            FunctionExample('ends_with(principal_dx, "x001")', False),
        ),
    ),
    # Lowered natively: durable-rules tests `value >= low and value <= high` itself.
    "between": Function(
        "between",
        (Arg("value", (NUMBER,)), Arg("low", (NUMBER,)), Arg("high", (NUMBER,))),
        BOOL,
        lambda value, low, high: low <= value <= high,
        "low ≤ value ≤ high",
        "在区间内（含两端）",
        durable=_between_durable,
        examples=(
            FunctionExample("between(los_days, 5, 10)", True),
            FunctionExample("between(los_days, 8, 10)", False),
            FunctionExample("between(age_days, 1, 28)", None),
        ),
    ),
}
# A rule that uses the new function, with a claim it must hit and one it must not.
NEW_RULES = {
    "ends_with": (
        'ends_with(principal_dx, "x001")',
        {"principal_dx": "J96.900x001"},
        {"principal_dx": "J18.900"},
    ),
    "between": (
        "between(total_cost, params.low, params.low * 2)",
        {"total_cost": 30000},
        {"total_cost": 70000},
    ),
}


@pytest.fixture(params=sorted(NEW_FUNCTIONS))
def new_function(request: pytest.FixtureRequest) -> Iterator[Function]:
    function = FUNCTIONS.register(NEW_FUNCTIONS[request.param])
    try:
        yield function
    finally:
        FUNCTIONS.unregister(function.name)


def _user_rule(condition: str, hit: dict[str, Any], miss: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "NEW-001",
        "title": "使用新函数的规则",
        "family": "data_quality",
        "severity": "low",
        "action": "note",
        "scope": "all",
        "schemes": ["DRG", "DIP"],
        "stage": "事前",
        "status": "active",
        "effective": {"from": dt.date(2025, 1, 1)},
        "reference": "医保办函〔2025〕3号 结算清单质控",
        "params": {"low": {"default": 25000, "type": "number", "min": 0}}
        if "params.low" in condition
        else {},
        "when": [condition],
        "message": "病例{claim_id}命中新函数规则，费用{total_cost:,.2f}元",
        "amount_at_risk": "total_cost",
        "examples": {
            "hit": [{"name": "应命中", "claim": hit}],
            "miss": [{"name": "不应命中", "claim": miss}],
        },
    }


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records), encoding="utf-8"
    )
    return path


def test_a_new_function_added_to_the_registry_alone_works_everywhere(
    new_function: Function, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRGAUDIT_HOME", str(tmp_path / "home"))
    name = new_function.name
    # Its own examples, on durable-rules and in Python.
    pack = examples_pack(tmp_path / "examples", [new_function])
    assert runner.invoke(app, ["rules", "check", str(pack)]).exit_code == 0
    ids = [r["id"] for r in example_rules(new_function)]
    tested = runner.invoke(app, ["rules", "test", str(pack), *(f"--rule={i}" for i in ids)])
    assert tested.exit_code == 0, tested.stdout
    assert sorted(set(_rule_ids(tested.stdout))) == sorted(ids)

    # An auditor's rule using it: checked, its examples tested.
    condition, hit, miss = NEW_RULES[name]
    rules = copy_bundled_pack(tmp_path / "rules")
    write_rules(rules, "new.yaml", [_user_rule(condition, hit, miss)])
    check = runner.invoke(app, ["rules", "check", str(rules)])
    assert check.exit_code == 0, check.stdout
    bundled = load_pack(bundled_rules_dir())
    active = sum(r.status == "active" for r in bundled.rules)
    assert check.stdout.startswith(f"OK: {len(bundled.rules) + 1} rules ({active + 1} active)")
    tested = runner.invoke(app, ["rules", "test", str(rules), "--rule", "NEW-001"])
    assert tested.exit_code == 0, tested.stdout
    assert tested.stdout.count("PASS NEW-001") == 2
    # It reached durable-rules the way the registry says: a derived field, or native tests.
    profile = compile_profile(load_pack(rules), None)
    derived = [s.identity[1] for s in profile.synthetics.values() if name in s.identity[1]]
    assert derived == ([] if new_function.durable else [condition])

    # Misused, it is refused with a position and the function's own signature.
    bad = copy_bundled_pack(tmp_path / "bad")
    wrong_args = "ends_with(total_cost)" if name == "ends_with" else "between(total_cost, 1)"
    write_rules(bad, "new.yaml", [_user_rule(wrong_args, hit, miss)])
    refused = runner.invoke(app, ["rules", "check", str(bad)])
    assert refused.exit_code == 1
    assert f"`{name}` takes" in refused.stdout and new_function.signature in refused.stdout

    # Screening files with the pack: the hit claim is hit, the miss claim is not.
    defaults = load_pack(bundled_rules_dir()).example_defaults
    claims = [
        {**defaults.claim, **hit, "claim_id": "NEW-HIT", "patient_id": "P-HIT"},
        {**defaults.claim, **miss, "claim_id": "NEW-MISS", "patient_id": "P-MISS"},
    ]
    files = [
        str(_jsonl(tmp_path / "claims.jsonl", claims)),
        "--hospitals",
        str(_jsonl(tmp_path / "hospitals.jsonl", [dict(defaults.hospital)])),
        "--groups",
        str(_jsonl(tmp_path / "groups.jsonl", [dict(defaults.group)])),
    ]
    screened = runner.invoke(
        app, ["screen", *files, "--rules", str(rules), "--format", "jsonl", "--output", "-"]
    )
    assert screened.exit_code == 0, screened.stdout
    hits = [json.loads(line) for line in screened.stdout.splitlines() if line.startswith("{")]
    new_hits = [h for h in hits if h["rule_id"] == "NEW-001"]
    assert [h["claim_id"] for h in new_hits] == ["NEW-HIT"]
    assert new_hits[0]["evidence"]["conditions"] == [{"kind": "when", "condition": condition, "value": True}]

    # explain says why each claim was or was not hit, with the condition's value.
    claims_files = ["--claims", files[0], *files[1:], "--rules", str(rules)]
    for claim_id, status, value in (("NEW-HIT", "HIT ", "true "), ("NEW-MISS", "no  ", "false")):
        explained = runner.invoke(app, ["explain", claim_id, *claims_files])
        assert explained.exit_code == 0, explained.stdout
        assert f"{status} NEW-001" in explained.stdout
        assert f"when   {value}  {condition}" in explained.stdout


def test_a_prefix_list_remembers_its_answers_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prefix list answers from its memo exactly as by matching the prefixes, and the memo stays
    bounded (emptied when full), so that hostile input with endless distinct codes cannot grow it."""
    import random

    from drgaudit.engine import lists
    from drgaudit.engine.yamlsource import Position

    monkeypatch.setattr(lists, "MATCHED_VALUES", 50)
    named = lists.NamedList("t", "t", "dx", "prefix", ("Z51.1", "N18"), Position("t.yaml", 1, 1), "t.yaml")
    rnd = random.Random(5)
    values = [
        rnd.choice(("Z51.1", "Z51.0", "N18", "N1", "A00", "")) + str(rnd.randint(0, 40)) for _ in range(600)
    ]
    for value in values + values:
        assert named.contains(value) is value.startswith(("Z51.1", "N18"))
        assert len(named._matched) <= 50
    assert named.contains(None) is False
    assert named == lists.NamedList(
        "t", "t", "dx", "prefix", ("Z51.1", "N18"), Position("t.yaml", 1, 1), "t.yaml"
    )


@pytest.mark.parametrize(
    ("expression", "fact", "expected"),
    [
        ("any_in(secondary_dx, lists.female_only_dx)", {"secondary_dx": None}, False),
        ("any_in(secondary_dx, lists.female_only_dx)", {"secondary_dx": []}, False),
        ("any_in(principal_dx, lists.female_only_dx)", {"principal_dx": "N70.000"}, True),
        (
            "count_in(secondary_dx, lists.female_only_dx)",
            {"secondary_dx": ["N70.000", "J18.900", "N71.0"]},
            2,
        ),
        ("count_in(principal_dx, lists.female_only_dx)", {"principal_dx": "J18.900"}, 0),
        ("count_in(secondary_dx, lists.female_only_dx)", {"secondary_dx": None}, 0),
        ("round(total_cost, 1)", {"total_cost": None}, None),
        ("round(total_cost, 1)", {"total_cost": 12.34}, 12.3),
        ("abs(total_cost)", {"total_cost": None}, None),
        ("abs(total_cost)", {"total_cost": -2.5}, 2.5),
        ("total_cost > 1", {"total_cost": None}, False),
        ("total_cost != 1", {"total_cost": None}, False),
        ("total_cost >= 1", {"total_cost": 1}, True),
        ("principal_dx in lists.female_only_dx", {"principal_dx": None}, False),
        ("principal_dx not in lists.female_only_dx", {"principal_dx": None}, False),
        ("principal_dx not in lists.female_only_dx", {"principal_dx": "J18.900"}, True),
        ("principal_dx in ['A', 'B']", {"principal_dx": "B"}, True),
    ],
)
def test_derived_field_closures_keep_the_rule_about_gaps(
    expression: str, fact: dict[str, Any], expected: Any
) -> None:
    """The fast paths of the compiled closures (one or two arguments, comparisons, membership) give what
    the generic rule gives: missing in, missing out (false for a comparison), unless the function handles it."""
    from drgaudit.engine.evaluate import Env, compile_fact_function, evaluate
    from drgaudit.engine.expr import parse_expression
    from drgaudit.engine.yamlsource import Position

    pack = load_pack(bundled_rules_dir())
    node = parse_expression(expression, Position("t.yaml", 1, 1)).root
    got = compile_fact_function(node, pack.lists)(fact)
    assert got == expected and type(got) is type(expected)
    assert evaluate(node, Env(fact, None, {}, {}, pack.lists)) == expected
