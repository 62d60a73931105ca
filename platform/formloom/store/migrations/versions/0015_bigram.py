"""global search of 1-2 characters: bigram tokens per search entry (issue 17)

Revision ID: 0015_bigram
Revises: 0014_search
Create Date: 2026-11-30

Two-character Chinese words (浦东, 北京) have no trigram, so they were matched by LIKE
over every entry. Each entry now keeps `grams` (store/search_index.py), indexed by a
second FTS5 table on SQLite and a partial GIN index per entity on PostgreSQL. The
column is derived data: this migration adds it and writes the index again from the
records (the same code as `formloom search rebuild`), so an upgraded database serves
short searches from the index at once.
"""
from alembic import op
import sqlalchemy as sa

revision = '0015_bigram'
down_revision = '0014_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('search_entries', sa.Column('grams', sa.Text(), nullable=True))
    from formloom.store.search_index import create_text_index, rebuild_all
    conn = op.get_bind()
    create_text_index(conn)
    rebuild_all(conn)       # the entries with their grams, and on PostgreSQL each entity's bigram index


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        for name in ('search_entries_gai', 'search_entries_gad', 'search_entries_gau'):
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
        conn.exec_driver_sql('DROP TABLE IF EXISTS search_grams')
        conn.exec_driver_sql('ALTER TABLE search_entries DROP COLUMN grams')
        return
    op.drop_column('search_entries', 'grams')     # and with it each entity's bigram index
