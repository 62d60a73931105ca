"""a record's pending reminders found by record, not by status (issue 16: the event backlog)

Revision ID: 0017_jobsrecord
Revises: 0016_dash1m
Create Date: 2026-12-01

The worker reads the pending reminders of the records a batch of events touches
(`record_id IN (...) AND status = 'pending'`). With an index on `record_id` alone and one
on (`status`, `due_at`), SQLite without statistics for `jobs` (it is empty at install and
only the records are re-analyzed) took the second and walked every pending reminder of
the instance per batch: at 78k pending reminders the worker handled 5 events a second.
An index on (`record_id`, `status`) matches both conditions, so it is chosen whatever the
statistics say; it replaces the `record_id` index, whose look-ups it serves as well.
"""
from alembic import op

revision = '0017_jobsrecord'
down_revision = '0016_dash1m'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_jobs_record', 'jobs', ['record_id', 'status'])
    op.drop_index('ix_jobs_record_id', table_name='jobs')


def downgrade() -> None:
    op.create_index('ix_jobs_record_id', 'jobs', ['record_id'])
    op.drop_index('ix_jobs_record', table_name='jobs')
