"""typed slot columns on records and their field mapping (issue 14: dashboards over typed columns)

Revision ID: 0013_dashstore
Revises: 0012_dashui
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0013_dashstore'
down_revision = '0012_dashui'
branch_labels = None
depends_on = None

SLOTS = 8
_NUM = sa.Float().with_variant(sa.Numeric(), 'postgresql')


def upgrade() -> None:
    # plain ADD COLUMN of nullable columns: no table rewrite on either database
    for i in range(1, SLOTS + 1):
        op.add_column('records', sa.Column(f'num_{i}', _NUM, nullable=True))
    for i in range(1, SLOTS + 1):
        op.add_column('records', sa.Column(f'txt_{i}', sa.Text(), nullable=True))
    op.create_table(
        'record_slots',
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('field_key', sa.String(length=63), nullable=False),
        sa.Column('slot', sa.String(length=16), nullable=False),
        sa.Column('field_type', sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint('app_key', 'entity_key', 'field_key', name='pk_record_slots'),
        sa.UniqueConstraint('app_key', 'entity_key', 'slot', name='uq_record_slots_slot'),
    )


def downgrade() -> None:
    op.drop_table('record_slots')
    with op.batch_alter_table('records') as batch:
        for i in range(1, SLOTS + 1):
            batch.drop_column(f'txt_{i}')
        for i in range(1, SLOTS + 1):
            batch.drop_column(f'num_{i}')
