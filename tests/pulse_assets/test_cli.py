"""The `pulse` command line as a user runs it: busy ports and stopping on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulse_assets.cli import check_ports_free, free_port
from pulse_assets.stack import responds_ok_within
from warehouse_sql.embedded import port_is_free

PULSE = [sys.executable, "-m", "pulse_assets.cli"]


def test_busy_port_names_port_and_flag() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(RuntimeError) as raised:
            check_ports_free(port)

    assert f"port {port} on 127.0.0.1 is already in use" in str(raised.value)
    assert "--ui-port" in str(raised.value)


@pytest.fixture
def cli_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="pulse-cli-home-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_up_stops_everything_on_sigterm(cli_home: Path) -> None:
    ui_port, receiver_port = free_port(), free_port()
    env = {**os.environ, "PULSE_HOME": str(cli_home)}
    env.pop("DAGSTER_HOME", None)
    process = subprocess.Popen(
        [*PULSE, "up", "--ui-port", str(ui_port), "--receiver-port", str(receiver_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{receiver_port}/health")
        _wait_for(f"http://127.0.0.1:{ui_port}/server_info")

        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert exit_code == 0
    leftovers = subprocess.run(
        ["pgrep", "-f", str(cli_home)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []
    assert not (cli_home / "postgres" / "data" / "postmaster.pid").exists()
    assert port_is_free(receiver_port)
    assert port_is_free(ui_port)


def _wait_for(url: str, timeout_s: float = 120) -> None:
    assert responds_ok_within(url, timeout_s), f"{url} did not answer 200 within {timeout_s} s"
