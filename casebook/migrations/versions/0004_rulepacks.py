"""rulepacks: rule-pack versions and their promotions, shadow hits, the pack version of every hit

Revision ID: 0004_rulepacks
Revises: 0003_review
Create Date: 2026-12-05

Written from drgaudit.casebook.packs, drgaudit.casebook.shadow and drgaudit.casebook.screening;
tests/test_casebook_schema.py checks that the migrated schema and the models agree. Hits stored before
this revision get an empty pack version (their screen run's `rules_version` still names it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rulepacks"
down_revision: str | None = "0003_review"
branch_labels: str | None = None
depends_on: str | None = None

MONEY = sa.Numeric(precision=14, scale=2, asdecimal=False)


def upgrade() -> None:
    op.create_table('rule_pack_version',
    sa.Column('version', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('registered_by', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rule_pack_version_version'), 'rule_pack_version', ['version'], unique=True)
    op.create_table('rule_pack_promotion',
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(), nullable=False),
    sa.Column('stage', sa.String(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('approvals_needed', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['rule_pack_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rule_pack_promotion_region'), 'rule_pack_promotion', ['region'], unique=False)
    op.create_index(op.f('ix_rule_pack_promotion_version_id'), 'rule_pack_promotion', ['version_id'], unique=False)
    op.create_table('shadow_hit',
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
    sa.Column('pack_version', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['screen_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id', 'pack_version', 'claim_id', 'rule_id', name='uq_shadow_hit_key')
    )
    op.create_index(op.f('ix_shadow_hit_action'), 'shadow_hit', ['action'], unique=False)
    op.create_index('ix_shadow_hit_batch_version', 'shadow_hit', ['batch_id', 'pack_version', 'ordinal'], unique=False)
    op.create_index(op.f('ix_shadow_hit_claim_id'), 'shadow_hit', ['claim_id'], unique=False)
    op.create_index(op.f('ix_shadow_hit_rule_id'), 'shadow_hit', ['rule_id'], unique=False)
    with op.batch_alter_table('screen_hit') as batch:
        batch.add_column(sa.Column('pack_version', sa.String(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('screen_hit') as batch:
        batch.drop_column('pack_version')
    for table in ("shadow_hit", "rule_pack_promotion", "rule_pack_version"):
        op.drop_table(table)
