"""public_forms: forms an app admin publishes for people without an account

Revision ID: 0004_io_forms
Revises: 0003_harden_access
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004_io_forms'
down_revision = '0003_harden_access'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'public_forms',
        sa.Column('id', Id, primary_key=True, autoincrement=True),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('settings', Json, nullable=False),
        sa.Column('created_by', Id, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_public_forms')),
        sa.ForeignKeyConstraint(['app_key'], ['apps.key'], name=op.f('fk_public_forms_app_key_apps'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_public_forms_created_by_users'),
                                ondelete='SET NULL'),
        sa.UniqueConstraint('token', name=op.f('uq_public_forms_token')),
        sa.UniqueConstraint('app_key', 'key', name='uq_public_forms_app_key'),
    )


def downgrade() -> None:
    op.drop_table('public_forms')
