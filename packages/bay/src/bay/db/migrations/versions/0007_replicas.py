"""replicas: a session and an idempotency claim record the Bay replica that made them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before have no replica: their owner counts as gone (reap what is not running).
    for table in ("sessions", "idempotency_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("instance_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    for table in ("sessions", "idempotency_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("instance_id")
