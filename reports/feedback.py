"""The feedback letter to one hospital (沟通反馈): its flagged cases and the decisions on them, plus an XLSX list.

Which cases: the hospital's claims with stored hits in `--batch` and/or discharged in `--period`; when a
claim was hit in several batches, the newest batch's hits count. Decisions come from the review queue
(`casebook.review`: the case's status and the decision in force). Only the hospital's own claims are listed
(every query filters on the hospital); a hit message that names a related claim of another hospital
(an earlier stay elsewhere, a transfer) shows `他院结算清单` instead of that claim's id; every patient
id is masked, in the table and inside the hit messages (see `masking`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from drgaudit.casebook import queries, review
from drgaudit.casebook.findings import claim_findings
from drgaudit.casebook.models import stored_id
from drgaudit.i18n import _
from drgaudit.reports.config import ReportSettings, load_settings
from drgaudit.reports.document import REPORT_FORMATS, Column, Report, Sheet
from drgaudit.reports.errors import ReportError
from drgaudit.reports.labels import LEVEL_NAMES, Vocabulary
from drgaudit.reports.masking import Masker
from drgaudit.reports.meeting import DECISION_NAMES, STATUS_NAMES
from drgaudit.reports.otherhospitals import OtherHospitals
from drgaudit.reports.periods import Period


@dataclass
class FlaggedCase:
    """One flagged claim of the hospital as the letter lists it (patient masked)."""

    claim_id: str
    patient: str
    admit: dt.date
    discharge: dt.date
    group: str
    total_cost: float
    cross_region: bool
    amount: float = 0.0
    problems: list[dict[str, Any]] = field(default_factory=list)
    status: str = "按筛查结果处理"
    decision: str = "—"
    decision_amount: float | None = None
    reason: str = ""


def hide_other_hospitals_claims(*, session: Session, hospital_id: str, cases: Iterable[FlaggedCase]) -> None:
    """Replace, in the hit messages, what names another hospital (the claim of an earlier stay elsewhere
    or of a transfer, that hospital's code and name) with 他院结算清单 / 他院: the letter names no other
    hospital's settlement (`drgaudit.reports.otherhospitals`)."""
    cases = list(cases)
    related = {r for case in cases for problem in case.problems for r in problem["related"]}
    others = OtherHospitals.of(session=session, hospital_id=hospital_id, related=related)
    for case in cases:
        for problem in case.problems:
            problem.pop("related")
            problem["message"] = others.hide(problem["message"])


# The columns and the sheet a hospital fills in; `drgaudit import replies` reads them back
# (drgaudit.services.feedback_replies).
FEEDBACK_KIND = "反馈类型"
FEEDBACK_KINDS = ("回复", "申诉")
FEEDBACK_TEXT = "医院反馈意见"
FEEDBACK_INFO = "反馈说明"


def build_feedback(
    *,
    session: Session,
    hospital_id: str,
    batch_id: int | None = None,
    period: Period | None = None,
    settings: ReportSettings | None = None,
    rules_dir: Path | None = None,
) -> Report:
    """The feedback letter of one hospital for a batch and/or a period of discharge."""
    if batch_id is None and period is None:
        raise ReportError("give --batch ID and/or --period to choose the cases of the letter")
    settings = settings or load_settings()
    words = Vocabulary.load(rules_dir, settings.get("region_names"))
    masker = Masker.from_settings(settings.get("masking"))
    hospital = queries.load_hospitals(session=session).get(hospital_id)
    if hospital is None:
        raise ReportError(
            f"no hospital {hospital_id} in the casebook (import it with `drgaudit import hospitals`)"
        )
    if batch_id is not None and queries.get_batch(session=session, batch_id=batch_id) is None:
        raise ReportError(
            _("no import batch {batch} in the casebook (see `drgaudit batches`)").format(batch=batch_id)
        )

    rows = queries.hospital_hits(
        session=session,
        hospital_id=hospital_id,
        batch_id=batch_id,
        first=period.start if period is not None else None,
        last=period.end if period is not None else None,
    )
    cases: dict[str, FlaggedCase] = {}
    newest: dict[str, int] = {}
    for row in rows:
        if newest.setdefault(row.claim_id, row.batch_id) != row.batch_id:
            continue  # an older batch's hits on a claim that a newer batch delivered again
        case = cases.get(row.claim_id)
        if case is None:
            case = cases[row.claim_id] = FlaggedCase(
                row.claim_id, masker.mask(row.claim_patient), row.admit_date, row.discharge_date, row.group_code or "—",
                float(row.total_cost), row.insured_region != row.treatment_region,
            )  # fmt: skip
        words.remember_rule(row.rule_id, row.evidence)
        ids = [row.patient_id, row.claim_patient]
        case.amount = max(case.amount, float(row.amount_at_risk or 0))
        case.problems.append(
            {"rule_id": row.rule_id, "title": words.rule_title(row.rule_id), "family": words.family(row.family),
             "action": words.action(row.action), "amount": float(row.amount_at_risk or 0), "message": masker.mask_text(row.message, ids),
             "related": [str(r) for r in (row.evidence or {}).get("related_claims") or []]}
        )  # fmt: skip
    hide_other_hospitals_claims(session=session, hospital_id=hospital_id, cases=cases.values())
    # Each hold/deduct hit is a finding the hospital answers: its state (and due date while open).
    states = {
        (f.claim_id, f.rule_id): f
        for found in claim_findings(session=session, claim_ids=list(cases)).values()
        for f in found
    }
    for case in cases.values():
        for problem in case.problems:
            finding = states.get((case.claim_id, problem["rule_id"]))
            problem["finding"] = (
                f"{finding.state_name}（答复期限 {finding.due_date}）" if finding and finding.state == "open"
                else finding.state_name if finding else None
            )  # fmt: skip

    review_cases = queries.review_cases_of_claims(
        session=session, hospital_id=hospital_id, claim_ids=list(cases)
    )
    totals: dict[str, list[float]] = {}
    for claim_id, case in cases.items():
        stored = review_cases.get(claim_id)
        if stored is not None:
            case.status = STATUS_NAMES.get(stored.status, stored.status)
            decision = review.current_decision(session=session, case_id=stored_id(stored))
            if decision is not None:
                case.decision = DECISION_NAMES.get(decision.kind, decision.kind)
                case.decision_amount = decision.amount
                case.reason = decision.reason
        key = case.decision if case.decision != "—" else "尚未作出决定"
        slot = totals.setdefault(key, [0, 0.0])
        slot[0] += 1
        slot[1] += case.decision_amount or 0.0
    case_list = list(cases.values())
    scope, short = [], []
    if period is not None:
        scope.append(f"{period.label}（出院日期 {period.span}）")
        short.append(f"{period.label}出院")
    if batch_id is not None:
        scope.append(f"第 {batch_id} 批次")
        short.append(f"第 {batch_id} 批次")
    context = {
        "issuer": words.issuer([hospital["region"]], settings.get("issuer")),
        "region_label": words.region(hospital["region"]),
        "hospital": hospital,
        "hospital_level": LEVEL_NAMES.get(str(hospital.get("level")), "—"),
        "scope": "、".join(scope),
        "scope_short": "、".join(short),
        "cases": case_list,
        "at_risk": sum(c.amount for c in case_list),
        "cross_cases": sum(c.cross_region for c in case_list),
        "totals": sorted(
            ((k, int(v[0]), v[1]) for k, v in totals.items()),
            key=lambda t: (t[0] == "尚未作出决定", -t[1], t[0]),
        ),
        "reply_days": int(settings.get("feedback.reply_days")),
        "today": dt.date.today(),
    }

    def sheets() -> list[Sheet]:
        case_columns = [
            Column("序号", "int", 6), Column("结算清单号", width=16), Column("参保人（脱敏）", width=18), Column("入院日期", "date", 12),
            Column("出院日期", "date", 12), Column("就医类型", width=8), Column("病组", width=8), Column("医疗费用（元）", "yuan", 14),
            Column("涉及金额（元）", "yuan", 14), Column("疑点", width=50), Column("审核状态", width=10), Column("决定", width=20),
            Column("决定金额（元）", "yuan", 14), Column("理由", width=40),
            Column(FEEDBACK_KIND, width=10, choices=FEEDBACK_KINDS), Column(FEEDBACK_TEXT, width=40),
        ]  # fmt: skip
        hit_columns = [
            Column("结算清单号", width=16), Column("规则", width=14), Column("规则名称", width=36), Column("问题类别", width=14),
            Column("处理方式", width=10), Column("涉及金额（元）", "yuan", 14), Column("说明", width=90),
            Column("疑点状态", width=24),
        ]  # fmt: skip
        return [
            Sheet("病例清单", case_columns, (
                (i, c.claim_id, c.patient, c.admit, c.discharge, "异地" if c.cross_region else "本地", c.group, c.total_cost,
                 c.amount, "；".join(p["title"] for p in c.problems), c.status, c.decision, c.decision_amount, c.reason, None, None)
                for i, c in enumerate(case_list, start=1))),
            Sheet("疑点明细", hit_columns, (
                (c.claim_id, p["rule_id"], p["title"], p["family"], p["action"], p["amount"], p["message"], p["finding"])
                for c in case_list for p in c.problems)),
            Sheet(FEEDBACK_INFO, [Column("项目", width=14), Column("内容", width=90)], (
                ("医院编码", hospital["hospital_id"]),
                ("医院名称", hospital.get("name") or hospital["hospital_id"]),
                ("范围", "、".join(scope)),
                ("填写说明", f"请在“病例清单”的“{FEEDBACK_KIND}”列选择“回复”（说明情况、补充材料）或“申诉”（对已作出的决定提出申诉），"
                           f"在“{FEEDBACK_TEXT}”列填写内容，{context['reply_days']}日内交回；"
                           "经办机构用 drgaudit import replies 读入，只读入本院病例。"),
            )),
        ]  # fmt: skip

    return Report(
        "feedback",
        "医保基金审核情况反馈函",
        "feedback.html.j2",
        context,
        sheets=sheets,
        formats=REPORT_FORMATS["feedback"],
    )
