"""queue order: review_case indexes (status, priority, amount_at_risk, id) and (priority, id) for the queue page

Revision ID: 0010_queue_order
Revises: 0009_audit_seal
Create Date: 2026-12-05

The review service's queue page counts the open cases and picks one page of their ids from the first
index alone, then reads only that page's rows (bench/web.py); it replaces the (status, priority) index.
"""

from __future__ import annotations

from alembic import op

revision: str = "0010_queue_order"
down_revision: str | None = "0009_audit_seal"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_review_case_queue", "review_case", ["status", "priority", "amount_at_risk", "id"], unique=False
    )
    op.create_index("ix_review_case_priority_id", "review_case", ["priority", "id"], unique=False)
    op.drop_index("ix_review_case_status_priority", table_name="review_case")


def downgrade() -> None:
    op.create_index("ix_review_case_status_priority", "review_case", ["status", "priority"], unique=False)
    op.drop_index("ix_review_case_priority_id", table_name="review_case")
    op.drop_index("ix_review_case_queue", table_name="review_case")
