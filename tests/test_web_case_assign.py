"""Assigning a case from its page: the 承办人 is chosen among the active auditors' accounts of the case's
region (a select, not free text), and a forged form naming anyone else is refused in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from drgaudit.casebook import review
from drgaudit.services import accounts as account_service
from tests import web_casebook
from tests.web_support import Browser, make_accounts, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_the_case_page_offers_only_auditors_of_the_cases_region(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    (tmp_path / "book").mkdir()
    book = web_casebook.build(session, tmp_path / "book")
    make_accounts(
        session, ("审核成都", "auditor:510100"), ("审核自贡", "auditor:510300"), ("审核停用", "auditor")
    )
    admin = account_service.cli_principal(session=session, user="admin")
    account_service.disable_user(session=session, principal=admin, username="审核停用")
    browser = Browser(web_app(db_url))
    assert browser.login("审核员").status_code == 303
    case = review.get_case(session=session, ref=book.case_h001)
    page = browser.get(f"/cases/{case.id}").text
    form = page[page.index(f'action="/cases/{case.id}/assign"') :]
    form = form[: form.index("</form>")]
    assert '<select name="assignee"' in form
    for name in ("审核员", "审核成都"):
        assert f'<option value="{name}"' in form
    for name in ("审核自贡", "审核停用", "秘书", "只读", "h001", "专家甲"):
        assert f'value="{name}"' not in form
    browser.token = browser.csrf(f"/cases/{case.id}")
    refused = browser.post(f"/cases/{case.id}/assign", {"assignee": "秘书", "version": str(case.version)})
    assert refused.status_code == 400 and "“秘书”不是本案统筹区审核员的有效账户" in refused.text
    session.expire_all()
    assert review.get_case(session=session, ref=case.id).assignee == case.assignee
    done = browser.post(f"/cases/{case.id}/assign", {"assignee": "审核成都", "version": str(case.version)})
    assert done.status_code == 303
    session.expire_all()
    assert review.get_case(session=session, ref=case.id).assignee == "审核成都"


def test_a_case_whose_assignee_is_no_longer_assignable_preselects_nobody(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """The case of 审核戊, since disabled, showed the first auditor of the list as its 承办人 in the
    select, and changing only the due date reassigned the case to that auditor. Now nobody is selected
    and the select says why; an unassigned case asks for a choice too; an assignable assignee stays
    selected."""
    (tmp_path / "book").mkdir()
    book = web_casebook.build(session, tmp_path / "book")
    make_accounts(session, ("审核戊", "auditor"))
    case = review.get_case(session=session, ref=book.case_h001)
    browser = Browser(web_app(db_url))
    assert browser.login("审核员").status_code == 303

    def form() -> str:
        page = browser.get(f"/cases/{case.id}").text
        part = page[page.index(f'action="/cases/{case.id}/assign"') :]
        return part[: part.index("</select>")]

    assert '<option value="" selected>请选择承办人</option>' in form()
    review.assign_case(session=session, ref=case.id or 0, assignee="审核戊", actor="审核员")
    assert '<option value="审核戊" selected>' in form() and 'value="" selected' not in form()
    admin = account_service.cli_principal(session=session, user="admin")
    account_service.disable_user(session=session, principal=admin, username="审核戊")
    shown = form()
    assert (
        '<option value="" selected>请选择（现承办人“审核戊”已不是本统筹区审核员的有效账户）</option>' in shown
    )
    assert shown.count(" selected") == 1
