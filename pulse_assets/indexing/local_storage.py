"""Opening of a Qdrant local-mode storage folder, waiting while another process has it open.

qdrant-client's local mode takes an exclusive, non-blocking `flock` on `<folder>/.lock`, so a
second client on the same folder, in this process or another, raises RuntimeError.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from qdrant_client import QdrantClient

__all__ = ["VectorStoreLockedError", "open_local_client"]

logger = logging.getLogger(__name__)

_LOCKED_MESSAGE = "is already accessed by another instance of Qdrant client"
_FIRST_RETRY_DELAY_S = 0.05
_MAX_RETRY_DELAY_S = 1.0


class VectorStoreLockedError(RuntimeError):
    """Another Qdrant client kept the local storage folder locked past the allowed wait."""


def open_local_client(path: Path, lock_timeout_s: float) -> QdrantClient:
    """Open a local-mode client on the folder, retrying for up to `lock_timeout_s` seconds.

    Raises:
        VectorStoreLockedError: the folder was still held when the wait ran out.
    """
    deadline = time.monotonic() + lock_timeout_s
    delay = _FIRST_RETRY_DELAY_S
    attempts = 0
    while True:
        attempts += 1
        # qdrant-client 1.20 loads every collection into memory before it tries the lock, which
        # takes seconds for large collections, so a cheap probe of the lock comes first.
        if _lock_is_free(path):
            try:
                return QdrantClient(path=str(path))
            except RuntimeError as error:
                if _LOCKED_MESSAGE not in str(error):
                    raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise VectorStoreLockedError(
                f"Qdrant local storage folder {path} is locked by another process, such as a "
                f"Dagster run or a search, and was still locked after {lock_timeout_s:g} s and "
                f"{attempts} attempts. Wait for that process to finish and retry, or set "
                "PULSE_QDRANT_URL to use a Qdrant server, which allows concurrent access."
            )
        if attempts == 1:
            logger.info(
                "Qdrant local storage folder %s is locked by another process, "
                "retrying for up to %g s",
                path,
                lock_timeout_s,
            )
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, _MAX_RETRY_DELAY_S)


def _lock_is_free(path: Path) -> bool:
    """Return whether the folder's lock can be taken now, and release it again at once.

    Another process may take the lock between this probe and the client's own attempt, which
    the caller handles as a failed attempt.
    """
    lock_path = path / ".lock"
    if not lock_path.exists():
        return True
    # Imported here as qdrant-client does: portalocker checks for writable folders on import.
    import portalocker

    with lock_path.open("r+") as lock_file:
        try:
            portalocker.lock(
                lock_file, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
            )
        except portalocker.exceptions.LockException:
            return False
        portalocker.unlock(lock_file)
    return True
