"""history learning: an execution's browser trace and what browser learning made of it

A descriptive id, not a number: another branch may add its own 0009; rename at merge.

Revision ID: 0009_history_learning
Revises: 0008
Create Date: 2026-12-07 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_history_learning"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("learn_enabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "learn_status", sa.String(length=16), server_default="skipped", nullable=False
            )
        )
        batch_op.add_column(sa.Column("learn_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("learn_processed_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_execution_history_learn", ["learn_status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("execution_history", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_history_learn")
        for column in (
            "learn_processed_at",
            "learn_error",
            "learn_status",
            "learn_enabled",
            "payload_ref",
        ):
            batch_op.drop_column(column)
