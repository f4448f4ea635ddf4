"""Reading what pages send: query filters, uploaded files (size-capped while read), numbers and dates
typed by people (a bad value becomes a Chinese message, never a traceback)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import UploadFile
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from drgaudit.casebook.attachments import AttachmentError, Upload
from drgaudit.errors import DrgauditError
from drgaudit.reports.document import Report
from drgaudit.reports.render import write_report
from drgaudit.web.security import REPORT_CSP


class FormError(DrgauditError):
    """A value typed in a form that cannot be used (shown to the person in Chinese)."""


def text(value: Any) -> str | None:
    """A stripped text value, None when empty."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def number(value: Any, label: str) -> float | None:
    """A number typed by a person (commas allowed), None when empty."""
    raw = text(value)
    if raw is None:
        return None
    try:
        result = float(raw.replace(",", "").replace("，", ""))
    except ValueError:
        raise FormError(f"{label}“{raw}”不是数字") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise FormError(f"{label}“{raw}”不是数字")
    return result


def day(value: Any, label: str) -> dt.date | None:
    """A date YYYY-MM-DD, None when empty."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise FormError(f"{label}“{raw}”不是日期（年-月-日）") from None


def whole(value: Any, label: str, default: int) -> int:
    """A whole number (a page number…), the default when empty or bad."""
    raw = text(value)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return default


def count(value: Any, label: str) -> int | None:
    """A whole number typed by a person (a capacity…), None when empty; anything else is refused."""
    raw = text(value)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise FormError(f"{label}“{raw}”不是整数，请填写 1 以上的整数")
    return int(raw)


def read_uploads(files: Iterable[UploadFile] | None, *, max_bytes: int) -> list[Upload]:
    """The files of a form, each read up to one byte past the limit (the check refuses it then); file
    inputs left empty are skipped."""
    found = []
    for upload in files or []:
        if not upload.filename:
            continue
        data = upload.file.read(max_bytes + 1)
        found.append(Upload(upload.filename, data))
    return found


def report_response(report: Report, fmt: str, filename: str) -> Response:
    """A report rendered to a temporary file and sent as a download (the file is removed afterwards)."""
    fd, name = tempfile.mkstemp(prefix="drgaudit-report-", suffix=f".{fmt}")
    os.close(fd)
    path = Path(name)
    try:
        write_report(report, fmt, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    media = {
        "pdf": "application/pdf",
        "html": "text/html; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]
    headers = {"content-security-policy": REPORT_CSP}
    return FileResponse(
        path,
        media_type=media,
        filename=filename,
        headers=headers,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


__all__ = ["AttachmentError", "FormError"]
