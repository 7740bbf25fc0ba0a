"""Alembic environment: runs on the connection Bay hands over (see engine.migrate)."""

from alembic import context

from bay.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bay.db.engine.migrate (`bay migrate`)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
