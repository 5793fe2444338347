"""A Dagster instance for a benchmark, stored in the benchmark's scratch warehouse."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import DagsterInstance
from sqlalchemy.engine import make_url

from pulse_assets.instance import instance_config
from warehouse_sql.embedded import DAGSTER_DB, WAREHOUSE_DB


def scratch_instance(home: Path, warehouse_url: str) -> DagsterInstance:
    """Return an instance whose storage is the `dagster` database beside the warehouse."""
    url = make_url(warehouse_url)
    if url.database == WAREHOUSE_DB:
        url = url.set(database=DAGSTER_DB)
    dagster_home = home / "dagster"
    dagster_home.mkdir(exist_ok=True)
    config = instance_config(url.render_as_string(hide_password=False))
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return DagsterInstance.from_config(str(dagster_home))
