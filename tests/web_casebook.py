"""A small casebook for the review service's tests, built through the real functions.

Two hospitals of treatment region 510100: H001 (its patients insured in 510700) and H002 (insured in
510300). Claims C000001–C000040 are H001's, C000041–C000060 H002's. Stored hits: C000001 and C000041
special_review (two review cases), C000002/C000003 and C000042 deduct (three findings). A meeting of
510100 holds H001's case, with the expert `专家甲` attending; H001's case carries a reply with a PDF;
an investigation request about C000001 is open (asked by 510700). Accounts (password PASSWORD): admin,
审核员 (auditor), 秘书 (secretary), 专家甲 (expert, attends), 专家乙 (expert, does not), h001 (hospital
H001), h002 (hospital H002), 参保地 (insured_region 510700), 参保地乙 (insured_region 510300), 只读
(viewer), dummy (viewer; administrators act on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook.attachments import Upload
from drgaudit.casebook.ingest import import_file
from drgaudit.casebook.review_models import ReviewMeetingCreate
from drgaudit.services import assist as assist_service
from drgaudit.services import cases as case_service
from drgaudit.services import meetings as meeting_service
from drgaudit.services.accounts import cli_principal
from tests.conftest import write_table
from tests.review_support import bundled_pack, claim, hit, import_claims, screen
from tests.web_support import make_accounts

# A minimal PDF: header, one empty page, trailer, end-of-file marker.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
ACCOUNTS = (
    ("审核员", "auditor"), ("秘书", "secretary"), ("专家甲", "expert"), ("专家乙", "expert"), ("h001", "hospital:H001"),
    ("h002", "hospital:H002"), ("参保地", "insured_region:510700"), ("参保地乙", "insured_region:510300"), ("只读", "viewer"),
    ("dummy", "viewer"),
)  # fmt: skip


@dataclass
class Book:
    """Ids of what the casebook holds."""

    case_h001: int
    case_h002: int
    meeting: int
    finding_h001: int
    finding_h002: int
    attachment: int
    request: int


def build(session: Session, folder: Path) -> Book:
    """Build the casebook described in the module docstring."""
    hospitals = [
        {"hospital_id": "H001", "name": "甲市示例人民医院", "region": "510100", "level": "3"},
        {"hospital_id": "H002", "name": "甲市示例中医医院", "region": "510100", "level": "2"},
    ]
    import_file(write_table(folder / "hospitals.csv", hospitals), kind="hospitals", session=session)
    rows = [claim(n) for n in range(1, 41)]
    rows += [claim(n, hospital_id="H002", insured_region="510300") for n in range(41, 61)]
    batch = import_claims(session, folder, rows)
    hits = [
        hit("C000001", "OUT-HIGH-001", amount=5000.0),
        hit("C000041", "OUT-HIGH-001", amount=4000.0),
        hit("C000002", "COST-001", action="deduct", amount=700.0),
        hit("C000003", "UPC-001", action="deduct", amount=900.0),
        hit("C000042", "COST-001", action="deduct", amount=600.0),
    ]
    screen(session, batch, hits, bundled_pack(), findings=True)
    make_accounts(session, *ACCOUNTS)
    secretary = cli_principal(session=session, user="秘书")
    meeting = meeting_service.create(
        session=session, principal=secretary,
        meeting=ReviewMeetingCreate(region="510100", held_on=date.today() + timedelta(days=7), title="第一次评议会", capacity=5),
    )  # fmt: skip
    case_h001 = case_service.find_case(session=session, principal=secretary, ref="C000001").id
    case_h002 = case_service.find_case(session=session, principal=secretary, ref="C000041").id
    meeting_service.schedule(
        session=session, principal=secretary, meeting_id=meeting.id, pack=bundled_pack(), refs=[case_h001],
        quota_override="测试",
    )  # fmt: skip
    from drgaudit.casebook.accounts import find_account

    expert = find_account(session=session, username="专家甲")
    meeting_service.add_attendees(
        session=session, principal=secretary, meeting_id=meeting.id, attendees=[("专家甲", "主审专家", None)],
        account_ids={"专家甲": expert.id},
    )  # fmt: skip
    hospital = cli_principal(session=session, user="h001")
    reply = case_service.reply(
        session=session, principal=hospital, ref=case_h001, text="补充病历", uploads=[Upload("病历.pdf", PDF)]
    )
    from drgaudit.casebook.attachments import list_attachments
    from drgaudit.casebook.findings import list_findings

    attachment = next(
        a for a in list_attachments(session=session, case_id=case_h001) if a.reply_id == reply.id
    )
    found, _ = list_findings(session=session)
    by_claim = {f.claim_id: f.id for f in found}
    request = assist_service.ask(
        session=session,
        principal=cli_principal(session=session, user="参保地"),
        claim_id="C000001",
        question="请核实是否在院",
    )
    return Book(
        case_h001, case_h002, meeting.id, by_claim["C000002"], by_claim["C000042"], attachment.id, request.id
    )
