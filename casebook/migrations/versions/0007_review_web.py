"""review web: hospital findings, case replies, expert opinions, attachments; who asked a 协查 request

Revision ID: 0007_review_web
Revises: 0006_apikeys
Create Date: 2026-12-05

Written from drgaudit.casebook.findings, replies and attachments (and AssistRequest.asked_by);
tests/test_casebook_schema.py checks that the migrated schema and the models agree. Existing requests
were all asked by the insured region.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_review_web"
down_revision: str | None = "0006_apikeys"
branch_labels: str | None = None
depends_on: str | None = None

MONEY = sa.Numeric(precision=14, scale=2, asdecimal=False)


def upgrade() -> None:
    op.create_table('case_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('written_by', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=True),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_reply_case_id'), 'case_reply', ['case_id'], unique=False)
    op.create_table('expert_opinion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('expert', sa.String(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('suggestion', sa.String(), nullable=False),
    sa.Column('amount', MONEY, nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['review_meeting.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'case_id', 'expert', name='uq_expert_opinion')
    )
    op.create_index(op.f('ix_expert_opinion_case_id'), 'expert_opinion', ['case_id'], unique=False)
    op.create_index(op.f('ix_expert_opinion_meeting_id'), 'expert_opinion', ['meeting_id'], unique=False)
    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.String(), nullable=False),
    sa.Column('rule_id', sa.String(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.String(), nullable=False),
    sa.Column('treatment_region', sa.String(), nullable=False),
    sa.Column('insured_region', sa.String(), nullable=False),
    sa.Column('period', sa.String(), nullable=False),
    sa.Column('family', sa.String(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence_hash', sa.String(), nullable=False),
    sa.Column('pack_version', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('answered_by', sa.String(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_reason', sa.Text(), nullable=True),
    sa.Column('proposed_outcome', sa.String(), nullable=True),
    sa.Column('proposed_amount', MONEY, nullable=True),
    sa.Column('proposed_reason', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.String(), nullable=True),
    sa.Column('decided_by', sa.String(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('final_amount', MONEY, nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.claim_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_id', 'rule_id', name='uq_finding_claim_rule')
    )
    op.create_index(op.f('ix_finding_claim_id'), 'finding', ['claim_id'], unique=False)
    op.create_index(op.f('ix_finding_due_date'), 'finding', ['due_date'], unique=False)
    op.create_index(op.f('ix_finding_hospital_id'), 'finding', ['hospital_id'], unique=False)
    op.create_index(op.f('ix_finding_period'), 'finding', ['period'], unique=False)
    op.create_index(op.f('ix_finding_state'), 'finding', ['state'], unique=False)
    op.create_index(op.f('ix_finding_treatment_region'), 'finding', ['treatment_region'], unique=False)
    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('reply_id', sa.Integer(), nullable=True),
    sa.Column('appeal_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(), nullable=False),
    sa.Column('content_type', sa.String(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['review_appeal.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['case_reply.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_attachment_case_id'), 'attachment', ['case_id'], unique=False)
    op.create_index(op.f('ix_attachment_finding_id'), 'attachment', ['finding_id'], unique=False)
    with op.batch_alter_table('assist_request') as batch_op:
        batch_op.add_column(sa.Column('asked_by', sa.String(), nullable=False, server_default='insured'))


def downgrade() -> None:
    with op.batch_alter_table('assist_request') as batch_op:
        batch_op.drop_column('asked_by')
    for table in ("attachment", "finding", "expert_opinion", "case_reply"):
        op.drop_table(table)
