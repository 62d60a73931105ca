"""attachments: the files table (issue 17: file and image fields)

Revision ID: 0010_files
Revises: 0009_dashb
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_files'
down_revision = '0009_dashb'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'files',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('field_key', sa.String(length=63), nullable=False),
        sa.Column('record_id', _ID, nullable=True),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('size', _ID, nullable=False),
        sa.Column('content_type', sa.String(length=120), nullable=False),
        sa.Column('created_by', _ID, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL',
                                name='fk_files_created_by_users'),
        sa.PrimaryKeyConstraint('id', name='pk_files'),
    )
    op.create_index('ix_files_record_id', 'files', ['record_id'])


def downgrade() -> None:
    op.drop_index('ix_files_record_id', table_name='files')
    op.drop_table('files')
