"""`drgaudit rules …`: check, test and document rule packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drgaudit.cli.options import CodesOption, DbOption, reported
from drgaudit.i18n import _, ngettext

app = typer.Typer(help="Check, test and document rule packs.", no_args_is_help=True)

RulesDir = Annotated[
    Path | None,
    typer.Argument(
        metavar="DIR",
        help="Rules directory (default: the bundled rule pack).",
        show_default=False,
        file_okay=False,
    ),
]


def _counts(errors: int, warnings: int) -> str:
    return ", ".join(
        (
            ngettext("{n} error", "{n} errors", errors).format(n=errors),
            ngettext("{n} warning", "{n} warnings", warnings).format(n=warnings),
        )
    )


@app.command("check")
def check(
    directory: RulesDir = None,
    boundaries: Annotated[
        bool,
        typer.Option(
            "--boundaries",
            help="Also warn about thresholds no example pins at the boundary (runs every example through "
            "the engine; `rules test --strict` fails on them).",
        ),
    ] = False,
) -> None:
    """Parse and lint every rule, list and region file; report each problem as path:line:col.

    Exit code 0 when the pack is usable (warnings allowed), 1 when it has errors. It reads the pack
    without running it, so it answers at once; --boundaries adds the boundary-example lint.

    Examples:

        drgaudit rules check rules/

        drgaudit rules check --boundaries
    """
    from drgaudit.engine.loader import bundled_rules_dir, read_pack

    result = read_pack(directory)
    warnings = list(result.warnings)
    if result.pack is not None and boundaries:
        # Thresholds whose boundary no example pins (engine/boundaries.py); `rules test --strict` fails on them.
        from drgaudit.engine.boundaries import boundary_warnings
        from drgaudit.engine.codes import CodeTables, resolve_codes_dir
        from drgaudit.errors import DrgauditError

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
            _("{counts}; nothing was loaded").format(counts=_counts(len(result.errors), len(result.warnings)))
        )
        raise typer.Exit(1)
    pack = result.pack
    assert pack is not None  # a pack without errors is loaded
    active = sum(r.status == "active" for r in pack.rules)
    typer.echo(
        _("OK: {rules} ({active} active), {lists}, {regions} with overrides, {warnings}").format(
            rules=ngettext("{n} rule", "{n} rules", len(pack.rules)).format(n=len(pack.rules)),
            active=active,
            lists=ngettext("{n} list", "{n} lists", len(pack.lists)).format(n=len(pack.lists)),
            regions=ngettext("{n} region", "{n} regions", len(pack.profile_keys()) - 1).format(
                n=len(pack.profile_keys()) - 1
            ),
            warnings=ngettext("{n} warning", "{n} warnings", len(warnings)).format(n=len(warnings)),
        )
    )


@app.command("test")
def test(
    directory: RulesDir = None,
    codes: CodesOption = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule", metavar="ID", help="Only the examples of this rule id (repeatable).", show_default=False
        ),
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
    db: DbOption = None,
) -> None:
    """Run every rule's examples through the engine: claims that must hit and claims that must not.

    A failure shows the expected and actual outcome, the value of each condition, and each fact and
    threshold it compared, with their Chinese names; the conditions that kept the example from its
    expected outcome are marked ✗. The code tables are chosen as for screening (--codes, else the
    casebook's loaded set, else the bundled CHS-DRG 1.1 tables).

    Examples:

        drgaudit rules test rules/ --rule SPLIT-001

        drgaudit rules test --strict
    """
    from drgaudit.engine.loader import read_pack

    result = read_pack(directory)
    if result.pack is None:
        for issue in result.errors:
            typer.echo(issue.render())
        typer.echo(
            _("{errors}; fix them with `drgaudit rules check` first").format(
                errors=ngettext("{n} error", "{n} errors", len(result.errors)).format(n=len(result.errors))
            )
        )
        raise typer.Exit(1)
    known = {r.id for r in result.pack.rules}
    for wanted in rule or []:
        if wanted not in known:
            from drgaudit.engine.suggest import did_you_mean

            hint = did_you_mean(wanted, sorted(known))
            message = _("no rule {rule} in {pack}").format(rule=wanted, pack=result.pack.directory)
            raise typer.BadParameter(message + (f" ({hint})" if hint else ""), param_hint="--rule")
    from drgaudit.engine.ruletest import describe, run_examples
    from drgaudit.services.codes import choose_codes_for

    with reported():
        tables = choose_codes_for(codes_dir=codes, rules_dir=directory, db=db)
    results = run_examples(result.pack, tables, rule_ids=set(rule) if rule else None)
    failed = 0
    for item in results:
        ok = item.passed and item.engines_agree
        failed += not ok
        where = f"{item.example.position.path}:{item.example.position.line}"
        expect = _("hit") if item.example.expect == "hit" else _("miss")
        verdict = _("PASS") if ok else _("FAIL")
        typer.echo(f"{verdict} {item.rule.id} {expect:<4} {item.example.name}  ({where})")
        if not ok or verbose:
            for line in describe(item):
                typer.echo(line)
    typer.echo(
        _("{examples}: {passed} passed, {failed} failed").format(
            examples=ngettext("{n} example", "{n} examples", len(results)).format(n=len(results)),
            passed=len(results) - failed,
            failed=failed,
        )
    )
    unpinned = 0
    if strict:
        from drgaudit.engine.boundaries import boundary_report
        from drgaudit.engine.boundaries import describe as describe_boundary

        report = boundary_report(result.pack, tables, rule_ids=set(rule) if rule else None)
        for pin in report:
            if pin.pinned:
                continue
            unpinned += 1
            issue = describe_boundary(pin)
            typer.echo(f"FAIL {pin.threshold.rule.id} boundary `{pin.threshold.text}`  ({issue.position})")
            typer.echo(f"  {issue.hint}")
        typer.echo(
            _("{thresholds}: {pinned} pinned at the boundary, {unpinned} not").format(
                thresholds=ngettext("{n} threshold", "{n} thresholds", len(report)).format(n=len(report)),
                pinned=len(report) - unpinned,
                unpinned=unpinned,
            )
        )
    if failed or unpinned or not results:
        raise typer.Exit(1)


@app.command("facts")
def facts() -> None:
    """List every field a rule condition can use, with its type and Chinese name, then every function.

    Both lists come from the engine's declarations (engine/vocabulary.py, engine/functions.py).

    Example:  drgaudit rules facts
    """
    from drgaudit.engine.functions import reference_lines
    from drgaudit.engine.vocabulary import FACTS

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
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", metavar="ID", help="Only this rule id (repeatable).", show_default=False),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            metavar="DIR",
            show_default=False,
            help="Also try the surviving mutants against the scenarios of this features/ folder (slow).",
            file_okay=False,
            exists=True,
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            metavar="SCORE",
            min=0,
            max=1,
            help="Exit 1 when the score is below this (e.g. 0.95).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every mutant, killed or not.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Mutation testing: flip each comparison (>= ↔ >, < ↔ <=), move each numeric param one step down
    and up, drop each `unless` line in turn, and report the mutants the examples do not catch.

    The score is killed mutants ÷ all mutants; a survivor is a change of policy no example notices.

    Examples:

        drgaudit rules mutate

        drgaudit rules mutate rules/ --rule LOS-001 --features features/ --verbose
    """
    from drgaudit.engine.loader import read_pack
    from drgaudit.services.codes import choose_codes_for
    from drgaudit.services.mutation import mutate_pack

    result = read_pack(directory)
    if result.pack is None:
        for issue in result.errors:
            typer.echo(issue.render())
        typer.echo(
            _("{errors}; fix them with `drgaudit rules check` first").format(
                errors=ngettext("{n} error", "{n} errors", len(result.errors)).format(n=len(result.errors))
            )
        )
        raise typer.Exit(1)
    with reported():
        tables = choose_codes_for(codes_dir=codes, rules_dir=directory, db=db)
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
