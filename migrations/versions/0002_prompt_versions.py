"""prompt version on datasets and model versions

A dataset renders its examples with one prompt version, and a model is prompted at
evaluation and deployment with the version it was trained on.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("datasets", "model_versions"):
        op.add_column(
            table,
            sa.Column("prompt_version", sa.String(length=16), nullable=False, server_default="v1"),
        )


def downgrade() -> None:
    for table in ("datasets", "model_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("prompt_version")
