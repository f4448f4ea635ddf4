"""The casebook tables: claims and their codes and revisions, hospitals, group tables, import batches.

Columns of claims, hospitals and group entries carry the DATA-CONTRACT field names of
`drgaudit.contract`; `tests/test_casebook_schema.py` checks that the two stay the same. Money is
`Numeric(14, 2)` read back as float (the canonical record type); hours, weights and lengths of stay
are floating point. `secondary_dx` and `procedures` are stored `|`-joined on the claim and one code a
row in `claim_code`, so claims can be found by diagnosis or procedure.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlmodel import Field, Session, SQLModel

MONEY = Numeric(14, 2, asdecimal=False)
_Row = TypeVar("_Row", bound=SQLModel)
# SQLite stores the two link tables without a rowid: they are all key, written once per claim or code,
# and one b-tree each is half the work of a table plus an index.
_WITHOUT_ROWID = {"sqlite_with_rowid": False}


def _money() -> Any:
    return Field(default=None, sa_type=MONEY)


class Identified(Protocol):
    """A stored row with an integer key (`id` is None only before the row is flushed)."""

    @property
    def id(self) -> int | None: ...


# The largest integer every casebook column holds: ids and counts are INTEGER, signed 32 bits on
# PostgreSQL (SQLite's take 64). A larger number names no row; PostgreSQL refuses it in a comparison with
# such a column and the SQLite driver past 64 bits refuses to send it at all, so the library's lookups by
# a number a user gave (`get_by_id`, `bindable`) and the API's parameters stop it before any query.
MAX_STORED_INT = 2**31 - 1


def row_number(text: str) -> int | None:
    """The row id a text names: ASCII digits of a number up to `MAX_STORED_INT`; None otherwise (then it
    names no row: `"²"` is a digit to `str.isdigit` but not a number to `int`)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_STORED_INT else None


def get_by_id(session: Session, model: type[_Row], row_id: int) -> _Row | None:
    """`session.get(model, row_id)`; None, without a query, for an id no row can have (see
    `MAX_STORED_INT`): the library's lookups by a number a user gave go through here."""
    if not 0 <= row_id <= MAX_STORED_INT:
        return None
    return session.get(model, row_id)


def bindable(number: int) -> int:
    """An offset or limit of a query as it can be sent: at most `MAX_STORED_INT` (a larger one reaches
    past every row all the same)."""
    return min(number, MAX_STORED_INT)


def stored_id(row: Identified) -> int:
    """The key of a row that is in the database (added and flushed); a row without one is a bug here."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: it was not flushed")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel's types do not declare `Model.__table__`)."""
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


class ImportBatchBase(SQLModel):
    """One imported file: what it was, who imported it, and how its rows went."""

    kind: str
    file_name: str
    content_hash: str
    imported_by: str | None = None
    encoding: str | None = None
    version: str | None = None
    note: str | None = Field(default=None, sa_type=Text)
    rows_total: int = 0
    rows_ok: int = 0
    rows_rejected: int = 0
    rows_new: int = 0
    rows_unchanged: int = 0
    rows_revised: int = 0


class ImportBatchCreate(ImportBatchBase):
    """Input form of an import batch."""


class ImportBatch(ImportBatchBase, table=True):
    """An import batch as stored."""

    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_batch_kind_hash", "kind", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    imported_at: datetime = Field(sa_type=DateTime(timezone=True))


class ClaimBase(SQLModel):
    """The DATA-CONTRACT fields of one inpatient settlement (one row of a claims file)."""

    claim_id: str = Field(primary_key=True)
    patient_id: str
    gender: str
    age: int
    age_days: int | None = None
    newborn_weight_g: int | None = None
    insured_region: str
    treatment_region: str
    insurance_type: str
    hospital_id: str
    dept_code: str | None = None
    admit_date: date
    discharge_date: date
    admission_route: str | None = None
    discharge_mode: str
    readmit_plan_31d: str | None = None
    principal_dx: str
    secondary_dx: str | None = Field(default=None, sa_type=Text)
    procedures: str | None = Field(default=None, sa_type=Text)
    icu_hours: float | None = None
    ventilator_hours: float | None = None
    payment_scheme: str
    group_code: str | None = None
    total_cost: float = Field(sa_type=MONEY)
    fund_paid: float | None = _money()
    self_pay: float | None = _money()
    self_expense: float | None = _money()
    outside_purchase: float | None = _money()
    fee_drug: float | None = _money()
    fee_material: float | None = _money()
    fee_lab: float | None = _money()
    fee_exam: float | None = _money()
    fee_treatment: float | None = _money()
    fee_surgery: float | None = _money()
    fee_nursing: float | None = _money()
    fee_bed: float | None = _money()
    fee_other: float | None = _money()


class ClaimCreate(ClaimBase):
    """Input form of a claim."""


class Claim(ClaimBase, table=True):
    """A claim as stored: its newest content, revision number and the batch that last wrote it."""

    __tablename__ = "claim"
    __table_args__ = (Index("ix_claim_patient_discharge", "patient_id", "discharge_date"),)

    content_hash: str
    revision: int = 1
    batch_id: int = Field(foreign_key="import_batch.id")


class ClaimCodeBase(SQLModel):
    """One diagnosis (`dx`, secondary only) or procedure (`px`) of a claim, in file order from 1."""

    code: str
    claim_id: str = Field(foreign_key="claim.claim_id")
    kind: str
    seq: int


class ClaimCodeCreate(ClaimCodeBase):
    """Input form of a claim code."""


class ClaimCode(ClaimCodeBase, table=True):
    """A claim code as stored; the key starts with the code, so claims are found by code.

    A claim's own codes are read from its `secondary_dx` / `procedures` text, never from here.
    """

    __tablename__ = "claim_code"
    __table_args__ = (PrimaryKeyConstraint("code", "claim_id", "kind", "seq"), _WITHOUT_ROWID)


class ClaimRevisionBase(SQLModel):
    """The content a claim had before a later batch delivered it with different content."""

    claim_id: str = Field(foreign_key="claim.claim_id", index=True)
    revision: int
    content: dict[str, Any] = Field(sa_type=JSON)
    replaced_at: datetime = Field(sa_type=DateTime(timezone=True))
    replaced_by_batch: int = Field(foreign_key="import_batch.id")


class ClaimRevisionCreate(ClaimRevisionBase):
    """Input form of a claim revision."""


class ClaimRevision(ClaimRevisionBase, table=True):
    """A replaced claim content as stored."""

    __tablename__ = "claim_revision"

    id: int | None = Field(default=None, primary_key=True)


class HospitalBase(SQLModel):
    """The DATA-CONTRACT fields of one designated hospital."""

    hospital_id: str = Field(primary_key=True)
    name: str
    region: str
    level: str
    designated_on: date | None = None
    regional_center: bool | None = None
    # The end of a coaching period extended after violations (NHSA designated-hospital notice, 2025).
    coaching_until: date | None = None


class HospitalCreate(HospitalBase):
    """Input form of a hospital."""


class Hospital(HospitalBase, table=True):
    """A hospital as stored."""

    __tablename__ = "hospital"

    content_hash: str
    batch_id: int = Field(foreign_key="import_batch.id")


class GroupEntryBase(SQLModel):
    """One group of a region's DRG/DIP table in one version: weight (or score) and reference averages."""

    region: str
    scheme: str
    version: str
    group_code: str
    name: str | None = None
    weight: float
    avg_cost: float = Field(sa_type=MONEY)
    avg_los: float | None = None


class GroupEntryCreate(GroupEntryBase):
    """Input form of a group entry."""


class GroupEntry(GroupEntryBase, table=True):
    """A group entry as stored."""

    __tablename__ = "group_entry"
    __table_args__ = (
        UniqueConstraint("region", "scheme", "version", "group_code", name="uq_group_entry_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str
    batch_id: int = Field(foreign_key="import_batch.id")


class BatchClaimBase(SQLModel):
    """A claim a batch delivered (new, revised or unchanged), with its patient and row in the file."""

    batch_id: int = Field(foreign_key="import_batch.id")
    patient_id: str
    claim_id: str = Field(foreign_key="claim.claim_id")
    row: int


class BatchClaimCreate(BatchClaimBase):
    """Input form of a batch claim link."""


class BatchClaim(BatchClaimBase, table=True):
    """A batch claim link as stored, keyed by patient so a batch can be walked patient by patient.

    `patient_id` is the claim's patient as delivered by this batch.
    """

    __tablename__ = "batch_claim"
    __table_args__ = (PrimaryKeyConstraint("batch_id", "patient_id", "claim_id"), _WITHOUT_ROWID)


class RejectedRowBase(SQLModel):
    """One reason a row of an imported file was rejected, with the row's raw text."""

    batch_id: int = Field(foreign_key="import_batch.id", index=True)
    row: int
    field: str
    reason: str = Field(sa_type=Text)
    raw: str | None = Field(default=None, sa_type=Text)


class RejectedRowCreate(RejectedRowBase):
    """Input form of a rejected row."""


class RejectedRow(RejectedRowBase, table=True):
    """A rejected row as stored."""

    __tablename__ = "rejected_row"

    id: int | None = Field(default=None, primary_key=True)


TABLES = {
    "claims": table_of(Claim),
    "hospitals": table_of(Hospital),
    "groups": table_of(GroupEntry),
}
