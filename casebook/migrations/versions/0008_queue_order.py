"""queue order: indexes on review_case (priority, id) and (due_date, id) for the queue page's sort

Revision ID: 0008_queue_order
Revises: 0007_review_web
Create Date: 2026-12-05

The review service's queue page shows one page of the open cases by priority (or due date); with these
indexes the database walks them in order instead of sorting every case (bench/web.py).
"""

from __future__ import annotations

from alembic import op

revision: str = "0008_queue_order"
down_revision: str | None = "0007_review_web"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_review_case_priority_id", "review_case", ["priority", "id"], unique=False)
    op.create_index("ix_review_case_due_id", "review_case", ["due_date", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_case_due_id", table_name="review_case")
    op.drop_index("ix_review_case_priority_id", table_name="review_case")
