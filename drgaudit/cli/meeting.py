"""`drgaudit meeting …`: review meetings (特例单议会议): create, add cases and attendees, show minutes, close."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.output import Column, FormatOption, OutputFormat, emit, emit_document
from drgaudit.cli.queue import kind_words
from drgaudit.cli.reviewopts import (
    RulesOption,
    UserOption,
    VersionOption,
    casebook,
    money,
    parse_date,
    principal,
    rule_pack,
)
from drgaudit.i18n import N_, _
from drgaudit.terminal import chinese, coded

app = typer.Typer(
    help="Review meetings (特例单议会议): create, add cases and attendees, show, close.", no_args_is_help=True
)


@app.command("create")
def create(
    region: Annotated[
        str,
        typer.Option("--region", metavar="CODE", help="The treatment region whose cases the meeting hears."),
    ],
    held_on: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD", help="Day of the meeting.")],
    capacity: Annotated[int, typer.Option("--capacity", metavar="N", help="How many cases it can hear.")],
    title: Annotated[
        str | None, typer.Option("--title", metavar="TEXT", help="Default: 特例单议会议 REGION DATE.")
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", metavar="TEXT", help="Where it is held.")
    ] = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Create a review meeting for a region and date.

    Example:

        drgaudit meeting create --region 510100 --date 2026-12-01 --capacity 10 --location 市医保局三楼会议室
    """
    day = parse_date(held_on, "--date")
    assert day is not None
    from drgaudit.casebook.review_models import ReviewMeetingCreate
    from drgaudit.services import meetings as meeting_service

    data = ReviewMeetingCreate(
        region=region,
        held_on=day,
        capacity=capacity,
        title=title or f"特例单议会议 {region} {day}",
        location=location,
    )
    with casebook(db) as session:
        meeting = meeting_service.create(session=session, principal=principal(session, user), meeting=data)
        typer.echo(
            _("meeting {meeting} created: {title}, capacity {capacity}").format(
                meeting=meeting.id, title=meeting.title, capacity=meeting.capacity
            )
        )
        typer.echo(_("fill it with `drgaudit meeting add {meeting} --fill`").format(meeting=meeting.id))


@app.command("add")
def add(
    meeting_id: Annotated[int, typer.Argument(metavar="MEETING", help="Meeting number.")],
    cases: Annotated[
        list[str] | None, typer.Argument(metavar="CASE", help="Cases to put on the agenda.")
    ] = None,
    fill: Annotated[
        bool, typer.Option("--fill", help="Add the region's waiting cases by priority up to capacity.")
    ] = False,
    attendee: Annotated[
        list[str] | None,
        typer.Option(
            "--attendee",
            metavar="NAME:ROLE[:ORG]",
            help="Someone attending (repeatable), e.g. 张三:主审专家:省人民医院.",
        ),
    ] = None,
    override_quota: Annotated[
        str | None,
        typer.Option(
            "--override-quota",
            metavar="REASON",
            help="Schedule cases over their hospital's quota, for this reason.",
        ),
    ] = None,
    rules: RulesOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Put cases on a meeting's agenda (given ones, or --fill by priority) and record attendees.

    Each case shows its hospital's quota standing; a case over quota needs --override-quota REASON
    (given cases: the command refuses; --fill: such cases are left out and listed).

    Examples:

        drgaudit meeting add 1 --fill

        drgaudit meeting add 1 12 13 --attendee 张三:主审专家 --attendee 李四:秘书:市医保局
    """
    if not cases and not fill and not attendee:
        raise typer.BadParameter(_("give cases, --fill or --attendee"))
    people = [_attendee(text) for text in attendee or []]
    from drgaudit.casebook import meetings
    from drgaudit.services import meetings as meeting_service

    with casebook(db) as session:
        who = principal(session, user)
        if cases or fill:
            report = meeting_service.schedule(
                session=session, principal=who, meeting_id=meeting_id, pack=rule_pack(rules), refs=cases or (),
                fill=fill, quota_override=override_quota,
            )  # fmt: skip
            for done in report.added:
                over = (
                    _("; over quota, override: {reason}").format(reason=override_quota)
                    if done.overridden
                    else ""
                )
                c = done.case
                typer.echo(
                    _("scheduled case {case} ({claim}, {hospital}, priority {priority}): {quota}{over}").format(
                        case=c.id, claim=c.claim_id, hospital=c.hospital_id, priority=money(c.priority),
                        quota=done.quota.describe(), over=over,
                    )
                )  # fmt: skip
            for left in report.over_quota:
                typer.echo(
                    _("left out, over quota: case {case} ({claim}): {quota}").format(
                        case=left.case.id, claim=left.case.claim_id, quota=left.quota.describe()
                    )
                )
            taken = meetings.agenda_size(session=session, meeting_id=meeting_id)
            typer.echo(
                _("meeting {meeting}: {taken} of {capacity} places taken").format(
                    meeting=meeting_id, taken=taken, capacity=report.meeting.capacity
                )
            )
        if people:
            added = meeting_service.add_attendees(
                session=session, principal=who, meeting_id=meeting_id, attendees=people
            )
            for a in added:
                org = f", {a.organisation}" if a.organisation else ""
                typer.echo(_("attendee {name} ({role}{org})").format(name=a.name, role=a.role, org=org))


def _attendee(text: str) -> tuple[str, str, str | None]:
    parts = [p.strip() for p in text.split(":", 2)]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise typer.BadParameter(
            _("'{text}' is not NAME:ROLE[:ORG]").format(text=text), param_hint="--attendee"
        )
    return parts[0], parts[1], (parts[2] or None) if len(parts) == 3 else None


MEETING_COLUMNS = [
    Column("id", N_("meeting"), ">"),
    Column("held_on", N_("date")),
    Column("region", N_("region")),
    Column("status", N_("status"), values="meeting.status"),
    Column("cases", N_("cases"), ">"),
    Column("capacity", N_("capacity"), ">"),
    Column("title", N_("title")),
]


@app.command("show")
def show(
    meeting_id: Annotated[
        int | None, typer.Argument(metavar="MEETING", help="Meeting number; without it, list the meetings.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Show a meeting's minutes (attendees, agenda, decisions), or list the meetings.

    With a meeting, --format json gives the whole minutes and --format csv its agenda, one row per case.

    Examples:

        drgaudit meeting show

        drgaudit meeting show 1

        drgaudit meeting show 1 --format json
    """
    from drgaudit.casebook import meetings
    from drgaudit.casebook.models import stored_id

    with casebook(db) as session:
        if meeting_id is None:
            rows = [
                {
                    "id": m.id,
                    "held_on": m.held_on,
                    "region": m.region,
                    "status": m.status,
                    "cases": meetings.agenda_size(session=session, meeting_id=stored_id(m)),
                    "capacity": m.capacity,
                    "title": m.title,
                }
                for m in meetings.list_meetings(session=session)
            ]
            emit(
                rows, MEETING_COLUMNS, fmt, empty=_("no meetings; create one with `drgaudit meeting create`")
            )
            return
        minutes = meetings.meeting_minutes(session=session, meeting_id=meeting_id)
    _show_minutes(minutes, fmt)


def _show_minutes(minutes: Any, fmt: OutputFormat) -> None:
    m = minutes.meeting
    agenda = []
    for item in minutes.agenda:
        c, d = item.case, item.decision
        agenda.append(
            {
                "position": item.position,
                "case_id": c.id,
                "claim_id": c.claim_id,
                "hospital_id": c.hospital_id,
                "amount_at_risk": c.amount_at_risk,
                "quota_used": item.quota_used,
                "quota_limit": item.quota_limit,
                "quota_override": item.quota_override,
                "outcome": item.outcome,
                "decision": d.kind if d is not None else None,
                "decision_amount": d.amount if d is not None else None,
                "decided_by": d.decided_by if d is not None else None,
                "reason": d.reason if d is not None else None,
                "merged_with": d.merged_with if d is not None else None,
            }
        )
    document = {
        "meeting": {
            "id": m.id,
            "title": m.title,
            "held_on": m.held_on,
            "region": m.region,
            "location": m.location,
            "capacity": m.capacity,
            "status": m.status,
            "version": m.version,
            "created_by": m.created_by,
            "closed_by": m.closed_by,
            "closed_at": m.closed_at,
            "minutes_note": m.minutes_note,
        },
        "attendees": [
            {"name": a.name, "role": a.role, "organisation": a.organisation} for a in minutes.attendees
        ],
        "agenda": agenda,
        "decided_amounts": dict(sorted((minutes.decided_amounts or {}).items())),
        "rows": agenda,
    }

    def table() -> None:
        echo = typer.echo
        echo(_("meeting {meeting}: {title}").format(meeting=m.id, title=m.title))
        echo(
            _("date {day}  region {region}  location {location}  capacity {capacity}  {status}  version {version}").format(
                day=m.held_on, region=m.region, location=m.location or "-", capacity=m.capacity,
                status=coded("meeting.status", m.status), version=m.version,
            )
        )  # fmt: skip
        closed = (
            _("; closed by {who} at {moment}").format(who=m.closed_by, moment=f"{m.closed_at:%Y-%m-%d %H:%M}")
            if m.closed_at
            else ""
        )
        echo(_("created by {who}").format(who=m.created_by) + closed)
        echo(_("attendees:") + ("" if minutes.attendees else _(" none recorded")))
        for a in minutes.attendees:
            echo(f"  {a.name} ({a.role}{', ' + a.organisation if a.organisation else ''})")
        echo(_("agenda:") + ("" if minutes.agenda else _(" empty")))
        for item in minutes.agenda:
            c = item.case
            quota = (
                _("quota {used} of {limit}").format(used=item.quota_used, limit=item.quota_limit)
                if item.quota_limit is not None
                else _("no quota")
            )
            override = (
                _(", override: {reason}").format(reason=item.quota_override) if item.quota_override else ""
            )
            echo(
                "  "
                + _("{position:>2}. case {case} {claim} {hospital} at risk {amount} [{quota}{override}] {outcome}").format(
                    position=item.position, case=c.id, claim=c.claim_id, hospital=c.hospital_id,
                    amount=money(c.amount_at_risk), quota=quota, override=override,
                    outcome=coded("meeting.outcome", item.outcome),
                )
            )  # fmt: skip
            d = item.decision
            if d is not None:
                extra = _(" with {claims}").format(claims=d.merged_with) if d.merged_with else ""
                echo(
                    "      "
                    + _("{kind}{extra} {amount} by {who}: {reason}").format(
                        kind=kind_words(d.kind),
                        extra=extra,
                        amount=money(d.amount),
                        who=d.decided_by,
                        reason=d.reason,
                    )
                )
        totals = minutes.decided_amounts
        if totals:
            parts = [
                f"{coded('decision.kind', kind)} {money(amount)}" for kind, amount in sorted(totals.items())
            ]
            echo(_("decided: {amounts}").format(amounts=("，" if chinese() else ", ").join(parts)))
        if m.minutes_note:
            echo(_("note: {note}").format(note=m.minutes_note))

    emit_document(document, fmt, table=table)


@app.command("close")
def close(
    meeting_id: Annotated[int, typer.Argument(metavar="MEETING", help="Meeting number.")],
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Secretary's note for the minutes.")
    ] = None,
    expect_version: VersionOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Close a meeting: decided cases are closed, undecided ones go back to the queue.

    Example:

        drgaudit meeting close 1 --note "会议应到7人，实到7人"
    """
    from drgaudit.services import meetings as meeting_service

    with casebook(db) as session:
        report = meeting_service.close(
            session=session,
            principal=principal(session, user),
            meeting_id=meeting_id,
            note=note,
            expected_version=expect_version,
        )
        typer.echo(
            _(
                "meeting {meeting} closed: {closed} case(s) closed, {deferred} deferred back to the queue"
            ).format(meeting=meeting_id, closed=report.closed, deferred=report.deferred)
        )
