"""screen jobs: a batch screen started from the pages, run in the background, with its progress

Revision ID: 0012_screen_jobs
Revises: 0011_coaching_until
Create Date: 2026-12-07

The pages no longer screen a batch inside the request: the screen runs in the background and its job
(who started it, progress, heartbeat, result or error) is a row every worker process of the service can
read. `active_batch` holds the batch id while the job runs and is unique: one running job per batch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_screen_jobs"
down_revision: str | None = "0011_coaching_until"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "screen_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("active_batch", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batch.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["screen_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_batch"),
    )
    op.create_index(op.f("ix_screen_job_batch_id"), "screen_job", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_screen_job_batch_id"), table_name="screen_job")
    op.drop_table("screen_job")
