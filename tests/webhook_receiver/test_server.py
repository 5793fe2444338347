"""Tests against a real uvicorn server on 127.0.0.1: a slow client racing a fast retry of the
same delivery, a chunked body over the limit, concurrent deliveries, a client that disconnects
mid-body, and the command-line entry point."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from receiver_support import (
    VECTOR_BODY,
    VECTOR_SIGNATURE,
    WEBHOOK_SECRET,
    make_settings,
    staged_rows,
)
from sqlalchemy import Engine

from pulse_assets.settings import PulseSettings
from webhook_receiver import __main__ as receiver_main
from webhook_receiver.server import DEFAULT_HOST, build_server
from webhook_receiver.signature import sign_body

SLOW_BODY_SECONDS = 12
CONCURRENT_DELIVERIES = 60
SERVER_START_TIMEOUT_S = 10

StartServer = Callable[[PulseSettings], int]


@pytest.fixture
def start_server(engine: Engine) -> Iterator[StartServer]:
    """Return a function that runs the receiver on a free 127.0.0.1 port and returns the port.

    Every server started is stopped at teardown.
    """
    running: list[tuple[object, threading.Thread]] = []

    def start(settings: PulseSettings) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        port = int(listener.getsockname()[1])
        server = build_server(settings, host="127.0.0.1", port=port, engine=engine)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        running.append((server, thread))

        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the receiver did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        return port

    yield start

    for server, thread in running:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=SERVER_START_TIMEOUT_S + 5)


def read_http_response(connection: socket.socket) -> tuple[int, bytes]:
    """Read a response sent with `Connection: close` and return its status and body."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def request_head(port: int, extra_headers: list[str]) -> bytes:
    lines = [
        "POST /webhooks/firecrawl HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Connection: close",
        *extra_headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def test_slow_and_fast_client_one_row(
    start_server: StartServer, tmp_path: Path, engine: Engine
) -> None:
    port = start_server(make_settings(tmp_path))
    headers_sent = threading.Event()
    slow_result: list[tuple[int, bytes]] = []

    def send_slowly() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
            connection.sendall(
                request_head(
                    port,
                    [
                        f"Content-Length: {len(VECTOR_BODY)}",
                        f"x-firecrawl-signature: {VECTOR_SIGNATURE}",
                    ],
                )
            )
            headers_sent.set()
            piece = len(VECTOR_BODY) // SLOW_BODY_SECONDS + 1
            for start in range(0, len(VECTOR_BODY), piece):
                time.sleep(1)
                connection.sendall(VECTOR_BODY[start : start + piece])
            slow_result.append(read_http_response(connection))

    slow_client = threading.Thread(target=send_slowly)
    slow_client.start()
    assert headers_sent.wait(timeout=10)
    fast = httpx.post(
        f"http://127.0.0.1:{port}/webhooks/firecrawl",
        content=VECTOR_BODY,
        headers={"X-Firecrawl-Signature": VECTOR_SIGNATURE},
        timeout=30,
    )
    slow_client.join(timeout=SLOW_BODY_SECONDS + 30)

    [(slow_status, slow_body)] = slow_result
    assert fast.status_code == 200
    assert fast.json()["status"] == "stored"
    assert slow_status == 200
    assert json.loads(slow_body)["status"] == "duplicate"
    assert len(staged_rows(engine)) == 1


def test_chunked_body_over_limit_413(
    start_server: StartServer, tmp_path: Path, engine: Engine
) -> None:
    port = start_server(make_settings(tmp_path, max_body_bytes=100))
    body = b'{"type":"crawl.page","pad":"' + b"x" * 200 + b'"}'
    chunks = b"".join(
        f"{len(body[i : i + 50]):x}\r\n".encode() + body[i : i + 50] + b"\r\n"
        for i in range(0, len(body), 50)
    )

    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            request_head(
                port,
                [
                    "Transfer-Encoding: chunked",
                    f"X-Firecrawl-Signature: {sign_body(WEBHOOK_SECRET, body)}",
                ],
            )
        )
        connection.sendall(chunks + b"0\r\n\r\n")
        status, response_body = read_http_response(connection)

    assert status == 413
    assert json.loads(response_body) == {
        "detail": "request body is larger than the limit of 100 bytes"
    }
    assert staged_rows(engine) == []


def test_concurrent_deliveries_all_stored(
    start_server: StartServer, tmp_path: Path, engine: Engine
) -> None:
    port = start_server(make_settings(tmp_path))
    bodies = [
        json.dumps({"type": "crawl.page", "id": "job-load", "webhookId": f"wh-{n}"}).encode()
        for n in range(CONCURRENT_DELIVERIES)
    ]

    def post(body: bytes) -> int:
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/firecrawl",
            content=body,
            headers={"X-Firecrawl-Signature": sign_body(WEBHOOK_SECRET, body)},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, bodies))

    assert statuses == [200] * CONCURRENT_DELIVERIES
    assert len(staged_rows(engine)) == CONCURRENT_DELIVERIES


def test_disconnect_mid_body_not_stored(
    start_server: StartServer, tmp_path: Path, engine: Engine
) -> None:
    port = start_server(make_settings(tmp_path))

    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            request_head(
                port,
                [
                    f"Content-Length: {len(VECTOR_BODY)}",
                    f"X-Firecrawl-Signature: {VECTOR_SIGNATURE}",
                ],
            )
        )
        connection.sendall(VECTOR_BODY[:100])
    complete = httpx.post(
        f"http://127.0.0.1:{port}/webhooks/firecrawl",
        content=VECTOR_BODY,
        headers={"X-Firecrawl-Signature": VECTOR_SIGNATURE},
        timeout=30,
    )

    [row] = staged_rows(engine)
    assert complete.status_code == 200
    assert row["raw_body"] == VECTOR_BODY


def test_build_server_defaults_to_loopback(tmp_path: Path, engine: Engine) -> None:
    server = build_server(make_settings(tmp_path), engine=engine)

    assert server.config.host == "127.0.0.1"
    assert DEFAULT_HOST == "127.0.0.1"


def test_main_passes_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        receiver_main, "serve", lambda settings, host, port: calls.append((host, port))
    )

    receiver_main.main(["--port", "9123"])

    assert calls == [("127.0.0.1", 9123)]
