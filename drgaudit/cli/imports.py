"""`drgaudit import claims|hospitals|groups FILE...`: load data files into the casebook; `import replies`:
a hospital's filled-in feedback workbook back as replies and appeals on its cases."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.reviewopts import UserOption, casebook, principal
from drgaudit.errors import DatabaseError, DataFileError, DrgauditError
from drgaudit.i18n import _

if TYPE_CHECKING:
    from drgaudit.casebook.ingest import ImportReport

app = typer.Typer(
    help="Import claims, hospitals or DRG/DIP group tables (CSV, JSONL or XLSX) into the casebook; "
    "read a hospital's feedback workbook back.",
    no_args_is_help=True,
)

# Errors listed after a file's summary line; the rest are in the rejects file.
ERRORS_SHOWN = 10
# Files estimated to hold more rows than this get a progress bar (on a terminal only).
PROGRESS_ROWS = 50_000

Files = Annotated[
    list[Path],
    typer.Argument(
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        show_default=False,
        help="CSV, JSONL or XLSX files.",
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        "--by",
        metavar="NAME",
        help="The account that imports, recorded with the batch (default: $DRGAUDIT_USER, else the OS "
        "user). On a casebook with accounts it must be an active auditor's; a casebook without accounts "
        "records the name as its owner.",
    ),
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        metavar="PATH",
        help="Where to write the rejected rows (file,row,field,reason). Default: <name>.rejects.csv "
        "beside each file. With several files, PATH must be a folder.",
    ),
]


@app.command()
def claims(files: Files, db: DbOption = None, by: ByOption = None, rejects: RejectsOption = None) -> None:
    """Import inpatient claims (one row per stay) into the casebook.

    Each file becomes one import batch, written in one transaction. Bad rows are listed as file:row: field: reason and written to the rejects file; the good rows go in. A file imported before changes nothing; a claim that comes again with other content becomes a new revision.

    Example:

        drgaudit import claims claims-2025-03.csv --by zhang
    """
    _run("claims", files, db=db, by=by, rejects=rejects)


@app.command()
def hospitals(files: Files, db: DbOption = None, by: ByOption = None, rejects: RejectsOption = None) -> None:
    """Import designated hospitals (id, name, region, level, …) into the casebook.

    A hospital that comes again with other content is updated and counted as revised.

    Example:

        drgaudit import hospitals hospitals.csv
    """
    _run("hospitals", files, db=db, by=by, rejects=rejects)


@app.command()
def groups(
    files: Files,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", metavar="V", help="Version of the group table. Default: the file name's stem."
        ),
    ] = None,
    db: DbOption = None,
    by: ByOption = None,
    rejects: RejectsOption = None,
) -> None:
    """Import a region's DRG/DIP group table (weights, average costs) into the casebook.

    Entries are kept per region, scheme and version; screening uses the newest imported version.

    Example:

        drgaudit import groups chengdu-drg-2025.csv --version 2025
    """
    _run("groups", files, db=db, by=by, rejects=rejects, version=version)


@app.command()
def replies(
    workbook: Annotated[
        Path,
        typer.Argument(
            metavar="FEEDBACK.xlsx",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
            help="A feedback workbook (`drgaudit report feedback … --out FILE.xlsx`) filled in by its hospital.",
        ),
    ],
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Read a hospital's filled-in feedback workbook back as replies and appeals on its cases.

    Each row of the sheet 病例清单 whose 反馈类型 is 回复 becomes a reply on the claim's review case; 申诉
    an appeal against the decision in force (the case goes back to a meeting). Only cases of the
    workbook's hospital are taken; any other row is refused as file:row: column: reason and the rest
    still go in. Reading the same workbook again changes nothing. Exit code 1 when rows were filled in
    and none could be taken.

    Example:

        drgaudit import replies H51010000001.xlsx --user h001
    """
    from drgaudit.services.feedback_replies import APPEAL, REPLY, import_replies

    with casebook(db) as session:
        report = import_replies(session=session, principal=principal(session, user), path=workbook)
    typer.echo(
        _(
            "{file}: hospital {hospital}: {replies} replies and {appeals} appeals recorded, "
            "{unchanged} unchanged, {refused} refused"
        ).format(
            file=report.path,
            hospital=report.hospital_id,
            replies=report.count(REPLY),
            appeals=report.count(APPEAL),
            unchanged=report.unchanged,
            refused=len(report.refused),
        )
    )
    for taken in report.taken:
        if taken.kind == REPLY:
            line = _("row {row}: reply on case {case} ({claim})")
        else:
            line = _("row {row}: appeal on case {case} ({claim})")
        if taken.outcome == "unchanged":
            line = _("row {row}: already on case {case} ({claim}), unchanged")
        typer.echo("  " + line.format(row=taken.row, case=taken.case_id, claim=taken.claim_id))
    for refused in report.refused:
        typer.echo(str(refused), err=True)
    if not report.taken and not report.refused:
        typer.echo(
            _(
                "nothing filled in: choose 回复 or 申诉 in the column 反馈类型 of the sheet 病例清单 and write the text in 医院反馈意见"
            )
        )
    if report.refused and not report.taken:
        raise typer.Exit(1)


def _run(
    kind: str,
    files: list[Path],
    *,
    db: str | None,
    by: str | None,
    rejects: Path | None,
    version: str | None = None,
) -> None:
    if rejects is not None and len(files) > 1 and not rejects.is_dir():
        raise typer.BadParameter("a folder is needed for several files", param_hint="--rejects")
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.casebook.ingest import default_rejects_path, import_file
    from drgaudit.services.accounts import cli_principal
    from drgaudit.services.batches import import_actor

    try:
        engine = make_engine(db)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    failed = False
    try:
        # Importing feeds screening and the queue: an auditor's job on a shared casebook.
        try:
            with Session(engine) as session:
                # An auditor bound to a region imports that region's rows; the others are rejected.
                actor, regions = import_actor(cli_principal(session=session, user=by))
                by = str(actor)
        except DrgauditError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        for path in files:
            target = rejects / default_rejects_path(path).name if rejects and rejects.is_dir() else rejects
            try:
                with Session(engine) as session, _ProgressBar(path) as progress:
                    report = import_file(
                        path,
                        kind=kind,
                        session=session,
                        imported_by=by,
                        version=version,
                        rejects_path=target,
                        progress=progress,
                        regions=regions,
                    )
            except DataFileError as exc:
                typer.echo(f"error: {exc}", err=True)
                failed = True
                continue
            except DatabaseError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from exc
            failed = not _print(report) or failed
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(1)


def _print(report: ImportReport) -> bool:
    """Print what an import did; False when it needs the exit code 1 (nothing imported, rejects file
    not written where asked)."""
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    batch = _("batch {id}").format(id=report.batch_id)
    if report.version:
        batch += ", " + _("version {version}").format(version=report.version)
    if report.already_imported:
        typer.echo(
            _("{file}: already imported as {batch}, nothing changed").format(file=report.path, batch=batch)
        )
        return True
    if report.batch_id is None:
        line = _("{file}: nothing imported: {reason}; no batch was recorded").format(
            file=report.path, reason=report.nothing_imported
        )
    else:
        line = _(
            "{file}: {ok} imported ({new} new, {unchanged} unchanged, {revised} revised), {rejected} rejected"
        ).format(
            file=report.path,
            ok=report.rows_ok,
            new=report.new,
            unchanged=report.unchanged,
            revised=report.revised,
            rejected=report.rows_rejected,
        )
    if report.rejects_path is not None and report.rejects_problem is None:
        line += f" → {report.rejects_path}"
    typer.echo(line if report.batch_id is None else f"{line} [{batch}]", err=report.batch_id is None)
    for error in report.first_errors[:ERRORS_SHOWN]:
        typer.echo(str(error), err=report.batch_id is None)
    more = report.errors_total - min(len(report.first_errors), ERRORS_SHOWN)
    if more > 0:
        typer.echo(_("… and {n} more").format(n=more), err=report.batch_id is None)
    if report.rejects_problem is not None:
        typer.echo(f"error: {_rejects_problem(report)}", err=True)
    return report.batch_id is not None and report.rejects_problem is None


def _rejects_problem(report: ImportReport) -> str:
    """Exactly what was stored and where the rejected rows went, when the rejects file failed."""
    many = report.rows_rejected != 1
    rows = f"{report.rows_rejected:,} rejected row{'s' if many else ''} {'are' if many else 'is'}"
    if report.batch_id is None:
        stored = f"nothing was stored; the {rows}"
    else:
        good = f"{report.rows_ok:,} good row{'s are' if report.rows_ok != 1 else ' is'}"
        stored = (
            f"the {good} stored as batch {report.batch_id}, and the {rows} "
            f"in the casebook (table rejected_row, batch {report.batch_id}) and"
        )
    where = f"written to {report.rejects_path}" if report.rejects_path else "not written to any file"
    return f"the rejects file could not be written ({report.rejects_problem}); {stored} {where}"


class _ProgressBar:
    """A Rich progress bar on stderr for a big file on a terminal; otherwise nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Callable[[int, float], None] | None:
        if not sys.stderr.isatty():
            return None
        from drgaudit.ingest.readers import estimate_rows

        try:
            rows = estimate_rows(self.path)
        except DataFileError:
            return None
        if rows < PROGRESS_ROWS:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            # No refresh thread: the import forks a worker only from a process without threads.
            auto_refresh=False,
        )
        self.bar.start()
        self.task = self.bar.add_task(str(self.path), total=1.0)
        return self.update

    def update(self, rows: int, fraction: float) -> None:
        assert self.bar is not None and self.task is not None
        self.bar.update(
            self.task, completed=fraction, description=f"{self.path}: {rows:,} rows", refresh=True
        )

    def __exit__(self, *_exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
