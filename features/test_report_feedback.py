"""医院沟通反馈函: a hospital's letter holds only its own cases, with patient ids masked (reports.feedback)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pytest_bdd import given, parsers, scenarios, then, when
from sqlmodel import Session

from drgaudit.casebook.db import make_engine
from drgaudit.reports.feedback import build_feedback
from drgaudit.reports.periods import parse_period
from drgaudit.reports.render import render_html, write_report
from tests import report_casebook

scenarios("report_feedback.feature")

CLAIMS = {c["claim_id"]: c for c in report_casebook.claims()}
PATIENTS = {c["patient_id"] for c in CLAIMS.values()}


@dataclass
class Letter:
    """The casebook of the scenario and the letter made from it."""

    session: Session
    folder: Path
    book: report_casebook.Casebook | None = None
    report: Any = None
    html: str = ""
    cells: list[str] = field(default_factory=list)


@pytest.fixture
def letter(tmp_path: Path) -> Iterator[Letter]:
    engine = make_engine(f"sqlite:///{tmp_path / 'casebook.sqlite'}")
    try:
        with Session(engine) as session:
            yield Letter(session, tmp_path)
    finally:
        engine.dispose()


@given("案卷中有甲（HA）、乙（HB）、丙（HC）三家医院2025年二、三季度的住院结算，第三季度的疑点已筛查入库")
def casebook(letter: Letter) -> None:
    letter.book = report_casebook.build(letter.session, letter.folder / "data")


@given("特例单议会议决定：CA-Q3-2 扣减 3000 元，CB-Q3-5 按病组标准支付")
def meeting(letter: Letter) -> None:
    assert letter.book is not None
    report_casebook.add_meeting(letter.session, letter.book)


@when(parsers.parse("生成 {医院} {期间} 的反馈函及其 XLSX 清单"))
def make_letter(letter: Letter, 医院: str, 期间: str) -> None:
    letter.report = build_feedback(session=letter.session, hospital_id=医院, period=parse_period(期间))
    letter.html = re.sub(r"<style>.*?</style>", "", render_html(letter.report), flags=re.S)
    workbook = load_workbook(
        write_report(letter.report, "xlsx", letter.folder / f"{医院}.xlsx"), read_only=True
    )
    letter.cells = [
        str(v)
        for sheet in workbook
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]


@then(parsers.parse("反馈函列出的结算清单为 {编号}"))
def listed(letter: Letter, 编号: str) -> None:
    assert [c.claim_id for c in letter.report.context["cases"]] == 编号.split("、")


@then("反馈函和 XLSX 清单中没有其他医院的结算清单号")
def no_other_claims(letter: Letter) -> None:
    hospital = letter.report.context["hospital"]["hospital_id"]
    others = {claim_id for claim_id, c in CLAIMS.items() if c["hospital_id"] != hospital}
    assert not {claim_id for claim_id in others if claim_id in letter.html}
    assert not {claim_id for claim_id in others if any(claim_id in cell for cell in letter.cells)}


@then("反馈函和 XLSX 清单中没有未脱敏的参保人编号")
def no_patient_ids(letter: Letter) -> None:
    texts = [letter.html, *letter.cells]
    assert not {p for p in PATIENTS if any(p in text for text in texts)}


def _case(letter: Letter, 编号: str) -> Any:
    return next(c for c in letter.report.context["cases"] if c.claim_id == 编号)


@then(parsers.parse("病例 {编号} 在反馈函中的审核决定为 {决定}"))
def decision(letter: Letter, 编号: str, 决定: str) -> None:
    case = _case(letter, 编号)
    if case.decision_amount is None:
        assert 决定 == "尚未作出决定" and case.decision == "—"
        assert ("尚未作出决定", 1, 0.0) in letter.report.context["totals"]
    else:
        assert f"{case.decision} {case.decision_amount:,.2f} 元" == 决定
        assert f"<strong>{case.decision}</strong> {case.decision_amount:,.2f}元" in letter.html


@then(parsers.parse("病例 {编号} 在反馈函中的参保人编号为 {编号脱敏}"))
def masked(letter: Letter, 编号: str, 编号脱敏: str) -> None:
    assert _case(letter, 编号).patient == 编号脱敏 and 编号脱敏 in letter.html and 编号脱敏 in letter.cells


@then(parsers.parse("病例 {编号} 在反馈函中的疑点说明为"))
def message(letter: Letter, 编号: str, docstring: str) -> None:
    messages = [p["message"] for p in _case(letter, 编号).problems]
    assert docstring.strip() in messages and docstring.strip() in letter.html
