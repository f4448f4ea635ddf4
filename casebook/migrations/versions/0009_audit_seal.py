"""audit seal: every audit-log entry and the head sealed with an HMAC under a key kept outside the database

Revision ID: 0009_audit_seal
Revises: 0008_screen_failures
Create Date: 2026-12-05

Adds `audit_log.mac`, `audit_head.mac` and `audit_head.key_id` (casebook.auditlog, casebook.auditkey)
and seals the entries already in the log with the key of the process that migrates (DRGAUDIT_AUDIT_KEY,
DRGAUDIT_AUDIT_KEY_FILE or $DRGAUDIT_HOME/audit.key): their content as of now is what later
verifications hold them to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_audit_seal"
down_revision: str | None = "0008_screen_failures"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("mac", sa.String(), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("mac", sa.String(), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(), nullable=True))
    conn = op.get_bind()
    entries = conn.execute(sa.text("SELECT seq, entry_hash FROM audit_log ORDER BY seq")).all()
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).one_or_none()
    if not entries and (head is None or head[0] == 0):
        return  # an empty log is sealed by its first append
    from drgaudit.casebook.auditkey import audit_key

    key = audit_key()
    for start in range(0, len(entries), 2000):
        conn.execute(
            sa.text("UPDATE audit_log SET mac = :mac WHERE seq = :seq"),
            [{"seq": seq, "mac": key.seal(digest)} for seq, digest in entries[start : start + 2000]],
        )
    if head is not None:
        conn.execute(
            sa.text("UPDATE audit_head SET mac = :mac, key_id = :key_id WHERE id = 1"),
            {"mac": key.seal(f"{head[0]}:{head[1]}"), "key_id": key.key_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("key_id")
        batch.drop_column("mac")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("mac")
