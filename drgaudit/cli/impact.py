"""`drgaudit rules impact` and `drgaudit rules diff`: what a rule change would do, before it is made."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from drgaudit.cli.options import MAX_WORKERS, DbOption, FromOption, PeriodOption, ToOption, period_option
from drgaudit.cli.reviewopts import UserOption, existing_casebook
from drgaudit.cli.screening import _progress_bar
from drgaudit.errors import DrgauditError


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def impact(
    new: Annotated[
        str,
        typer.Argument(
            metavar="NEW", help="The changed rule pack: a rules folder, or a registered version (id or hash)."
        ),
    ],
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            metavar="DIR",
            help="Compare with this rules folder. Default (--active): what screens each region today.",
            file_okay=False,
            exists=True,
        ),
    ] = None,
    active: Annotated[
        bool,
        typer.Option(
            "--active", help="Compare with each region's active version (else the bundled pack); the default."
        ),
    ] = False,
    batch: Annotated[
        int | None, typer.Option("--batch", metavar="ID", help="The stored claims of a batch.")
    ] = None,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    region: Annotated[
        str | None, typer.Option("--region", metavar="CODE", help="Only claims treated in this region.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="PATH", help="Also write the report: report.html or report.xlsx."),
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", metavar="N", min=0, help="Sample claims per changed rule and side.")
    ] = 3,
    workers: Annotated[
        int, typer.Option("--workers", "-j", metavar="N", min=1, max=MAX_WORKERS, help="Worker processes.")
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Screen both packs on a running Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786); "
            "its workers read the claims from the casebook (PostgreSQL, or a SQLite file on this machine).",
        ),
    ] = None,
    codes: Annotated[
        Path | None,
        typer.Option(
            "--codes",
            metavar="DIR",
            help="Code-table folder (default: as `screen`).",
            file_okay=False,
            exists=True,
        ),
    ] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Screen stored claims with the new and the old rule pack and report what would change; writes nothing.

    Per rule, region and hospital: hits added, removed and kept, amounts at risk before and after; the
    review cases that would open, close or change; quota standing; sample claims on each side with the
    condition that differs. A summary on the terminal; --out writes the report (HTML or XLSX).

    Examples:

        drgaudit rules impact my-rules/ --batch 3

        drgaudit rules impact my-rules/ --against rules/ --period 2025Q3 --region 510100 --out impact.xlsx

        drgaudit rules impact my-rules/ --period 2025 --cluster tcp://10.0.0.5:8786 --db postgresql+psycopg://user:pw@10.0.0.5/drgaudit
    """
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.reports.document import FORMATS
    from drgaudit.reports.impact import impact_report
    from drgaudit.reports.render import write_report
    from drgaudit.services.access import Target
    from drgaudit.services.accounts import cli_actor
    from drgaudit.services.impact import ImpactRequest, rules_impact

    if against is not None and active:
        raise typer.BadParameter("give --against DIR or --active, not both")
    chosen = period_option(period, start, end)
    if (batch is None) == (chosen is None):
        raise typer.BadParameter("choose the claims: --batch ID, or --period / --from and --to")
    fmt = ""  # the report's format: --out's suffix
    if out is not None:
        fmt = out.suffix.lstrip(".").lower()
        if fmt not in FORMATS or fmt == "pdf":
            raise typer.BadParameter("the impact report is written as .html or .xlsx", param_hint="--out")
    folder = Path(new)
    request = ImpactRequest(
        new_dir=folder if folder.is_dir() else None,
        new_version=None if folder.is_dir() else new,
        against_dir=against,
        batch_id=batch,
        period=chosen,
        region=region,
        workers=workers,
        cluster=cluster,
        codes_dir=codes,
        samples=samples,
    )
    with ExitStack() as stack:
        progress = _progress_bar(stack, "impact")
        try:
            existing_casebook(db)
            engine = make_engine(db)
            with Session(engine) as session:
                # It reads every claim and hit of the scope: an auditor's preview, within their regions.
                cli_actor(
                    session=session, user=user, action="rules.impact", target=Target(treatment_region=region)
                )
                result = rules_impact(session=session, request=request, progress=progress)
            engine.dispose()
            if out is not None:
                write_report(impact_report(result), fmt, out)
        except DrgauditError as exc:
            raise _fail(exc) from exc
    for line in result.summary_lines():
        typer.echo(line)
    if out is not None:
        typer.echo(f"wrote {out} (规则变更影响评估, {fmt})")
    sys.stdout.flush()


def diff(
    old: Annotated[
        Path, typer.Argument(metavar="OLD", help="The old rules folder.", file_okay=False, exists=True)
    ],
    new: Annotated[
        Path, typer.Argument(metavar="NEW", help="The new rules folder.", file_okay=False, exists=True)
    ],
) -> None:
    """The semantic difference of two rule packs, with file:line:col on both sides.

    Rules added, removed or retired; changed params, conditions, amounts, messages and examples; list
    items; region settings and overrides. Formatting, comments and key order are not differences.
    Exit code 0 when the packs screen alike, 1 when they differ or one does not load.

    Example:  drgaudit rules diff rules/ my-rules/
    """
    from drgaudit.engine.diff import diff_packs
    from drgaudit.engine.loader import load_pack

    try:
        before, after = load_pack(old), load_pack(new)
    except DrgauditError as exc:
        raise _fail(exc) from exc
    changes = diff_packs(before, after)
    for change in changes:
        typer.echo(change.render())
    if not changes:
        typer.echo(f"no semantic difference (versions {before.version} and {after.version})")
        return
    typer.echo(
        f"{len(changes)} difference{'s' if len(changes) != 1 else ''} ({before.version} → {after.version})"
    )
    raise typer.Exit(1)
