"""foundation: claims and their codes and revisions, hospitals, group tables, import batches

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23

Written by hand from drgaudit.casebook.models; tests/test_casebook_schema.py checks that the migrated
schema and the models agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _money(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("imported_by", sa.String(), nullable=True),
        sa.Column("encoding", sa.String(), nullable=True),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_ok", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_new", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_revised", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_batch_kind_hash", "import_batch", ["kind", "content_hash"])

    op.create_table(
        "claim",
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("gender", sa.String(), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=True),
        sa.Column("newborn_weight_g", sa.Integer(), nullable=True),
        sa.Column("insured_region", sa.String(), nullable=False),
        sa.Column("treatment_region", sa.String(), nullable=False),
        sa.Column("insurance_type", sa.String(), nullable=False),
        sa.Column("hospital_id", sa.String(), nullable=False),
        sa.Column("dept_code", sa.String(), nullable=True),
        sa.Column("admit_date", sa.Date(), nullable=False),
        sa.Column("discharge_date", sa.Date(), nullable=False),
        sa.Column("admission_route", sa.String(), nullable=True),
        sa.Column("discharge_mode", sa.String(), nullable=False),
        sa.Column("readmit_plan_31d", sa.String(), nullable=True),
        sa.Column("principal_dx", sa.String(), nullable=False),
        sa.Column("secondary_dx", sa.Text(), nullable=True),
        sa.Column("procedures", sa.Text(), nullable=True),
        sa.Column("icu_hours", sa.Float(), nullable=True),
        sa.Column("ventilator_hours", sa.Float(), nullable=True),
        sa.Column("payment_scheme", sa.String(), nullable=False),
        sa.Column("group_code", sa.String(), nullable=True),
        _money("total_cost", nullable=False),
        _money("fund_paid"),
        _money("self_pay"),
        _money("self_expense"),
        _money("outside_purchase"),
        _money("fee_drug"),
        _money("fee_material"),
        _money("fee_lab"),
        _money("fee_exam"),
        _money("fee_treatment"),
        _money("fee_surgery"),
        _money("fee_nursing"),
        _money("fee_bed"),
        _money("fee_other"),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index("ix_claim_patient_discharge", "claim", ["patient_id", "discharge_date"])

    op.create_table(
        "claim_code",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.claim_id"]),
        sa.PrimaryKeyConstraint("code", "claim_id", "kind", "seq"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "claim_revision",
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_batch", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.claim_id"]),
        sa.ForeignKeyConstraint(["replaced_by_batch"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_claim_revision_claim_id", "claim_revision", ["claim_id"])

    op.create_table(
        "hospital",
        sa.Column("hospital_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("designated_on", sa.Date(), nullable=True),
        sa.Column("regional_center", sa.Boolean(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("hospital_id"),
    )

    op.create_table(
        "group_entry",
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("scheme", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("group_code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        _money("avg_cost", nullable=False),
        sa.Column("avg_los", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("region", "scheme", "version", "group_code", name="uq_group_entry_key"),
    )

    op.create_table(
        "batch_claim",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.claim_id"]),
        sa.PrimaryKeyConstraint("batch_id", "patient_id", "claim_id"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "rejected_row",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rejected_row_batch_id", "rejected_row", ["batch_id"])


def downgrade() -> None:
    for table in ("rejected_row", "batch_claim", "group_entry", "hospital", "claim_revision",
                  "claim_code", "claim", "import_batch"):
        op.drop_table(table)
