"""`drgaudit screen`, `drgaudit explain`, `drgaudit batches` and `drgaudit import codes`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.cli.options import MAX_WORKERS, CodesOption, DbOption, RulesOption, reported
from drgaudit.cli.output import Column, FormatOption, OutputFormat, emit, plain
from drgaudit.cli.reviewopts import UserOption, existing_casebook
from drgaudit.i18n import N_, _, ngettext
from drgaudit.terminal import coded, pad, shown_family

if TYPE_CHECKING:
    from drgaudit.services.screening import ScreenSummary

# Patients per worker task by default: drgaudit.services.screening.CHUNK_PATIENTS (a test keeps them equal;
# the CLI does not import the service to read it).
CHUNK_PATIENTS = 1000

# Screening's own --rules: without it each region screens with its active version in the casebook.
ScreenRulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="Rules directory. Default: each region's active version in the casebook (`drgaudit rules versions`), "
        "else the bundled rule pack.",
        file_okay=False,
        exists=True,
        show_default=False,
    ),
]


# The progress bar's width on a wide terminal, and the least it shrinks to before the label gives way.
BAR_WIDTH = 40
BAR_MIN = 10


def fit_bar(width: int, label: int, rest: int) -> tuple[int, int]:
    """Cells for the progress line's label and bar on a terminal `width` cells wide, where the other
    columns (the counts, the unit, the time left and the gaps between columns) take `rest`: the bar gives
    way first (down to BAR_MIN), then the label (cut with an ellipsis), then the bar again. The counts
    are never cut (Rich, left to itself, cuts every column evenly: "200000/2000…")."""
    room = max(width - rest, 0)
    bar = min(BAR_WIDTH, max(BAR_MIN, room - label))
    label = min(label, max(room - bar, 0))
    return label, max(1, min(bar, room - label))


def _progress_bar(
    stack: ExitStack, label: str, *, then: str | None = None
) -> Callable[[int, int], None] | None:
    """A Rich progress bar on stderr when it is a terminal; None otherwise (pipes, tests, CI). `then`: what
    the bar says once every claim is screened (a stored screen still writes for a while: without it the
    bar would stand full and silent). The line fits the terminal's width (`fit_bar`)."""
    if not sys.stderr.isatty():
        return None
    from rich.cells import cell_len
    from rich.console import Console
    from rich.measure import Measurement
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table
    from rich.text import Text

    class Label(ProgressColumn):
        """The task's description, cut to `width` cells with an ellipsis when one is set."""

        width: int | None = None

        def render(self, task: Task) -> Text:
            text = Text(task.description, no_wrap=True, overflow="ellipsis")
            if self.width is not None:
                text.truncate(self.width, overflow="ellipsis")
            return text

    class FittedProgress(Progress):
        """Sizes the label and the bar for the terminal's width at every refresh."""

        def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
            tasks = list(tasks)
            for task in tasks:  # one task: the screen's
                options = self.console.options
                rest = len(self.columns) - 1  # one cell between columns
                for column in self.columns:
                    if column is not name and column is not bar and isinstance(column, ProgressColumn):
                        rest += Measurement.get(self.console, options, column(task)).maximum
                name.width, bar.bar_width = fit_bar(self.console.width, cell_len(task.description), rest)
            return super().make_tasks_table(tasks)

    name, bar = Label(), BarColumn(bar_width=BAR_WIDTH)
    progress = stack.enter_context(
        FittedProgress(
            name,
            bar,
            MofNCompleteColumn(),
            TextColumn(_("claims")),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    )
    task = progress.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total or None)
        if then is not None and total and done >= total:
            progress.update(task, description=then)

    return update


def print_summary(summary: ScreenSummary) -> None:
    """The screen's summary on stderr, in the user's language."""

    def echo(text: str) -> None:
        typer.echo(text, err=True)

    for report in summary.imports:
        name = Path(report.path).name
        if report.rows_rejected:
            echo(
                _("{file}: {ok} rows read, {rejected} rejected").format(
                    file=name, ok=report.rows_ok, rejected=report.rows_rejected
                )
            )
        else:
            echo(_("{file}: {ok} rows read").format(file=name, ok=report.rows_ok))
        for error in report.first_errors:
            echo(f"  {error}")
    echo(_("code tables: {source}").format(source=summary.codes_source))
    echo(
        _(
            "screened {claims} claims of {patients} patients in {seconds:.1f}s ({rate:,.0f} claims/s): "
            "{hits} hits, {amount:,.2f} yuan at risk"
        ).format(
            claims=summary.claims,
            patients=summary.patients,
            seconds=summary.seconds,
            rate=summary.claims_per_second,
            hits=summary.hits,
            amount=summary.amount_at_risk,
        )
    )
    if summary.prefilter and summary.claims:
        echo(
            _(
                "pre-filter: {candidates} of {claims} claims ({share:.1%}) could hit and went through "
                "durable-rules"
            ).format(
                candidates=summary.candidates,
                claims=summary.claims,
                share=summary.candidates / summary.claims,
            )
        )
    if summary.prefilter_fallbacks:
        echo(
            _(
                "warning: the columnar pre-filter failed on {chunks} chunk(s) of patients, screened on their "
                "derived facts instead (same hits, slower); first: {reason}"
            ).format(chunks=summary.prefilter_fallbacks, reason=summary.prefilter_fallback_reason)
        )
    if summary.chunk_fallbacks:
        echo(
            _(
                "warning: {chunks} chunk(s) of patients could not be screened at once and were screened "
                "patient by patient (slower; a patient that fails is listed); first: {reason}"
            ).format(chunks=summary.chunk_fallbacks, reason=summary.chunk_fallback_reason)
        )
    # Hits by family: in Chinese by the family's name (or the name a rule file declares for a family of its
    # own), in English by the key the rule files use; padded by display width.
    for family, count in sorted(summary.by_family.items(), key=lambda kv: (-kv[1], kv[0])):
        echo(f"  {pad(shown_family(family, summary.family_labels), 24)} {count}")
    if summary.dry_run:
        stored, review = summary.stored, summary.review_cases
        echo(
            _(
                "dry run, nothing stored: storing batch {batch} would give {new} new, {unchanged} unchanged, "
                "{removed} removed hits"
            ).format(
                batch=summary.batch_id,
                new=stored.get("new", 0),
                unchanged=stored.get("unchanged", 0),
                removed=stored.get("removed", 0),
            )
        )
        echo(
            _(
                "review queue would get: {created} new cases, {refreshed} refreshed, {reopened} reopened, "
                "{withdrawn} withdrawn, {unchanged} unchanged"
            ).format(
                **{
                    k: review.get(k, 0)
                    for k in ("created", "refreshed", "reopened", "withdrawn", "unchanged")
                }
            )
        )
        return
    for version, count in sorted(summary.shadow.items()):
        echo(
            _("shadow version {version}: {count} hits stored apart (not queued)").format(
                version=version, count=count
            )
        )
    if summary.run_id is not None:
        stored = summary.stored
        echo(
            _(
                "stored as screen run {run} of batch {batch}: {new} new, {unchanged} unchanged, {removed} removed"
            ).format(
                run=summary.run_id,
                batch=summary.batch_id,
                new=stored.get("new", 0),
                unchanged=stored.get("unchanged", 0),
                removed=stored.get("removed", 0),
            )
        )
    if summary.review_cases:
        review = summary.review_cases
        echo(
            _(
                "review queue: {created} new cases, {refreshed} refreshed, {reopened} reopened, "
                "{withdrawn} withdrawn, {unchanged} unchanged (see `drgaudit queue list`)"
            ).format(
                **{
                    k: review.get(k, 0)
                    for k in ("created", "refreshed", "reopened", "withdrawn", "unchanged")
                }
            )
        )
    if summary.findings:
        found = summary.findings
        echo(
            _(
                "hospital findings: {created} new, {refreshed} refreshed, {withdrawn} withdrawn, "
                "{unchanged} unchanged (see `drgaudit findings list`)"
            ).format(**{k: found.get(k, 0) for k in ("created", "refreshed", "withdrawn", "unchanged")})
        )
    if summary.run_id is not None and summary.total_seconds:
        # The screening line's rate leaves out storing; a stored screen's user waits for both.
        echo(
            _("screened and stored in {seconds:.1f}s in all ({rate:,.0f} claims/s)").format(
                seconds=summary.total_seconds, rate=summary.claims_per_second_in_all
            )
        )
    _print_failures(summary)


# Patients not screened listed one per line after the summary; the rest are in the run record.
FAILURES_SHOWN = 10


def _print_failures(summary: ScreenSummary) -> None:
    failed = summary.failed
    if not failed:
        return
    if summary.run_id is not None:
        where = _(" (recorded with screen run {run})").format(run=summary.run_id)
    else:
        where = ""
    typer.echo(
        ngettext(
            "NOT SCREENED: {n} patient, {claims} claims have no result{where}; every other patient was screened:",
            "NOT SCREENED: {n} patients, {claims} claims have no result{where}; every other patient was screened:",
            len(failed),
        ).format(n=len(failed), claims=summary.claims_failed, where=where),
        err=True,
    )
    for failure in failed[:FAILURES_SHOWN]:
        claims = ", ".join(failure.claim_ids[:5]) + (" …" if len(failure.claim_ids) > 5 else "")
        typer.echo(
            "  "
            + _("patient {patient} (claims {claims}): {reason}").format(
                patient=repr(failure.patient_id), claims=claims, reason=failure.reason
            ),
            err=True,
        )
    if len(failed) > FAILURES_SHOWN:
        typer.echo("  " + _("… and {n} more").format(n=len(failed) - FAILURES_SHOWN), err=True)


def screen(
    claims: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="CLAIMS",
            help="Claim files to screen without importing them.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    hospitals: Annotated[
        list[Path] | None,
        typer.Option(
            "--hospitals",
            metavar="FILE",
            help="Hospital file(s), with claim files.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        list[Path] | None,
        typer.Option(
            "--groups",
            metavar="FILE",
            help="Group-table file(s), with claim files.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            "--batch",
            metavar="ID",
            help="Screen an imported claims batch of the casebook and store its hits.",
            show_default=False,
        ),
    ] = None,
    rules: ScreenRulesOption = None,
    codes: CodesOption = None,
    output_format: Annotated[
        str, typer.Option("--format", metavar="jsonl", help="Output format of the hits (jsonl).")
    ] = "jsonl",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write hits: a file, or - for stdout. Default: stdout for files; none for --batch.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            metavar="N",
            min=1,
            max=MAX_WORKERS,
            help="Worker processes (partitioned by patient).",
        ),
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
            metavar="N",
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
    the casebook (hits are stored there too). Both use the same code tables: --codes, else the set
    loaded with `drgaudit import codes`, else the bundled CHS-DRG 1.1 tables; the summary on stderr
    names them.

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
    from drgaudit.services.screening import screen_batch, screen_files

    target = output if output is not None else ("-" if claims else None)
    with ExitStack() as stack:
        out = None
        if target == "-":
            out = sys.stdout
        elif target is not None:
            out = stack.enter_context(open(target, "w", encoding="utf-8"))  # noqa: SIM115
        then = None
        if batch is not None:
            then = _("comparing with the stored results") if dry_run else _("storing the results")
        progress = _progress_bar(stack, _("screening"), then=then)
        with reported():
            if claims:
                summary = screen_files(
                    claims=claims, hospitals=hospitals or [], groups=groups or [], rules_dir=rules, codes_dir=codes,
                    workers=workers, output=out, progress=progress, db=db, prefilter=not no_prefilter,
                )  # fmt: skip
            else:
                assert batch is not None  # checked above: claim files or --batch
                from sqlmodel import Session

                from drgaudit.casebook.db import make_engine
                from drgaudit.services.accounts import cli_principal
                from drgaudit.services.batches import screening_actor

                existing_casebook(db)
                session = stack.enter_context(Session(make_engine(db)))
                # Storing hits refreshes the review queue: an auditor's job on a shared casebook, within
                # the treatment regions the auditor may screen.
                actor = screening_actor(
                    session=session, principal=cli_principal(session=session, user=user), batch_id=batch
                )
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
        if out is not None:
            out.flush()
    print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def explain(
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM_ID", help="The claim to explain.")],
    claims: Annotated[
        list[Path] | None,
        typer.Option(
            "--claims",
            metavar="FILE",
            help="Claim file(s) holding the claim (instead of the casebook).",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    hospitals: Annotated[
        list[Path] | None,
        typer.Option(
            "--hospitals",
            metavar="FILE",
            help="Hospital file(s), with --claims.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        list[Path] | None,
        typer.Option(
            "--groups",
            metavar="FILE",
            help="Group-table file(s), with --claims.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
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
    if claims and (not hospitals or not groups):
        raise typer.BadParameter("--claims needs --hospitals and --groups too")
    from drgaudit.engine.explain import render_explanation
    from drgaudit.services.screening import explain_file_claim, explain_stored_claim

    with reported():
        if claims:
            explanation = explain_file_claim(
                claim_id=claim_id,
                claims=claims,
                hospitals=hospitals or [],
                groups=groups or [],
                rules_dir=rules,
                codes_dir=codes,
                db=db,
            )
        else:
            from sqlmodel import Session

            from drgaudit.casebook.db import make_engine

            existing_casebook(db)
            with Session(make_engine(db)) as session:
                explanation = explain_stored_claim(
                    session=session, claim_id=claim_id, rules_dir=rules, codes_dir=codes
                )
    for line in render_explanation(explanation):
        typer.echo(line)


BATCH_COLUMNS = [
    Column("id", N_("batch"), ">"),
    Column("kind", N_("kind"), values="batch.kind"),
    Column("imported_at", N_("imported"), show=lambda v: v[:16].replace("T", " ") if v else "-"),
    Column("rows_ok", N_("ok"), ">"),
    Column("rows_rejected", N_("rejected"), ">"),
    Column("last_screen", N_("last screen"), table=False),
    Column("last_screen_shown", N_("last screen"), data=False),
    Column("file_name", N_("file")),
]


def batches(fmt: FormatOption = OutputFormat.table, db: DbOption = None) -> None:
    """List the import batches of the casebook (the ids `screen --batch` takes).

    Examples:

        drgaudit batches

        drgaudit batches --format csv
    """
    from sqlmodel import Session

    from drgaudit.casebook import queries
    from drgaudit.casebook.db import make_engine
    from drgaudit.casebook.runlock import reap_stale_runs
    from drgaudit.casebook.screening import latest_runs

    with reported():
        existing_casebook(db)
    with reported(), Session(make_engine(db)) as session:
        # A screen that was killed shows as failed from now on.
        reap_stale_runs(session=session)
        runs = latest_runs(session=session)
        rows: list[dict[str, Any]] = []
        for b in queries.list_batches(session=session):
            run = runs.get(b.id) if b.id is not None else None
            rows.append(
                {
                    "id": b.id,
                    "kind": b.kind,
                    "imported_at": plain(b.imported_at),
                    "rows_ok": b.rows_ok,
                    "rows_rejected": b.rows_rejected,
                    "last_screen": f"run {run.id} {run.status}" if run is not None else None,
                    "last_screen_shown": (
                        _("run {run} {status}").format(run=run.id, status=coded("run.status", run.status))
                        if run is not None
                        else None
                    ),
                    "file_name": b.file_name,
                }
            )
    emit(
        rows,
        BATCH_COLUMNS,
        fmt,
        empty=_("no batches yet: import files with `drgaudit import claims|hospitals|groups FILE`"),
        footer=ngettext("{n} batch", "{n} batches", len(rows)).format(n=len(rows)),
    )


def import_codes(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder of the six code-table TSV files.", exists=True, file_okay=False
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="Name of the code set (default: the folder's name).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            "--by",
            metavar="NAME",
            help="The account that loads them (default: $DRGAUDIT_USER, else the OS user); on a casebook "
            "with accounts an active auditor's.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Load a grouping scheme version's code tables (diagnoses, procedures, CC/MCC, exclusions, DRG names).

    Every later screen, explain and report of the casebook uses the most recently loaded set unless
    --codes names a folder; with no set loaded, the bundled CHS-DRG 1.1 tables are used.

    Example:

        drgaudit import codes chs-drg-2.0/ --name CHS-DRG-2.0
    """
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.casebook.screening import import_code_tables
    from drgaudit.services.accounts import cli_principal
    from drgaudit.services.batches import code_tables_actor

    with reported(), Session(make_engine(db)) as session:
        # The code tables change how every later screen groups and flags: an auditor's job, and one
        # for the whole province (not an auditor bound to a region).
        actor = code_tables_actor(cli_principal(session=session, user=by))
        report = import_code_tables(session=session, directory=directory, name=name, imported_by=str(actor))
    counts = ", ".join(f"{table} {count}" for table, count in report.counts.items())
    if report.already_imported:
        typer.echo(
            _("code set `{name}` already loaded [set {id}]: {counts}").format(
                name=report.name, id=report.code_set_id, counts=counts
            )
        )
    else:
        typer.echo(
            _("code set `{name}` loaded [set {id}]: {counts}").format(
                name=report.name, id=report.code_set_id, counts=counts
            )
        )
