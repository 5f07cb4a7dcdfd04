"""episode list indexes: newest-first pages per campaign, failure reason, teacher, robot, seed;
snapshot members by episode (a campaign delete's cascade)

Each index ends in the id, so a filtered page (``WHERE campaign_id = ? ORDER BY id DESC LIMIT
50``) is one index range read backwards, whatever the table's size (the console's episode
list, ``blazer episodes query``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_episodes_campaign_id_id": ["campaign_id", "id"],
    "ix_episodes_teacher_id": ["teacher", "id"],
    "ix_episodes_robot_id": ["robot", "id"],
    "ix_episodes_seed": ["seed"],
}
FAILED = "ix_episodes_failure_reason_id"
MEMBERS = "ix_dataset_members_episode_id"


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "episodes", columns)
    # failures only: successes (most rows) have no reason to look up
    where = sa.text("failure_reason IS NOT NULL")
    op.create_index(
        FAILED, "episodes", ["failure_reason", "id"], postgresql_where=where, sqlite_where=where
    )
    # deleting episodes cascades to snapshot members: without this each deleted row scanned them
    op.create_index(MEMBERS, "dataset_members", ["episode_id"])


def downgrade() -> None:
    op.drop_index(MEMBERS, "dataset_members")
    for name in (*INDEXES, FAILED):
        op.drop_index(name, "episodes")
