"""global search index: search_entries, served by SQLite FTS5 (trigram) or pg_trgm (issue 17)

Revision ID: 0014_search
Revises: 0013_dashstore
Create Date: 2026-11-30

The entries are derived data: this migration creates them empty and fills them from the
records already stored (the same code as `formloom search rebuild`), so an upgraded
database finds its old records at once.

On PostgreSQL the trigram indexes (one partial GIN index per entity, made at install
like the field indexes) need the pg_trgm extension. If it is missing and this
role may not create it, the migration goes on without the index and logs why: search
still answers (the same LIKE, unindexed), only slower, until an administrator runs
`CREATE EXTENSION pg_trgm` and `formloom search rebuild` (which then creates the index).
"""
from alembic import op
import sqlalchemy as sa

revision = '0014_search'
down_revision = '0013_dashstore'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'search_entries',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('record_id', _ID, nullable=False),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('entity_key', sa.String(length=63), nullable=False),
        sa.Column('field_key', sa.String(length=63), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['record_id'], ['records.id'], ondelete='CASCADE',
                                name='fk_search_entries_record_id_records'),
        sa.PrimaryKeyConstraint('id', name='pk_search_entries'),
    )
    op.create_index('ix_search_entries_record_id', 'search_entries', ['record_id'])
    from formloom.store.search_index import create_text_index, rebuild_all
    conn = op.get_bind()
    create_text_index(conn)
    rebuild_all(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        for name in ('search_entries_ai', 'search_entries_ad', 'search_entries_au'):
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
        conn.exec_driver_sql('DROP TABLE IF EXISTS search_fts')
    op.drop_index('ix_search_entries_record_id', table_name='search_entries')
    op.drop_table('search_entries')
