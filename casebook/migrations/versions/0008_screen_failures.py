"""screen failures: patients a run could not screen, and where a run's process was

Revision ID: 0008_screen_failures
Revises: 0007_review_web
Create Date: 2026-12-05

Screening is isolated per patient: a patient the engine fails on is recorded in `screen_failure`
(with its claims and the reason) and counted on its run; every other patient is screened. A run
records the host and process id that ran it and a note on why it failed (e.g. its process died).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_screen_failures"
down_revision: str | None = "0007_review_web"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("screen_run") as batch:
        batch.add_column(sa.Column("patients_failed", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claims_failed", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
    with op.batch_alter_table("screen_run") as batch:
        batch.alter_column("patients_failed", server_default=None)
        batch.alter_column("claims_failed", server_default=None)
    op.create_table(
        "screen_failure",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("claim_ids", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["screen_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_screen_failure_run_id"), "screen_failure", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_screen_failure_run_id"), table_name="screen_failure")
    op.drop_table("screen_failure")
    with op.batch_alter_table("screen_run") as batch:
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("note")
        batch.drop_column("claims_failed")
        batch.drop_column("patients_failed")
