"""Files attached to a case, a reply, an appeal or a finding (a hospital's evidence): PDF, JPEG or PNG,
stored in the casebook itself so a backup of the database holds them.

The type is decided by the content, never by the name or the browser's word: a PDF starts with
`%PDF-` and ends with `%%EOF` and carries no script, launch action or embedded file; a JPEG or PNG
must open and verify with Pillow. Anything else, an empty file, or a file above the size limit is
refused with a clear message. Every upload is logged (name, type, size, SHA-256; never the content).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, LargeBinary, or_, select
from sqlalchemy.orm import defer
from sqlmodel import Field, Session, SQLModel, col

from drgaudit.casebook import auditlog
from drgaudit.casebook.models import get_by_id
from drgaudit.errors import DrgauditError

ATTACHMENT = "attachment"
TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
# Names of PDF features that run something or carry other files: refused in evidence.
_PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia")


class AttachmentError(DrgauditError):
    """A file that cannot be attached: wrong type by content, empty, too large (messages in Chinese: the
    hospital reads them on the page)."""


class Attachment(SQLModel, table=True):
    """A stored file and what it belongs to (at least one of case, reply, appeal, finding)."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="review_case.id", index=True)
    finding_id: int | None = Field(default=None, foreign_key="finding.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="case_reply.id")
    appeal_id: int | None = Field(default=None, foreign_key="review_appeal.id")
    file_name: str
    content_type: str
    size: int
    sha256: str
    data: bytes = Field(sa_type=LargeBinary)
    uploaded_by: str
    uploaded_at: datetime = Field(sa_type=DateTime(timezone=True))


def detect_type(data: bytes) -> str | None:
    """`pdf`, `jpeg` or `png` when the content is one of them (checked, not guessed), else None."""
    if data.startswith(b"%PDF-"):
        return "pdf" if b"%%EOF" in data[-2048:] else None
    if data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n"):
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                kind = (image.format or "").lower()
                image.verify()
        except Exception:  # noqa: BLE001 - any failure to parse means "not a valid image"
            return None
        return kind if kind in ("jpeg", "png") else None
    return None


def safe_name(name: str, kind: str) -> str:
    """A file name fit to show and to send back: no path, no control characters, the right extension."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f\"<>|:*?]", "", base).strip(" .")[:120] or "附件"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    extension = {"pdf": "pdf", "jpeg": "jpg", "png": "png"}[kind]
    return f"{stem or '附件'}.{extension}"


@dataclass(frozen=True)
class Upload:
    """A file as received: its name as the browser gave it, and its bytes."""

    file_name: str
    data: bytes


def check_upload(upload: Upload, *, max_bytes: int) -> str:
    """The checked type of an upload; AttachmentError with the reason otherwise."""
    if not upload.data:
        raise AttachmentError(f"{upload.file_name or '文件'}：文件为空")
    if len(upload.data) > max_bytes:
        raise AttachmentError(
            f"{upload.file_name}：文件大小 {len(upload.data) / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB"
        )
    kind = detect_type(upload.data)
    if kind is None:
        raise AttachmentError(
            f"{upload.file_name}：不是 PDF、JPEG 或 PNG 文件（按文件内容判断，与文件名无关）"
        )
    if kind == "pdf" and any(marker in upload.data for marker in _PDF_ACTIVE):
        raise AttachmentError(f"{upload.file_name}：PDF 含有脚本、自动操作或嵌入文件，不予接收")
    return kind


def add_attachments(
    *,
    session: Session,
    uploads: list[Upload],
    actor: str,
    max_bytes: int,
    case_id: int | None = None,
    finding_id: int | None = None,
    reply_id: int | None = None,
    appeal_id: int | None = None,
    commit: bool = True,
) -> list[Attachment]:
    """Check and store files (all or none), each logged; the caller's change and these commit together
    when `commit` is False."""
    if case_id is None and finding_id is None:
        raise AttachmentError("附件须属于一个案件或一条疑点")
    checked = [
        (upload, check_upload(upload, max_bytes=max_bytes))
        for upload in uploads
        if upload.data or upload.file_name
    ]
    stored = []
    stamp = datetime.now(UTC)
    for upload, kind in checked:
        row = Attachment(
            case_id=case_id, finding_id=finding_id, reply_id=reply_id, appeal_id=appeal_id,
            file_name=safe_name(upload.file_name, kind), content_type=TYPES[kind], size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(), data=upload.data, uploaded_by=str(actor), uploaded_at=stamp,
        )  # fmt: skip
        session.add(row)
        stored.append(row)
    session.flush()
    auditlog.append_many(
        session=session,
        actor=actor,
        changes=[
            (
                ATTACHMENT,
                row.id,
                "attached",
                None,
                {
                    "case_id": row.case_id,
                    "finding_id": row.finding_id,
                    "reply_id": row.reply_id,
                    "appeal_id": row.appeal_id,
                    "file_name": row.file_name,
                    "content_type": row.content_type,
                    "size": row.size,
                    "sha256": row.sha256,
                },
            )  # fmt: skip
            for row in stored
        ],
    )
    if commit:
        session.commit()
    return stored


def list_attachments(
    *, session: Session, case_id: int | None = None, finding_ids: list[int] | None = None
) -> list[Attachment]:
    """The attachments of a case and/or of some findings, oldest first, without their content."""
    query = select(Attachment).options(defer(col(Attachment.data)))  # type: ignore[arg-type]
    conditions = []
    if case_id is not None:
        conditions.append(col(Attachment.case_id) == case_id)
    if finding_ids:
        conditions.append(col(Attachment.finding_id).in_(finding_ids))
    if not conditions:
        return []
    return list(session.execute(query.where(or_(*conditions)).order_by(col(Attachment.id))).scalars())


def get_attachment(*, session: Session, attachment_id: int) -> Attachment | None:
    """One attachment with its content."""
    return get_by_id(session, Attachment, attachment_id)
