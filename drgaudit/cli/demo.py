"""`drgaudit demo`: make a synthetic province with planted violations and load it into the casebook."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.cli.options import MAX_WORKERS, DbOption, reported
from drgaudit.i18n import _
from drgaudit.terminal import pad, shown_family

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
        typer.echo(_("code tables: {label}").format(label=tables.label))
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
        _("review service: create the first administrator (you choose the password), then start the server")
    )
    typer.echo(f"  drgaudit users add admin --role admin{where}")
    typer.echo(
        f"  drgaudit serve{where}    " + _("# then sign in at {url}").format(url="http://127.0.0.1:8000/")
    )


def _print(result: DemoResult) -> None:
    from drgaudit.demo.score import amount_lines, table_lines

    m = result.manifest
    typer.echo(
        _("generated {claims} claims of {patients} patients at {hospitals} hospitals in {folder}").format(
            claims=m.claims, patients=m.patients, hospitals=m.hospitals, folder=m.out_dir
        )
    )
    typer.echo(
        _("cross-region claims: {count} ({share})").format(
            count=m.cross_region, share=f"{m.cross_region_share:.1%}"
        )
    )
    typer.echo(_("planted cases and look-alikes (truth.csv):"))
    declared = result.screen.family_labels if result.screen else {}
    for family, planted in m.planted.items():
        counts = _("{planted} planted {lookalikes} look-alikes").format(
            planted=f"{planted:>6}", lookalikes=f"{m.lookalikes[family]:>6}"
        )
        typer.echo(f"  {pad(shown_family(family, declared), 24)} {counts}")
    for kind, report in result.imports.items():
        if report.already_imported:
            typer.echo(
                _("{kind}.csv: already imported as batch {batch}, nothing changed").format(
                    kind=kind, batch=report.batch_id
                )
            )
            continue
        rejected = _(", {n} rejected").format(n=report.rows_rejected) if report.rows_rejected else ""
        typer.echo(
            _("{kind}.csv: batch {batch}, {rows} rows ({new} new, {unchanged} unchanged, {revised} revised{rejected})").format(
                kind=kind, batch=report.batch_id, rows=report.rows_ok, new=report.new, unchanged=report.unchanged,
                revised=report.revised, rejected=rejected,
            )
        )  # fmt: skip
    typer.echo(
        _("claims batch: {batch} ({database})").format(
            batch=result.claims_batch_id, database=result.database_url
        )
    )
    summary = result.screen
    if summary is None or result.score is None:
        return
    typer.echo(
        _(
            "screened {claims} claims in {seconds}s ({speed} claims/s): {hits} hits, {amount} yuan at risk, "
            "stored as screen run {run}"
        ).format(
            claims=summary.claims, seconds=f"{summary.seconds:.1f}", speed=f"{summary.claims_per_second:,.0f}",
            hits=summary.hits, amount=f"{summary.amount_at_risk:,.2f}", run=summary.run_id,
        )
    )  # fmt: skip
    for failure in summary.failed:
        typer.echo(
            _("NOT SCREENED: patient {patient}: {reason}").format(
                patient=repr(failure.patient_id), reason=failure.reason
            ),
            err=True,
        )
    card = result.score
    typer.echo(_("hits and amounts at risk, by family and by action:"))
    for line in amount_lines(card, summary.family_labels):
        typer.echo(f"  {line}")
    typer.echo(_("detection against truth.csv (precision: share of hits on claims planted for the family):"))
    for line in table_lines(card, rules=False, families=summary.family_labels):
        typer.echo(f"  {line}")
    typer.echo(
        _("found {found} of {planted} planted cases; {hit} legitimate look-alikes hit.").format(
            found=card.detected, planted=card.planted, hit=card.lookalikes_hit
        )
    )
    example = next((f.example for f in card.families.values() if f.example), None)
    if example:
        typer.echo(_("why a claim was hit: {command}").format(command=f"drgaudit explain {example}"))
    typer.echo(
        _("all hits as JSONL: {command}").format(
            command=f"drgaudit screen --batch {result.claims_batch_id} --output -"
        )
    )
    if summary.review_cases:
        review = summary.review_cases
        typer.echo(
            _(
                "special-review queue: {created} new cases, {refreshed} refreshed, {unchanged} unchanged; "
                "by priority: {command}"
            ).format(
                created=review["created"], refreshed=review["refreshed"], unchanged=review["unchanged"],
                command="drgaudit queue list",
            )
        )  # fmt: skip


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
