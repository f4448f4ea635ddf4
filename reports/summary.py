"""Screening summary of one batch: hits by family, rule, action and hospital, amounts at risk, cross-region vs local.

Amounts: by family, rule and action they are sums of the hits' `amount_at_risk`; totals and per-hospital
and cross-region/local amounts count each claim once, at the largest amount any of its hits puts at risk
(two hits on the same claim question the same money). Patient ids are masked in the hit list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.models import ImportBatch
from drgaudit.casebook.screening import ScreenRun
from drgaudit.i18n import _
from drgaudit.labels import value_label
from drgaudit.reports import charts
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.document import REPORT_FORMATS, Column, Report, Sheet
from drgaudit.reports.errors import ReportError
from drgaudit.reports.formatting import wan_yuan
from drgaudit.reports.labels import LEVEL_NAMES, Vocabulary
from drgaudit.reports.masking import Masker


@dataclass
class Tally:
    """Counts and money of one slice of a batch (a family, rule, hospital, …)."""

    key: str
    label: str = ""
    claims: int = 0
    cross_claims: int = 0
    claims_hit: int = 0
    hits: int = 0
    amount: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float | None:
        return self.claims_hit / self.claims if self.claims else None


def screened_batch(*, session: Session, batch_id: int) -> tuple[ImportBatch, ScreenRun]:
    """A claims batch and its latest finished screen run, or a ReportError saying what is missing."""
    batch = queries.get_batch(session=session, batch_id=batch_id)
    if batch is None:
        raise ReportError(
            _("no import batch {batch} in the casebook (see `drgaudit batches`)").format(batch=batch_id)
        )
    if batch.kind != "claims":
        raise ReportError(
            _("batch {batch} is a {kind} import, not claims").format(
                batch=batch_id, kind=batch.kind, kind_name=value_label("batch.kind", batch.kind)
            )
        )
    run = queries.latest_finished_run(session=session, batch_id=batch_id)
    if run is None:
        raise ReportError(
            _("batch {batch} has not been screened yet: drgaudit screen --batch {batch}").format(
                batch=batch_id
            )
        )
    return batch, run


def remember_rule_titles(*, session: Session, batch_id: int, words: Vocabulary) -> None:
    """Rule titles from the evidence of one stored hit per rule of the batch."""
    for rule_id, evidence in queries.rule_evidence_samples(session=session, batch_id=batch_id):
        words.remember_rule(rule_id, evidence)


def build_summary(
    *,
    session: Session,
    batch_id: int,
    region: str | None = None,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The screening summary of a batch (optionally only the claims treated in `region`)."""
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    masker = Masker.from_settings(settings.get("masking"))
    batch, run = screened_batch(session=session, batch_id=batch_id)
    hospitals = queries.load_hospitals(session=session)

    by_hospital: dict[str, Tally] = {}
    by_scope = {True: Tally("cross", "省内异地就医"), False: Tally("local", "本地就医")}
    regions: set[str] = set()
    for hospital_id, treatment_region, is_cross in queries.batch_claim_places(
        session=session, batch_id=batch_id, region=region
    ):
        regions.add(treatment_region)
        tally = by_hospital.setdefault(hospital_id, Tally(hospital_id))
        tally.claims += 1
        tally.cross_claims += bool(is_cross)
        by_scope[bool(is_cross)].claims += 1
    if region and not regions:
        raise ReportError(
            _("batch {batch} has no claims treated in region {region}").format(batch=batch_id, region=region)
        )

    hits = queries.batch_hits_with_place(session=session, batch_id=batch_id, region=region)
    remember_rule_titles(session=session, batch_id=batch_id, words=words)

    families: dict[str, Tally] = {}
    rules: dict[str, Tally] = {}
    actions: dict[str, Tally] = {}
    severities: Counter[str] = Counter()
    claim_amount: dict[str, float] = {}
    claim_place: dict[str, tuple[str, bool]] = {}
    family_claims: dict[str, set[str]] = defaultdict(set)
    rule_claims: dict[str, set[str]] = defaultdict(set)
    for (
        claim_id,
        _patient,
        rule_id,
        family,
        severity,
        action,
        amount,
        _message,
        hospital_id,
        is_cross,
    ) in hits:
        amount = float(amount or 0)
        for table, key, label in (
            (families, family, words.family(family)),
            (rules, rule_id, words.rule_title(rule_id)),
            (actions, action, words.action(action)),
        ):
            tally = table.setdefault(key, Tally(key, label))
            tally.hits += 1
            tally.amount += amount
        rules[rule_id].extra.update(
            family=words.family(family), severity=words.severity(severity), action=words.action(action)
        )
        family_claims[family].add(claim_id)
        rule_claims[rule_id].add(claim_id)
        severities[severity] += 1
        claim_amount[claim_id] = max(claim_amount.get(claim_id, 0.0), amount)
        claim_place[claim_id] = (hospital_id, bool(is_cross))
        if hospital_id in by_hospital:
            by_hospital[hospital_id].hits += 1
    for family, tally in families.items():
        tally.claims_hit = len(family_claims[family])
    for rule_id, tally in rules.items():
        tally.claims_hit = len(rule_claims[rule_id])
    for claim_id, amount in claim_amount.items():
        hospital_id, is_cross = claim_place[claim_id]
        by_scope[is_cross].claims_hit += 1
        by_scope[is_cross].amount += amount
        tally = by_hospital.setdefault(hospital_id, Tally(hospital_id))
        tally.claims_hit += 1
        tally.amount += amount
    for scope in by_scope.values():
        scope.hits = sum(1 for h in hits if h[9] == (scope.key == "cross"))
    for hospital_id, tally in by_hospital.items():
        info = hospitals.get(hospital_id, {})
        tally.label = info.get("name") or hospital_id
        tally.extra = {
            "level": LEVEL_NAMES.get(str(info.get("level")), "—"),
            "region": words.region(info.get("region")),
        }

    top_hospitals = int(settings.get("summary.top_hospitals"))
    top_rules = int(settings.get("summary.top_rules"))
    family_list = sorted(families.values(), key=lambda t: (-t.amount, t.key))
    rule_list = sorted(rules.values(), key=lambda t: (-t.hits, t.key))
    action_list = sorted(actions.values(), key=lambda t: (-t.hits, t.key))
    hospital_list = sorted(by_hospital.values(), key=lambda t: (-t.amount, -t.claims_hit, t.key))
    claims_total = sum(t.claims for t in by_hospital.values())
    region_codes = sorted(regions)
    totals: dict[str, Any] = {
        "claims": claims_total,
        "cross_claims": by_scope[True].claims,
        "claims_hit": len(claim_amount),
        "hit_rate": len(claim_amount) / claims_total if claims_total else None,
        "hits": len(hits),
        "amount": sum(claim_amount.values()),
        "amount_hits": sum(float(h[6] or 0) for h in hits),
    }
    scope_list = [by_scope[True], by_scope[False]]
    chart_family = charts.bar_chart(
        [(t.label, t.amount) for t in family_list], title="各问题类别涉及金额（元）", value_label=wan_yuan
    )
    chart_hospitals = charts.bar_chart(
        [(t.label, t.amount) for t in hospital_list[:top_hospitals] if t.amount > 0],
        title="涉及金额最高的医院（元）", value_label=wan_yuan, label_width=260, color=charts.PALETTE[1],
    )  # fmt: skip
    chart_scope = charts.bar_chart(
        [(t.label, (t.hit_rate or 0.0) * 100) for t in scope_list],
        title="异地与本地病例命中率（%）", value_label=lambda v: f"{v:.1f}%", color=charts.PALETTE[2],
    )  # fmt: skip
    region_label = words.region(region_codes[0]) if len(region_codes) == 1 else f"{len(region_codes)}个统筹区"
    context = {
        "issuer": words.issuer(region_codes, settings.get("issuer")),
        "region_label": region_label,
        "batch": batch,
        "run": run,
        "totals": totals,
        "families": family_list,
        "rules": rule_list[:top_rules],
        "rules_total": len(rule_list),
        "actions": action_list,
        "severities": [
            (words.severity(s), severities[s])
            for s in ("critical", "high", "medium", "low", "info")
            if severities[s]
        ],
        "scopes": scope_list,
        "hospitals": hospital_list[:top_hospitals],
        "hospitals_total": len(hospital_list),
        "chart_family": chart_family,
        "chart_hospitals": chart_hospitals,
        "chart_scope": chart_scope,
    }

    def sheets() -> list[Sheet]:
        tally_columns = [
            Column("命中次数", "int", 10),
            Column("涉及病例数", "int", 10),
            Column("涉及金额（元）", "yuan", 16),
        ]
        overview = [
            ("批次", f"{batch.id}（{batch.file_name}）"), ("统筹区", region_label), ("筛查运行", run.id),
            ("规则版本", run.rules_version), ("病例数", totals["claims"]), ("其中省内异地", totals["cross_claims"]),
            ("命中病例数", totals["claims_hit"]), ("命中次数", totals["hits"]),
            ("涉及金额（元，按病例去重）", round(totals["amount"], 2)),
        ]  # fmt: skip
        hit_list = (
            (c, masker.mask(p), h, hospitals.get(h, {}).get("name", ""), "异地" if x else "本地", r, words.family(f),
             words.severity(s), words.action(a), float(m or 0), masker.mask_text(msg, [p]))
            for c, p, r, f, s, a, m, msg, h, x in hits
        )  # fmt: skip
        return [
            Sheet("概览", [Column("项目", width=28), Column("数值", width=40)], overview),
            Sheet("按问题类别", [Column("问题类别", width=18), *tally_columns], [(t.label, t.hits, t.claims_hit, round(t.amount, 2)) for t in family_list]),
            Sheet("按规则", [Column("规则", width=14), Column("规则名称", width=40), Column("问题类别", width=16), *tally_columns],
                  [(t.key, t.label, t.extra["family"], t.hits, t.claims_hit, round(t.amount, 2)) for t in rule_list]),
            Sheet("按医院", [Column("医院编码", width=16), Column("医院名称", width=36), Column("等级", width=8), Column("统筹区", width=14),
                          Column("病例数", "int", 10), Column("异地病例数", "int", 10), Column("命中病例数", "int", 10),
                          Column("命中率", "percent", 10), Column("涉及金额（元）", "yuan", 16)],
                  [(t.key, t.label, t.extra["level"], t.extra["region"], t.claims, t.cross_claims, t.claims_hit, t.hit_rate, round(t.amount, 2)) for t in hospital_list]),
            Sheet("命中明细", [Column("结算清单号", width=16), Column("参保人（脱敏）", width=18), Column("医院编码", width=16),
                           Column("医院名称", width=32), Column("就医类型", width=8), Column("规则", width=14), Column("问题类别", width=14),
                           Column("严重程度", width=8), Column("处理方式", width=10), Column("涉及金额（元）", "yuan", 14), Column("说明", width=80)],
                  hit_list),
        ]  # fmt: skip

    return Report(
        kind="summary",
        title="住院费用审核筛查结果汇总",
        template="summary.html.j2",
        context=context,
        sheets=sheets,
        formats=REPORT_FORMATS["summary"],
    )
