"""`drgaudit screen`, `drgaudit explain`, `drgaudit batches` and `drgaudit import codes`."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.db import make_engine
from drgaudit.casebook.runlock import reap_stale_runs
from drgaudit.casebook.screening import import_code_tables, latest_runs
from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import UserOption
from drgaudit.engine.explain import render_explanation
from drgaudit.errors import DrgauditError
from drgaudit.services.accounts import cli_actor
from drgaudit.services.screening import (
    CHUNK_PATIENTS,
    ScreenSummary,
    explain_file_claim,
    explain_stored_claim,
    screen_batch,
    screen_files,
)

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Rules directory. Default: each region's active version in the casebook (`drgaudit rules versions`), "
        "else the bundled rule pack.",
        file_okay=False,
        exists=True,
    ),
]
CodesOption = Annotated[
    Path | None,
    typer.Option(
        "--codes",
        help="Code-table folder in the DATA-CONTRACT layout (e.g. ../shared/reference/chs-drg-1.1). "
        "Default: the code set loaded with `drgaudit import codes`, else the rule pack's bundled subset.",
        file_okay=False,
        exists=True,
    ),
]
FilesOption = Annotated[list[Path] | None, typer.Option(exists=True, dir_okay=False, readable=True)]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _progress_bar(stack: ExitStack, label: str):
    """A Rich progress bar on stderr when it is a terminal; None otherwise (pipes, tests, CI)."""
    if not sys.stderr.isatty():
        return None
    progress = stack.enter_context(
        Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("claims"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    )
    task = progress.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total or None)

    return update


def _print_summary(summary: ScreenSummary) -> None:
    echo = lambda text: typer.echo(text, err=True)  # noqa: E731
    for report in summary.imports:
        rejected = f", {report.rows_rejected} rejected" if report.rows_rejected else ""
        echo(f"{Path(report.path).name}: {report.rows_ok} rows read{rejected}")
        for error in report.first_errors:
            echo(f"  {error}")
    echo(
        f"screened {summary.claims} claims of {summary.patients} patients in {summary.seconds:.1f}s "
        f"({summary.claims_per_second:,.0f} claims/s): {summary.hits} hits, {summary.amount_at_risk:,.2f} yuan at risk"
    )
    if summary.prefilter and summary.claims:
        typer.echo(
            f"pre-filter: {summary.candidates} of {summary.claims} claims "
            f"({summary.candidates / summary.claims:.1%}) could hit and went through durable-rules",
            err=True,
        )
    for family, count in sorted(summary.by_family.items(), key=lambda kv: (-kv[1], kv[0])):
        echo(f"  {family:<24} {count}")
    if summary.dry_run:
        stored, review = summary.stored, summary.review_cases
        echo(
            f"dry run, nothing stored: storing batch {summary.batch_id} would give {stored.get('new', 0)} new, "
            f"{stored.get('unchanged', 0)} unchanged, {stored.get('removed', 0)} removed hits"
        )
        echo(
            f"review queue would get: {review.get('created', 0)} new cases, {review.get('refreshed', 0)} refreshed, "
            f"{review.get('reopened', 0)} reopened, {review.get('withdrawn', 0)} withdrawn, "
            f"{review.get('unchanged', 0)} unchanged"
        )
        return
    for version, count in sorted(summary.shadow.items()):
        echo(f"shadow version {version}: {count} hits stored apart (not queued)")
    if summary.run_id is not None:
        stored = summary.stored
        echo(
            f"stored as screen run {summary.run_id} of batch {summary.batch_id}: "
            f"{stored.get('new', 0)} new, {stored.get('unchanged', 0)} unchanged, {stored.get('removed', 0)} removed"
        )
    if summary.review_cases:
        review = summary.review_cases
        echo(
            f"review queue: {review['created']} new cases, {review['refreshed']} refreshed, {review['reopened']} reopened, "
            f"{review['withdrawn']} withdrawn, {review['unchanged']} unchanged (see `drgaudit queue list`)"
        )
    _print_failures(summary)


# Patients not screened listed one per line after the summary; the rest are in the run record.
FAILURES_SHOWN = 10


def _print_failures(summary: ScreenSummary) -> None:
    failed = summary.failed
    if not failed:
        return
    where = f" (recorded with screen run {summary.run_id})" if summary.run_id is not None else ""
    typer.echo(
        f"NOT SCREENED: {len(failed)} patient{'s' if len(failed) > 1 else ''}, {summary.claims_failed} claims "
        f"have no result{where}; every other patient was screened:",
        err=True,
    )
    for failure in failed[:FAILURES_SHOWN]:
        claims = ", ".join(failure.claim_ids[:5]) + (" …" if len(failure.claim_ids) > 5 else "")
        typer.echo(f"  patient {failure.patient_id!r} (claims {claims}): {failure.reason}", err=True)
    if len(failed) > FAILURES_SHOWN:
        typer.echo(f"  … and {len(failed) - FAILURES_SHOWN} more", err=True)


def screen(
    claims: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[CLAIMS]...",
            help="Claim files to screen without importing them.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    hospitals: Annotated[
        list[Path] | None,
        typer.Option("--hospitals", help="Hospital file(s), with claim files.", exists=True, dir_okay=False),
    ] = None,
    groups: Annotated[
        list[Path] | None,
        typer.Option("--groups", help="Group-table file(s), with claim files.", exists=True, dir_okay=False),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option("--batch", help="Screen an imported claims batch of the casebook and store its hits."),
    ] = None,
    rules: RulesOption = None,
    codes: CodesOption = None,
    output_format: Annotated[str, typer.Option("--format", help="Output format of the hits.")] = "jsonl",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write hits: a file, or - for stdout. Default: stdout for files; none for --batch.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Worker processes (partitioned by patient).")
    ] = 1,
    no_prefilter: Annotated[
        bool,
        typer.Option(
            "--no-prefilter",
            help="Send every claim through durable-rules (by default a pre-filter compiled from the same "
            "rules sends only the claims some rule could fire on; the hits are the same).",
        ),
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Screen --batch on a running Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786); "
            "its workers read the claims from the database (PostgreSQL when they run on other machines).",
        ),
    ] = None,
    chunk_patients: Annotated[
        int,
        typer.Option(
            "--chunk-patients",
            min=1,
            help="Patients per task sent to a worker (smaller: finer balance between workers).",
        ),
    ] = CHUNK_PATIENTS,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Store nothing, queue nothing; with --batch, say what storing would change (hits, review cases).",
        ),
    ] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Screen claims against the rules and write the hits as JSONL (one object per hit).

    Either claim files with their --hospitals and --groups files (no import needed), or --batch ID of
    the casebook (hits are stored there too). A summary goes to stderr.

    Examples:

        drgaudit screen claims.csv --hospitals hospitals.csv --groups groups.csv --format jsonl --output -

        drgaudit screen --batch 3 --workers 4 --output hits.jsonl

        drgaudit screen --batch 3 --no-prefilter

        drgaudit screen --batch 3 --cluster tcp://10.0.0.5:8786 --db postgresql+psycopg://user:pw@10.0.0.5/drgaudit

        drgaudit screen --batch 3 --rules my-rules/ --dry-run
    """
    if output_format != "jsonl":
        raise typer.BadParameter("only jsonl is supported", param_hint="--format")
    if bool(claims) == (batch is not None):
        raise typer.BadParameter("give claim files or --batch ID (one of the two)")
    if claims and (not hospitals or not groups):
        raise typer.BadParameter("claim files need --hospitals and --groups files too")
    if cluster and batch is None:
        raise typer.BadParameter("--cluster screens a stored batch: give --batch ID")
    target = output if output is not None else ("-" if claims else None)
    with ExitStack() as stack:
        out = None
        if target == "-":
            out = sys.stdout
        elif target is not None:
            out = stack.enter_context(open(target, "w", encoding="utf-8"))  # noqa: SIM115
        progress = _progress_bar(stack, "screening")
        try:
            if claims:
                summary = screen_files(
                    claims=claims, hospitals=hospitals or [], groups=groups or [], rules_dir=rules, codes_dir=codes,
                    workers=workers, output=out, progress=progress, prefilter=not no_prefilter,
                )  # fmt: skip
            else:
                engine = make_engine(db)
                session = stack.enter_context(Session(engine))
                # Storing hits refreshes the review queue: an auditor's job on a shared casebook.
                actor = cli_actor(session=session, user=user, action="screen.run")
                summary = screen_batch(
                    session=session,
                    actor=actor,
                    batch_id=batch,
                    rules_dir=rules,
                    codes_dir=codes,
                    workers=workers,
                    output=out,
                    progress=progress,
                    prefilter=not no_prefilter,
                    cluster=cluster,
                    chunk_patients=chunk_patients,
                    dry_run=dry_run,
                )
        except DrgauditError as exc:
            raise _fail(exc) from exc
        if out is not None:
            out.flush()
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def explain(
    claim_id: Annotated[str, typer.Argument(help="The claim to explain.")],
    claims: FilesOption = None,
    hospitals: FilesOption = None,
    groups: FilesOption = None,
    rules: RulesOption = None,
    codes: CodesOption = None,
    db: DbOption = None,
) -> None:
    """Show every rule of the claim's treatment region, fired or not, with the value of each condition.

    The claim comes from the casebook, or from --claims files (with --hospitals and --groups).

    Examples:

        drgaudit explain C2025000123

        drgaudit explain C2025000123 --claims claims.csv --hospitals hospitals.csv --groups groups.csv
    """
    try:
        if claims:
            if not hospitals or not groups:
                raise typer.BadParameter("--claims needs --hospitals and --groups too")
            explanation = explain_file_claim(
                claim_id=claim_id,
                claims=claims,
                hospitals=hospitals,
                groups=groups,
                rules_dir=rules,
                codes_dir=codes,
            )
        else:
            with Session(make_engine(db)) as session:
                explanation = explain_stored_claim(
                    session=session, claim_id=claim_id, rules_dir=rules, codes_dir=codes
                )
    except DrgauditError as exc:
        raise _fail(exc) from exc
    for line in render_explanation(explanation):
        typer.echo(line)


def batches(db: DbOption = None) -> None:
    """List the import batches of the casebook (the ids `screen --batch` takes).

    Example:

        drgaudit batches
    """
    try:
        with Session(make_engine(db)) as session:
            # A screen that was killed shows as failed from now on.
            reap_stale_runs(session=session)
            rows = queries.list_batches(session=session)
            runs = latest_runs(session=session)
    except DrgauditError as exc:
        raise _fail(exc) from exc
    if not rows:
        typer.echo("no batches yet: import files with `drgaudit import claims|hospitals|groups FILE`")
        return
    for b in rows:
        when = b.imported_at.strftime("%Y-%m-%d %H:%M")
        run = runs.get(b.id) if b.id is not None else None
        screened = f"  last screen: run {run.id} {run.status}" if run is not None else ""
        typer.echo(
            f"{b.id:>5}  {b.kind:<9} {when}  {b.rows_ok:>8} ok {b.rows_rejected:>6} rejected  {b.file_name}"
            f"{screened}"
        )


def import_codes(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder of the six code-table TSV files.", exists=True, file_okay=False
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the code set (default: the folder's name).")
    ] = None,
    db: DbOption = None,
    by: Annotated[
        str | None, typer.Option("--by", metavar="NAME", help="Who imports. Default: the OS user.")
    ] = None,
) -> None:
    """Load a grouping scheme version's code tables (diagnoses, procedures, CC/MCC, exclusions, DRG names).

    Later screens of the casebook use the most recently loaded set unless --codes names a folder.

    Example:

        drgaudit import codes ../shared/reference/chs-drg-1.1
    """
    try:
        with Session(make_engine(db)) as session:
            report = import_code_tables(
                session=session, directory=directory, name=name, imported_by=by or os.environ.get("USER")
            )
    except DrgauditError as exc:
        raise _fail(exc) from exc
    counts = ", ".join(f"{table} {count}" for table, count in report.counts.items())
    state = "already loaded" if report.already_imported else "loaded"
    typer.echo(f"code set `{report.name}` {state} [set {report.code_set_id}]: {counts}")
