"""Import and screening from the pages (/batches): an auditor uploads a claims file and screens it; what is
refused is refused with a Chinese message; every change is logged with the account, its role and `web`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from drgaudit.casebook import queries
from drgaudit.casebook.auditlog import AuditEntry
from drgaudit.casebook.review_models import ReviewCase
from drgaudit.casebook.screening import ScreenRun
from tests import web_casebook
from tests.conftest import claim_row, write_table
from tests.web_support import Browser, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def site(db_url: str, session: Session, tmp_path: Path):
    (tmp_path / "book").mkdir()
    web_casebook.build(session, tmp_path / "book")
    return web_app(db_url, max_import_mb=0.05)


def _signed_in(app, user: str = "审核员") -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 303
    browser.token = browser.csrf("/batches") if user == "审核员" else browser.token
    return browser


def _claims_file(tmp_path: Path) -> bytes:
    """Five claims of hospital H001 (treatment region 510100), the third with a total cost of '12,000.50';
    the fifth stays 70 days (LOS-001 flags it for special review)."""
    rows = [
        claim_row(100 + n, hospital_id="H001", treatment_region="510100", insured_region="510700", claim_id=f"U{n}",
                  patient_id=f"PU{n}")
        for n in range(5)
    ]  # fmt: skip
    rows[2]["total_cost"] = "12,000.50"
    rows[4].update(admit_date="2025-03-01", discharge_date="2025-05-10")
    return write_table(tmp_path / "claims.csv", rows).read_bytes()


def test_an_auditor_imports_a_file_and_screens_it_from_the_page(
    site, session: Session, tmp_path: Path
) -> None:
    browser = _signed_in(site)
    page = browser.get("/batches").text
    assert "导入与筛查" in page and 'id="upload-form"' in page
    response = browser.post(
        "/batches",
        {"table": "claims"},
        files={"upload": ("三月 结算清单.csv", _claims_file(tmp_path), "text/csv")},
    )
    assert response.status_code == 200, response.text[:500]
    page = response.text
    batch = max(b.id for b in queries.list_batches(session=session))
    assert f"已导入为第 {batch} 批次" in page and "导入 4 行" in page and "拒收 1 行" in page
    assert "医疗费总额（total_cost）" in page and "12,000.50" in page and "write 12000.50" in page
    assert "/tmp/" not in page  # named as uploaded, not by the temporary folder it was read from
    stored = queries.get_batch(session=session, batch_id=batch)
    assert stored is not None and stored.file_name == "三月_结算清单.csv" and stored.imported_by == "审核员"

    workbook = browser.get(f"/batches/{batch}/rejects.xlsx")
    assert workbook.status_code == 200 and f'href="/batches/{batch}/rejects.xlsx"' in page
    sheet = load_workbook(io.BytesIO(workbook.content))["拒收的行"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("行", "字段", "字段名称", "原因", "原始内容")
    assert rows[1][:3] == (4, "total_cost", "医疗费总额") and "12,000.50" in rows[1][4]
    assert browser.get("/batches/999/rejects.xlsx").status_code == 404

    again = browser.post(
        "/batches", {"table": "claims"}, files={"upload": ("again.csv", _claims_file(tmp_path))}
    )
    assert f"这个文件已在第 {batch} 批次导入过" in again.text

    done = browser.post(f"/batches/{batch}/screen")
    assert done.status_code == 303 and done.headers["location"] == "/batches"
    page = browser.get("/batches").text
    assert f"第 {batch} 批次筛查完成：4 份结算清单" in page and "审核案件新增 1 件" in page
    session.expire_all()
    run = session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).one()
    assert run.status == "done" and run.run_by == "审核员"
    case = session.exec(select(ReviewCase).where(ReviewCase.claim_id == "U4")).one()
    entry = session.exec(
        select(AuditEntry).where(
            AuditEntry.entity == "review_case",
            AuditEntry.entity_id == str(case.id),
            AuditEntry.action == "created",
        )
    ).one()
    assert (entry.actor, entry.role, entry.channel) == ("审核员", "auditor", "web")
    assert "重新筛查" in page  # screened batches offer a re-screen, with a confirmation


def test_what_cannot_be_imported_is_refused_in_chinese_and_nothing_is_written(
    site, session: Session, tmp_path: Path
) -> None:
    browser = _signed_in(site)
    before = len(queries.list_batches(session=session))
    refused = browser.post("/batches", {"table": "claims"}, files={"upload": ("notes.txt", b"claim_id\n1\n")})
    assert refused.status_code == 400 and "请上传 CSV、JSONL 或 XLSX 文件" in refused.text
    empty = browser.post("/batches", {"table": "claims"}, files={"upload": ("empty.csv", b"")})
    assert empty.status_code == 400 and "“empty.csv”是空文件" in empty.text
    unknown = browser.post("/batches", {"table": "drugs"}, files={"upload": ("a.csv", b"x\n1\n")})
    assert unknown.status_code == 400 and "导入的数据须是" in unknown.text
    headerless = browser.post("/batches", {"table": "claims"}, files={"upload": ("bad.csv", b"a,b\n1,2\n")})
    assert headerless.status_code == 400 and "bad.csv" in headerless.text and "/tmp/" not in headerless.text
    big = browser.post("/batches", {"table": "claims"}, files={"upload": ("big.csv", b"x" * 1_200_000)})
    assert big.status_code == 413
    not_claims = browser.post("/batches/1/screen")  # batch 1 holds hospitals
    assert not_claims.status_code == 400 and "不是结算清单" in not_claims.text
    assert len(queries.list_batches(session=session)) == before


def test_only_auditors_import_or_screen(site, tmp_path: Path) -> None:
    for user in ("秘书", "h001", "参保地", "只读"):
        browser = Browser(site)
        assert browser.login(user).status_code == 303
        assert browser.get("/batches").status_code == 403, user
        assert 'href="/batches"' not in browser.get("/").text, user
        token = browser.csrf("/password")
        upload = browser.client.post(
            "/batches", data={"table": "claims", "csrf_token": token},
            files={"upload": ("c.csv", _claims_file(tmp_path))},
        )  # fmt: skip
        assert upload.status_code == 403, user
        assert browser.client.post("/batches/2/screen", data={"csrf_token": token}).status_code == 403, user
    auditor = _signed_in(site)
    assert 'href="/batches"' in auditor.get("/").text
    # Without the form's CSRF token nothing is imported.
    forged = auditor.client.post(
        "/batches", data={"table": "claims"}, files={"upload": ("c.csv", b"claim_id\n")}
    )
    assert forged.status_code == 403


def test_screening_a_batch_that_is_no_claims_batch_is_refused_in_chinese(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """A forged screen of a hospitals batch, or of a batch that does not exist, was refused in English with
    a CLI hint ('batch 1 is a hospitals import, not claims', '… (see `drgaudit batches`)')."""
    web_casebook.build(session, tmp_path)
    auditor = Browser(web_app(db_url))
    assert auditor.login("审核员").status_code == 303
    page = auditor.post("/batches/1/screen", {})
    assert page.status_code == 400 and "第 1 批次导入的是医疗机构，不是结算清单" in page.text
    page = auditor.post("/batches/99/screen", {})
    assert page.status_code == 400 and "没有第 99 批次的导入数据" in page.text


def test_an_auditor_bound_to_a_region_screens_only_batches_of_that_region(
    site, session: Session, tmp_path: Path
) -> None:
    """Storing a screen's hits makes findings and review cases in each claim's treatment region: an
    auditor:510300 may not screen a batch of claims treated in 510100 (403, nothing stored); an
    auditor:510100 may. The command line checks the same (`screen --batch --user`)."""
    from typer.testing import CliRunner

    from drgaudit.cli.root import app as cli
    from tests.web_support import make_accounts

    make_accounts(session, ("审核丙", "auditor:510300"), ("审核丁", "auditor:510100"))
    auditor = _signed_in(site)
    auditor.post("/batches", {"table": "claims"}, files={"upload": ("c.csv", _claims_file(tmp_path))})
    batch = max(b.id for b in queries.list_batches(session=session))
    elsewhere = Browser(site)
    assert elsewhere.login("审核丙").status_code == 303
    elsewhere.token = elsewhere.csrf("/batches")
    refused = elsewhere.post(f"/batches/{batch}/screen")
    assert refused.status_code == 403
    assert session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).first() is None
    url = str(session.get_bind().url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["screen", "--batch", str(batch), "--user", "审核丙", "--db", url])
    assert result.exit_code != 0 and "510100" in result.output
    here = Browser(site)
    assert here.login("审核丁").status_code == 303
    here.token = here.csrf("/batches")
    assert here.post(f"/batches/{batch}/screen").status_code == 303
    session.expire_all()
    run = session.exec(select(ScreenRun).where(ScreenRun.batch_id == batch)).one()
    assert run.run_by == "审核丁"
