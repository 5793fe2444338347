"""Shared pieces of the benchmarks: a scratch warehouse, machine facts and result printing."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from warehouse_sql import migrate
from warehouse_sql.connection import create_warehouse_engine
from warehouse_sql.embedded import EmbeddedWarehouse

PACKAGES = (
    "dagster",
    "fastembed",
    "onnxruntime",
    "qdrant-client",
    "rank-bm25",
    "semantic-text-splitter",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
)


def machine_facts() -> dict[str, Any]:
    """Return the CPU, memory, Python and package versions a figure was measured with."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


@contextlib.contextmanager
def scratch_home(prefix: str) -> Iterator[Path]:
    """Yield a temporary Pulse home that the postgres user can enter, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix=f"pulse-bench-{prefix}-"))
    home.chmod(0o711)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def scratch_warehouse(home: Path) -> Iterator[tuple[str, Engine]]:
    """Yield the URL and an engine of a migrated warehouse: `PULSE_WAREHOUSE_URL` or embedded."""
    external = os.environ.get("PULSE_WAREHOUSE_URL")
    warehouse = None if external else EmbeddedWarehouse(home / "postgres")
    if warehouse is not None:
        warehouse.start()
    url = external or warehouse.url()  # type: ignore[union-attr]
    engine = create_warehouse_engine(url)
    try:
        migrate.upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        if warehouse is not None:
            warehouse.stop()


@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Yield a dict whose `s` is set to the elapsed wall time in seconds on exit."""
    timing: dict[str, float] = {}
    started = time.perf_counter()
    try:
        yield timing
    finally:
        timing["s"] = time.perf_counter() - started


def peak_rss_mib() -> float:
    """Return this process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures and the machine as one JSON object on stdout."""
    print(json.dumps({"benchmark": name, **figures, "machine": machine_facts()}, indent=2))
