"""automation: rule run log and automation state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JsonDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'rule_runs',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('rule_key', sa.String(length=63), nullable=False),
        sa.Column('record_id', Id, nullable=True),
        sa.Column('trigger', sa.String(length=32), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('job_id', Id, nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_runs')),
    )
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.create_index('ix_rule_runs_app_at', ['app_key', 'at'], unique=False)
    op.create_table(
        'automation_state',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('value', JsonDoc, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_automation_state')),
    )


def downgrade() -> None:
    op.drop_table('automation_state')
    with op.batch_alter_table('rule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_runs_app_at')
    op.drop_table('rule_runs')
