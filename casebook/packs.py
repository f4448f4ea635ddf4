"""Rule-pack versions in the casebook: which packs exist, and which one screens each region from when.

A pack is **registered** as a version: its content hash (`RulePack.version`, the hash over every rule,
list, region and pack file), the files themselves (so the version can be screened on any machine and
long after the folder changed), who registered it, when, and a note. A registered version nobody has
promoted is a *draft*. A **promotion** puts a version in force for one treatment region (or `national`:
every region without a promotion of its own) from a date, as either

- `active`: the pack that screens the region's claims (hits, review queue), or
- `shadow`: screened with every batch besides the active pack; its hits are stored apart
  (`shadow_hit`) and shown in impact reports, never queued. A shadow promotion without a version stops
  shadowing.

The date is the day from which screenings use the version (which rules of the pack apply to a claim is
still decided by each rule's `effective` range and the claim's discharge date). In force on a day is the
promotion with the latest `effective_from` (then the latest approval) among the region's own, else among
the national ones. Rolling back is promoting the previous version again. A promotion that needs a second
person (the region's `pack_promotion_approvers` setting, decided by the service that calls `promote`)
stays `pending` until someone other than its requester promotes the same version, region, stage and date.

Every registration, request and approval is appended to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text, select
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import get_by_id, row_number, stored_id
from drgaudit.contract import REGION_RE
from drgaudit.errors import DrgauditError
from drgaudit.i18n import _

NATIONAL = "national"
STAGES = ("active", "shadow")
PROMOTION_STATUSES = ("pending", "in_force")
VERSION_ENTITY = "rule_pack_version"
PROMOTION_ENTITY = "rule_pack_promotion"


class PackError(DrgauditError):
    """A rule-pack version request that cannot be done: unknown version, bad region, missing second person."""


class SecondPersonNeeded(PackError):
    """The requester (or an approver) of a pending promotion promoting it again: it needs someone else."""

    def __init__(self, message: str, promotion: PackPromotion) -> None:
        super().__init__(message)
        self.promotion = promotion


class RulePackVersionBase(SQLModel):
    """One registered rule pack: its content hash, its files, and who registered it when, with a note."""

    version: str = Field(index=True, unique=True)
    name: str
    note: str | None = Field(default=None, sa_type=Text)
    source: str
    # relative path ("long_stay.yaml", "lists/dialysis.yaml", "regions/510100.yaml") -> file text
    files: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    registered_by: str


class RulePackVersionCreate(RulePackVersionBase):
    """Input form of a pack version."""


class RulePackVersion(RulePackVersionBase, table=True):
    """A pack version as stored."""

    __tablename__ = "rule_pack_version"

    id: int | None = Field(default=None, primary_key=True)
    registered_at: datetime = Field(sa_type=DateTime(timezone=True))


class PackPromotionBase(SQLModel):
    """A request to put a version in force for a region (or `national`) as active or shadow from a date."""

    version_id: int | None = Field(default=None, foreign_key="rule_pack_version.id", index=True)
    region: str = Field(index=True)
    stage: str
    effective_from: dt.date
    note: str | None = Field(default=None, sa_type=Text)
    approvals_needed: int = 1
    requested_by: str


class PackPromotionCreate(PackPromotionBase):
    """Input form of a promotion."""


class PackPromotion(PackPromotionBase, table=True):
    """A promotion as stored: `pending` until approved (by a second person where needed), then `in_force`."""

    __tablename__ = "rule_pack_promotion"

    id: int | None = Field(default=None, primary_key=True)
    status: str = "pending"
    requested_at: datetime = Field(sa_type=DateTime(timezone=True))
    approved_by: str | None = None
    approved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Who has promoted it so far, the requester first: distinct people, until `approvals_needed` of them
    # put it in force (None on promotions made before this was kept: see `given`).
    approvals: list[str] | None = Field(default=None, sa_type=JSON)

    @property
    def given(self) -> list[str]:
        """The people who have promoted it so far, the requester first."""
        if self.approvals:
            return list(self.approvals)
        return [self.requested_by] + (
            [self.approved_by] if self.approved_by and self.approved_by != self.requested_by else []
        )


def _now() -> datetime:
    return datetime.now(UTC)


def version_state(version: RulePackVersion) -> dict[str, Any]:
    """What the audit log records of a version (its files are identified by the content hash)."""
    return {
        "version": version.version,
        "name": version.name,
        "source": version.source,
        "note": version.note,
        "files": sorted(version.files),
        "registered_by": version.registered_by,
    }


def _second_person(pending: PackPromotion, actor: str, missing: int) -> str:
    """Why `actor` cannot promote `pending` again: who they were in it, and how many more people it needs."""
    requested = pending.requested_by == actor
    if pending.approvals_needed == 2:
        said = (
            _("promotion #{id} was requested by {actor} and needs a second person: another auditor must run "
              "the same `drgaudit rules promote` command")
            if requested
            else _("promotion #{id} was approved already by {actor} and needs a second person: another auditor "
                   "must run the same `drgaudit rules promote` command")
        )  # fmt: skip
    else:
        said = (
            _("promotion #{id} was requested by {actor} and needs {count} more person(s): another auditor "
              "must run the same `drgaudit rules promote` command")
            if requested
            else _("promotion #{id} was approved already by {actor} and needs {count} more person(s): another "
                   "auditor must run the same `drgaudit rules promote` command")
        )  # fmt: skip
    return said.format(id=pending.id, actor=actor, count=missing)


def promotion_state(promotion: PackPromotion, version: RulePackVersion | None) -> dict[str, Any]:
    """What the audit log records of a promotion."""
    return {
        "version": version.version if version else None,
        "region": promotion.region,
        "stage": promotion.stage,
        "effective_from": promotion.effective_from,
        "status": promotion.status,
        "approvals_needed": promotion.approvals_needed,
        "requested_by": promotion.requested_by,
        "approved_by": promotion.approved_by,
        "approvals": promotion.given,
        "note": promotion.note,
    }


@dataclass
class Registration:
    """What `register_version` did: the stored version, and whether it was there already."""

    version: RulePackVersion
    created: bool


def register_version(
    *,
    session: Session,
    version: str,
    name: str,
    files: dict[str, str],
    source: str,
    registered_by: str,
    note: str | None = None,
) -> Registration:
    """Store a pack version (idempotent: the same content hash again returns the stored version)."""
    existing = (
        session.execute(select(RulePackVersion).where(col(RulePackVersion.version) == version))
        .scalars()
        .first()
    )
    if existing is not None:
        return Registration(existing, False)
    if not files:
        raise PackError(_("pack version {version} has no files").format(version=version))
    row = RulePackVersion(
        version=version,
        name=name,
        note=note,
        source=source,
        files=dict(sorted(files.items())),
        registered_by=registered_by,
        registered_at=_now(),
    )
    session.add(row)
    session.flush()
    auditlog.append(
        session=session,
        actor=registered_by,
        entity=VERSION_ENTITY,
        entity_id=row.version,
        action="registered",
        after=version_state(row),
    )
    session.commit()
    session.refresh(row)
    return Registration(row, True)


def get_version(*, session: Session, ref: str | int) -> RulePackVersion:
    """A version by its id (`#3` or 3) or its content hash (a unique prefix of at least 4 characters)."""
    text = str(ref).strip().lstrip("#")
    number = row_number(text)
    if number is not None and len(text) < 4:
        found = get_by_id(session, RulePackVersion, number)
        if found is None:
            raise PackError(
                _("no rule-pack version #{number} (see `drgaudit rules versions`)").format(number=text)
            )
        return found
    if len(text) < 4:
        raise PackError(
            _("`{ref}` is too short to name a version: give at least 4 characters of its hash").format(
                ref=ref
            )
        )
    rows: list[RulePackVersion] = list(
        session.execute(
            select(RulePackVersion).where(col(RulePackVersion.version).startswith(text.lower()))
        ).scalars()
    )
    if not rows:
        raise PackError(_("no rule-pack version {ref} (see `drgaudit rules versions`)").format(ref=text))
    if len(rows) > 1:
        names = ", ".join(r.version for r in rows)
        raise PackError(
            _("`{ref}` names several versions ({names}); give more of the hash").format(ref=text, names=names)
        )
    return rows[0]


def find_version(*, session: Session, version: str) -> RulePackVersion | None:
    """The stored version with exactly this content hash, or None."""
    return (
        session.execute(select(RulePackVersion).where(col(RulePackVersion.version) == version))
        .scalars()
        .first()
    )


def list_versions(*, session: Session) -> list[RulePackVersion]:
    """Every registered version, newest first."""
    query = select(RulePackVersion).order_by(
        col(RulePackVersion.registered_at).desc(), col(RulePackVersion.id).desc()
    )
    return list(session.execute(query).scalars())


def check_region(region: str) -> str:
    """A promotion's region: `national` or a 6-digit treatment-region code."""
    region = str(region).strip()
    if region != NATIONAL and not REGION_RE.match(region):
        raise PackError(
            _("`{region}` is not a 6-digit region code (or `{national}` for every region)").format(
                region=region, national=NATIONAL
            )
        )
    return region


@dataclass
class PromotionOutcome:
    """What `promote` did: `in_force` (done), `pending` (waits for another person), `endorsed` (another
    person's approval recorded, it waits for more) or `approved` (by the last person needed: in force)."""

    promotion: PackPromotion
    version: RulePackVersion | None
    state: str


def promote(
    *,
    session: Session,
    version: RulePackVersion | None,
    region: str,
    stage: str,
    effective_from: dt.date,
    actor: str,
    approvals_needed: int = 1,
    note: str | None = None,
) -> PromotionOutcome:
    """Request (and, when one person suffices, put in force) a promotion; another person's identical
    request approves a pending one, which is in force once `approvals_needed` distinct people (the
    requester counted) have promoted it. `version=None` with stage `shadow` stops shadowing."""
    region = check_region(region)
    if stage not in STAGES:
        raise PackError(
            _("unknown stage `{stage}` (one of: {stages})").format(stage=stage, stages=", ".join(STAGES))
        )
    if version is None and stage != "shadow":
        raise PackError(_("only shadowing can be stopped; an active promotion needs a version"))
    if approvals_needed < 1:
        raise PackError(_("approvals needed must be at least 1, got {count}").format(count=approvals_needed))
    version_id = version.id if version is not None else None
    pending = (
        session.execute(
            select(PackPromotion).where(
                col(PackPromotion.status) == "pending",
                col(PackPromotion.region) == region,
                col(PackPromotion.stage) == stage,
                col(PackPromotion.effective_from) == effective_from,
                (col(PackPromotion.version_id) == version_id)
                if version_id is not None
                else col(PackPromotion.version_id).is_(None),
            )
        )
        .scalars()
        .first()
    )
    stamp = _now()
    if pending is not None:
        given = pending.given
        if actor in given:
            missing = max(1, pending.approvals_needed - len(given))
            raise SecondPersonNeeded(_second_person(pending, actor, missing), pending)
        before = promotion_state(pending, version)
        pending.approvals = [*given, actor]
        done = len(pending.approvals) >= pending.approvals_needed
        if done:
            pending.status = "in_force"
            pending.approved_by = actor
            pending.approved_at = stamp
        session.add(pending)
        session.flush()
        auditlog.append(
            session=session, actor=actor, entity=PROMOTION_ENTITY, entity_id=pending.id,
            action="approved" if done else "endorsed", before=before, after=promotion_state(pending, version),
        )  # fmt: skip
        session.commit()
        session.refresh(pending)
        return PromotionOutcome(pending, version, "approved" if done else "endorsed")
    single = approvals_needed <= 1
    promotion = PackPromotion(
        version_id=version_id,
        region=region,
        stage=stage,
        effective_from=effective_from,
        note=note,
        approvals_needed=approvals_needed,
        requested_by=actor,
        requested_at=stamp,
        status="in_force" if single else "pending",
        approved_by=actor if single else None,
        approved_at=stamp if single else None,
        approvals=[str(actor)],
    )
    session.add(promotion)
    session.flush()
    auditlog.append(
        session=session, actor=actor, entity=PROMOTION_ENTITY, entity_id=stored_id(promotion),
        action="promoted" if single else "requested", after=promotion_state(promotion, version),
    )  # fmt: skip
    session.commit()
    session.refresh(promotion)
    return PromotionOutcome(promotion, version, "in_force" if single else "pending")


def _in_force(session: Session, region: str, stage: str, on_date: dt.date) -> PackPromotion | None:
    """The promotion of a stage in force for a region on a day: the region's own first, else national."""
    query = (
        select(PackPromotion)
        .where(
            col(PackPromotion.status) == "in_force",
            col(PackPromotion.stage) == stage,
            col(PackPromotion.region).in_([region, NATIONAL]),
            col(PackPromotion.effective_from) <= on_date,
        )
        .order_by(
            col(PackPromotion.effective_from).desc(),
            col(PackPromotion.approved_at).desc(),
            col(PackPromotion.id).desc(),
        )
    )
    rows: list[PackPromotion] = list(session.execute(query).scalars())
    own = [p for p in rows if p.region == region]
    return own[0] if own else rows[0] if rows else None


def active_version(
    *, session: Session, region: str, on_date: dt.date | None = None
) -> RulePackVersion | None:
    """The version that screens a treatment region's claims on a day (default today); None if none is promoted."""
    promotion = _in_force(session, region, "active", on_date or dt.date.today())
    return session.get(RulePackVersion, promotion.version_id) if promotion else None


def active_promotion(
    *, session: Session, region: str, on_date: dt.date | None = None
) -> PackPromotion | None:
    """The promotion that makes a version active for a region on a day (its own, else national), or None."""
    return _in_force(session, region, "active", on_date or dt.date.today())


def shadow_version(
    *, session: Session, region: str, on_date: dt.date | None = None
) -> RulePackVersion | None:
    """The version screened in shadow for a region on a day; None when none is (or it is the active one)."""
    promotion = shadow_promotion(session=session, region=region, on_date=on_date)
    return session.get(RulePackVersion, promotion.version_id) if promotion is not None else None


def shadow_promotion(
    *, session: Session, region: str, on_date: dt.date | None = None
) -> PackPromotion | None:
    """The promotion that puts a version in shadow for a region on a day (as `shadow_version` judges it),
    or None."""
    day = on_date or dt.date.today()
    promotion = _in_force(session, region, "shadow", day)
    if promotion is None or promotion.version_id is None:
        return None
    active = _in_force(session, region, "active", day)
    if active is not None and active.version_id == promotion.version_id:
        return None
    return promotion


def promotions(
    *, session: Session, region: str | None = None, version: RulePackVersion | None = None
) -> list[PackPromotion]:
    """Promotions, newest first, optionally of one region (its own only) or one version."""
    query = select(PackPromotion)
    if region is not None:
        query = query.where(col(PackPromotion.region) == region)
    if version is not None:
        query = query.where(col(PackPromotion.version_id) == version.id)
    query = query.order_by(col(PackPromotion.requested_at).desc(), col(PackPromotion.id).desc())
    return list(session.execute(query).scalars())


def promoted_regions(*, session: Session) -> list[str]:
    """Every region (and `national`) that has a promotion in force or pending."""
    rows = session.execute(select(col(PackPromotion.region)).distinct()).scalars()
    return sorted(rows)


@dataclass(frozen=True)
class VersionPeople:
    """Who wrote a version into the casebook and who put it in force (for separation of duties)."""

    version: str
    registered_by: str
    requested_by: frozenset[str]
    approved_by: frozenset[str]

    @property
    def everyone(self) -> frozenset[str]:
        return frozenset({self.registered_by}) | self.requested_by | self.approved_by


def version_people(*, session: Session, version: str) -> VersionPeople | None:
    """The people behind a version (by exact content hash): registrar, requesters and approvers of promotions."""
    row = find_version(session=session, version=version)
    if row is None:
        return None
    done = [p for p in promotions(session=session, version=row)]
    return VersionPeople(
        version=row.version,
        registered_by=row.registered_by,
        requested_by=frozenset(p.requested_by for p in done),
        # the final approvers and those who approved on the way (everyone after the requester)
        approved_by=frozenset(p.approved_by for p in done if p.approved_by)
        | frozenset(person for p in done for person in p.given[1:]),
    )


def region_status(
    *, session: Session, regions: Sequence[str], on_date: dt.date | None = None
) -> dict[str, tuple[RulePackVersion | None, RulePackVersion | None]]:
    """(active, shadow) version of each region on a day."""
    return {
        region: (
            active_version(session=session, region=region, on_date=on_date),
            shadow_version(session=session, region=region, on_date=on_date),
        )
        for region in regions
    }
