"""Alembic environment of the ledger: runs on the connection that ``migrations.upgrade`` hands over."""

from alembic import context
from sqlalchemy import Connection

from workers.ledger.migrations import VERSION_TABLE
from workers.ledger.models import Base


def _run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the ledger migrations run online only: call workers.ledger.migrations.migrate(url)")
_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(  # noqa: TRY004 — a missing set-up step, not a wrong argument type
        "no connection given: call workers.ledger.migrations.migrate(url) or Ledger.migrate()"
    )
_run_online(_connection)
