"""session browser: where a session's browser answers (null: it has none)

Revision ID: 0010_session_browser
Revises: 0009_history_learning
Create Date: 2026-12-07 14:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_session_browser"
down_revision: str | None = "0009_history_learning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("browser_endpoint", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("browser_endpoint")
