"""Rule-pack versions on the pages (规则包版本): the registered versions, what is active and in shadow in
each region the account may read and from when, the promotions waiting for another person, and putting a
version in force from the page.

The work is `drgaudit.services.packs.promote_pack` and the casebook's `drgaudit.casebook.packs`, as the
CLI's `drgaudit rules versions|promote|unshadow` do it; this module adds the account's scope and Chinese
refusals. Access: `rules.view` to read (an account bound to a region: its region, and the versions
themselves), `rules.promote` to promote, approve or stop shadowing for a region (`national` only for an
account bound to no region).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session

from drgaudit.casebook import packs
from drgaudit.casebook.models import get_by_id
from drgaudit.casebook.packs import NATIONAL, PackPromotion, PromotionOutcome, RulePackVersion
from drgaudit.contract import REGION_RE
from drgaudit.errors import DrgauditError
from drgaudit.labels import VALUE_LABELS
from drgaudit.services.access import NotFound, Principal, Target, allowing_grant, may
from drgaudit.services.accounts import acting
from drgaudit.services.packs import PromoteRequest, promote_pack
from drgaudit.services.settlement import known_regions

VIEW = "rules.view"
PROMOTE = "rules.promote"
IMPACT = "rules.impact"
STAGE_NAMES = VALUE_LABELS["promotion.stage"]


class VersionPageError(DrgauditError):
    """A request of the versions page that cannot be done, said in Chinese (a 400 page)."""


def region_target(region: str) -> Target:
    """What acting for a region touches: that treatment region (`national`: every region, so only an
    account bound to no region may)."""
    return Target(treatment_region=None if region == NATIONAL else region)


def may_act(principal: Principal, action: str, region: str) -> bool:
    """Whether the principal may do `action` (view, promote, impact) for this region (or `national`)."""
    return allowing_grant(principal, action, region_target(region)) is not None


@dataclass
class RegionRow:
    """What screens one region on the day: its active and shadow versions with their promotions, and the
    promotions in force from a later day."""

    region: str
    active: RulePackVersion | None
    active_from: PackPromotion | None
    shadow: RulePackVersion | None
    shadow_from: PackPromotion | None
    upcoming: list[PackPromotion] = field(default_factory=list)


@dataclass
class Pending:
    """A promotion waiting for more people: who asked and approved so far, how many it needs."""

    promotion: PackPromotion
    version: RulePackVersion | None
    given: list[str]

    @property
    def needed(self) -> int:
        return self.promotion.approvals_needed

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.given))


@dataclass
class Overview:
    """The versions page."""

    on: dt.date
    versions: list[RulePackVersion]
    regions: list[RegionRow]
    pending: list[Pending]
    history: list[PackPromotion]
    by_id: dict[int, RulePackVersion]
    states: dict[int, list[str]]  # version id -> "在用 510100", "影子运行 national"...


def readable_regions(*, session: Session, principal: Principal) -> list[str]:
    """The regions whose versions the principal may read: `national` (accounts bound to no region) and
    every region the casebook knows that it may read."""
    regions = [NATIONAL, *known_regions(session=session)]
    return [region for region in regions if may_act(principal, VIEW, region)]


def overview(*, session: Session, principal: Principal, on: dt.date | None = None) -> Overview:
    """The registered versions, and per readable region what is in force on the day `on` (default today)
    and what waits for approval (`NotFound` for an account that may read no region)."""
    day = on or dt.date.today()
    regions = readable_regions(session=session, principal=principal)
    if not regions:
        raise NotFound("no region whose rule-pack versions this account may read")
    versions = packs.list_versions(session=session)
    by_id = {int(v.id or 0): v for v in versions}
    seen = set(regions)
    everything = [p for p in packs.promotions(session=session) if p.region in seen]
    rows = []
    states: dict[int, list[str]] = {}
    for region in regions:
        active = packs.active_promotion(session=session, region=region, on_date=day)
        shadow = packs.shadow_promotion(session=session, region=region, on_date=day)
        upcoming = [
            p for p in everything if p.region == region and p.status == "in_force" and p.effective_from > day
        ]
        row = RegionRow(
            region, _version(by_id, active), active, _version(by_id, shadow), shadow,
            sorted(upcoming, key=lambda p: p.effective_from),
        )  # fmt: skip
        rows.append(row)
        for stage, version in (("active", row.active), ("shadow", row.shadow)):
            if version is not None:
                states.setdefault(int(version.id or 0), []).append(f"{STAGE_NAMES[stage]} {region}")
    pending = [Pending(p, _version(by_id, p), p.given) for p in everything if p.status == "pending"]
    return Overview(day, versions, rows, pending, everything, by_id, states)


def _version(by_id: dict[int, RulePackVersion], promotion: PackPromotion | None) -> RulePackVersion | None:
    if promotion is None or promotion.version_id is None:
        return None
    return by_id.get(promotion.version_id)


def get_version(*, session: Session, principal: Principal, version_id: int) -> RulePackVersion:
    """A registered version by its id, for an account that may read versions (`NotFound` otherwise)."""
    if not may(principal, VIEW):
        raise NotFound(f"no rule-pack version {version_id}")
    version = get_by_id(session, RulePackVersion, version_id)
    if version is None:
        raise NotFound(f"no rule-pack version {version_id}")
    return version


@dataclass
class PromoteForm:
    """A promotion as the page sends it (text as typed)."""

    region: str | None
    effective_from: str | None
    stage: str = "active"
    note: str | None = None


def _checked(principal: Principal, form: PromoteForm) -> tuple[str, dt.date]:
    region = (form.region or "").strip()
    if not region:
        raise VersionPageError("请选择统筹区。")
    if region != NATIONAL and not REGION_RE.match(region):
        raise VersionPageError(f"统筹区“{region}”不是 6 位统筹区编码（或“全部统筹区”）。")
    if form.stage not in STAGE_NAMES:
        raise VersionPageError("请选择上线方式：在用或影子运行。")
    if not may_act(principal, PROMOTE, region):
        if region == NATIONAL:
            raise VersionPageError("您的账户只能为本统筹区发布规则包版本，不能为全部统筹区发布。")
        raise VersionPageError(f"统筹区 {region} 不在您的账户范围内，不能为它发布规则包版本。")
    raw = (form.effective_from or "").strip()
    if not raw:
        raise VersionPageError("请填写生效日期（年-月-日）。")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise VersionPageError(f"生效日期“{raw}”不是日期，请按 年-月-日 填写，例如 2026-01-01。") from None
    return region, day


@dataclass
class PromoteDone:
    """What a promotion from the page did, and the sentence the page says of it."""

    outcome: PromotionOutcome
    message: str


def promote(
    *, session: Session, principal: Principal, version_id: int | None, form: PromoteForm
) -> PromoteDone:
    """Promote a version (or, `version_id` None with stage shadow, stop shadowing) for a region from a day,
    or approve the identical pending request of someone else (`drgaudit.services.packs.promote_pack`, which
    decides how many people it needs). The same person cannot approve twice."""
    region, day = _checked(principal, form)
    version = None
    if version_id is not None:
        version = get_version(session=session, principal=principal, version_id=version_id)
    elif form.stage != "shadow":
        raise VersionPageError("在用版本不能停止，只能发布另一个版本取代它。")
    actor = acting(principal, PROMOTE, region_target(region))
    request = PromoteRequest(
        version=f"#{version.id}" if version is not None else None, region=region, effective_from=day,
        stage=form.stage, note=(form.note or "").strip() or None,
    )  # fmt: skip
    try:
        outcome = promote_pack(session=session, request=request, actor=actor)
    except packs.SecondPersonNeeded as again:
        session.rollback()
        pending = again.promotion
        missing = max(1, pending.approvals_needed - len(pending.given))
        mine = (
            "由您提出"
            if pending.requested_by == principal.username
            else f"由 {pending.requested_by} 提出、您已确认过"
        )
        raise VersionPageError(
            f"第 {pending.id} 号上线申请{mine}，同一人不能再次确认；还需另外 {missing} 名审核员确认后才生效。"
        ) from None
    return PromoteDone(outcome, describe(outcome))


def describe(outcome: PromotionOutcome) -> str:
    """A promotion's outcome in one Chinese sentence (how many more people it needs, when pending)."""
    p = outcome.promotion
    where = "全部统筹区" if p.region == NATIONAL else f"统筹区 {p.region}"
    if outcome.version is not None:
        what = f"规则包版本 #{outcome.version.id}（{outcome.version.version}）"
        how = f"{where}自 {p.effective_from.isoformat()} 起{STAGE_NAMES.get(p.stage, p.stage)}"
    else:
        what, how = "停止影子运行", f"{where}自 {p.effective_from.isoformat()} 起不再影子运行任何版本"
    missing = max(0, p.approvals_needed - len(p.given))
    if outcome.state == "pending":
        return (
            f"已提交第 {p.id} 号上线申请：{what}，{how}。本统筹区须 {p.approvals_needed} 人确认，"
            f"还需另外 {missing} 名审核员确认后才生效。"
        )
    if outcome.state == "endorsed":
        return (
            f"已确认第 {p.id} 号上线申请（{p.requested_by} 提出）：{what}，{how}。已确认 {len(p.given)} / "
            f"须确认 {p.approvals_needed} 人，还需另外 {missing} 名审核员确认后才生效。"
        )
    if outcome.state == "approved":
        return f"已确认第 {p.id} 号上线申请（{p.requested_by} 提出）：{what}，{how}，现已生效。"
    return f"已发布（第 {p.id} 号）：{what}，{how}。"
