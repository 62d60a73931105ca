"""app_drafts: the designer's working copy of an app's documents; definition_versions.comment

Revision ID: 0006_designer
Revises: 0005_approvals
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006_designer'
down_revision = '0005_approvals'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'app_drafts',
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('documents', _JSON, nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('base_version_id', _ID, nullable=True),
        sa.Column('updated_by', _ID, nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['app_key'], ['apps.key'], name=op.f('fk_app_drafts_app_key_apps'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_app_drafts_updated_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('app_key', name=op.f('pk_app_drafts')),
    )
    with op.batch_alter_table('definition_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('definition_versions', schema=None) as batch_op:
        batch_op.drop_column('comment')
    op.drop_table('app_drafts')
