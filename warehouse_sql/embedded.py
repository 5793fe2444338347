"""The embedded warehouse: a PostgreSQL server that Pulse runs itself under its home folder.

Pulse uses the PostgreSQL binaries of the operating system (Debian's `postgresql-15` here)
rather than a bundled build, because that server listens on TCP at 127.0.0.1, so `psql`, BI
tools and dagster-postgres connect to it exactly as to any other server. PostgreSQL refuses to
run as root, so under root every server command runs as the `postgres` system user through
`runuser`, and the data folder belongs to that user.
"""

from __future__ import annotations

import getpass
import glob
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)

SERVER_USER = "postgres"
ROLE = "pulse"
WAREHOUSE_DB = "pulse"
DAGSTER_DB = "dagster"
START_TIMEOUT_S = 60


class EmbeddedWarehouseError(RuntimeError):
    """The embedded PostgreSQL could not be set up, started or stopped."""


def find_bin_dir() -> Path:
    """Return the folder with `initdb` and `pg_ctl`: `PULSE_PG_BIN`, else the newest install."""
    configured = os.environ.get("PULSE_PG_BIN")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise EmbeddedWarehouseError(
        "PostgreSQL server binaries not found (looked for initdb in $PULSE_PG_BIN and "
        "/usr/lib/postgresql/*/bin). Install them, for example `apt-get install postgresql`, "
        "or set PULSE_WAREHOUSE_URL to an existing server."
    )


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Return whether a server could listen on 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # A port that the previous server left in TIME_WAIT is still free for a new server.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class EmbeddedWarehouse:
    """A PostgreSQL data folder under `root`, with its role password and port kept beside it."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def _password_file(self) -> Path:
        return self.root / "password"

    @property
    def _port_file(self) -> Path:
        return self.root / "port"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def url(self, database: str = WAREHOUSE_DB, driver: str = "postgresql+psycopg2") -> str:
        """Return the connection URL; `driver="postgresql"` gives a libpq URL for psql."""
        return f"{driver}://{ROLE}:{self.password()}@127.0.0.1:{self.port()}/{database}"

    def password(self) -> str:
        return self._password_file.read_text().strip()

    def port(self) -> int:
        if not self._port_file.exists():
            raise EmbeddedWarehouseError(
                f"The embedded warehouse in {self.root} was never started; "
                "run `pulse warehouse start` first."
            )
        return int(self._port_file.read_text().strip())

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def start(self) -> bool:
        """Initialise the data folder if needed and start the server; return False if it ran."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            self._ensure_databases()
            return False

        port = self._choose_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={self.socket_dir}"
        )
        self._port_file.write_text(f"{port}\n")
        result = self._run(
            [
                self._bin("pg_ctl"),
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
            ],
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedWarehouseError(
                f"PostgreSQL failed to start on 127.0.0.1:{port}: {result.stderr.strip()}; "
                f"see {self.log_file}"
            )
        log.info("Started the embedded warehouse on 127.0.0.1:%d (data in %s)", port, self.data_dir)
        self._ensure_databases()
        return True

    def stop(self) -> bool:
        """Stop the server with a fast shutdown; return False if it was not running."""
        if not self.is_running():
            return False
        self._run([self._bin("pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(self.data_dir)])
        log.info("Stopped the embedded warehouse in %s", self.data_dir)
        return True

    def _choose_port(self) -> int:
        if self._port_file.exists():
            previous = int(self._port_file.read_text().strip())
            if port_is_free(previous):
                return previous
        return _free_port()

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if not self._password_file.exists():
            self._password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self._password_file.chmod(0o600)
        self._check_reachable_by_server_user()

        # initdb reads the password from a file that the server user must be able to read.
        pwfile = self.root / ".initdb-password"
        pwfile.write_text(self.password() + "\n")
        try:
            self._give_to_server_user(pwfile, self.socket_dir)
            self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ROLE,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        log.info("Initialised the embedded warehouse in %s", self.data_dir)

    def _ensure_databases(self) -> None:
        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port(),
            user=ROLE,
            password=self.password(),
            dbname="postgres",
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for database in (WAREHOUSE_DB, DAGSTER_DB):
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                    if cursor.fetchone() is None:
                        cursor.execute(
                            sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
                        )
        finally:
            connection.close()

    def _check_reachable_by_server_user(self) -> None:
        if not self.as_root:
            return
        for folder in [self.root, *self.root.parents]:
            mode = folder.stat().st_mode
            if folder.stat().st_uid != 0 or mode & 0o001:
                continue
            raise EmbeddedWarehouseError(
                f"The {SERVER_USER} user cannot enter {folder} (mode {oct(mode & 0o777)}), so "
                f"PostgreSQL cannot use {self.data_dir}. Set PULSE_HOME to a folder outside it, "
                f"or run `chmod o+x {folder}`."
            )

    def _give_to_server_user(self, *paths: Path) -> None:
        if not self.as_root:
            return
        entry = pwd.getpwnam(SERVER_USER)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _bin(self, name: str) -> str:
        return str(find_bin_dir() / name)

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            user = SERVER_USER if self.as_root else getpass.getuser()
            raise EmbeddedWarehouseError(
                f"`{' '.join(command)}` failed as {user} with exit code {result.returncode}: "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result
