"""Connections to the warehouse: the configured PostgreSQL URL or the embedded server's."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from pulse_assets.settings import PulseSettings
from warehouse_sql.embedded import EmbeddedWarehouse

CONNECT_TIMEOUT_S = 5


def embedded_warehouse(settings: PulseSettings) -> EmbeddedWarehouse:
    return EmbeddedWarehouse(settings.postgres_dir)


def warehouse_url(settings: PulseSettings) -> str:
    """Return the SQLAlchemy URL of the warehouse; the embedded server must be running."""
    if settings.warehouse_url:
        return settings.warehouse_url
    return embedded_warehouse(settings).url()


def create_warehouse_engine(url: str, **options: object) -> Engine:
    """Create an engine that checks connections before use and fails fast when PG is down."""
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        **options,  # type: ignore[arg-type]
    )
