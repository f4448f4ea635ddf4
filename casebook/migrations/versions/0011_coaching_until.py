"""coaching_until: the end of a hospital's extended coaching period (政策辅导期延长至)

Revision ID: 0011_coaching_until
Revises: 0010_queue_order
Create Date: 2026-12-05

The NHSA designated-hospital notice (2025) extends a new hospital's six-month coaching period by six
months after violations; the hospital record carries the date it then ends (COACH-001 reads it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_coaching_until"
down_revision: str | None = "0010_queue_order"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("hospital") as batch:
        batch.add_column(sa.Column("coaching_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospital") as batch:
        batch.drop_column("coaching_until")
