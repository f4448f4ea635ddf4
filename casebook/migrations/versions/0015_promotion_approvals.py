"""promotion approvals: who has promoted a pending rule-pack promotion so far, the requester first

Revision ID: 0015_promotion_approvals
Revises: 0014_import_jobs
Create Date: 2026-12-07

A region whose settings ask for three or more people (`pack_promotion_approvers: 3`) had its promotion
put in force by the second one: only the requester and the final approver were kept. `approvals` lists
every distinct person who promoted it; rows made before have none (the requester, and the approver once
approved, are read from their own columns).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_promotion_approvals"
down_revision: str | None = "0014_import_jobs"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("rule_pack_promotion") as batch:
        batch.add_column(sa.Column("approvals", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_pack_promotion") as batch:
        batch.drop_column("approvals")
