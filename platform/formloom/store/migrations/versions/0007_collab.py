"""comments on records and saved list views (issue 17: working together on records)

Revision ID: 0007_collab
Revises: 0006_designer
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007_collab'
down_revision = '0006_designer'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'comments',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('record_id', _ID, nullable=False),
        sa.Column('author_id', _ID, nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('mentions', _JSON, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE',
                                name='fk_comments_record_id_records'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='SET NULL',
                                name='fk_comments_author_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_comments'),
    )
    op.create_index('ix_comments_record_id', 'comments', ['record_id'])
    op.create_table(
        'saved_views',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('owner_id', _ID, nullable=False),
        sa.Column('role', sa.String(length=63), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE',
                                name='fk_saved_views_owner_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_saved_views'),
    )
    op.create_index('ix_saved_views_entity', 'saved_views', ['app_key', 'entity_key'])


def downgrade() -> None:
    op.drop_index('ix_saved_views_entity', table_name='saved_views')
    op.drop_table('saved_views')
    op.drop_index('ix_comments_record_id', table_name='comments')
    op.drop_table('comments')
