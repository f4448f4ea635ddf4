"""The impact report of a rule change: what a new rule pack would flag on stored claims, against the old one.

The figures are worked out by `drgaudit.services.impact` (both packs screen the same claims, nothing is
written); this module holds them and renders them: per rule, region and hospital the hits added, removed
and kept with the amounts at risk before and after, the review cases that would open, close or change,
the quota standing they would leave, and for each changed rule sample claims on each side with the
condition that decides the difference (as `drgaudit explain` shows it). HTML (print-ready) or XLSX.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from drgaudit.i18n import _, language
from drgaudit.labels import label, value_label
from drgaudit.reports.document import Column, Report, Sheet
from drgaudit.reports.masking import Masker

OPENING = ("created", "reopened")
CLOSING = ("withdrawn",)
CHANGING = ("refreshed",)
OUTCOME_LABELS = {
    "created": "新建案件",
    "reopened": "重新打开",
    "refreshed": "命中内容变化",
    "withdrawn": "撤回",
    "unchanged": "不变",
}


@dataclass
class ImpactTally:
    """Hits of one slice (all, a rule, a region, a hospital) under the old and the new pack."""

    key: str
    label: str = ""
    before: int = 0
    after: int = 0
    added: int = 0
    removed: int = 0
    kept: int = 0
    changed: int = 0  # kept, but the amount at risk or the evidence differs
    amount_before: float = 0.0
    amount_after: float = 0.0

    @property
    def amount_change(self) -> float:
        return round(self.amount_after - self.amount_before, 2)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass
class ConditionChange:
    """One condition of a rule on one claim under the old and the new pack (None: not in that pack)."""

    kind: str  # when | unless
    source: str
    before: bool | None
    after: bool | None
    # The condition in words (`engine.explain.condition_words`): facts, parameters and lists by their names.
    words: str = ""


@dataclass
class Sample:
    """A claim a changed rule newly flags (`added`) or no longer flags (`removed`), and why."""

    side: str
    rule_id: str
    claim_id: str
    patient_id: str
    hospital_id: str
    region: str
    amount_before: float | None
    amount_after: float | None
    conditions: list[ConditionChange] = field(default_factory=list)
    thresholds: list[tuple[str, Any, Any]] = field(default_factory=list)  # (name, before, after)
    values: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # not applicable under one pack, rule missing…
    message: str = ""
    # The same reasons as data, for the pages' Chinese: the sides ("old", "new") whose pack has no such rule
    # for the region, and each side's reasons the rule does not apply (Chinese, from `engine.explain`).
    absent: list[str] = field(default_factory=list)
    inapplicable: dict[str, list[str]] = field(default_factory=dict)
    # The Chinese names of the rule's parameters among `thresholds` (the descriptions its files give).
    threshold_labels: dict[str, str] = field(default_factory=dict)


@dataclass
class CaseEffect:
    """What re-screening with the new pack would do to one claim's review case."""

    claim_id: str
    case_id: int | None
    hospital_id: str
    region: str
    period: str
    scheme: str
    status: str | None  # now; None when the claim has no case
    outcome: str  # created, reopened, refreshed, withdrawn
    rules_before: list[str] = field(default_factory=list)
    rules_after: list[str] = field(default_factory=list)


@dataclass
class QuotaEffect:
    """Open review cases of a hospital, month and scheme now and after the change, against its quota."""

    hospital_id: str
    period: str
    scheme: str
    limit: int | None
    open_before: int
    open_after: int

    @property
    def over_before(self) -> bool:
        return self.limit is not None and self.open_before > self.limit

    @property
    def over_after(self) -> bool:
        return self.limit is not None and self.open_after > self.limit


@dataclass
class ShadowStanding:
    """A shadow version's hits stored with a batch, beside the batch's live hits, by rule."""

    batch_id: int
    version: str
    by_rule: dict[str, tuple[int, int]]  # rule id -> (live hits, shadow hits)
    is_new: bool  # the version compared in this impact

    @property
    def live(self) -> int:
        return sum(live for live, _ in self.by_rule.values())

    @property
    def shadow(self) -> int:
        return sum(shadow for _, shadow in self.by_rule.values())


@dataclass
class ImpactResult:
    """Everything the impact of a rule change found (see the module docstring)."""

    new_label: str
    new_version: str
    old_label: str
    old_version: str
    scope: str
    region: str | None = None
    batches: list[int] = field(default_factory=list)
    claims: int = 0
    patients: int = 0
    seconds: float = 0.0
    totals: ImpactTally = field(default_factory=lambda: ImpactTally("all", "合计"))
    by_rule: dict[str, ImpactTally] = field(default_factory=dict)
    by_region: dict[str, ImpactTally] = field(default_factory=dict)
    by_hospital: dict[str, ImpactTally] = field(default_factory=dict)
    rule_titles: dict[str, str] = field(default_factory=dict)
    added: list[tuple[str, str]] = field(default_factory=list)  # (claim, rule)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    # What storing the new pack's hits would do to the stored hits (new/unchanged/removed, as store_hits).
    stored: dict[str, int] = field(default_factory=dict)
    cases: list[CaseEffect] = field(default_factory=list)  # every case that would not stay unchanged
    case_counts: dict[str, int] = field(default_factory=dict)
    # The same under the old pack: non-zero when the casebook is not in step with the old pack.
    baseline_case_counts: dict[str, int] = field(default_factory=dict)
    quota: list[QuotaEffect] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    # Shadow versions screened with these batches, their stored hits beside the live ones.
    shadow: list[ShadowStanding] = field(default_factory=list)
    # Names of the hospitals and treatment regions the tables show (from the casebook and the new pack).
    hospital_names: dict[str, str] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)

    def hospital_name(self, code: str) -> str:
        """A hospital's name for the tables, its code when the casebook has none."""
        return self.hospital_names.get(code) or code

    def region_name(self, code: str) -> str:
        """A treatment region's name for the tables, its code when the pack has none."""
        return self.region_names.get(code) or code

    @property
    def withdrawn(self) -> list[str]:
        return [c.claim_id for c in self.cases if c.outcome == "withdrawn"]

    @property
    def opened(self) -> list[str]:
        return [c.claim_id for c in self.cases if c.outcome in OPENING]

    @property
    def baseline_drift(self) -> int:
        return sum(n for outcome, n in self.baseline_case_counts.items() if outcome != "unchanged")

    def summary_lines(self) -> list[str]:
        """The terminal summary, in the user's language (a sample's conditions in words under Chinese)."""
        t = self.totals
        chinese = language().startswith("zh")
        name = pack_label if chinese else str  # a pack by its Chinese name, as the report names it
        lines = [
            _("impact of {new} ({new_version}) against {old} ({old_version})").format(
                new=name(self.new_label), new_version=self.new_version, old=name(self.old_label),
                old_version=self.old_version,
            ),
            _(
                "on {scope}: {claims} claims of {patients} patients, screened with both packs in {seconds}s; "
                "nothing was written"
            ).format(
                scope=self.scope, claims=f"{self.claims:,}", patients=f"{self.patients:,}", seconds=f"{self.seconds:.1f}"
            ),
            _(
                "hits: {before} → {after} ({added} added, {removed} removed, {kept} kept, {changed} of them "
                "changed); amount at risk {amount_before} → {amount_after} ({amount_change}) yuan"
            ).format(
                before=f"{t.before:,}", after=f"{t.after:,}", added=f"{t.added:+,}", removed=f"{-t.removed:+,}",
                kept=f"{t.kept:,}", changed=f"{t.changed:,}", amount_before=f"{t.amount_before:,.2f}",
                amount_after=f"{t.amount_after:,.2f}", amount_change=f"{t.amount_change:+,.2f}",
            ),
        ]  # fmt: skip
        touched = [tally for tally in self.by_rule.values() if tally.touched]
        if touched:
            lines.append(_("by rule:"))
            for tally in sorted(touched, key=lambda x: x.key):
                changed = _("changed {count}").format(count=f"{tally.changed:<5,}")
                lines.append(
                    f"  {tally.key:<14} {tally.before:>6,} → {tally.after:<6,} +{tally.added:<5,} -{tally.removed:<5,} "
                    f"{changed} {tally.amount_before:>14,.2f} → {tally.amount_after:,.2f}"
                )
        else:
            lines.append(_("no rule fires differently on these claims"))
        for heading, tallies in (
            (_("by region: {places}"), self.by_region),
            (_("by hospital: {places}"), self.by_hospital),
        ):
            touched = sorted(
                (x for x in tallies.values() if x.touched), key=lambda x: (-x.added - x.removed, x.key)
            )
            if touched:
                shown = ", ".join(
                    f"{x.key} +{x.added}/-{x.removed}" + (f"/~{x.changed}" if x.changed else "")
                    for x in touched[:8]
                )
                more = _(" (and {n} more)").format(n=len(touched) - 8) if len(touched) > 8 else ""
                lines.append(heading.format(places=shown + more))
        counts = self.case_counts
        lines.append(
            _(
                "review cases: {opening} would open ({created} new, {reopened} reopened), {withdrawn} would close "
                "(withdrawn), {refreshed} would change"
            ).format(
                opening=sum(counts.get(o, 0) for o in OPENING), created=counts.get("created", 0),
                reopened=counts.get("reopened", 0), withdrawn=counts.get("withdrawn", 0),
                refreshed=counts.get("refreshed", 0),
            )
        )  # fmt: skip
        if self.stored:
            lines.append(
                _("stored hits a re-screen would write: {new} new, {unchanged} unchanged, {removed} removed").format(
                    new=f"{self.stored.get('new', 0):,}", unchanged=f"{self.stored.get('unchanged', 0):,}",
                    removed=f"{self.stored.get('removed', 0):,}",
                )
            )  # fmt: skip
        if self.baseline_drift:
            lines.append(
                _(
                    "note: re-screening with the old pack would itself change {n} cases (the casebook is not in "
                    "step with it)"
                ).format(n=self.baseline_drift)
            )
        over = [q for q in self.quota if q.over_after and not q.over_before]
        if over:
            lines.append(
                _("quota: {n} hospital-months would have more open cases than their quota:").format(
                    n=len(over)
                )
            )
            for q in over[:5]:
                lines.append(
                    "  "
                    + _("{hospital} {period} {scheme}: {before} → {after} open, quota {limit}").format(
                        hospital=q.hospital_id, period=q.period, scheme=q.scheme, before=q.open_before,
                        after=q.open_after, limit=q.limit,
                    )
                )  # fmt: skip
        for standing in self.shadow:
            mark = _(" (the version compared here)") if standing.is_new else ""
            lines.append(
                _("shadow version {version}{mark} on batch {batch}: {shadow} hits stored apart beside {live} live hits").format(
                    version=standing.version, mark=mark, batch=standing.batch_id, shadow=f"{standing.shadow:,}",
                    live=f"{standing.live:,}",
                )
            )  # fmt: skip
        for rule_id, samples in sorted(self.samples.items()):
            for sample in samples[:1]:
                if chinese:  # the conditions in words, as the impact report and the version page say them
                    side = _SAMPLE_SIDES.get(sample.side, sample.side)
                    lines.append(f"例：{rule_id} {side} {sample.claim_id}：{describe_sample_zh(sample)}")
                else:
                    lines.append(f"e.g. {rule_id} {sample.side} {sample.claim_id}: {describe_sample(sample)}")
        return lines


def impact_data(result: ImpactResult) -> dict[str, Any]:
    """The result as JSON-ready data (to keep it, e.g. with the page's background job); values JSON has no
    type for (a date among a rule's values) become their text. `impact_from_data` reads it back."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(result), ensure_ascii=False, default=str))
    return data


def impact_from_data(data: dict[str, Any]) -> ImpactResult:
    """An `ImpactResult` from `impact_data`'s data."""

    def tallies(table: dict[str, Any]) -> dict[str, ImpactTally]:
        return {key: ImpactTally(**value) for key, value in table.items()}

    def sample(value: dict[str, Any]) -> Sample:
        return Sample(
            **{**value, "conditions": [ConditionChange(**c) for c in value["conditions"]],
               "thresholds": [tuple(t) for t in value["thresholds"]]}
        )  # fmt: skip

    pairs = ("added", "removed", "changed")
    return ImpactResult(
        **{
            **data,
            "totals": ImpactTally(**data["totals"]),
            **{name: tallies(data[name]) for name in ("by_rule", "by_region", "by_hospital")},
            **{name: [(claim, rule) for claim, rule in data[name]] for name in pairs},
            "cases": [CaseEffect(**c) for c in data["cases"]],
            "quota": [QuotaEffect(**q) for q in data["quota"]],
            "samples": {rule: [sample(s) for s in found] for rule, found in data["samples"].items()},
            "shadow": [
                ShadowStanding(**{**s, "by_rule": {k: tuple(v) for k, v in s["by_rule"].items()}})
                for s in data["shadow"]
            ],
        }
    )


def describe_sample(sample: Sample) -> str:
    """Why a sample claim changed side, in one line."""
    parts = [
        f"{c.kind} `{c.source}` {_truth(c.before)} → {_truth(c.after)}"
        for c in sample.conditions
        if c.before != c.after
    ]
    parts += [f"{name} {before} → {after}" for name, before, after in sample.thresholds if before != after]
    parts += sample.reasons
    return "; ".join(parts) or "same conditions, other facts (payment settings or indicators)"


_SIDES = {"old": "原规则包", "new": "新规则包"}
_SAMPLE_SIDES = {"added": "新增命中", "removed": "不再命中"}


def describe_sample_zh(sample: Sample) -> str:
    """Why a sample claim changed side, in one Chinese line (the pages' words for `describe_sample`)."""

    def truth(value: bool | None) -> str:
        return "—" if value is None else ("成立" if value else "不成立")

    parts = [
        f"{'满足' if c.kind == 'when' else '除外'}条件“{c.words or c.source}”：{truth(c.before)} → {truth(c.after)}"
        for c in sample.conditions
        if c.before != c.after
    ]
    parts += [
        f"参数“{label(name, sample.threshold_labels)}”：{'—' if before is None else before} → "
        f"{'—' if after is None else after}"
        for name, before, after in sample.thresholds
        if before != after
    ]
    parts += [f"{_SIDES.get(side, side)}在该统筹区没有这条规则" for side in sample.absent]
    parts += [
        f"{_SIDES.get(side, side)}下不适用（{'；'.join(reasons)}）"
        for side, reasons in sorted(sample.inapplicable.items(), key=lambda item: item[0] != "old")
    ]
    return "；".join(parts) or "条件相同，其他事实不同（支付标准或医院指标）"


def pack_label(label: str) -> str:
    """A pack's name in the report's Chinese."""
    known = {"the bundled pack": "内置规则包", "the active versions": "各统筹区现行规则包版本"}
    if label in known:
        return known[label]
    if label.startswith("version "):
        return f"规则包版本 {label.removeprefix('version ')}"
    return f"规则目录 {label}"


def scheme_name(scheme: str) -> str:
    """A payment scheme's name (按床日 for PER_DIEM; DRG and DIP as they are)."""
    return value_label("payment_scheme", scheme)


def case_status(status: str | None) -> str:
    """A review case's state in Chinese; the claim may have no case yet."""
    return value_label("case.status", status) if status else "（无案件）"


def _truth(value: bool | None) -> str:
    return "—" if value is None else ("true" if value else "false")


def _tally_rows(tallies: dict[str, ImpactTally], titles: dict[str, str] | None = None) -> list[list[Any]]:
    rows = []
    for tally in sorted(tallies.values(), key=lambda x: x.key):
        rows.append(
            [tally.key, (titles or {}).get(tally.key, tally.label), tally.before, tally.after, tally.added,
             tally.removed, tally.kept, tally.changed, tally.amount_before, tally.amount_after, tally.amount_change]
        )  # fmt: skip
    return rows


_TALLY_COLUMNS = [
    Column("编码", width=16), Column("名称", width=30), Column("变更前命中", "int", 11), Column("变更后命中", "int", 11),
    Column("新增", "int", 8), Column("减少", "int", 8), Column("保持", "int", 8), Column("保持但内容变化", "int", 12),
    Column("变更前风险金额", "yuan", 16), Column("变更后风险金额", "yuan", 16), Column("金额变化", "yuan", 14),
]  # fmt: skip


def impact_report(result: ImpactResult, *, masker: Masker | None = None, issuer: str = "") -> Report:
    """The impact report, as HTML (print-ready) and XLSX."""
    mask = masker or Masker()

    def sheets() -> list[Sheet]:
        sample_rows = []
        for rule_id, samples in sorted(result.samples.items()):
            for s in samples:
                sample_rows.append(
                    [rule_id, "新增命中" if s.side == "added" else "不再命中", s.claim_id, mask.mask(s.patient_id),
                     s.hospital_id, result.hospital_name(s.hospital_id), s.region, result.region_name(s.region),
                     s.amount_before, s.amount_after, describe_sample_zh(s)]
                )  # fmt: skip
        return [
            Sheet("按规则", _TALLY_COLUMNS, _tally_rows(result.by_rule, result.rule_titles)),
            Sheet("按统筹区", _TALLY_COLUMNS, _tally_rows(result.by_region)),
            Sheet("按医院", _TALLY_COLUMNS, _tally_rows(result.by_hospital)),
            Sheet(
                "审核案件变化",
                [
                    Column("结算清单号", width=16),
                    Column("案件号", "int", 8),
                    Column("医院", width=16),
                    Column("医院名称", width=30),
                    Column("统筹区", width=10),
                    Column("统筹区名称", width=16),
                    Column("出院月份", width=10),
                    Column("支付方式", width=8),
                    Column("现状态", width=10),
                    Column("变化", width=12),
                    Column("变更前规则", width=24),
                    Column("变更后规则", width=24),
                ],  # fmt: skip
                [
                    [
                        c.claim_id,
                        c.case_id,
                        c.hospital_id,
                        result.hospital_name(c.hospital_id),
                        c.region,
                        result.region_name(c.region),
                        c.period,
                        scheme_name(c.scheme),
                        case_status(c.status),
                        OUTCOME_LABELS.get(c.outcome, c.outcome),
                        ",".join(c.rules_before),
                        ",".join(c.rules_after),
                    ]
                    for c in result.cases
                ],  # fmt: skip
            ),
            Sheet(
                "额度",
                [
                    Column("医院", width=16),
                    Column("医院名称", width=30),
                    Column("出院月份", width=10),
                    Column("支付方式", width=8),
                    Column("额度", "int", 8),
                    Column("变更前待审案件", "int", 14),
                    Column("变更后待审案件", "int", 14),
                ],  # fmt: skip
                [
                    [
                        q.hospital_id,
                        result.hospital_name(q.hospital_id),
                        q.period,
                        scheme_name(q.scheme),
                        q.limit,
                        q.open_before,
                        q.open_after,
                    ]
                    for q in result.quota
                ],
            ),
            Sheet(
                "命中变化清单",
                [Column("结算清单号", width=16), Column("规则", width=14), Column("变化", width=10)],
                [[c, r, "新增"] for c, r in result.added]
                + [[c, r, "减少"] for c, r in result.removed]
                + [[c, r, "内容变化"] for c, r in result.changed],
            ),
            Sheet(
                "影子版本",
                [
                    Column("批次", "int", 8),
                    Column("影子版本", width=18),
                    Column("规则", width=14),
                    Column("在用版本命中", "int", 12),
                    Column("影子版本命中", "int", 12),
                ],  # fmt: skip
                [
                    [standing.batch_id, standing.version, rule_id, live, shadow]
                    for standing in result.shadow
                    for rule_id, (live, shadow) in sorted(standing.by_rule.items())
                ],
            ),
            Sheet(
                "样例",
                [
                    Column("规则", width=14),
                    Column("方向", width=10),
                    Column("结算清单号", width=16),
                    Column("参保人", width=14),
                    Column("医院", width=16),
                    Column("医院名称", width=30),
                    Column("统筹区", width=10),
                    Column("统筹区名称", width=16),
                    Column("变更前风险金额", "yuan", 14),
                    Column("变更后风险金额", "yuan", 14),
                    Column("差异所在条件", width=60),
                ],  # fmt: skip
                sample_rows,
            ),
        ]

    context = {
        "impact": result,
        "rules": sorted(result.by_rule.values(), key=lambda x: x.key),
        "regions": sorted(result.by_region.values(), key=lambda x: x.key),
        "hospitals": sorted(
            (x for x in result.by_hospital.values() if x.touched), key=lambda x: (-x.added - x.removed, x.key)
        ),
        "outcome_labels": OUTCOME_LABELS,
        "pack_label": pack_label,
        "describe_sample": describe_sample_zh,
        "case_status": case_status,
        "scheme_name": scheme_name,
        "mask": mask.mask,
        "issuer": issuer,
        "quota_rows": [q for q in result.quota if q.open_before != q.open_after],
    }
    return Report(
        kind="impact",
        title="规则变更影响评估",
        template="impact.html.j2",
        context=context,
        sheets=sheets,
        formats=("html", "xlsx"),
    )
