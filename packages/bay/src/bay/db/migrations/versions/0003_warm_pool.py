"""warm pool

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:24:02.000041
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_warm_pool", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("warm_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("warm_ready_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("warm_rotate_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("warm_claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("warm_source_profile_id", sa.String(length=128), nullable=True)
        )
        batch_op.create_index(
            "ix_sandboxes_warm", ["is_warm_pool", "profile_id", "warm_state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.drop_index("ix_sandboxes_warm")
        batch_op.drop_column("warm_source_profile_id")
        batch_op.drop_column("warm_claimed_at")
        batch_op.drop_column("warm_rotate_at")
        batch_op.drop_column("warm_ready_at")
        batch_op.drop_column("warm_state")
        batch_op.drop_column("is_warm_pool")
