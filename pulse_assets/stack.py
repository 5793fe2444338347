"""Start and stop what Pulse runs: the warehouse, the receiver and the Dagster processes."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pulse_assets.instance import write_instance_config
from pulse_assets.settings import PulseSettings
from warehouse_sql import migrate
from warehouse_sql.connection import create_warehouse_engine, embedded_warehouse, warehouse_url

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 20
BIN_DIR = Path(sys.executable).parent


def responds_ok_within(
    url: str, timeout_s: float, before_each_try: Callable[[], None] | None = None
) -> bool:
    """Poll `url` every 0.5 s and return True once it responds 200, or False after `timeout_s`.

    `before_each_try` runs before each request and may raise to stop the wait.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if before_each_try is not None:
            before_each_try()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


class StackError(RuntimeError):
    """A Pulse process failed to start or to respond."""


@dataclass
class Stack:
    """The warehouse and the processes one `pulse` command started, to stop them in reverse."""

    settings: PulseSettings
    warehouse_url: str = ""
    started_warehouse: bool = False
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def logs_dir(self) -> Path:
        return self.settings.home_dir / "logs"

    def prepare(self) -> None:
        """Start the embedded warehouse if needed, migrate it, and write the Dagster instance."""
        self.settings.home_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        if self.settings.embedded_warehouse:
            self.started_warehouse = embedded_warehouse(self.settings).start()
        self.warehouse_url = warehouse_url(self.settings)
        engine = create_warehouse_engine(self.warehouse_url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        if "DAGSTER_HOME" not in os.environ or self._dagster_home_is_ours():
            write_instance_config(self.settings, self.warehouse_url)

    def _dagster_home_is_ours(self) -> bool:
        return Path(os.environ["DAGSTER_HOME"]).resolve() == self.settings.dagster_home

    def environment(self) -> dict[str, str]:
        """Return the environment for child processes: one home, one Dagster instance."""
        env = dict(os.environ)
        env["PULSE_HOME"] = str(self.settings.home_dir)
        env.setdefault("DAGSTER_HOME", str(self.settings.dagster_home))
        env["DAGSTER_DISABLE_TELEMETRY"] = "1"
        env["HF_HUB_OFFLINE"] = env.get("HF_HUB_OFFLINE", "1")
        for name, value in (
            ("PULSE_WEBHOOK_SECRET", self.settings.webhook_secret),
            ("PULSE_API_SECRET", self.settings.api_secret),
        ):
            if value:
                env[name] = value
        return env

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start a child process whose output goes to `logs/<name>.log` under the home."""
        log_file = (self.logs_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env=self.environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        log.info("Started %s (pid %d), log in %s", name, process.pid, log_file.name)
        return process

    def start_receiver(self, port: int) -> str:
        self.spawn(
            "receiver",
            [sys.executable, "-m", "pulse_assets.cli", "receiver", "--port", str(port)],
        )
        base_url = f"http://127.0.0.1:{port}"
        self.wait_until_healthy("receiver", f"{base_url}/health", timeout_s=60)
        return base_url

    def start_dagster(self, ui_port: int | None) -> None:
        """Start the Dagster daemon (sensors, schedules, run queue) and optionally the UI."""
        self.spawn("dagster-daemon", [str(BIN_DIR / "dagster-daemon"), "run", *code_location()])
        if ui_port is not None:
            self.spawn(
                "dagster-webserver",
                [
                    str(BIN_DIR / "dagster-webserver"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(ui_port),
                    *code_location(),
                ],
            )
            self.wait_until_healthy(
                "dagster-webserver", f"http://127.0.0.1:{ui_port}/server_info", timeout_s=120
            )

    def wait_until_healthy(self, name: str, url: str, timeout_s: float) -> None:
        if responds_ok_within(url, timeout_s, before_each_try=self.check_alive):
            return
        raise StackError(
            f"{name} did not respond at {url} within {timeout_s:.0f} s; "
            f"see {self.logs_dir}/{name}.log"
        )

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with code {process.returncode}; see {self.logs_dir}/{name}.log"
                )

    def stop(self) -> None:
        """Stop the child processes newest first, then the warehouse if this stack started it."""
        for name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %d s; killing it", name, STOP_TIMEOUT_S)
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes.clear()
        if self.started_warehouse:
            embedded_warehouse(self.settings).stop()
            self.started_warehouse = False


def code_location() -> list[str]:
    return ["-m", "pulse_assets.definitions"]


def ensure_secrets(settings: PulseSettings) -> PulseSettings:
    """Return settings with webhook and API secrets, generating and keeping them under the home."""
    updates: dict[str, str] = {}
    for field_name in ("webhook_secret", "api_secret"):
        if getattr(settings, field_name):
            continue
        path = settings.home_dir / f"{field_name}.txt"
        if not path.exists():
            settings.home_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32) + "\n")
            path.chmod(0o600)
        updates[field_name] = path.read_text().strip()
    return settings.model_copy(update=updates) if updates else settings
