"""Warehouse access for the receiver: a bounded connection pool, statement timeouts and
error messages that are safe to log."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from pulse_assets.settings import PulseSettings
from warehouse_sql.connection import create_warehouse_engine, warehouse_url

# Deliveries take one connection per batch write, `PULSE_RECEIVER_WRITERS` at once, and the
# metrics and search routes take their own. A request that waits longer than POOL_TIMEOUT_S for
# a connection fails with 503 instead of hanging past Firecrawl's 10 s delivery timeout.
POOL_SIZE = 10
MAX_OVERFLOW = 20
POOL_TIMEOUT_S = 4.0

# Bounds each statement, lock waits included.
# NOTE: a full pool wait, a reconnect at the 5 s connect timeout of create_warehouse_engine and
# a statement timeout add up to about 12 s, above Firecrawl's 10 s. Each alone stays inside.
STATEMENT_TIMEOUT_MS = 3000

_SET_STATEMENT_TIMEOUT = text("SELECT set_config('statement_timeout', :timeout, true)")


def create_receiver_engine(settings: PulseSettings) -> Engine:
    """Create the engine of the configured warehouse with the receiver's pool limits."""
    return create_warehouse_engine(
        warehouse_url(settings),
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
    )


def set_statement_timeout(connection: Connection) -> None:
    """Limit every statement of the current transaction to STATEMENT_TIMEOUT_MS."""
    connection.execute(_SET_STATEMENT_TIMEOUT, {"timeout": f"{STATEMENT_TIMEOUT_MS}ms"})


def database_error_summary(error: SQLAlchemyError) -> str:
    """Return the first line of the driver's message for logs.

    This leaves out the statement and parameters that SQLAlchemy's own message appends,
    because the parameters include the raw body.
    """
    original = getattr(error, "orig", None)
    message = str(original if original is not None else error).strip()
    return message.splitlines()[0] if message else error.__class__.__name__
