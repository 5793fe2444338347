"""The Dagster instance under the Pulse home: storage on PostgreSQL, telemetry off, pools."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from pulse_assets.settings import PulseSettings
from warehouse_sql.embedded import DAGSTER_DB

MANAGED_MARKER = "# Written by pulse; delete this line to keep your own changes.\n"


def dagster_storage_url(settings: PulseSettings, warehouse_url: str) -> str:
    """Return the Dagster storage URL: `PULSE_DAGSTER_STORAGE_URL`, else the warehouse server."""
    configured = os.environ.get("PULSE_DAGSTER_STORAGE_URL")
    if configured:
        return configured
    if settings.embedded_warehouse:
        return make_url(warehouse_url).set(database=DAGSTER_DB).render_as_string(False)
    return warehouse_url


def instance_config(storage_url: str) -> dict[str, object]:
    url = make_url(storage_url)
    return {
        "telemetry": {"enabled": False},
        "storage": {
            "postgres": {
                "postgres_db": {
                    "username": url.username,
                    # NOTE: Dagster passes this config to its code servers on the command line
                    # (--instance-ref), so local users can read the password in `ps`.
                    "password": url.password,
                    "hostname": url.host,
                    "port": url.port or 5432,
                    "db_name": url.database,
                    # psycopg2 explicitly: under SQLAlchemy 2.1 the default dialect is psycopg 3,
                    # and dagster-postgres' NOTIFY then fails with a syntax error.
                    "scheme": "postgresql+psycopg2",
                }
            }
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "concurrency": {
            "runs": {
                "max_concurrent_runs": 4,
                # One run per crawl at a time, so two runs never rewrite the same chunks.
                "tag_concurrency_limits": [
                    {
                        "key": "dagster/partition",
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": 1,
                    }
                ],
            },
            # Steps that open Qdrant take the `qdrant` pool. In local mode only one client may
            # hold the storage folder, so a limit of 1 keeps those steps from overlapping.
            "pools": {"default_limit": 1},
        },
    }


def write_instance_config(settings: PulseSettings, warehouse_url: str) -> Path:
    """Write `dagster.yaml` in the Dagster home unless the user keeps their own there."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    if path.exists() and not path.read_text().startswith(MANAGED_MARKER):
        return path
    config = instance_config(dagster_storage_url(settings, warehouse_url))
    path.write_text(MANAGED_MARKER + yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
