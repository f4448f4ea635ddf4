"""`drgaudit rules …`: check, test and document rule packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drgaudit.engine.boundaries import boundary_report, boundary_warnings
from drgaudit.engine.boundaries import describe as describe_boundary
from drgaudit.engine.codes import CodeTables, resolve_codes_dir
from drgaudit.engine.functions import reference_lines
from drgaudit.engine.loader import bundled_rules_dir, read_pack
from drgaudit.engine.ruletest import describe, run_examples
from drgaudit.engine.vocabulary import FACTS
from drgaudit.errors import DrgauditError

app = typer.Typer(help="Check, test and document rule packs.", no_args_is_help=True)

RulesDir = Annotated[
    Path | None,
    typer.Argument(
        help="Rules directory (default: the bundled rule pack).", show_default=False, file_okay=False
    ),
]
CodesOption = Annotated[
    Path | None,
    typer.Option(
        "--codes",
        help="Code-table folder (DATA-CONTRACT layout). Default: the pack's codes/, else the bundled subset.",
        file_okay=False,
    ),
]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command("check")
def check(directory: RulesDir = None) -> None:
    """Parse and lint every rule, list and region file; report each problem as path:line:col.

    Exit code 0 when the pack is usable (warnings allowed), 1 when it has errors.

    Example:  drgaudit rules check rules/
    """
    result = read_pack(directory)
    warnings = list(result.warnings)
    if result.pack is not None:
        # Thresholds whose boundary no example pins (engine/boundaries.py); `rules test --strict` fails on them.
        try:
            tables = CodeTables.from_dir(resolve_codes_dir(None, directory or bundled_rules_dir()))
        except DrgauditError as exc:
            typer.echo(f"note: boundary examples not checked: {exc}")
        else:
            warnings += boundary_warnings(result.pack, tables)
    for issue in sorted(
        result.errors + warnings, key=lambda e: (e.position.path, e.position.line, e.position.col)
    ):
        typer.echo(issue.render())
    if result.errors:
        typer.echo(
            f"{_plural(len(result.errors), 'error')}, {_plural(len(result.warnings), 'warning')}; nothing was loaded"
        )
        raise typer.Exit(1)
    pack = result.pack
    typer.echo(
        f"OK: {_plural(len(pack.rules), 'rule')} ({sum(r.status == 'active' for r in pack.rules)} active), "
        f"{_plural(len(pack.lists), 'list')}, {_plural(len(pack.regions), 'region')} with overrides, "
        f"{_plural(len(warnings), 'warning')}"
    )


@app.command("test")
def test(
    directory: RulesDir = None,
    codes: CodesOption = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only the examples of this rule id (repeatable).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Explain passing examples too.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Also fail when a threshold (a fact compared with a number or param) has no example exactly "
            "at its boundary and one just past it.",
        ),
    ] = False,
) -> None:
    """Run every rule's examples through the engine: claims that must hit and claims that must not.

    A failure shows the expected and actual outcome and the value of each condition; the conditions
    that kept the example from its expected outcome are marked ✗.

    Examples:

        drgaudit rules test rules/ --rule SPLIT-001

        drgaudit rules test --strict
    """
    result = read_pack(directory)
    if result.pack is None:
        for issue in result.errors:
            typer.echo(issue.render())
        typer.echo(f"{_plural(len(result.errors), 'error')}; fix them with `drgaudit rules check` first")
        raise typer.Exit(1)
    try:
        tables = CodeTables.from_dir(resolve_codes_dir(codes, directory or bundled_rules_dir()))
    except DrgauditError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    results = run_examples(result.pack, tables, rule_ids=set(rule) if rule else None)
    failed = 0
    for item in results:
        ok = item.passed and item.engines_agree
        failed += not ok
        where = f"{item.example.position.path}:{item.example.position.line}"
        typer.echo(
            f"{'PASS' if ok else 'FAIL'} {item.rule.id} {item.example.expect:<4} {item.example.name}  ({where})"
        )
        if not ok or verbose:
            for line in describe(item):
                typer.echo(line)
    typer.echo(f"{_plural(len(results), 'example')}: {len(results) - failed} passed, {failed} failed")
    unpinned = 0
    if strict:
        report = boundary_report(result.pack, tables, rule_ids=set(rule) if rule else None)
        for pin in report:
            if pin.pinned:
                continue
            unpinned += 1
            issue = describe_boundary(pin)
            typer.echo(f"FAIL {pin.threshold.rule.id} boundary `{pin.threshold.text}`  ({issue.position})")
            typer.echo(f"  {issue.hint}")
        typer.echo(
            f"{_plural(len(report), 'threshold')}: {len(report) - unpinned} pinned at the boundary, {unpinned} not"
        )
    if failed or unpinned or not results:
        raise typer.Exit(1)


@app.command("facts")
def facts() -> None:
    """List every field a rule condition can use, with its type and meaning, then every function.

    Both lists come from the engine's declarations (engine/vocabulary.py, engine/functions.py).

    Example:  drgaudit rules facts
    """
    for fact in FACTS.values():
        note = f" — {fact.note}" if fact.note else ""
        missing = " (may be missing)" if fact.optional else ""
        typer.echo(f"{fact.name:<42} {fact.type:<7} {fact.label}{note}{missing}")
    typer.echo("")
    typer.echo("functions:")
    for line in reference_lines():
        typer.echo(line)


@app.command("mutate")
def mutate(
    directory: RulesDir = None,
    codes: CodesOption = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Only this rule id (repeatable).")] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="Also try the surviving mutants against the scenarios of this features/ folder (slow).",
            file_okay=False,
            exists=True,
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", min=0, max=1, help="Exit 1 when the score is below this (e.g. 0.95)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every mutant, killed or not.")
    ] = False,
) -> None:
    """Mutation testing: flip each comparison (>= ↔ >, < ↔ <=), move each numeric param one step down
    and up, drop each `unless` line in turn, and report the mutants the examples do not catch.

    The score is killed mutants ÷ all mutants; a survivor is a change of policy no example notices.

    Examples:

        drgaudit rules mutate

        drgaudit rules mutate rules/ --rule LOS-001 --features features/ --verbose
    """
    from drgaudit.services.mutation import mutate_pack

    result = read_pack(directory)
    if result.pack is None:
        for issue in result.errors:
            typer.echo(issue.render())
        typer.echo(f"{_plural(len(result.errors), 'error')}; fix them with `drgaudit rules check` first")
        raise typer.Exit(1)
    try:
        tables = CodeTables.from_dir(resolve_codes_dir(codes, directory or bundled_rules_dir()))
    except DrgauditError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    report = mutate_pack(result.pack, tables, rule_ids=set(rule) if rule else None, features=features)
    for rule_id, (killed, total) in sorted(report.by_rule().items()):
        typer.echo(f"{rule_id:<14} {killed:>3} of {total:<3} mutants killed")
    shown = report.mutants if verbose else report.survivors
    if shown:
        typer.echo("")
    for mutant in shown:
        state = "killed  " if mutant.killed else "SURVIVED"
        extra = f"  [scenarios: {mutant.features}]" if mutant.features else ""
        by = f"  by {mutant.killed_by[0]}" if mutant.killed_by and verbose else ""
        typer.echo(f"{state} {mutant.rule.id} {mutant.description}  ({mutant.position}){by}{extra}")
    typer.echo(
        f"mutation score {report.score:.1%}: {report.killed} of {len(report.mutants)} mutants killed, "
        f"{len(report.survivors)} survived"
    )
    if min_score is not None and report.score < min_score:
        raise typer.Exit(1)
