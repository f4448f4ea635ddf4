"""accounts: accounts and their roles, web sessions, log-in attempts; role and channel in the audit log

Revision ID: 0005_accounts
Revises: 0004_rulepacks
Create Date: 2026-12-05

Written from drgaudit.casebook.accounts (and the new columns of auditlog.AuditEntry and
review_models.MeetingAttendee); tests/test_casebook_schema.py checks that the migrated schema and the
models agree. Existing audit-log entries keep NULL role and channel and verify unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_accounts"
down_revision: str | None = "0004_rulepacks"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('username', sa.String(), nullable=False),
    sa.Column('display_name', sa.String(), nullable=False),
    sa.Column('organisation', sa.String(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('password_hash', sa.String(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_account_username'), 'account', ['username'], unique=True)
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(), nullable=False),
    sa.Column('ip', sa.String(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_login_attempt_at'), 'login_attempt', ['at'], unique=False)
    op.create_index(op.f('ix_login_attempt_ip'), 'login_attempt', ['ip'], unique=False)
    op.create_index(op.f('ix_login_attempt_username'), 'login_attempt', ['username'], unique=False)
    op.create_table('account_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('scope', sa.String(), nullable=False),
    sa.Column('granted_by', sa.String(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'role', 'scope', name='uq_account_role')
    )
    op.create_index(op.f('ix_account_role_account_id'), 'account_role', ['account_id'], unique=False)
    op.create_table('web_session',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ip', sa.String(), nullable=True),
    sa.Column('user_agent', sa.String(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_web_session_account_id'), 'web_session', ['account_id'], unique=False)
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(), nullable=True))
    with op.batch_alter_table('meeting_attendee') as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_meeting_attendee_account_id'), ['account_id'], unique=False)
        batch_op.create_foreign_key('fk_meeting_attendee_account_id', 'account', ['account_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('meeting_attendee') as batch_op:
        batch_op.drop_constraint('fk_meeting_attendee_account_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_meeting_attendee_account_id'))
        batch_op.drop_column('account_id')
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.drop_column('channel')
        batch_op.drop_column('role')
    for table in ("web_session", "account_role", "login_attempt", "account"):
        op.drop_table(table)
