"""screening: code tables in the casebook, screen runs and their hits

Revision ID: 0002_screening
Revises: 0001_foundation
Create Date: 2026-11-23

Written from drgaudit.casebook.screening; tests/test_casebook_schema.py checks that the migrated schema
and the models agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_screening"
down_revision: str | None = "0001_foundation"
branch_labels: str | None = None
depends_on: str | None = None

MONEY = sa.Numeric(precision=14, scale=2, asdecimal=False)


def upgrade() -> None:
    op.create_table('code_set',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('digest', sa.String(), nullable=False),
    sa.Column('imported_by', sa.String(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_code_set_name'), 'code_set', ['name'], unique=True)
    op.create_table('code_entry',
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(), nullable=False),
    sa.Column('code', sa.String(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['code_set.id'], ),
    sa.PrimaryKeyConstraint('set_id', 'table_name', 'code'),
    sqlite_with_rowid=False
    )
    op.create_table('screen_run',
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('rules_dir', sa.String(), nullable=False),
    sa.Column('rules_version', sa.String(), nullable=False),
    sa.Column('codes_source', sa.String(), nullable=False),
    sa.Column('codes_version', sa.String(), nullable=False),
    sa.Column('workers', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('patients', sa.Integer(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('hits_total', sa.Integer(), nullable=False),
    sa.Column('hits_new', sa.Integer(), nullable=False),
    sa.Column('hits_unchanged', sa.Integer(), nullable=False),
    sa.Column('hits_removed', sa.Integer(), nullable=False),
    sa.Column('amount_at_risk', MONEY, nullable=False),
    sa.Column('run_by', sa.String(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_screen_run_batch_id'), 'screen_run', ['batch_id'], unique=False)
    op.create_table('screen_hit',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.String(), nullable=False),
    sa.Column('patient_id', sa.String(), nullable=False),
    sa.Column('region', sa.String(), nullable=False),
    sa.Column('rule_id', sa.String(), nullable=False),
    sa.Column('rule_file', sa.String(), nullable=False),
    sa.Column('rule_version', sa.String(), nullable=False),
    sa.Column('family', sa.String(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('amount_at_risk', MONEY, nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['screen_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id', 'claim_id', 'rule_id', name='uq_screen_hit_key')
    )
    op.create_index(op.f('ix_screen_hit_action'), 'screen_hit', ['action'], unique=False)
    op.create_index('ix_screen_hit_batch_ordinal', 'screen_hit', ['batch_id', 'ordinal'], unique=False)
    op.create_index(op.f('ix_screen_hit_claim_id'), 'screen_hit', ['claim_id'], unique=False)
    op.create_index(op.f('ix_screen_hit_rule_id'), 'screen_hit', ['rule_id'], unique=False)


def downgrade() -> None:
    for table in ("screen_hit", "screen_run", "code_entry", "code_set"):
        op.drop_table(table)
