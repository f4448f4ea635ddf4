"""A small casebook with known numbers for the report tests: three hospitals, two quarters, four hits.

Hospitals HA (甲, 510100, level 3), HB (乙, 510100, level 2), HC (丙, 511300, level 3). Claims are
discharged in 2025Q2 (the previous period) and 2025Q3; the figures the tests expect are worked out in
the comments next to the claims. Hits are stored with the casebook's own data functions (start_run,
store_hits, finish_run), as a screen run would store them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.screening import ScreenRunCreate, finish_run, start_run, store_hits
from drgaudit.engine.hits import Hit
from tests.conftest import claim_row, write_table

HOSPITALS = [
    {"hospital_id": "HA", "name": "甲市示例人民医院", "region": "510100", "level": "3"},
    {"hospital_id": "HB", "name": "乙县示例中医医院", "region": "510100", "level": "2"},
    {"hospital_id": "HC", "name": "丙市示例中心医院", "region": "511300", "level": "3"},
]
GROUPS = [
    {
        "region": region,
        "scheme": "DRG",
        "group_code": code,
        "name": name,
        "weight": weight,
        "avg_cost": avg,
        "avg_los": "7",
    }
    for region in ("510100", "511300")
    for code, name, weight, avg in (
        ("FM19", "经皮冠状动脉支架植入", "2.0", "30000"),
        ("FR13", "急性心肌梗死，伴并发症或合并症", "1.5", "12000"),
        ("FR15", "急性心肌梗死，不伴并发症或合并症", "1.0", "10000"),
    )
]
LOCAL, CROSS = "510100", "510700"
PATIENT_A = "P510100000001"  # HA: discharged 2025-07-05, readmitted 2025-07-10 (within 15 days)
PATIENT_B = "P510100000077"  # HB: the high-cost FR13 case


@dataclass
class Casebook:
    """Ids the tests refer to."""

    claims_batch: int
    hospitals_batch: int
    split_claim: str = "CA-Q3-2"
    outlier_claim: str = "CB-Q3-5"
    cross_claim: str = "CC-Q3-1"


def _claim(
    claim_id: str,
    patient: str,
    hospital: str,
    insured: str,
    treatment: str,
    admit: date,
    days: int,
    group: str,
    cost: float,
) -> dict[str, str]:
    return claim_row(
        1, claim_id=claim_id, patient_id=patient, hospital_id=hospital, insured_region=insured, treatment_region=treatment,
        admit_date=admit.isoformat(), discharge_date=(admit + timedelta(days=days)).isoformat(), payment_scheme="DRG",
        group_code=group, total_cost=f"{cost:.2f}", fund_paid=f"{cost * 0.7:.2f}", self_pay=f"{cost * 0.2:.2f}",
        self_expense=f"{cost * 0.1:.2f}", fee_drug=f"{cost * 0.4:.2f}", fee_material=f"{cost * 0.2:.2f}", fee_bed="100.00",
    )  # fmt: skip


def claims() -> list[dict[str, str]]:
    """HA Q2: local 10,000 (FR15) and 12,000 (FR13), cross 20,000 (FM19); Q3: local 11,000 and 13,000
    (FR13, patient A twice: a 15-day readmission), cross 30,000 (FM19). HB Q3: five local FR13 claims,
    10,000 / 10,500 / 11,000 / 11,500 / 60,000 (the outlier). HC Q3: one cross FM19 claim of 25,000."""
    d = date
    return [
        _claim("CA-Q2-1", "P510100000010", "HA", LOCAL, LOCAL, d(2025, 4, 3), 5, "FR15", 10000),
        _claim("CA-Q2-2", "P510100000011", "HA", LOCAL, LOCAL, d(2025, 5, 3), 6, "FR13", 12000),
        _claim("CA-Q2-3", "P510700000012", "HA", CROSS, LOCAL, d(2025, 6, 3), 7, "FM19", 20000),
        _claim("CA-Q3-1", PATIENT_A, "HA", LOCAL, LOCAL, d(2025, 6, 28), 7, "FR13", 11000),
        _claim("CA-Q3-2", PATIENT_A, "HA", LOCAL, LOCAL, d(2025, 7, 10), 6, "FR13", 13000),
        _claim("CA-Q3-3", "P510700000013", "HA", CROSS, LOCAL, d(2025, 8, 1), 8, "FM19", 30000),
        _claim("CB-Q3-1", "P510100000071", "HB", LOCAL, LOCAL, d(2025, 7, 1), 5, "FR13", 10000),
        _claim("CB-Q3-2", "P510100000072", "HB", LOCAL, LOCAL, d(2025, 7, 2), 5, "FR13", 10500),
        _claim("CB-Q3-3", "P510100000073", "HB", LOCAL, LOCAL, d(2025, 7, 3), 5, "FR13", 11000),
        _claim("CB-Q3-4", "P510100000074", "HB", LOCAL, LOCAL, d(2025, 7, 4), 5, "FR13", 11500),
        _claim("CB-Q3-5", PATIENT_B, "HB", LOCAL, LOCAL, d(2025, 7, 5), 9, "FR13", 60000),
        _claim("CC-Q3-1", "P510100000099", "HC", LOCAL, "511300", d(2025, 9, 1), 6, "FM19", 25000),
    ]


def _hit(
    claim_id: str,
    patient: str,
    region: str,
    rule_id: str,
    family: str,
    severity: str,
    action: str,
    amount: float,
    message: str,
) -> Hit:
    evidence = {"facts": {"patient_id": patient, "claim_id": claim_id}, "thresholds": {}, "related_claims": [],
                "rule": {"id": rule_id, "title": f"{rule_id} 的标题", "version": "v1"}}  # fmt: skip
    return Hit(claim_id, rule_id, family, severity, action, amount, message, evidence, patient_id=patient, region=region,
               rule_file=f"{family}.yaml", rule_version="v1")  # fmt: skip


HITS = [
    _hit("CA-Q3-2", PATIENT_A, "510100", "SPLIT-001", "split_hospitalization", "high", "special_review", 16000.0,
         f"参保人{PATIENT_A}于2025-07-05出院后5天再次入院（CA-Q3-1），疑似分解住院。"),
    _hit("CA-Q3-2", PATIENT_A, "510100", "UPC-002", "upcoding", "medium", "deduct", 3000.0,
         "CA-Q3-2进入FR13（伴并发症或合并症），但未编码有效的CC/MCC。"),
    _hit("CB-Q3-5", PATIENT_B, "510100", "OUT-HIGH-001", "outlier_review", "medium", "special_review", 40000.0,
         "CB-Q3-5医疗费总额60,000.00元，为FR13病组次均费用12,000.00元的5.00倍。"),
    _hit("CC-Q3-1", "P510100000099", "511300", "COACH-001", "coaching_period", "high", "hold", 25000.0,
         "丙市示例中心医院处于辅导期，结算异地住院费用。"),
]  # fmt: skip


def build(
    session: Session,
    folder: Path,
    *,
    hospitals_table: list[dict[str, str]] | None = None,
    groups_table: list[dict[str, str]] | None = None,
    hits: list[Hit] | None = None,
) -> Casebook:
    """Import the hospitals, groups and claims and store the hits of one screen run of the claims batch
    (other hospital and group tables and hits may be given, e.g. with hostile names)."""
    folder.mkdir(parents=True, exist_ok=True)
    hospitals = import_file(
        write_table(folder / "hospitals.csv", hospitals_table or HOSPITALS), kind="hospitals", session=session
    )
    import_file(
        write_table(folder / "groups.csv", groups_table or GROUPS),
        kind="groups",
        session=session,
        version="t1",
    )
    batch = import_file(write_table(folder / "claims.csv", claims()), kind="claims", session=session)
    assert batch.rows_rejected == 0, batch.first_errors
    run = start_run(
        session=session,
        run=ScreenRunCreate(
            batch_id=batch.batch_id,
            source="test",
            rules_dir="rules",
            rules_version="v1",
            codes_source="test",
            codes_version="t",
        ),
    )
    store_hits(session=session, run=run, batch_id=batch.batch_id, hits=HITS if hits is None else hits)
    finish_run(session=session, run=run, status="done", patients=10, claims=12)
    return Casebook(claims_batch=batch.batch_id, hospitals_batch=hospitals.batch_id)


def add_meeting(
    session: Session,
    book: Casebook,
    *,
    close: bool = True,
    title: str = "2025年第10期特例单议会",
    attendees: list[tuple[str, str, str | None]] | None = None,
    reasons: tuple[str, str] = ("两次住院属同一疾病，按分解住院扣减", "费用与病情相符，按病组标准支付"),
) -> int:
    """Queue the batch's special-review claims (CA-Q3-2, CB-Q3-5), hear both at a meeting of 510100 with
    three attendees, deduct 3,000 from CA-Q3-2 and pay CB-Q3-5 by the group standard; returns the meeting id."""
    import datetime as dt

    from drgaudit.casebook import meetings, review
    from drgaudit.casebook.review_models import ReviewMeetingCreate
    from drgaudit.engine.loader import bundled_rules_dir, load_pack

    pack = load_pack(bundled_rules_dir())
    review.refresh_cases(session=session, batch_id=book.claims_batch, pack=pack, actor="测试")
    meeting = meetings.create_meeting(
        session=session,
        meeting=ReviewMeetingCreate(
            region="510100",
            held_on=dt.date(2025, 10, 15),
            title=title,
            location="三楼会议室",
            capacity=5,
        ),
        actor="测试",
    )
    meetings.schedule_cases(
        session=session,
        meeting_id=meeting.id,
        pack=pack,
        actor="测试",
        refs=[book.split_claim, book.outlier_claim],
        quota_override="专家组同意超额审议",
    )
    meetings.add_attendees(
        session=session, meeting_id=meeting.id, actor="测试",
        attendees=attendees or [("张明", "主持人", "市医保局"), ("李华", "审核专家", "省人民医院"), ("赵强", "记录人", None)],
    )  # fmt: skip
    review.decide_case(
        session=session, ref=book.split_claim, actor="张明", pack=pack,
        request=review.DecisionRequest(kind="deduct", reason=reasons[0], amount=3000.0),
    )  # fmt: skip
    review.decide_case(
        session=session, ref=book.outlier_claim, actor="张明", pack=pack,
        request=review.DecisionRequest(kind="standard", reason=reasons[1]),
    )  # fmt: skip
    if close:
        meetings.close_meeting(session=session, meeting_id=meeting.id, actor="张明", note="无其他事项。")
    return meeting.id
