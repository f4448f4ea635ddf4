"""`drgaudit import replies FEEDBACK.xlsx`: a hospital's filled-in feedback workbook read back as replies and
appeals on its own cases; every other row named and refused; reading it again changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select
from typer.testing import CliRunner

from drgaudit.casebook import review
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.casebook.replies import case_replies
from drgaudit.casebook.review_models import ReviewAppeal
from drgaudit.cli.root import app
from drgaudit.reports.feedback import build_feedback
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import write_report
from tests import report_casebook

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def decided(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    """The report casebook after its meeting: CA-Q3-2 (hospital HA) deducted, CB-Q3-5 (HB) paid by the standard."""
    book = report_casebook.build(session, tmp_path / "data")
    report_casebook.add_meeting(session, book, close=True)
    return book


def workbook(session: Session, folder: Path, hospital: str = "HA") -> Path:
    """The hospital's feedback workbook for 2025Q3, as `drgaudit report feedback … --out x.xlsx` writes it."""
    path = folder / f"{hospital}.xlsx"
    write_report(
        build_feedback(session=session, hospital_id=hospital, period=parse_period("2025Q3")), "xlsx", path
    )
    return path


def fill(
    path: Path, rows: dict[str, tuple[str | None, str | None]], extra: list[tuple[str, str, str]] = ()
) -> None:
    """Write 反馈类型 and 医院反馈意见 into the rows of the named claims, as the hospital does in Excel;
    `extra` appends rows (claim, kind, text) the letter did not list."""
    book = load_workbook(path)
    sheet = book["病例清单"]
    header = [c.value for c in sheet[1]]
    claim_at, kind_at, text_at = (header.index(h) + 1 for h in ("结算清单号", "反馈类型", "医院反馈意见"))
    for row in range(2, sheet.max_row + 1):
        claim = sheet.cell(row, claim_at).value
        if claim in rows:
            kind, text = rows[claim]
            sheet.cell(row, kind_at).value, sheet.cell(row, text_at).value = kind, text
    for claim, kind, text in extra:
        row = sheet.max_row + 1
        sheet.cell(row, claim_at).value = claim
        sheet.cell(row, kind_at).value, sheet.cell(row, text_at).value = kind, text
    book.save(path)


def listed(path: Path) -> list[str]:
    sheet = load_workbook(path, read_only=True)["病例清单"]
    return [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)]


def run(db: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--db", db], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_replies_and_appeals_go_in_and_everything_else_is_named(
    db_url: str, session: Session, decided: report_casebook.Casebook, tmp_path: Path
) -> None:
    path = workbook(session, tmp_path)
    assert listed(path) == ["CA-Q3-2"]  # HA's flagged claim; its case is decided (deduct 3,000)
    fill(
        path,
        {"CA-Q3-2": ("申诉", "两次住院病因不同，附出院小结")},
        extra=[
            ("CA-Q3-1", "回复", "已核对"),  # a claim of HA with no review case
            (
                "CB-Q3-5",
                "回复",
                "这是他院病例",
            ),  # a case of HB: refused, and nothing told about it  # a case of HB: refused, and nothing told about it
            ("NOPE-1", "申诉", "不存在"),
            ("CA-Q3-2", "同意", "类型不对"),
            ("CA-Q3-2", "回复", None),
        ],
    )
    code, out, err = run(db_url, "import", "replies", str(path))
    assert code == 0, out + err
    assert out.splitlines() == [
        f"{path}: hospital HA: 0 replies and 1 appeals recorded, 0 unchanged, 5 refused",
        "  row 2: appeal on case 1 (CA-Q3-2)",
    ]
    assert err.splitlines() == [
        f"{path}:3: 结算清单号: no review case of hospital HA for claim CA-Q3-1",
        f"{path}:4: 结算清单号: no review case of hospital HA for claim CB-Q3-5",
        f"{path}:5: 结算清单号: no review case of hospital HA for claim NOPE-1",
        f"{path}:6: 反馈类型: `同意` is not a kind; choose 回复 (a reply) or 申诉 (an appeal)",
        f"{path}:7: 医院反馈意见: empty; a 回复 needs its text",
    ]
    case = review.get_case(session=session, ref="CA-Q3-2")
    session.refresh(case)
    assert case.status == "appealed"
    (appeal,) = review.case_appeals(session=session, case_id=case.id)
    assert appeal.reason == "两次住院病因不同，附出院小结"
    other = review.get_case(session=session, ref="CB-Q3-5")
    session.refresh(other)
    assert other.status == "closed" and case_replies(session=session, case_id=other.id) == []

    # The same workbook again: nothing filed twice.
    code, out, _err = run(db_url, "import", "replies", str(path))
    assert code == 0
    assert out.splitlines()[:2] == [
        f"{path}: hospital HA: 0 replies and 0 appeals recorded, 1 unchanged, 5 refused",
        "  row 2: already on case 1 (CA-Q3-2), unchanged",
    ]
    assert len(session.exec(select(ReviewAppeal)).all()) == 1


def test_a_reply_is_recorded_once_and_logged(
    db_url: str, session: Session, decided: report_casebook.Casebook, tmp_path: Path
) -> None:
    path = workbook(session, tmp_path)
    fill(path, {"CA-Q3-2": ("回复", "已按要求补充病程记录")})
    assert run(db_url, "import", "replies", str(path))[:2] == (
        0,
        f"{path}: hospital HA: 1 replies and 0 appeals recorded, 0 unchanged, 0 refused\n"
        "  row 2: reply on case 1 (CA-Q3-2)\n",
    )
    assert run(db_url, "import", "replies", str(path))[0] == 0
    (reply,) = case_replies(session=session, case_id=1)
    assert reply.text == "已按要求补充病程记录"
    replied = session.exec(select(AuditEntry).where(AuditEntry.action == "replied")).all()
    assert len(replied) == 1 and replied[0].entity_id == "1"
    case = review.get_case(session=session, ref=1)
    session.refresh(case)
    assert case.status == "closed"  # a reply does not reopen the case


def test_only_the_hospitals_own_account_may_answer_for_it(
    db_url: str, session: Session, decided: report_casebook.Casebook, tmp_path: Path, fast_passwords: None
) -> None:
    for name, role, by in (
        ("admin", "admin", []),
        ("ha", "hospital:HA", ["--user", "admin"]),
        ("hb", "hospital:HB", ["--user", "admin"]),
    ):
        code, out, err = run(
            db_url, "users", "add", name, f"--role={role}", "--password-stdin", *by, stdin=PASSWORD + "\n"
        )
        assert code == 0, out + err
    path = workbook(session, tmp_path)
    fill(path, {"CA-Q3-2": ("申诉", "请重新审议")})

    code, out, err = run(db_url, "import", "replies", str(path), "--user", "hb")
    assert code == 1  # filled in, and nothing could be taken
    assert out.splitlines() == [
        f"{path}: hospital HA: 0 replies and 0 appeals recorded, 0 unchanged, 1 refused"
    ]
    assert err.startswith(f"{path}:2: 反馈类型: ")
    assert "HB" not in err and review.case_appeals(session=session, case_id=1) == []

    code, out, err = run(db_url, "import", "replies", str(path), "--user", "ha")
    assert code == 0, out + err
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "appealed")).all()[-1]
    assert (entry.actor, entry.role, entry.channel) == ("ha", "hospital:HA", "cli")


def test_an_untouched_workbook_says_what_to_fill_in(
    db_url: str, session: Session, decided: report_casebook.Casebook, tmp_path: Path
) -> None:
    path = workbook(session, tmp_path)
    code, out, _err = run(db_url, "import", "replies", str(path))
    assert (code, out.splitlines()) == (
        0,
        [
            f"{path}: hospital HA: 0 replies and 0 appeals recorded, 0 unchanged, 0 refused",
            "nothing filled in: choose 回复 or 申诉 in the column 反馈类型 of the sheet 病例清单 and write the "
            "text in 医院反馈意见",
        ],
    )


def test_files_that_are_not_feedback_workbooks_are_refused_whole(
    db_url: str, session: Session, decided: report_casebook.Casebook, tmp_path: Path
) -> None:
    fake = tmp_path / "claims.xlsx"
    fake.write_text("claim_id,kind\nCA-Q3-2,申诉\n", encoding="utf-8")
    code, out, err = run(db_url, "import", "replies", str(fake))
    assert (code, out) == (1, "")
    assert err == f"error: {fake}: cannot be read as an XLSX workbook (save it from Excel or WPS as .xlsx)\n"

    other = tmp_path / "summary.xlsx"
    book = load_workbook(workbook(session, tmp_path))
    del book["反馈说明"]
    book.save(other)
    code, out, err = run(db_url, "import", "replies", str(other))
    assert code == 1 and out == ""
    assert err.startswith(f"error: {other}: no sheet 反馈说明: not a feedback workbook of drgaudit")
    assert review.case_appeals(session=session, case_id=1) == []
