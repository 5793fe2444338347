"""Benchmark: signed deliveries per second with the durable insert, against the same app without it.

Starts the receiver under uvicorn in two child processes on 127.0.0.1: one stores each
delivery in a scratch warehouse, the other has the staging insert replaced by a no-op. A load
generator in this process sends unique signed `crawl.page` bodies (a 2 KB page each) at a fixed
concurrency for a fixed time, bounded in both, to the two apps in turn over alternating rounds.
Goals: the durable rate is at least 0.6 of the no-database rate, p99 latency is under 100 ms,
and the staged rows equal the 2xx responses.

    .venv/bin/python benchmarks/receiver_ingest.py            # concurrency 32 and 64, 15 s each
    .venv/bin/python benchmarks/receiver_ingest.py --smoke    # concurrency 4, 2 s
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from common import report, scratch_home, scratch_warehouse
from sqlalchemy import text

from pulse_assets.demo import sign

SECRET = "ingest-benchmark-secret"
CRAWL_ID = "0b0b0b0b-0000-4000-8000-00000000beef"
MARKDOWN = ("# Ingest benchmark\n\n" + "Pulse stores every delivery before it answers. " * 40)[
    :2048
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(port: int, with_database: bool) -> None:
    """Run the receiver in this process; without the database, staging is a no-op."""
    import uvicorn

    from pulse_assets.settings import PulseSettings
    from webhook_receiver import app as receiver_app
    from webhook_receiver.app import create_app
    from webhook_receiver.server import run_server
    from webhook_receiver.staging import StagingResult

    engine = None
    if not with_database:

        def stage_nothing(_engine, rows, known_crawls=None):  # type: ignore[no-untyped-def]
            return [StagingResult(delivery_id=0, inserted=True, row=row) for row in rows]

        # The app still batches rows through its StagingWriter, and only the insert is skipped.
        receiver_app.stage_deliveries = stage_nothing  # type: ignore[assignment]
        from sqlalchemy import create_engine

        engine = create_engine("postgresql+psycopg2://unused@127.0.0.1:9/none")
    settings = PulseSettings(webhook_secret=SECRET, warehouse_url=os.environ["PULSE_WAREHOUSE_URL"])
    # The receiver's own line per delivery stays on, as in production; uvicorn's access log
    # is off, since it would log each request a second time.
    logging.basicConfig(level=logging.INFO)
    config = uvicorn.Config(
        create_app(settings, engine),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
    )
    run_server(uvicorn.Server(config))


def body(number: int) -> bytes:
    delivery = {
        "success": True,
        "type": "crawl.page",
        "id": CRAWL_ID,
        "webhookId": f"ingest-{os.getpid()}-{number}",
        "data": [
            {
                "markdown": MARKDOWN,
                "metadata": {"sourceURL": f"https://ingest.example/{number}", "statusCode": 200},
            }
        ],
        "metadata": {},
    }
    return json.dumps(delivery, separators=(",", ":")).encode()


@dataclass
class Samples:
    """Latencies and status counts of the requests of one or more load rounds."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    def figures(self) -> dict[str, object]:
        ok = sum(count for status, count in self.statuses.items() if 200 <= status < 300)
        latencies = self.latencies
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return {
            "requests": len(latencies),
            "answers_2xx": ok,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "per_second": round(ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(quantiles[49] * 1000, 1),
            "p99_ms": round(quantiles[98] * 1000, 1),
        }


async def load(
    base_url: str, concurrency: int, seconds: float, numbers: Iterator[int], samples: Samples
) -> None:
    """Send deliveries from `concurrency` workers until `seconds` pass, adding to `samples`.

    The client is aiohttp, which spends less CPU per request than httpx, so that the load
    generator takes less of the cores that it shares with the receiver.
    """
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10)

    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                content = body(next(numbers))
                headers = {
                    "Content-Type": "application/json",
                    "X-Firecrawl-Signature": sign(content, SECRET),
                }
                started = time.perf_counter()
                async with client.post(
                    "/webhooks/firecrawl", data=content, headers=headers
                ) as response:
                    await response.read()
                samples.latencies.append(time.perf_counter() - started)
                samples.statuses[response.status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        samples.seconds += time.perf_counter() - started


def start_receiver(
    port: int, with_database: bool, warehouse_url: str, log_dir: Path
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(Path(__file__)), "--serve", str(port)]
    if not with_database:
        argv.append("--no-database")
    env = {**os.environ, "PULSE_WAREHOUSE_URL": warehouse_url}
    log_file = (log_dir / f"receiver-{'durable' if with_database else 'bare'}.log").open("ab")
    process = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the receiver did not start on 127.0.0.1:{port} within 60 s")


def measure(concurrencies: list[int], seconds: float, rounds: int) -> dict[str, object]:
    """Load both apps in alternating rounds, so that a noisy spell on the machine falls on
    both of them rather than on one."""
    figures: dict[str, object] = {}
    numbers = itertools.count()
    with scratch_home("ingest") as home, scratch_warehouse(home) as (url, engine):
        servers = {
            mode: start_receiver(free_port(), mode == "durable", url, home)
            for mode in ("durable", "no_database")
        }
        try:
            for concurrency in concurrencies:
                samples = {mode: Samples() for mode in servers}
                for _ in range(rounds):
                    for mode, server in servers.items():
                        base_url = f"http://127.0.0.1:{server_port(server)}"
                        asyncio.run(
                            load(base_url, concurrency, seconds / rounds, numbers, samples[mode])
                        )
                for mode, mode_samples in samples.items():
                    figures[f"{mode}_c{concurrency}"] = mode_samples.figures()
        finally:
            for server in servers.values():
                server.terminate()
            for server in servers.values():
                server.wait(30)
        with engine.connect() as connection:
            staged = connection.execute(
                text("SELECT COUNT(*) FROM webhook.staged_deliveries")
            ).scalar_one()
    durable_2xx = sum(figures[f"durable_c{c}"]["answers_2xx"] for c in concurrencies)  # type: ignore[index]
    figures["staged_rows"] = staged
    figures["staged_rows_equal_2xx"] = staged == durable_2xx
    for concurrency in concurrencies:
        durable = figures[f"durable_c{concurrency}"]["per_second"]  # type: ignore[index]
        bare = figures[f"no_database_c{concurrency}"]["per_second"]  # type: ignore[index]
        figures[f"ratio_c{concurrency}"] = round(durable / bare, 3) if bare else None
    figures["goal"] = "ratio >= 0.6, durable p99_ms < 100, staged_rows_equal_2xx"
    return figures


def server_port(server: subprocess.Popen[bytes]) -> int:
    return int(server.args[server.args.index("--serve") + 1])  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="concurrency 4 for 2 s")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds that share the seconds"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--no-database", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, with_database=not args.no_database)
        return
    if args.smoke:
        args.seconds, args.concurrency, args.rounds = 2.0, [4], 1
    figures = measure(args.concurrency, args.seconds, args.rounds)
    report("receiver_ingest", {"seconds_each": args.seconds, "rounds": args.rounds, **figures})


if __name__ == "__main__":
    main()
