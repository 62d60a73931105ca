"""attachments on comments and thumbnails: two columns on files (issue 17)

Revision ID: 0011_attach
Revises: 0010_files
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0011_attach'
down_revision = '0010_files'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('files', sa.Column('comment_id', _ID, nullable=True))
    op.add_column('files', sa.Column('thumb_id', sa.String(length=32), nullable=True))
    op.create_index('ix_files_comment_id', 'files', ['comment_id'])


def downgrade() -> None:
    op.drop_index('ix_files_comment_id', table_name='files')
    with op.batch_alter_table('files') as batch:
        batch.drop_column('thumb_id')
        batch.drop_column('comment_id')
