"""prompt version on datasets and model versions; model lineage; campaign error

A dataset renders its examples with one prompt version, and a model is prompted at
evaluation and deployment with the version it was trained on. A model version's lineage
is a column (it was parsed from a "-v<N>" name suffix). A failed campaign says why.

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
    op.add_column("model_versions", sa.Column("lineage", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_model_versions_lineage"), "model_versions", ["lineage"])
    op.add_column("campaigns", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("error")
    op.drop_index(op.f("ix_model_versions_lineage"), table_name="model_versions")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("lineage")
        batch.drop_column("prompt_version")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("prompt_version")
