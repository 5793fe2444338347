"""Shared fixtures: one real PostgreSQL for the session, migrated to head.

By default the session starts an embedded warehouse in a temporary Pulse home. Set
`PULSE_TEST_WAREHOUSE_URL` to run the suite against an existing PostgreSQL server instead; the
tests truncate the `webhook` tables there. The Dagster fixtures live in `pipeline_harness.py`,
imported by the folders that use them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from warehouse_sql import migrate
from warehouse_sql.connection import create_warehouse_engine
from warehouse_sql.embedded import EmbeddedWarehouse

WAREHOUSE_TABLES = (
    "webhook.bm25_indexes",
    "webhook.chunks",
    "webhook.pages",
    "webhook.operation_metrics",
    "webhook.crawl_sessions",
    "webhook.staged_deliveries",
)


@pytest.fixture(scope="session")
def pulse_home() -> Iterator[Path]:
    # pytest's temporary folders are 0700, and under root PostgreSQL runs as the postgres user,
    # which must be able to enter every folder above its data folder.
    home = Path(tempfile.mkdtemp(prefix="pulse-test-home-"))
    home.chmod(0o711)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_warehouse(pulse_home: Path) -> Iterator[EmbeddedWarehouse | None]:
    if os.environ.get("PULSE_TEST_WAREHOUSE_URL"):
        yield None
        return
    warehouse = EmbeddedWarehouse(pulse_home / "postgres")
    warehouse.start()
    yield warehouse
    warehouse.stop()


@pytest.fixture(scope="session")
def warehouse_url(embedded_warehouse: EmbeddedWarehouse | None) -> str:
    if embedded_warehouse is None:
        return os.environ["PULSE_TEST_WAREHOUSE_URL"]
    return embedded_warehouse.url()


@pytest.fixture(scope="session")
def migrated_engine(warehouse_url: str) -> Iterator[Engine]:
    engine = create_warehouse_engine(warehouse_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """Return the session's engine with every warehouse table emptied."""
    with migrated_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(WAREHOUSE_TABLES)} RESTART IDENTITY"))
    return migrated_engine
