"""sandbox metadata and env: a create's labels (filterable on list) and environment

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_metadata", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("user_env", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.drop_column("user_env")
        batch_op.drop_column("user_metadata")
