"""PDF reports: the Chinese text is real text in a CJK font, and pages render to images (pdftoppm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session

from drgaudit.reports.meeting import build_minutes
from drgaudit.reports.render import write_report
from drgaudit.reports.summary import build_summary
from tests import needs, report_casebook


@pytest.fixture(autouse=True)
def cjk_font() -> None:
    needs.cjk_font()


@pytest.fixture
def book(session: Session, tmp_path: Path) -> report_casebook.Casebook:
    return report_casebook.build(session, tmp_path / "data")


def fonts(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            names.add(str(font.get_object().get("/BaseFont")))
    return names


def test_summary_pdf_has_the_chinese_title_in_a_cjk_font(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    path = write_report(
        build_summary(session=session, batch_id=book.claims_batch), "pdf", tmp_path / "summary.pdf"
    )
    reader = PdfReader(path)
    first = reader.pages[0].extract_text()
    assert "住院费用审核筛查结果汇总" in first and "医疗保障局" in first
    assert "乙县示例中医医院" in "".join(page.extract_text() for page in reader.pages)
    assert any("CJK" in name for name in fonts(reader)), fonts(reader)
    assert "第 1 页 / 共" in first  # page numbers from the print CSS


def test_minutes_pdf_page_renders_to_png(
    session: Session, book: report_casebook.Casebook, tmp_path: Path
) -> None:
    pdftoppm = needs.pdftoppm()
    meeting_id = report_casebook.add_meeting(session, book)
    path = write_report(
        build_minutes(session=session, meeting_id=meeting_id), "pdf", tmp_path / "minutes.pdf"
    )
    assert "特例单议会议纪要" in PdfReader(path).pages[0].extract_text()
    subprocess.run(
        [pdftoppm, "-r", "60", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True
    )
    [png] = sorted(tmp_path.glob("page*.png"))
    image = Image.open(png).convert("RGB")
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.02  # an A4 page
    colors = image.getcolors(maxcolors=width * height)
    dark = sum(n for n, (r, g, b) in colors if r + g + b < 384)  # text and rules
    red = sum(n for n, (r, g, b) in colors if r > 140 and g < 90 and b < 90)  # the issuer's red header
    assert dark > 3000 and red > 300, (dark, red)


def test_no_cjk_font_refuses_with_an_install_hint(
    session: Session, book: report_casebook.Casebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from drgaudit.cli.root import app
    from drgaudit.reports import fonts

    monkeypatch.setattr(fonts, "cjk_font_families", lambda: [])
    out = tmp_path / "summary.pdf"
    db = session.get_bind().url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        app, ["report", "summary", "--batch", str(book.claims_batch), "--out", str(out), "--db", db]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no Chinese (CJK) font is installed, so a PDF would show boxes instead of Chinese: "
        "apt-get install fonts-noto-cjk\n"
    )
    assert not out.exists()
    # HTML and XLSX need no font on this machine.
    html = CliRunner().invoke(
        app,
        [
            "report",
            "summary",
            "--batch",
            str(book.claims_batch),
            "--out",
            str(tmp_path / "s.html"),
            "--db",
            db,
        ],
    )
    assert html.exit_code == 0, html.output


def test_fonts_are_found_through_fontconfig_without_fc_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from drgaudit.reports import fonts

    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
    assert any("CJK" in name for name in fonts.cjk_font_families())
