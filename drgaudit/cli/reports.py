"""`drgaudit report summary|monitoring|packet|minutes|feedback|clearing`: documents for meetings, hospitals, the
bureau and the insured regions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drgaudit.cli.options import DbOption, FromOption, PeriodOption, ToOption, period_option, reported
from drgaudit.cli.reviewopts import existing_casebook

if TYPE_CHECKING:
    from sqlmodel import Session

    from drgaudit.reports.document import Report

app = typer.Typer(
    help="Reports as HTML (print-ready), PDF or XLSX: screening summary, meeting packet and minutes, "
    "hospital feedback letters, cost monitoring, the clearing statement between regions.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        metavar="PATH",
        help="File to write (its folder is created if missing).",
        dir_okay=False,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="html, pdf or xlsx. Default: from the --out file's suffix.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="YAML",
        help="Report settings overriding the defaults (thresholds, list lengths, masking); "
        "see reports/settings.yaml for every key.",
        exists=True,
        dir_okay=False,
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="Rule pack whose region names are shown (default: the bundled pack).",
        file_okay=False,
        exists=True,
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", metavar="CODE", help="Only claims treated in this pooling region (6 digits)."),
]


def _format(kind: str, fmt: str | None, out: Path) -> str:
    from drgaudit.reports.document import FORMATS, REPORT_FORMATS

    chosen = (fmt or out.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        if fmt is None:
            raise typer.BadParameter(
                f"give --format ({', '.join(REPORT_FORMATS[kind])}) or an --out file ending in one",
                param_hint="--format",
            )
        raise typer.BadParameter(f"`{fmt}` is not one of {', '.join(FORMATS)}", param_hint="--format")
    if chosen not in REPORT_FORMATS[kind]:
        raise typer.BadParameter(
            f"the {kind} report comes as {' or '.join(REPORT_FORMATS[kind])}, not {chosen}",
            param_hint="--format",
        )
    return chosen


def _run(kind: str, fmt: str | None, out: Path, db: str | None, build: Callable[[Session], Report]) -> None:
    chosen = _format(kind, fmt, out)
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.reports.render import write_report

    with reported():
        existing_casebook(db)  # a misspelt --db would make an empty casebook and report on nothing
        engine = make_engine(db)
        try:
            with Session(engine) as session:
                report = build(session)
            path = write_report(report, chosen, out)
        finally:
            engine.dispose()
    typer.echo(f"wrote {path} ({report.title}, {chosen})")


@app.command()
def summary(
    batch: Annotated[
        int, typer.Option("--batch", metavar="ID", help="The screened claims batch (see `drgaudit batches`).")
    ],
    out: OutOption,
    fmt: FormatOption = None,
    region: RegionOption = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Screening summary of a batch: hits by family, rule, action and hospital, amounts at risk, cross-region vs local.

    Example:

        drgaudit report summary --batch 3 --format pdf --out summary-3.pdf
    """
    from drgaudit.reports.summary import build_summary

    settings = _settings(config)
    _run(
        "summary",
        fmt,
        out,
        db,
        lambda s: build_summary(session=s, batch_id=batch, region=region, settings=settings, rules_dir=rules),
    )


@app.command()
def monitoring(
    out: OutOption,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    fmt: FormatOption = None,
    region: RegionOption = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Cost monitoring for a period against the previous one: per-hospital average cost (cross-region and local),
    CMI, CC/MCC share, readmission rate, a watch list, and group cost distributions with outliers.

    Example:

        drgaudit report monitoring --period 2025Q3 --format xlsx --out monitoring-2025Q3.xlsx
    """
    from drgaudit.reports.monitoring import build_monitoring

    chosen = period_option(period, start, end, required=True)
    settings = _settings(config)
    _run(
        "monitoring",
        fmt,
        out,
        db,
        lambda s: build_monitoring(
            session=s, period=chosen, region=region, settings=settings, rules_dir=rules
        ),
    )


MeetingOption = Annotated[
    int, typer.Option("--meeting", metavar="ID", help="The review meeting (see `drgaudit meeting show`).")
]


@app.command()
def packet(
    meeting: MeetingOption,
    out: OutOption,
    fmt: FormatOption = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Meeting packet for the review experts: the agenda, then one page per case with the claim's facts, each hit
    with its evidence, the patient's stays on a timeline, and the estimated payment against the claimed cost.

    Example:

        drgaudit report packet --meeting 1 --format pdf --out meeting-1-packet.pdf
    """
    from drgaudit.reports.meeting import build_packet

    settings = _settings(config)
    _run(
        "packet",
        fmt,
        out,
        db,
        lambda s: build_packet(session=s, meeting_id=meeting, settings=settings, rules_dir=rules),
    )


@app.command()
def minutes(
    meeting: MeetingOption,
    out: OutOption,
    fmt: FormatOption = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Minutes of a review meeting: attendees, each case's decision with amount and reason, totals, signature block.
    A meeting not yet closed gives a draft.

    Example:

        drgaudit report minutes --meeting 1 --format pdf --out meeting-1-minutes.pdf
    """
    from drgaudit.reports.meeting import build_minutes

    settings = _settings(config)
    _run(
        "minutes",
        fmt,
        out,
        db,
        lambda s: build_minutes(session=s, meeting_id=meeting, settings=settings, rules_dir=rules),
    )


@app.command()
def feedback(
    hospital: Annotated[
        str, typer.Option("--hospital", metavar="ID", help="The hospital the letter goes to (hospital_id).")
    ],
    out: OutOption,
    batch: Annotated[
        int | None, typer.Option("--batch", metavar="ID", help="Cases hit in this screened batch.")
    ] = None,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    fmt: FormatOption = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Feedback letter (沟通反馈) to one hospital: its flagged cases, the decisions on them and what it must do;
    as XLSX, the case list with a column for the hospital's reply. Patient ids are masked.

    Examples:

        drgaudit report feedback --hospital H51010000001 --period 2025Q3 --format pdf --out H51010000001.pdf

        drgaudit report feedback --hospital H51010000001 --batch 3 --format xlsx --out H51010000001.xlsx
    """
    from drgaudit.reports.feedback import build_feedback

    chosen = period_option(period, start, end)
    if batch is None and chosen is None:
        raise typer.BadParameter("give --batch ID and/or --period (or --from/--to) to choose the cases")
    settings = _settings(config)
    _run(
        "feedback",
        fmt,
        out,
        db,
        lambda s: build_feedback(
            session=s, hospital_id=hospital, batch_id=batch, period=chosen, settings=settings, rules_dir=rules
        ),
    )


@app.command()
def clearing(
    out: OutOption,
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    fmt: FormatOption = None,
    region: RegionOption = None,
    insured_region: Annotated[
        str | None,
        typer.Option(
            "--insured-region", metavar="CODE", help="Only claims of persons insured in this region."
        ),
    ] = None,
    config: ConfigOption = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Clearing statement (结算清算) between treatment and insured regions: per pair of regions, the cross-region
    claims discharged in the period, their cost and fund payment, the review decisions in force, the hospital
    findings (final and open) and the investigation requests (协查); as XLSX also every claim with an outcome.

    Examples:

        drgaudit report clearing --period 2025 --format xlsx --out clearing-2025.xlsx

        drgaudit report clearing --period 2025 --insured-region 510700 --format pdf --out 510700-2025.pdf
    """
    from drgaudit.reports.clearing import build_clearing

    chosen = period_option(period, start, end, required=True)
    for name, code in (("--region", region), ("--insured-region", insured_region)):
        if code is not None and not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise typer.BadParameter(
                f"`{code}` is not a region code (6 digits, e.g. 510700)", param_hint=name
            )
    settings = _settings(config)
    _run(
        "clearing",
        fmt,
        out,
        db,
        lambda s: build_clearing(
            session=s,
            period=chosen,
            region=region,
            insured_region=insured_region,
            settings=settings,
            rules_dir=rules,
        ),  # fmt: skip
    )


def _settings(config: Path | None) -> Any:
    from drgaudit.reports.config import load_settings

    with reported():
        return load_settings(config)
