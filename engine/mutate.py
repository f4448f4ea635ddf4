"""Mutation testing of a rule pack: small wrong versions of each rule, and whether the examples notice.

For every active and draft rule, one mutant at a time:

- each ordering comparison in `when`/`unless` with its operator flipped (`>=` ↔ `>`, `<` ↔ `<=`);
- each numeric param (int or number) moved one step down and one step up (its `step`, else 1 for
  int and 0.01 for number), skipped where that leaves the param's declared min/max;
- each `unless` condition dropped in turn.

A mutant is **killed** when some example of its rule now comes out wrong (a `hit` example that no longer
hits, or a `miss` example that does), run on durable-rules exactly as `rules test` runs them; else it
**survives**. The score is killed ÷ all mutants. Survivors can also be tried against the Chinese
scenarios (`features/`, pytest-bdd) by writing the mutant out as files (`Mutant.write`).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drgaudit.engine.boundaries import ORDER_OPS, replace_node
from drgaudit.engine.codes import CodeTables
from drgaudit.engine.expr import Expression
from drgaudit.engine.nodes import Cmp, render, walk
from drgaudit.engine.pack import RulePack
from drgaudit.engine.rule import Param, Rule
from drgaudit.engine.ruletest import STATUSES_TESTED, run_examples
from drgaudit.engine.yamlsource import Position, YList, YMap

FLIPPED = {">=": ">", ">": ">=", "<": "<=", "<=": "<"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass
class Mutant:
    """One small change to one rule."""

    rule: Rule
    kind: str  # operator | param | unless
    description: str
    position: Position
    mutated: Rule
    # How to write the change into the rule file: (line, column, old text, new text), or a line to delete.
    edit: tuple[int, int, str, str] | None = None
    killed_by: list[str] = field(default_factory=list)  # examples (and features) that caught it
    features: str | None = None  # "killed" / "survived" when the scenarios were run

    @property
    def killed(self) -> bool:
        return bool(self.killed_by)

    def write(self, source: Path, target: Path) -> bool:
        """Copy the pack folder `source` to `target` with this mutant's change; False if it cannot be written."""
        if self.edit is None:
            return False
        line_no, col, old, new = self.edit
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        path = target / Path(self.rule.path).name
        if not path.is_file():
            return False
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        text = lines[line_no - 1]
        if old == "\n":  # delete the line
            lines[line_no - 1] = ""
        else:
            if text[col - 1 : col - 1 + len(old)] != old:
                return False
            lines[line_no - 1] = text[: col - 1] + new + text[col - 1 + len(old) :]
        path.write_text("".join(lines), encoding="utf-8")
        return True


def _with_condition(rule: Rule, kind: str, index: int, expression: Expression) -> Rule:
    items = list(getattr(rule, kind))
    items[index] = expression
    if kind == "when":
        return dataclasses.replace(rule, when=tuple(items))
    return dataclasses.replace(rule, unless=tuple(items))


def _operator_mutants(rule: Rule) -> Iterator[Mutant]:
    for kind in ("when", "unless"):
        for index, expr in enumerate(getattr(rule, kind)):
            for node in walk(expr.root):
                if not isinstance(node, Cmp) or node.op not in ORDER_OPS:
                    continue
                new_op = FLIPPED[node.op]
                root = replace_node(expr.root, node, dataclasses.replace(node, op=new_op))
                mutated = _with_condition(rule, kind, index, Expression(render(root), root, expr.position))
                segment = expr.source[node.left.offset : node.right.offset].rstrip()
                edit = None
                if segment.endswith(node.op):
                    at = expr.position.col + node.left.offset + len(segment) - len(node.op)
                    edit = (expr.position.line, at, node.op, new_op)
                yield Mutant(
                    rule, "operator", f"{kind} `{render(node)}`: {node.op} → {new_op}",
                    expr.position_of(node), mutated, edit,
                )  # fmt: skip


def _param_mutants(rule: Rule) -> Iterator[Mutant]:
    specs = rule.data.get("params")
    for name, param in rule.params.items():
        if param.type not in ("int", "number"):
            continue
        for sign in (-1, 1):
            value: Any = param.default + sign * param.unit
            value = int(value) if param.type == "int" and float(value).is_integer() else round(value, 10)
            if (param.minimum is not None and value < param.minimum) or (
                param.maximum is not None and value > param.maximum
            ):
                continue
            moved: Param = dataclasses.replace(param, default=value)
            mutated = dataclasses.replace(rule, params={**rule.params, name: moved})
            edit = None
            spec = specs.get(name) if isinstance(specs, YMap) else None
            if isinstance(spec, YMap) and "default" in spec:
                where = spec.value_at("default")
                line = _line(rule.path, where.line)
                match = _NUMBER.match(line[where.col - 1 :]) if line is not None else None
                if match:
                    edit = (where.line, where.col, match.group(0), _number_text(value))
            yield Mutant(
                rule,
                "param",
                f"param {name} {param.default} → {_number_text(value)}",
                param.position,
                mutated,
                edit,
            )


def _unless_mutants(rule: Rule) -> Iterator[Mutant]:
    items = rule.data.get("unless")
    for index, expr in enumerate(rule.unless):
        mutated = dataclasses.replace(rule, unless=rule.unless[:index] + rule.unless[index + 1 :])
        edit = None
        if isinstance(items, YList) and len(rule.unless) == len(items):
            line = _line(rule.path, items.item_at(index).line)
            item = line.strip()[2:].strip() if line is not None and line.strip().startswith("- ") else None
            quoted = item is not None and len(item) > 1 and item[0] in "\"'" and item[-1] == item[0]
            if item is not None and (item == expr.source or (quoted and item[1:-1] == expr.source)):
                edit = (items.item_at(index).line, 1, "\n", "")
        yield Mutant(rule, "unless", f"unless `{expr.source}` dropped", expr.position, mutated, edit)


_LINES: dict[str, list[str]] = {}


def _line(path: str, line_no: int) -> str | None:
    if path not in _LINES:
        try:
            _LINES[path] = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            _LINES[path] = []
    lines = _LINES[path]
    return lines[line_no - 1] if 0 < line_no <= len(lines) else None


def _number_text(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def mutants(rule: Rule) -> list[Mutant]:
    """Every mutant of one rule (see the module docstring), in a fixed order."""
    return [*_operator_mutants(rule), *_param_mutants(rule), *_unless_mutants(rule)]


def run_mutant(pack: RulePack, codes: CodeTables, mutant: Mutant) -> Mutant:
    """Run the mutated rule's examples on durable-rules; record which examples catch it."""
    alone = dataclasses.replace(pack, rules=(mutant.mutated,), _merged={})
    for result in run_examples(alone, codes, rule_ids={mutant.rule.id}):
        if not result.passed:
            mutant.killed_by.append(f"{result.example.expect} example `{result.example.name}`")
    return mutant


@dataclass
class MutationReport:
    """The mutants of a pack and the score."""

    mutants: list[Mutant]

    @property
    def killed(self) -> int:
        return sum(m.killed for m in self.mutants)

    @property
    def score(self) -> float:
        return self.killed / len(self.mutants) if self.mutants else 1.0

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if not m.killed]

    def by_rule(self) -> dict[str, tuple[int, int]]:
        """rule id -> (killed, mutants)."""
        result: dict[str, tuple[int, int]] = {}
        for m in self.mutants:
            killed, total = result.get(m.rule.id, (0, 0))
            result[m.rule.id] = (killed + m.killed, total + 1)
        return result


def mutation_report(
    pack: RulePack, codes: CodeTables, *, rule_ids: set[str] | None = None, progress: Any = None
) -> MutationReport:
    """Every mutant of the pack's active and draft rules, each run against its rule's examples."""
    chosen = [
        m
        for rule in pack.rules
        if rule.status in STATUSES_TESTED and (not rule_ids or rule.id in rule_ids)
        for m in mutants(rule)
    ]
    for done, mutant in enumerate(chosen, start=1):
        run_mutant(pack, codes, mutant)
        if progress is not None:
            progress(done, len(chosen))
    return MutationReport(chosen)
