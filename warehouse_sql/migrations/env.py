"""Alembic environment: runs the migrations on the connection or URL that Pulse passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from warehouse_sql.migrate import VERSION_TABLE

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as new_connection:
        _run_on(new_connection)
    engine.dispose()


def _run_on(connection) -> None:  # type: ignore[no-untyped-def]
    # The version table stays in `public`, because downgrading to base drops `webhook`.
    context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
