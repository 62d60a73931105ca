"""approval_requests and approval_decisions (issue 18: approvals as a gate requirement)

Revision ID: 0005_approvals
Revises: 0004_io_forms
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005_approvals'
down_revision = '0004_io_forms'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'approval_requests',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('record_id', _ID, nullable=False),
        sa.Column('from_stage', sa.String(length=63), nullable=True),
        sa.Column('to_stage', sa.String(length=63), nullable=False),
        sa.Column('requested_by', _ID, nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('spec', _JSON, nullable=False),
        sa.Column('step_index', sa.Integer(), nullable=False),
        sa.Column('step_started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('waiting_on', _JSON, nullable=False),
        sa.Column('definition_version_id', _ID, nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE',
                                name='fk_approval_requests_record_id_records'),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ondelete='SET NULL',
                                name='fk_approval_requests_requested_by_users'),
        sa.PrimaryKeyConstraint('id', name='pk_approval_requests'),
    )
    op.create_index('ix_approval_requests_record_id', 'approval_requests', ['record_id'])
    op.create_index('ix_approval_requests_status', 'approval_requests', ['status', 'app_key'])
    op.create_table(
        'approval_decisions',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('request_id', _ID, nullable=False),
        sa.Column('step_index', sa.Integer(), nullable=False),
        sa.Column('step_key', sa.String(length=63), nullable=False),
        sa.Column('user_id', _ID, nullable=True),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['approval_requests.id'], ondelete='CASCADE',
                                name='fk_approval_decisions_request_id_approval_requests'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL',
                                name='fk_approval_decisions_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_approval_decisions'),
    )
    op.create_index('ix_approval_decisions_request_id', 'approval_decisions', ['request_id'])


def downgrade() -> None:
    op.drop_index('ix_approval_decisions_request_id', table_name='approval_decisions')
    op.drop_table('approval_decisions')
    op.drop_index('ix_approval_requests_status', table_name='approval_requests')
    op.drop_index('ix_approval_requests_record_id', table_name='approval_requests')
    op.drop_table('approval_requests')
