"""`drgaudit rules register|versions|promote|unshadow`: rule-pack versions in the casebook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drgaudit.cli.options import DbOption
from drgaudit.cli.output import FormatOption, OutputFormat, emit_document
from drgaudit.cli.reviewopts import UserOption, existing_casebook
from drgaudit.errors import DrgauditError
from drgaudit.i18n import _
from drgaudit.terminal import chinese, coded, pad

if TYPE_CHECKING:
    from drgaudit.casebook import packs
    from drgaudit.services.access import Target

RegionOption = Annotated[
    str,
    typer.Option(
        "--region",
        metavar="REGION",
        help="Treatment region (6-digit code), or `national` for every region without its own promotion.",
    ),
]
FromOption = Annotated[
    dt.datetime,
    typer.Option(
        "--from",
        metavar="YYYY-MM-DD",
        formats=["%Y-%m-%d"],
        help="First day screenings use it (a rule's own `effective` dates still apply per claim).",
    ),
]
NoteOption = Annotated[str | None, typer.Option("--note", metavar="TEXT", help="Why (kept with the record).")]


def region_target(region: str) -> Target:
    """What promoting for a region touches: that treatment region (`national`: every region)."""
    from drgaudit.services.access import Target

    return Target(treatment_region=None if region == "national" else region)


def _fail(exc: DrgauditError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def register(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]", help="Rules directory (default: the bundled rule pack).", file_okay=False
        ),
    ] = None,
    note: NoteOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Register a rule pack in the casebook as a version (content hash, files, who, when, note).

    A pack with any error is refused. Registering the same content again changes nothing. A registered
    version is a draft until `drgaudit rules promote` puts it in force for a region.

    Example:  drgaudit rules register rules/ --note "LOS-001 提高到70天" --user 张审核
    """
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.services.accounts import cli_actor
    from drgaudit.services.packs import register_pack

    try:
        with Session(make_engine(db)) as session:
            actor = cli_actor(session=session, user=user, action="rules.register")
            done = register_pack(session=session, directory=directory, actor=actor, note=note)
            row = done.version
            said = (
                _("registered: version {version} [#{id}] {name} ({count} files), by {by} at {at}")
                if done.created
                else _(
                    "already registered: version {version} [#{id}] {name} ({count} files), by {by} at {at}"
                )
            )
            typer.echo(
                said.format(
                    version=row.version, id=row.id, name=row.name, count=len(row.files), by=row.registered_by,
                    at=f"{row.registered_at:%Y-%m-%d %H:%M}",
                )
            )  # fmt: skip
    except DrgauditError as exc:
        raise _fail(exc) from exc


def versions(
    on: Annotated[
        dt.datetime | None,
        typer.Option(
            "--on", metavar="YYYY-MM-DD", formats=["%Y-%m-%d"], help="Status on this day (default today)."
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """List registered rule-pack versions and, per region, which is active and which is in shadow.

    With --format json the versions and the promotions as one object; with --format csv the versions,
    one row each.

    Examples:

        drgaudit rules versions

        drgaudit rules versions --on 2026-01-01 --format json
    """
    from sqlmodel import Session

    from drgaudit.casebook import packs
    from drgaudit.casebook.db import make_engine

    day = on.date() if on else dt.date.today()
    try:
        existing_casebook(db)
        with Session(make_engine(db)) as session:
            rows = packs.list_versions(session=session)
            regions = packs.promoted_regions(session=session)
            status = packs.region_status(session=session, regions=regions, on_date=day)
            history = packs.promotions(session=session)
    except DrgauditError as exc:
        raise _fail(exc) from exc
    roles: dict[int | None, list[tuple[str, str]]] = {}  # version -> (stage, region), in force on the day
    for region, (active, shadow) in status.items():
        if active is not None:
            roles.setdefault(active.id, []).append(("active", region))
        if shadow is not None:
            roles.setdefault(shadow.id, []).append(("shadow", region))
    by_id = {r.id: r for r in rows}
    listed = [
        {"id": r.id, "version": r.version, "registered_at": r.registered_at, "registered_by": r.registered_by,
         "state": ", ".join(f"{stage} {region}" for stage, region in roles.get(r.id, [])) or "draft",
         "note": r.note or ""}
        for r in rows
    ]  # fmt: skip
    promoted = [
        {"id": p.id, "region": p.region, "stage": p.stage, "effective_from": p.effective_from,
         "version": by_id[p.version_id].version if p.version_id in by_id else None, "status": p.status,
         "requested_by": p.requested_by, "approved_by": p.approved_by, "approvals_needed": p.approvals_needed}
        for p in history
    ]  # fmt: skip

    def table() -> None:
        if not rows:
            typer.echo(_("no rule-pack versions yet: register one with `drgaudit rules register [DIR]`"))
            return
        for pack_version in rows:
            note = f"  — {pack_version.note}" if pack_version.note else ""
            held = roles.get(pack_version.id, [])
            state = ("，" if chinese() else ", ").join(f"{coded('promotion.stage', s)} {r}" for s, r in held)
            typer.echo(
                f"#{pack_version.id:<4} {pack_version.version}  {pack_version.registered_at:%Y-%m-%d %H:%M}  "
                f"{pad(pack_version.registered_by, 12)} [{state or coded('status', 'draft')}]{note}"
            )
        if history:
            typer.echo("")
            typer.echo(_("promotions (status on {day}):").format(day=day.isoformat()))
            for p in history:
                version = by_id[p.version_id].version if p.version_id in by_id else _("(stop shadowing)")
                who = p.requested_by
                if p.approved_by:
                    who += _(", approved by {name}").format(name=p.approved_by)
                if p.status == "pending":
                    who += _(" — waiting for a second person ({count} needed)").format(
                        count=p.approvals_needed
                    )
                line = _("  #{id:<4} {region:<8} {stage:<6} from {day}  {version}  {status:<8} {who}")
                typer.echo(
                    line.format(
                        id=p.id, region=p.region, stage=pad(coded("promotion.stage", p.stage), 6),
                        day=p.effective_from.isoformat(), version=version,
                        status=pad(coded("promotion.status", p.status), 8), who=who,
                    )
                )  # fmt: skip

    emit_document({"on": day, "rows": listed, "promotions": promoted}, fmt, table=table)


def promote(
    version: Annotated[
        str, typer.Argument(metavar="VERSION", help="Version id (#3) or content hash (prefix).")
    ],
    region: RegionOption,
    from_: FromOption,
    shadow: Annotated[
        bool,
        typer.Option("--shadow", help="Screen it in shadow (hits stored apart, never queued) instead."),
    ] = False,
    note: NoteOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Put a registered version in force for a region from a date (active, or in shadow with --shadow).

    Where the region's settings ask for it (`pack_promotion_approvers: 2`), a second person must run the
    same command before it takes effect. Rolling back is promoting the previous version again.

    Example:  drgaudit rules promote 3f2a9c --region 510100 --from 2026-01-01 --user 张审核
    """
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.services.accounts import cli_actor
    from drgaudit.services.packs import PromoteRequest, promote_pack

    request = PromoteRequest(
        version=version,
        region=region,
        effective_from=from_.date(),
        stage="shadow" if shadow else "active",
        note=note,
    )
    try:
        existing_casebook(db)
        with Session(make_engine(db)) as session:
            actor = cli_actor(
                session=session, user=user, action="rules.promote", target=region_target(region)
            )
            _print_outcome(promote_pack(session=session, request=request, actor=actor))
    except DrgauditError as exc:
        raise _fail(exc) from exc


def unshadow(
    region: RegionOption,
    from_: FromOption,
    note: NoteOption = None,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Stop screening a region in shadow from a date.

    Example:  drgaudit rules unshadow --region 510100 --from 2026-02-01
    """
    from sqlmodel import Session

    from drgaudit.casebook.db import make_engine
    from drgaudit.services.accounts import cli_actor
    from drgaudit.services.packs import PromoteRequest, promote_pack

    request = PromoteRequest(
        version=None, region=region, effective_from=from_.date(), stage="shadow", note=note
    )
    try:
        existing_casebook(db)
        with Session(make_engine(db)) as session:
            actor = cli_actor(
                session=session, user=user, action="rules.promote", target=region_target(region)
            )
            _print_outcome(promote_pack(session=session, request=request, actor=actor))
    except DrgauditError as exc:
        raise _fail(exc) from exc


def _print_outcome(outcome: packs.PromotionOutcome) -> None:
    p = outcome.promotion
    what = (
        _("version {version}").format(version=outcome.version.version)
        if outcome.version
        else _("no version (shadowing stops)")
    )
    target = _("{stage} for {region} from {day}").format(
        stage=coded("promotion.stage", p.stage), region=p.region, day=p.effective_from.isoformat()
    )
    if outcome.state == "pending":
        said = _(
            "requested [promotion #{id}]: {what} {target}, by {by}; needs a second person: another auditor "
            "runs the same command to approve it"
        )
    elif outcome.state == "endorsed":
        said = _(
            "approved [promotion #{id}]: {what} {target}, requested by {by}, approved by {approvers}; needs "
            "{count} more person(s) before it takes effect"
        )
    elif outcome.state == "approved":
        said = _("approved [promotion #{id}]: {what} {target}, requested by {by}, approved by {approver}")
    else:
        said = _("promoted [promotion #{id}]: {what} {target}, by {by}")
    typer.echo(
        said.format(
            id=p.id, what=what, target=target, by=p.requested_by, approvers=", ".join(p.given[1:]),
            count=p.approvals_needed - len(p.given), approver=p.approved_by,
        )
    )  # fmt: skip
