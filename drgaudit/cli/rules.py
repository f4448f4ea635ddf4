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
def check(directory: RulesDir = None) -> None:
    """Parse and lint every rule, list and region file; report each problem as path:line:col.

    Exit code 0 when the pack is usable (warnings allowed), 1 when it has errors.

    Example:  drgaudit rules check rules/
    """
    from drgaudit.engine.loader import read_pack

    result = read_pack(directory)
    for issue in sorted(
        result.errors + result.warnings, key=lambda e: (e.position.path, e.position.line, e.position.col)
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
            warnings=ngettext("{n} warning", "{n} warnings", len(result.warnings)).format(
                n=len(result.warnings)
            ),
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
    db: DbOption = None,
) -> None:
    """Run every rule's examples through the engine: claims that must hit and claims that must not.

    A failure shows the expected and actual outcome, the value of each condition, and each fact and
    threshold it compared, with their Chinese names; the conditions that kept the example from its
    expected outcome are marked ✗. The code tables are chosen as for screening (--codes, else the
    casebook's loaded set, else the bundled CHS-DRG 1.1 tables).

    Example:  drgaudit rules test rules/ --rule SPLIT-001
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
    if failed or not results:
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
