"""`drgaudit demo`: make a synthetic province with planted violations and load it into the casebook."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.cli.options import MAX_WORKERS, DbOption, reported

if TYPE_CHECKING:
    from drgaudit.demo.run import DemoResult

# The demo's defaults (drgaudit.demo.generator holds the same numbers; a test keeps them equal).
DEFAULT_SEED = 20250101
DEFAULT_CLAIMS = 50_000

STAGES = {
    "generate": "generating",
    "hospitals": "importing hospitals.csv",
    "groups": "importing groups.csv",
    "claims": "importing claims.csv",
    "screen": "screening",
}


def demo(
    seed: Annotated[
        int,
        typer.Option("--seed", metavar="N", help="Random seed; the same seed and size give the same files."),
    ] = DEFAULT_SEED,
    claims: Annotated[
        int, typer.Option("--claims", metavar="N", help="Number of claims to generate.")
    ] = DEFAULT_CLAIMS,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the generated files.")] = Path(
        "drgaudit-demo"
    ),
    codes: Annotated[
        Path | None,
        typer.Option(
            "--codes",
            metavar="DIR",
            help="National code tables to draw codes from and screen with. Default: the CHS-DRG 1.1 tables "
            "bundled with drgaudit.",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-j", metavar="N", min=1, max=MAX_WORKERS, help="Screening worker processes."
        ),
    ] = min(2, os.cpu_count() or 1),
    db: DbOption = None,
) -> None:
    """Generate a synthetic province (hospitals, group tables, claims with planted violations and their
    ground truth in truth.csv), import it into the casebook, screen it with the bundled rules and show
    the hits and amounts at risk by family and action, and each family's recall and precision against
    the planted cases.

    Example:  drgaudit demo --claims 50000 --out drgaudit-demo
    """
    from drgaudit.demo.run import run_demo
    from drgaudit.engine.codes import CodeTables

    with reported():
        tables = CodeTables.from_dir(codes) if codes is not None else CodeTables.bundled()
        typer.echo(f"code tables: {tables.label}")
        with _ProgressBars() as progress:
            result = run_demo(
                out,
                seed=seed,
                claims=claims,
                codes_dir=codes,
                db_url=db,
                progress=progress,
                workers=workers,
            )
    _print(result)
    _print_service(db)


def _print_service(db: str | None) -> None:
    """How to open the demo casebook in the review service: the first administrator, then the server."""
    where = f" --db {shlex.quote(db)}" if db else ""
    typer.echo(
        "review service: create the first administrator (you choose the password), then start the server"
    )
    typer.echo(f"  drgaudit users add admin --role admin{where}")
    typer.echo(f"  drgaudit serve{where}    # then sign in at http://127.0.0.1:8000/")


def _print(result: DemoResult) -> None:
    from drgaudit.demo.score import amount_lines, table_lines

    m = result.manifest
    typer.echo(
        f"generated {m.claims} claims of {m.patients} patients at {m.hospitals} hospitals in {m.out_dir}"
    )
    typer.echo(f"cross-region claims: {m.cross_region} ({m.cross_region_share:.1%})")
    typer.echo("planted cases and look-alikes (truth.csv):")
    for family, planted in m.planted.items():
        typer.echo(f"  {family:<24} {planted:>6} planted {m.lookalikes[family]:>6} look-alikes")
    for kind, report in result.imports.items():
        if report.already_imported:
            typer.echo(f"{kind}.csv: already imported as batch {report.batch_id}, nothing changed")
            continue
        rejected = f", {report.rows_rejected} rejected" if report.rows_rejected else ""
        typer.echo(
            f"{kind}.csv: batch {report.batch_id}, {report.rows_ok} rows ({report.new} new, "
            f"{report.unchanged} unchanged, {report.revised} revised{rejected})"
        )
    typer.echo(f"claims batch: {result.claims_batch_id} ({result.database_url})")
    summary = result.screen
    if summary is None or result.score is None:
        return
    typer.echo(
        f"screened {summary.claims} claims in {summary.seconds:.1f}s ({summary.claims_per_second:,.0f} claims/s): "
        f"{summary.hits} hits, {summary.amount_at_risk:,.2f} yuan at risk, stored as screen run {summary.run_id}"
    )
    for failure in summary.failed:
        typer.echo(f"NOT SCREENED: patient {failure.patient_id!r}: {failure.reason}", err=True)
    card = result.score
    typer.echo("hits and amounts at risk, by family and by action:")
    for line in amount_lines(card):
        typer.echo(f"  {line}")
    typer.echo("detection against truth.csv (precision: share of hits on claims planted for the family):")
    for line in table_lines(card, rules=False):
        typer.echo(f"  {line}")
    typer.echo(
        f"found {card.detected} of {card.planted} planted cases; {card.lookalikes_hit} legitimate look-alikes hit."
    )
    example = next((f.example for f in card.families.values() if f.example), None)
    if example:
        typer.echo(f"why a claim was hit: drgaudit explain {example}")
    typer.echo(f"all hits as JSONL: drgaudit screen --batch {result.claims_batch_id} --output -")
    if summary.review_cases:
        review = summary.review_cases
        typer.echo(
            f"special-review queue: {review['created']} new cases, {review['refreshed']} refreshed, "
            f"{review['unchanged']} unchanged; by priority: drgaudit queue list"
        )


class _ProgressBars:
    """One rich progress bar per stage of the run, on stderr; the callback for `run_demo`."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bars = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _ProgressBars:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.tasks:
            self.bars.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.tasks:
            self.bars.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.bars.add_task(STAGES[stage], total=total)
        self.bars.update(self.tasks[stage], completed=done)
