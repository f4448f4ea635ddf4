"""review: special-review cases and decisions, meetings, investigation requests, the audit log

Revision ID: 0003_review
Revises: 0002_screening
Create Date: 2026-11-23

Written from drgaudit.casebook.review_models and drgaudit.casebook.auditlog; tests/test_casebook_schema.py
checks that the migrated schema and the models agree. The audit log's head row starts at entry 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_review"
down_revision: str | None = "0002_screening"
branch_labels: str | None = None
depends_on: str | None = None

MONEY = sa.Numeric(precision=14, scale=2, asdecimal=False)
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_log',
    sa.Column('at', sa.String(), nullable=False),
    sa.Column('actor', sa.String(), nullable=False),
    sa.Column('entity', sa.String(), nullable=False),
    sa.Column('entity_id', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('prev_hash', sa.String(), nullable=False),
    sa.Column('entry_hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_index(op.f('ix_audit_log_entity'), 'audit_log', ['entity'], unique=False)
    op.create_index(op.f('ix_audit_log_entity_id'), 'audit_log', ['entity_id'], unique=False)
    op.create_table('review_meeting',
    sa.Column('region', sa.String(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('location', sa.String(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes_note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_review_meeting_region'), 'review_meeting', ['region'], unique=False)
    op.create_table('meeting_attendee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('organisation', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['review_meeting.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'name', name='uq_meeting_attendee')
    )
    op.create_index(op.f('ix_meeting_attendee_meeting_id'), 'meeting_attendee', ['meeting_id'], unique=False)
    op.create_table('assist_request',
    sa.Column('claim_id', sa.String(), nullable=False),
    sa.Column('insured_region', sa.String(), nullable=False),
    sa.Column('treatment_region', sa.String(), nullable=False),
    sa.Column('hospital_id', sa.String(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('requested_by', sa.String(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('result', sa.String(), nullable=True),
    sa.Column('answered_by', sa.String(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.claim_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assist_request_claim_id'), 'assist_request', ['claim_id'], unique=False)
    op.create_index(op.f('ix_assist_request_insured_region'), 'assist_request', ['insured_region'], unique=False)
    op.create_index(op.f('ix_assist_request_status'), 'assist_request', ['status'], unique=False)
    op.create_index(op.f('ix_assist_request_treatment_region'), 'assist_request', ['treatment_region'], unique=False)
    op.create_table('review_case',
    sa.Column('claim_id', sa.String(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.String(), nullable=False),
    sa.Column('hospital_id', sa.String(), nullable=False),
    sa.Column('region', sa.String(), nullable=False),
    sa.Column('insured_region', sa.String(), nullable=False),
    sa.Column('payment_scheme', sa.String(), nullable=False),
    sa.Column('group_code', sa.String(), nullable=True),
    sa.Column('discharge_date', sa.Date(), nullable=False),
    sa.Column('period', sa.String(), nullable=False),
    sa.Column('total_cost', MONEY, nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('amount_at_risk', MONEY, nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('rules', sa.String(), nullable=False),
    sa.Column('assignee', sa.String(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('reopen_reason', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.claim_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_id')
    )
    op.create_index(op.f('ix_review_case_hospital_id'), 'review_case', ['hospital_id'], unique=False)
    op.create_index(op.f('ix_review_case_period'), 'review_case', ['period'], unique=False)
    op.create_index(op.f('ix_review_case_region'), 'review_case', ['region'], unique=False)
    op.create_index(op.f('ix_review_case_status'), 'review_case', ['status'], unique=False)
    op.create_index('ix_review_case_status_priority', 'review_case', ['status', 'priority'], unique=False)
    op.create_table('meeting_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('quota_used', sa.Integer(), nullable=False),
    sa.Column('quota_limit', sa.Integer(), nullable=True),
    sa.Column('quota_override', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(), nullable=False),
    sa.Column('scheduled_by', sa.String(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['review_meeting.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'case_id', name='uq_meeting_case')
    )
    op.create_index(op.f('ix_meeting_case_case_id'), 'meeting_case', ['case_id'], unique=False)
    op.create_index(op.f('ix_meeting_case_meeting_id'), 'meeting_case', ['meeting_id'], unique=False)
    op.create_table('review_case_hit',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('amount_at_risk', MONEY, nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence_hash', sa.String(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'rule_id')
    )
    op.create_table('review_decision',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('items', sa.JSON(), nullable=True),
    sa.Column('merged_with', sa.String(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('quota_override', sa.Text(), nullable=True),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['review_meeting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_review_decision_case_id'), 'review_decision', ['case_id'], unique=False)
    op.create_index(op.f('ix_review_decision_meeting_id'), 'review_decision', ['meeting_id'], unique=False)
    op.create_table('review_appeal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('filed_by', sa.String(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ),
    sa.ForeignKeyConstraint(['decision_id'], ['review_decision.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_review_appeal_case_id'), 'review_appeal', ['case_id'], unique=False)

    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :hash)").bindparams(hash=GENESIS_HASH))


def downgrade() -> None:
    for table in (
        "review_appeal", "review_decision", "review_case_hit", "meeting_case", "review_case",
        "assist_request", "meeting_attendee", "review_meeting", "audit_log", "audit_head",
    ):  # fmt: skip
        op.drop_table(table)
