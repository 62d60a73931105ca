"""time in stage ready for dashboards at scale (issue 14: the manager dashboard at 1M)

Revision ID: 0016_dash1m
Revises: 0015_bigram
Create Date: 2026-11-30

Two covering indexes on the stage history, one per side of a move: stages left
(`from_stage`, `at`, `seconds_in_previous`, `record_id`: "days in stage" grouped by the
stage left, within a period) and stages entered (`to_stage`, `at`, `record_id`: cycle
length to the won stage, moves into a stage in a period). A dashboard then reads the
history rows it aggregates from an index in the group's order instead of probing the
history of every record of the entity.

Rows written without their time in the previous stage (bulk loads around the engine) get
it from the history (workflow.durations, the same code as `formloom history rebuild`),
and the history is analyzed so the planner knows its size next to `records`.
"""
from alembic import op

revision = '0016_dash1m'
down_revision = '0015_bigram'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_stage_history_left', 'stage_history',
                    ['from_stage', 'at', 'seconds_in_previous', 'record_id'])
    op.create_index('ix_stage_history_entered', 'stage_history', ['to_stage', 'at', 'record_id'])
    from formloom.workflow.durations import backfill
    conn = op.get_bind()
    backfill(conn)
    if conn.exec_driver_sql('SELECT 1 FROM stage_history LIMIT 1').first() is not None:
        conn.exec_driver_sql('ANALYZE stage_history')


def downgrade() -> None:
    op.drop_index('ix_stage_history_entered', table_name='stage_history')
    op.drop_index('ix_stage_history_left', table_name='stage_history')
