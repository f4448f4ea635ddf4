"""A hospital's filled-in feedback workbook read back (`drgaudit import replies FEEDBACK.xlsx`).

`drgaudit report feedback … --out x.xlsx` writes the workbook: sheet 病例清单 lists the hospital's flagged
claims with two columns for the hospital to fill in, 反馈类型 (回复 or 申诉, a drop-down) and 医院反馈意见,
and sheet 反馈说明 names the hospital. Each filled-in row becomes a reply on the claim's review case or an
appeal against the decision in force, through the same services (and access checks) as the pages. Only
cases of the workbook's hospital are taken; a row naming any other claim, a row with a kind but no text,
an appeal on a case with no decision, … is refused as `file:row: column: reason` and the other rows still
go in, each in its own transaction. Reading the same workbook again changes nothing: a reply or appeal
already recorded with the same text is counted as unchanged.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from drgaudit.casebook import review
from drgaudit.casebook.review_models import ReviewAppeal, ReviewCase
from drgaudit.errors import DataFileError, DrgauditError
from drgaudit.ingest.readers import check_xlsx_parts
from drgaudit.reports.feedback import FEEDBACK_INFO, FEEDBACK_KIND, FEEDBACK_KINDS, FEEDBACK_TEXT
from drgaudit.services import cases as case_service
from drgaudit.services.access import Principal

CASE_SHEET = "病例清单"
CLAIM_COLUMN = "结算清单号"
HOSPITAL_ITEM = "医院编码"
REPLY, APPEAL = FEEDBACK_KINDS
# A feedback list holds one hospital's flagged claims of a batch or period: far fewer rows than this.
MAX_ROWS = 100_000
MAX_TEXT = 20_000


@dataclass(frozen=True)
class FeedbackRow:
    """One filled-in row of 病例清单: its row number in the sheet, the claim, 回复 or 申诉, and the text."""

    row: int
    claim_id: str
    kind: str
    text: str


@dataclass(frozen=True)
class Recorded:
    """A row that was taken: the case it went to and what it became (reply, appeal or unchanged)."""

    row: int
    case_id: int
    claim_id: str
    kind: str
    outcome: str  # "recorded" or "unchanged"


@dataclass(frozen=True)
class Refusal:
    """A row that was not taken: `file:row: column: reason`."""

    path: Path
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row}: {self.column}: {self.reason}"


@dataclass
class FeedbackWorkbook:
    """What the workbook says: its hospital, the filled-in rows and the rows refused while reading."""

    path: Path
    hospital_id: str
    rows: list[FeedbackRow] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    blank: int = 0  # rows the hospital left empty


@dataclass
class RepliesReport:
    """The result of reading a workbook back: rows taken (new or unchanged) and rows refused."""

    path: Path
    hospital_id: str
    taken: list[Recorded] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    blank: int = 0

    def count(self, kind: str, outcome: str = "recorded") -> int:
        return sum(1 for r in self.taken if r.kind == kind and r.outcome == outcome)

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.taken if r.outcome == "unchanged")


def read_feedback(path: Path) -> FeedbackWorkbook:
    """Read the hospital and the filled-in rows of a feedback workbook; DataFileError when it is not one."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    name = str(path)
    check_xlsx_parts(path, name)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:  # not a workbook
        raise DataFileError(
            name, "cannot be read as an XLSX workbook (save it from Excel or WPS as .xlsx)"
        ) from exc
    try:
        for sheet in (CASE_SHEET, FEEDBACK_INFO):
            if sheet not in book.sheetnames:
                raise DataFileError(
                    name,
                    f"no sheet {sheet}: not a feedback workbook of drgaudit "
                    "(make one with `drgaudit report feedback --hospital ID … --out FILE.xlsx`)",
                )
        hospital_id = _hospital_of(book[FEEDBACK_INFO], name)
        found = FeedbackWorkbook(path=path, hospital_id=hospital_id)
        _read_rows(book[CASE_SHEET], name, found)
    finally:
        book.close()
    return found


def _hospital_of(sheet: Any, name: str) -> str:
    for values in sheet.iter_rows(min_row=1, max_row=50, max_col=2, values_only=True):
        if values and _text(values[0]) == HOSPITAL_ITEM:
            hospital_id = _text(values[1] if len(values) > 1 else None)
            if hospital_id:
                return hospital_id
    raise DataFileError(name, f"sheet {FEEDBACK_INFO} names no hospital (row {HOSPITAL_ITEM})")


def _read_rows(sheet: Any, name: str, found: FeedbackWorkbook) -> None:
    rows = sheet.iter_rows(values_only=True)
    header = [_text(v) for v in next(rows, ())]
    missing = [c for c in (CLAIM_COLUMN, FEEDBACK_KIND, FEEDBACK_TEXT) if c not in header]
    if missing:
        raise DataFileError(name, f"sheet {CASE_SHEET} has no column {', '.join(missing)}")
    claim_at, kind_at, text_at = (header.index(c) for c in (CLAIM_COLUMN, FEEDBACK_KIND, FEEDBACK_TEXT))
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise DataFileError(name, f"sheet {CASE_SHEET} has more than {MAX_ROWS:,} rows")
        cells = list(values) + [None] * len(header)
        claim_id, kind, text = _text(cells[claim_at]), _text(cells[kind_at]), _text(cells[text_at])
        if not kind and not text:
            found.blank += 1
            continue
        problem = _row_problem(claim_id, kind, text)
        if problem:
            found.refused.append(Refusal(found.path, number, *problem))
        else:
            found.rows.append(FeedbackRow(number, claim_id, kind, text))


def _row_problem(claim_id: str, kind: str, text: str) -> tuple[str, str] | None:
    """(column, reason) of what is wrong with a filled-in row, or None."""
    if not claim_id:
        return CLAIM_COLUMN, "empty"
    if kind not in FEEDBACK_KINDS:
        shown = f"`{kind}` is not a kind" if kind else "empty"
        return FEEDBACK_KIND, f"{shown}; choose {REPLY} (a reply) or {APPEAL} (an appeal)"
    if not text:
        return FEEDBACK_TEXT, f"empty; a {kind} needs its text"
    if len(text) > MAX_TEXT:
        return FEEDBACK_TEXT, f"longer than {MAX_TEXT:,} characters"
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def import_replies(*, session: Session, principal: Principal, path: Path) -> RepliesReport:
    """Record the workbook's filled-in rows as replies and appeals on the hospital's cases (see module)."""
    book = read_feedback(path)
    report = RepliesReport(
        path=path, hospital_id=book.hospital_id, refused=list(book.refused), blank=book.blank
    )
    for row in book.rows:
        try:
            report.taken.append(_take(session=session, principal=principal, book=book, row=row))
        except _NoSuchCase as exc:
            session.rollback()
            report.refused.append(Refusal(path, row.row, CLAIM_COLUMN, str(exc)))
        except DrgauditError as exc:
            # Not allowed, or not now (an appeal on a case with no decision in force, …): the row's
            # kind is what cannot be done.
            session.rollback()
            report.refused.append(Refusal(path, row.row, FEEDBACK_KIND, str(exc)))
    report.refused.sort(key=lambda r: r.row)
    return report


class _NoSuchCase(DrgauditError):
    """The workbook's hospital has no review case for the row's claim."""


def _take(*, session: Session, principal: Principal, book: FeedbackWorkbook, row: FeedbackRow) -> Recorded:
    case = session.execute(
        select(ReviewCase).where(col(ReviewCase.claim_id) == row.claim_id, col(ReviewCase.hospital_id) == book.hospital_id)
    ).scalars().first()  # fmt: skip
    if case is None or case.id is None:
        # The same answer for a claim of another hospital and one that has no case: the workbook names
        # one hospital, and nothing about any other is told.
        raise _NoSuchCase(f"no review case of hospital {book.hospital_id} for claim {row.claim_id}")
    if row.kind == APPEAL:
        if _appealed_already(session=session, case=case, reason=row.text):
            return Recorded(row.row, case.id, row.claim_id, row.kind, "unchanged")
        case_service.appeal(session=session, principal=principal, ref=case.id, reason=row.text)
    else:
        if _replied_already(session=session, case=case, text=row.text):
            return Recorded(row.row, case.id, row.claim_id, row.kind, "unchanged")
        case_service.reply(session=session, principal=principal, ref=case.id, text=row.text)
    return Recorded(row.row, case.id, row.claim_id, row.kind, "recorded")


def _appealed_already(*, session: Session, case: ReviewCase, reason: str) -> bool:
    """An appeal with this text against the decision now in force is on record."""
    decision = review.current_decision(session=session, case_id=case.id) if case.id is not None else None
    if decision is None:
        return False
    return any(
        a.decision_id == decision.id and a.reason == reason
        for a in session.execute(select(ReviewAppeal).where(col(ReviewAppeal.case_id) == case.id)).scalars()
    )


def _replied_already(*, session: Session, case: ReviewCase, text: str) -> bool:
    from drgaudit.casebook.replies import case_replies

    assert case.id is not None
    return any(r.text == text for r in case_replies(session=session, case_id=case.id))
