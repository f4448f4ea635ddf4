"""Import batches for a principal: list them with their latest screen run, import an uploaded file, screen
a claims batch (what `drgaudit import` and `drgaudit screen --batch` do, for the pages; the screen runs in
the background, `drgaudit.services.screenjobs`).

Both changes are an auditor's (`import.run`, `screen.run` in `drgaudit.services.access`); the batch records
who imported it and the review cases a screen makes or refreshes are logged with the account, its role
and the channel. An uploaded file is imported from a private temporary folder under its own (cleaned)
name, so the batch shows the name the person chose (in the background, `drgaudit.services.importjobs`);
its rejected rows stay in the casebook
(`rejected_row`), and the first of them are shown with their reasons.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlmodel import Session

from drgaudit.casebook import queries
from drgaudit.casebook.auditlog import Actor
from drgaudit.casebook.ingest import KINDS, ImportReport, Progress, import_file
from drgaudit.casebook.models import ImportBatch
from drgaudit.casebook.runlock import reap_stale_runs
from drgaudit.casebook.screening import ScreenRun
from drgaudit.errors import DataFileError, DrgauditError
from drgaudit.ingest.readers import FORMATS
from drgaudit.labels import LABELS
from drgaudit.reports.document import Column, Report, Sheet
from drgaudit.services.access import NOTHING, Denied, NotFound, Principal, Target, may, scopes, unrestricted
from drgaudit.services.accounts import acting
from drgaudit.services.screening import claims_batch

IMPORT, SCREEN, SUMMARY = "import.run", "screen.run", "report.summary"
# What the importer reads (drgaudit.ingest.readers.FORMATS): a file of another kind is refused up front.
SUFFIXES = tuple(FORMATS)
_UNSAFE = re.compile(r"[^\w.\-（）()]+")


class UploadError(DrgauditError):
    """An uploaded file that cannot be imported as it is (no name, a kind of file the importer does not read)."""


@dataclass
class BatchRow:
    """One batch as the page lists it, with its latest screen run (claims batches)."""

    batch: ImportBatch
    run: ScreenRun | None
    # Whether the viewer may download its rejected rows (`rejects_workbook`).
    rejects: bool = True


def batch_regions_of(principal: Principal) -> frozenset[str] | None:
    """The regions whose batches the principal sees on the batches page; None: every batch (a grant to
    import or screen without a region)."""
    found = scopes(principal, IMPORT) + scopes(principal, SCREEN)
    if unrestricted(found):
        return None
    return frozenset(s.value for s in found if s.value)


def may_see_batch(*, session: Session, principal: Principal, batch: ImportBatch) -> bool:
    """Whether the batch, its screens and their results are the principal's to see: any batch for a
    grant without a region; for an auditor bound to a region, the batches it imported and the claims
    batches whose every claim is treated in its region (those it may screen). Another region's batch
    (its file, counts, hits and amounts at risk) is that region's."""
    regions = batch_regions_of(principal)
    if regions is None or batch.imported_by == principal.username:
        return True
    if batch.kind != "claims":
        return False
    return set(queries.batch_regions(session=session, batch_id=int(batch.id or 0))) <= regions


def list_batches(*, session: Session, principal: Principal) -> list[BatchRow]:
    """The import batches the principal sees (`may_see_batch`), newest first, with their latest screen run
    (only for those who may import or screen)."""
    if not (may(principal, IMPORT) or may(principal, SCREEN)):
        return []
    # A run whose process is gone (a killed command, a stopped server) is shown failed, not 筛查中.
    reap_stale_runs(session=session)
    runs = queries.latest_runs(session=session)
    batches = list(reversed(queries.list_batches(session=session)))
    regions = batch_regions_of(principal)
    if regions is None:
        return [BatchRow(b, runs.get(b.id or 0)) for b in batches]
    # One query for all: the batches holding a claim treated elsewhere.
    outside = queries.batches_by_region(session=session, regions=regions, inside=False)
    return [
        BatchRow(b, runs.get(b.id or 0), rejects=mine)
        for b in batches
        if (mine := b.imported_by == principal.username) or (b.kind == "claims" and b.id not in outside)
    ]


def report_batches(*, session: Session, principal: Principal) -> list[ImportBatch]:
    """The claims batches the screening summary may be asked for (报表与反馈函): every one for a grant without
    a region; for one bound to regions, those holding a claim treated there (another region's batches,
    their file names and sizes, are that region's, as on the batches page)."""
    if not may(principal, SUMMARY):
        return []
    batches = [b for b in queries.list_batches(session=session) if b.kind == "claims"]
    found = scopes(principal, SUMMARY)
    if unrestricted(found):
        return batches
    regions = frozenset(s.value for s in found if s.column == "treatment_region" and s.value)
    within = queries.batches_by_region(session=session, regions=regions, inside=True)
    return [b for b in batches if b.id in within]


def import_regions(principal: Principal) -> frozenset[str] | None:
    """The regions the principal's imports may write into (rows of others are rejected, see
    `drgaudit.casebook.importscope`); None: any region (a grant without a region)."""
    found = scopes(principal, IMPORT)
    if unrestricted(found):
        return None
    return frozenset(s.value for s in found if s.value)


def import_actor(principal: Principal) -> tuple[Actor, frozenset[str] | None]:
    """The actor of an import and the regions it may write into (None: any); `Denied` for a principal
    who may import nowhere. An auditor bound to a region imports that region's rows."""
    regions = import_regions(principal)
    target = Target(treatment_region=min(regions)) if regions else NOTHING
    return acting(principal, IMPORT, target), regions


def code_tables_actor(principal: Principal) -> Actor:
    """The actor loading a set of code tables: they change how every region's claims are grouped and
    flagged, so an auditor bound to a region may not (`Denied`)."""
    regions = import_regions(principal)
    if regions:
        raise Denied(
            f"code tables apply to every region: `{principal.username}` may import only for "
            f"{', '.join(sorted(regions))}; an auditor without a region loads them"
        )
    return acting(principal, IMPORT)


def clean_name(name: str | None) -> str:
    """The uploaded file's own name, reduced to a safe file name that keeps its suffix (which chooses the
    reader); `UploadError` when it has no name or a suffix the importer does not read."""
    base = Path((name or "").replace("\\", "/")).name.strip()
    suffix = Path(base).suffix.lower()
    if suffix not in SUFFIXES:
        shown = f"“{base}”" if base else "未选择文件"
        raise UploadError(f"{shown}：请上传 CSV、JSONL 或 XLSX 文件（.csv、.jsonl、.xlsx）")
    stem = _UNSAFE.sub("_", Path(base).stem).strip("._")[:80] or "upload"
    return stem + suffix


@dataclass
class Upload:
    """An uploaded file saved for its import: the private folder holding it (removed with it), the file
    under its own (cleaned) name, what it holds, and who imports it into which regions (None: any)."""

    folder: Path
    path: Path
    kind: str
    version: str | None
    actor: Actor
    regions: frozenset[str] | None

    @property
    def name(self) -> str:
        return self.path.name

    def remove(self) -> None:
        """Remove the folder and the file in it (whatever became of the import)."""
        shutil.rmtree(self.folder, ignore_errors=True)


UPLOAD_PREFIX = "drgaudit-upload-"


def save_upload(
    *, principal: Principal, kind: str, name: str | None, data: IO[bytes], version: str | None = None
) -> Upload:
    """Check an upload (who imports, what, a file the importer reads, not empty) and save `data` (read in
    pieces) to a private temporary folder, for `import_upload`; nothing is left behind when refused."""
    actor, regions = import_actor(principal)
    if kind not in KINDS:
        raise UploadError(f"导入的数据须是 {', '.join(KINDS)} 之一")
    file_name = clean_name(name)
    folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))
    upload = Upload(
        folder, folder / file_name, kind, (version or None) if kind == "groups" else None, actor, regions
    )
    try:
        with upload.path.open("wb") as out:
            shutil.copyfileobj(data, out, 1024 * 1024)
        if upload.path.stat().st_size == 0:
            raise UploadError(f"“{file_name}”是空文件")
    except BaseException:
        upload.remove()
        raise
    return upload


def import_upload(*, session: Session, upload: Upload, progress: Progress | None = None) -> ImportReport:
    """Import a saved upload as one batch (`progress(rows read, fraction of the file read)` after every
    chunk); a file that cannot be imported is a `DataFileError` naming the file as the person named it."""
    try:
        report = import_file(
            upload.path, kind=upload.kind, session=session, imported_by=upload.actor, version=upload.version,
            rejects_path=upload.folder / "rejects.csv", regions=upload.regions, progress=progress,
        )  # fmt: skip
    except DataFileError as exc:
        # Named as the person named it, not by the temporary folder it was read from.
        raise DataFileError(upload.name, exc.message.replace(str(upload.path), upload.name)) from None
    report.path = upload.name
    report.rejects_path = None  # the rejected rows are in the casebook; the temporary file goes with the job
    return report


def rejects_workbook(*, session: Session, principal: Principal, batch_id: int) -> Report:
    """A batch's rejected rows as an XLSX sheet (row, field and its Chinese name, reason, the row as read),
    for the person who fixes the file; text that a spreadsheet would take for a formula stays text. An
    auditor bound to a region gets only the batches it imported (another's rows may be any region's)."""
    _actor, regions = import_actor(principal)
    batch = queries.get_batch(session=session, batch_id=batch_id)
    if batch is None or (regions is not None and batch.imported_by != principal.username):
        raise NotFound(f"no import batch {batch_id}")
    rows = queries.rejected_rows(session=session, batch_id=batch_id)
    columns = [
        Column("行", "int", 8), Column("字段", width=18), Column("字段名称", width=20), Column("原因", width=60),
        Column("原始内容", width=100),
    ]  # fmt: skip

    def sheets() -> list[Sheet]:
        return [
            Sheet(
                "拒收的行",
                columns,
                ((r.row, r.field, LABELS.get(r.field, ""), r.reason, r.raw or "") for r in rows),
            )
        ]

    return Report(
        "rejects",
        f"第 {batch_id} 批次拒收的行（{batch.file_name}）",
        "",
        {},
        sheets=sheets,
        formats=("xlsx",),
    )


def screening_actor(*, session: Session, principal: Principal, batch_id: int) -> Actor:
    """The actor of a stored screen of the batch, checked on every treatment region of its claims: storing
    the hits makes findings and review cases there, so an auditor bound to a region (`auditor:510100`)
    may not screen a batch that holds claims treated elsewhere (`Denied`, naming the regions)."""
    claims_batch(session, batch_id)  # refused first when there is no such claims batch (any number)
    regions = queries.batch_regions(session=session, batch_id=batch_id)
    outside = [r for r in regions if not may(principal, SCREEN, Target(treatment_region=r))]
    if outside:
        raise Denied(
            f"batch {batch_id} holds claims treated in {', '.join(outside)}, outside the regions "
            f"`{principal.username}` may screen"
        )
    return acting(principal, SCREEN, Target(treatment_region=regions[0]) if regions else NOTHING)
