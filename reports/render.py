"""Rendering reports: Jinja2 in a sandboxed, autoescaping environment to HTML; WeasyPrint to PDF; openpyxl to XLSX.

Templates live in `templates/` (package data). The HTML is one self-contained file: print CSS inline,
charts as inline SVG, no scripts, no external resources. The PDF is that HTML laid out by WeasyPrint
with a CJK font (Noto Sans/Serif CJK; Debian `fonts-noto-cjk`). Files are written to a temporary
name beside the target and moved into place, so a failed render leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from drgaudit.reports.document import FORMATS, Report, Sheet
from drgaudit.reports.errors import ReportError
from drgaudit.reports.fonts import missing_cjk_font
from drgaudit.reports.formatting import FILTERS

_NUMBER_FORMATS = {
    "int": "#,##0",
    "yuan": "#,##0.00",
    "percent": "0.0%",
    "decimal": "0.00",
    "date": "yyyy-mm-dd",
}


def environment() -> SandboxedEnvironment:
    """The Jinja2 environment of the reports: sandboxed, autoescaping, undefined names are errors."""
    env = SandboxedEnvironment(
        loader=PackageLoader("drgaudit.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(report: Report) -> str:
    """The report as one HTML document."""
    template = environment().get_template(report.template)
    return template.render(
        report=report, generated_at=dt.datetime.now().replace(microsecond=0), **report.context
    )


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a report gets the permissions the user's umask gives.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Text a spreadsheet could take for a formula or a command (CSV/formula injection): written as text,
# with Excel's quote prefix, so that neither opening nor editing the cell runs it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_pdf(html: str, path: Path) -> None:
    """Lay the HTML out as PDF with WeasyPrint; refuse (nothing written) when no font can draw Chinese."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the pango libraries are missing
        raise ReportError(
            f"PDF output needs WeasyPrint and the pango libraries: apt-get install libpango-1.0-0 libpangoft2-1.0-0 ({exc})"
        ) from exc
    missing = missing_cjk_font()
    if missing:
        raise ReportError(missing)
    with _atomic(path) as tmp:
        HTML(string=html).write_pdf(tmp)


def write_xlsx(sheets: list[Sheet], path: Path) -> None:
    """Write sheets in openpyxl's write-only mode (rows stream; memory does not grow with the list)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE6F0")
    for spec in sheets:
        sheet = workbook.create_sheet(spec.name[:31])
        for index, column in enumerate(spec.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        _page_setup(sheet, spec)
        header = []
        for column in spec.columns:
            cell = WriteOnlyCell(sheet, value=column.title)
            cell.font, cell.fill, cell.alignment = bold, fill, Alignment(wrap_text=True, vertical="center")
            header.append(cell)
        sheet.append(header)
        formats = [_NUMBER_FORMATS.get(column.kind) for column in spec.columns]
        rows = 1
        for row in spec.rows:
            rows += 1
            cells = []
            for value, number_format in zip(row, formats, strict=True):
                if isinstance(value, str):
                    cells.append(_text_cell(sheet, value))
                elif number_format is None or value is None:
                    cells.append(value)
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = number_format
                    cells.append(cell)
            sheet.append(cells)
        # A filter on every column of the header row, over all the rows written.
        sheet.auto_filter.ref = f"A1:{get_column_letter(max(1, len(spec.columns)))}{rows}"
        for index, column in enumerate(spec.columns, start=1):
            if column.choices and rows > 1:
                letter = get_column_letter(index)
                offered = DataValidation(
                    type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=True
                )
                offered.add(f"{letter}2:{letter}{rows}")
                sheet.data_validations.append(offered)
    with _atomic(path) as tmp:
        workbook.save(tmp)


def _text_cell(sheet: Any, value: str) -> Any:
    """A text value as a cell that is always text: never a formula (openpyxl takes any `=...` string for
    one), quote-prefixed when it starts like one, characters XML cannot hold shown as U+FFFD."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if not value.startswith(FORMULA_STARTS):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _page_setup(sheet: Any, spec: Sheet) -> None:
    """Print setup (written before the rows in write-only mode): A4, landscape when the sheet is wide,
    every column on one page width, the header row repeated on each page, sheet name above and page
    numbers below."""
    setup = sheet.page_setup
    setup.paperSize = 9  # A4
    setup.orientation = "landscape" if sum(c.width for c in spec.columns) > 100 else "portrait"
    setup.fitToWidth, setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    sheet.oddHeader.center.text = "&A"


def write_report(report: Report, fmt: str, path: Path | str) -> Path:
    """Render `report` as `fmt` (html, pdf or xlsx) into `path`; returns the path."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ReportError(f"unknown format `{fmt}`; choose one of {', '.join(FORMATS)}")
    if fmt not in report.formats:
        raise ReportError(
            f"the {report.kind} report has no {fmt} form; choose one of {', '.join(report.formats)}"
        )
    if fmt == "xlsx":
        assert report.sheets is not None
        write_xlsx(report.sheets(), path)
    elif fmt == "pdf":
        write_pdf(render_html(report), path)
    else:
        html = render_html(report)
        with _atomic(path) as tmp:
            tmp.write_text(html, encoding="utf-8")
    return path
