"""The clearing statement (异地就医审核结果清算对账表): for a period, per pair of treatment and insured
region, the cross-region claims settled between them and what the audit made of them, for the yearly
clearing (结算清算) both sides do.

Figures come from `casebook.clearing` (definitions there): claims, total cost and fund paid; review
cases and the decisions in force (special payment approved, deducted, merged, referred and held);
hospital findings (deductions and holds: final at the amount that stands, open at the amount in
question); investigation requests (协查) by result. Amounts of review decisions and of findings are shown
side by side and never added: a claim may carry both (one rule sends it to review, another deducts), and
the clearing decides how each is applied. The XLSX lists every claim with an outcome; patient ids are
masked (see `masking`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook.clearing import ClaimOutcome, PairTotals, claim_outcomes, pair_totals
from drgaudit.contract import region_relation
from drgaudit.labels import VALUE_LABELS
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.document import REPORT_FORMATS, Column, Report, Sheet
from drgaudit.reports.labels import ACTION_NAMES, Vocabulary
from drgaudit.reports.masking import Masker
from drgaudit.reports.meeting import DECISION_NAMES, STATUS_NAMES
from drgaudit.reports.periods import Period

FINDING_STATE_NAMES = VALUE_LABELS["finding.state"]
ASSIST_RESULT_NAMES = VALUE_LABELS["assist.result"]
RELATION_NAMES = VALUE_LABELS["region_relation"]
FINDING_ACTIONS = ("deduct", "hold")


def _totals(rows: list[PairTotals]) -> PairTotals:
    """The sum of the pairs' rows (codes left empty)."""
    total = PairTotals("", "")
    for row in rows:
        total.add(row)
    return total


def _assist_text(row: PairTotals) -> str:
    parts = [f"{ASSIST_RESULT_NAMES.get(k, k)} {n}" for k, n in sorted(row.assist_results.items())]
    if row.assists_open:
        parts.append(f"待答复 {row.assists_open}")
    return "，".join(parts) or "—"


def _findings_text(outcome: ClaimOutcome) -> str:
    return "；".join(
        f"{ACTION_NAMES.get(action, action)} {amount:,.2f} 元（{FINDING_STATE_NAMES.get(state, state)}"
        + (f"，最终 {final:,.2f} 元" if final is not None else "")
        + "）"
        for action, state, amount, final in outcome.findings
    )


def _assists_of(outcome: ClaimOutcome) -> str:
    return "；".join(
        "待答复" if status == "open" else ASSIST_RESULT_NAMES.get(result or "", result or "已答复")
        for status, result in outcome.assists
    )


def build_clearing(
    *,
    session: Session,
    period: Period,
    region: str | None = None,
    insured_region: str | None = None,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The clearing statement of a period of discharge, optionally of one treatment region and/or one
    insured region (an insured region's account gets only its own)."""
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    masker = Masker.from_settings(settings.get("masking"))
    first, last = period.start, period.end
    rows = pair_totals(session=session, first=first, last=last, region=region, insured_region=insured_region)
    outcomes = claim_outcomes(
        session=session, first=first, last=last, region=region, insured_region=insured_region
    )
    total = _totals(rows)
    treatments = sorted({r.treatment_region for r in rows} | ({region} if region else set()))
    scope = [f"{period.label}（出院日期 {period.span}）"]
    if region:
        scope.append(f"就医地 {words.region(region)}")
    if insured_region:
        scope.append(f"参保地 {words.region(insured_region)}")
    context = {
        "issuer": words.issuer(treatments, settings.get("issuer")),
        "scope": "，".join(scope),
        "rows": rows,
        "total": total,
        "outcomes": outcomes[: int(settings.get("clearing.claims_listed"))],
        "outcomes_total": len(outcomes),
        "masked": lambda o: masker.mask(o.patient_id),
        "status_name": lambda o: STATUS_NAMES.get(o.case_status or "", "—"),
        "decision_name": lambda o: DECISION_NAMES.get(o.decision or "", "—"),
        "findings_text": _findings_text,
        "assists_text": _assists_of,
        "region_name": words.region,
        "relation": lambda r: RELATION_NAMES[region_relation(r.insured_region, r.treatment_region)],
        "assist_text": _assist_text,
        "finding_actions": FINDING_ACTIONS,
        "action_names": ACTION_NAMES,
        "today": dt.date.today(),
    }

    def sheets() -> list[Sheet]:
        pair_columns = [
            Column("就医地", width=16), Column("参保地", width=16), Column("类型", width=10), Column("结算病例数", "int", 10),
            Column("医疗费总额（元）", "yuan", 16), Column("基金支付（元）", "yuan", 16), Column("审核案件数", "int", 10),
            Column("未结案件数", "int", 10), Column("未结案件涉及金额（元）", "yuan", 16), Column("按病组标准支付", "int", 10),
            Column("特例追加支付（件）", "int", 10), Column("特例追加支付（元）", "yuan", 16), Column("扣减与合并结算（件）", "int", 10),
            Column("扣减与合并结算（元）", "yuan", 16), Column("移交调查（件）", "int", 10), Column("移交调查暂缓（元）", "yuan", 16),
            Column("疑点扣减已定（元）", "yuan", 16), Column("疑点暂缓支付已定（元）", "yuan", 16),
            Column("疑点待定（件）", "int", 10), Column("疑点待定金额（元）", "yuan", 16), Column("协查（件）", "int", 10),
            Column("协查结果", width=30),
        ]  # fmt: skip

        def pair_row(r: PairTotals, first: str, second: str, kind: str) -> tuple[Any, ...]:
            return (
                first, second, kind, r.claims, r.total_cost, r.fund_paid, r.cases, r.cases_open, r.open_at_risk,
                r.standard, r.special, r.special_amount, r.deducted, r.deducted_amount, r.referred, r.referred_amount,
                r.findings_standing.get("deduct", 0.0), r.findings_standing.get("hold", 0.0),
                sum(r.findings_open.values()), round(sum(r.findings_open_amount.values()), 2), r.assists, _assist_text(r),
            )  # fmt: skip

        claim_columns = [
            Column("就医地", width=16), Column("参保地", width=16), Column("医院编码", width=16), Column("结算清单号", width=18),
            Column("参保人（脱敏）", width=18), Column("出院日期", "date", 12), Column("病组", width=8),
            Column("医疗费总额（元）", "yuan", 14), Column("基金支付（元）", "yuan", 14), Column("审核状态", width=10),
            Column("审核决定", width=22), Column("决定金额（元）", "yuan", 14), Column("医院疑点", width=50), Column("协查", width=16),
        ]  # fmt: skip
        return [
            Sheet("按统筹区汇总", pair_columns, [
                *(pair_row(r, f"{words.region(r.treatment_region)}（{r.treatment_region}）",
                           f"{words.region(r.insured_region)}（{r.insured_region}）",
                           RELATION_NAMES[region_relation(r.insured_region, r.treatment_region)]) for r in rows),
                pair_row(total, "合计", "", ""),
            ]),
            Sheet("病例明细", claim_columns, (
                (f"{words.region(o.treatment_region)}（{o.treatment_region}）", f"{words.region(o.insured_region)}（{o.insured_region}）",
                 o.hospital_id, o.claim_id, masker.mask(o.patient_id), o.discharge_date, o.group_code or "—", o.total_cost,
                 o.fund_paid, STATUS_NAMES.get(o.case_status or "", "—"), DECISION_NAMES.get(o.decision or "", "—"),
                 o.decision_amount, _findings_text(o) or "—", _assists_of(o) or "—")
                for o in outcomes)),
        ]  # fmt: skip

    return Report(
        "clearing",
        "异地就医住院费用审核结果清算对账表",
        "clearing.html.j2",
        context,
        sheets=sheets,
        formats=REPORT_FORMATS["clearing"],
    )
