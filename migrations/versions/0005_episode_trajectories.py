"""episode trajectories: where a recorded episode's per-step data lives

The arrays and videos are in per-job shards under the artifact root; the row keeps the
shard's URL, the episode's group in it, its size, step count and checksum, or the reason
it could not be stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    ("traj_uri", sa.String(length=1000)),
    ("traj_key", sa.String(length=200)),
    ("traj_bytes", sa.BigInteger()),
    ("traj_steps", sa.Integer()),
    ("traj_sha256", sa.String(length=64)),
    ("traj_error", sa.Text()),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("episodes", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
