"""history status: a row is written 'running' before Ship is called

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("execution_history", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="finished", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("execution_history", schema=None) as batch_op:
        batch_op.drop_column("status")
