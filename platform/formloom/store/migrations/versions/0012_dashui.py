"""team targets: dashboard_team_targets (issue 14: a manager's target for the whole team)

Revision ID: 0012_dashui
Revises: 0011_attach
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0012_dashui'
down_revision = '0011_attach'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'dashboard_team_targets',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('app_key', sa.String(length=63), nullable=False),
        sa.Column('dashboard_key', sa.String(length=63), nullable=False),
        sa.Column('widget_key', sa.String(length=63), nullable=False),
        sa.Column('manager_id', _ID, nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('updated_by', _ID, nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['manager_id'], ['users.id'], ondelete='CASCADE',
                                name='fk_dashboard_team_targets_manager_id_users'),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ondelete='SET NULL',
                                name='fk_dashboard_team_targets_updated_by_users'),
        sa.PrimaryKeyConstraint('id', name='pk_dashboard_team_targets'),
        sa.UniqueConstraint('app_key', 'dashboard_key', 'widget_key', 'manager_id', 'month',
                            name='uq_dashboard_team_targets_cell'),
    )


def downgrade() -> None:
    op.drop_table('dashboard_team_targets')
