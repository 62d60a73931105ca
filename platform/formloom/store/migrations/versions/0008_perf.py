"""statistics_marks: what the engine's last ANALYZE saw, per entity (issue 16)

Revision ID: 0008_perf
Revises: 0007_collab
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_perf'
down_revision = '0007_collab'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'statistics_marks',
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('max_id', sa.BigInteger(), nullable=False),
        sa.Column('analyzed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('app_key', 'entity_key', name='pk_statistics_marks'),
    )


def downgrade() -> None:
    op.drop_table('statistics_marks')
