"""training-run lease: which worker runs a retrain, and when it last showed progress

A train worker killed mid-run stops heart-beating; the scheduler hands the run out again
and the next worker resumes it from its last checkpoint.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_runs", sa.Column("worker", sa.String(length=200), nullable=True))
    op.add_column(
        "training_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
