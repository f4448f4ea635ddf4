"""Attachments: the type is decided by the content (PDF, JPEG, PNG), sizes are capped, active PDFs are
refused, and a file is downloaded only by those who may see its case or finding."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from drgaudit.casebook.attachments import (
    Attachment,
    AttachmentError,
    Upload,
    check_upload,
    detect_type,
    safe_name,
)
from tests import web_casebook
from tests.web_casebook import PDF
from tests.web_support import Browser, web_app

pytestmark = pytest.mark.usefixtures("fast_passwords")


def image(kind: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def test_types_come_from_the_content_not_the_name() -> None:
    assert detect_type(PDF) == "pdf"
    assert detect_type(image("PNG")) == "png"
    assert detect_type(image("JPEG")) == "jpeg"
    assert detect_type(b"MZ\x90\x00 an executable") is None
    assert detect_type(b"%PDF-1.4 cut short") is None  # no end-of-file marker
    assert detect_type(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) is None  # a PNG signature on garbage
    assert detect_type(b"<html><script>alert(1)</script>") is None
    with pytest.raises(AttachmentError, match="不是 PDF、JPEG 或 PNG"):
        check_upload(Upload("报告.pdf", b"<html>not a pdf</html>"), max_bytes=1000)
    assert check_upload(Upload("scan.bin", image("PNG")), max_bytes=10_000) == "png"
    assert safe_name("../../etc/passwd.png", "png") == "passwd.png"
    assert safe_name('a"<b>.exe', "pdf") == "ab.pdf"


def test_sizes_are_capped_and_active_pdfs_refused() -> None:
    with pytest.raises(AttachmentError, match="超过上限"):
        check_upload(Upload("big.pdf", PDF + b" " * 2048), max_bytes=1024)
    with pytest.raises(AttachmentError, match="文件为空"):
        check_upload(Upload("empty.pdf", b""), max_bytes=1024)
    active = PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>")
    with pytest.raises(AttachmentError, match="脚本"):
        check_upload(Upload("a.pdf", active), max_bytes=10_000)


@pytest.fixture
def site(db_url: str, session: Session, tmp_path: Path):
    book = web_casebook.build(session, tmp_path)
    return web_app(db_url, max_upload_mb=0.05), book


def count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Attachment)).scalar_one())


def test_uploads_on_the_web_are_checked_and_stored_whole_or_not_at_all(site, session: Session) -> None:
    app, book = site
    hospital = Browser(app)
    hospital.login("h001")
    before = count(session)
    renamed = {"files": ("证明.pdf", b"MZ this is an executable", "application/pdf")}
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "见附件"}, files=renamed)
    assert response.status_code == 400 and "不是 PDF、JPEG 或 PNG" in response.text
    two = [("files", ("a.png", image("PNG"), "image/png")), ("files", ("b.pdf", b"fake", "application/pdf"))]
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "两个附件"}, files=two)
    assert response.status_code == 400  # one bad file: neither is stored, nor the reply
    assert count(session) == before
    big = {"files": ("大.pdf", PDF + b"0" * 60_000, "application/pdf")}
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "大文件"}, files=big)
    assert response.status_code == 400 and "超过上限" in response.text
    huge = {"files": ("巨.pdf", b"0" * 2_000_000, "application/pdf")}
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "巨大"}, files=huge)
    assert response.status_code == 413  # refused by its Content-Length before being read
    ok = {"files": ("扫描件.jpg", image("JPEG"), "application/octet-stream")}
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "扫描件"}, files=ok)
    assert response.status_code == 303
    assert count(session) == before + 1
    stored = session.execute(select(Attachment).order_by(Attachment.id.desc())).scalars().first()
    assert (stored.content_type, stored.file_name) == ("image/jpeg", "扫描件.jpg")


def test_downloads_follow_the_case_s_scope(site) -> None:
    app, book = site
    other = Browser(app)
    other.login("h002")
    assert other.get(f"/attachments/{book.attachment}").status_code == 404
    assert other.get("/attachments/99999").status_code == 404
    auditor = Browser(app)
    auditor.login("审核员")
    response = auditor.get(f"/attachments/{book.attachment}")
    assert response.status_code == 200 and response.content == PDF
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_files_too_large_together_are_refused_with_a_page_that_says_what_to_do(
    site, session: Session
) -> None:
    """Files each within the limit but too large together got a bare line of text, '请求内容过大（上限 1 MB）',
    naming a limit the form did not (it said only 每个不超过 …)."""
    app, book = site
    hospital = Browser(app)
    hospital.login("h001")
    form = hospital.get(f"/cases/{book.case_h001}").text
    assert "一次合计不超过" in form
    before = count(session)
    several = [("files", (f"{n}.pdf", PDF + b"0" * 45_000, "application/pdf")) for n in range(30)]  # 1.4 MB
    response = hospital.post(f"/cases/{book.case_h001}/reply", {"body": "三十份病历"}, files=several)
    assert response.status_code == 413 and response.headers["content-type"].startswith("text/html")
    assert "一次提交的内容超过了 1 MB 的上限，未保存。请返回上一页，减少或压缩附件" in response.text
    assert '<link rel="stylesheet" href="/static/app.css">' in response.text
    assert count(session) == before and "三十份病历" not in hospital.get(f"/cases/{book.case_h001}").text
