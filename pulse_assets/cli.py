"""The `pulse` command line: demo, up, receiver, warehouse and search."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from pulse_assets.settings import PulseSettings, load_settings
from warehouse_sql.embedded import port_is_free

log = logging.getLogger("pulse")

DEFAULT_UI_PORT = 3000
DEFAULT_RECEIVER_PORT = 8000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so the `finally` that stops the stack runs."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def wait_for_stop_signal() -> None:
    """Sleep until SIGINT or SIGTERM raises KeyboardInterrupt."""
    while True:
        signal.pause()


def check_ports_free(*ports: int | None) -> None:
    """Raise if a port is taken, so the UI printed is never another program's."""
    for port in ports:
        if port and not port_is_free(port):
            raise RuntimeError(
                f"port {port} on 127.0.0.1 is already in use; stop what listens there or pass "
                "another port (--ui-port, --receiver-port)"
            )


def run_demo(args: argparse.Namespace, settings: PulseSettings) -> int:
    from pulse_assets import demo
    from pulse_assets.stack import Stack, ensure_secrets
    from warehouse_sql.connection import create_warehouse_engine

    path = Path(args.deliveries)
    if not path.is_file():
        print(f"error: deliveries file not found: {path}", file=sys.stderr)
        return 2
    settings = ensure_secrets(settings)
    stack = Stack(settings)
    since = datetime.now(UTC)
    try:
        check_ports_free(args.ui_port, args.receiver_port)
        stack.prepare()
        os.environ.update({"DAGSTER_HOME": stack.environment()["DAGSTER_HOME"]})
        engine = create_warehouse_engine(stack.warehouse_url)
        base_url = stack.start_receiver(args.receiver_port or free_port())
        stack.start_dagster(args.ui_port)
        if args.ui_port:
            print(f"Dagster UI: http://127.0.0.1:{args.ui_port}", file=sys.stderr)
        crawl_ids, sent = demo.send_deliveries(base_url, path, settings.webhook_secret or "")
        print(f"Sent {sent} deliveries of {len(crawl_ids)} crawls to {base_url}", file=sys.stderr)
        rows = demo.wait_for_crawls(
            stack, engine, crawl_ids, since, args.timeout, args.first_run_timeout
        )
        for crawl_id in sorted(rows):
            print(demo.row_as_json(rows[crawl_id]), flush=True)
        if args.keep_running:
            print("Receiver and Dagster UI keep running; press Ctrl-C to stop.", file=sys.stderr)
            wait_for_stop_signal()
        return 0
    except KeyboardInterrupt:
        return 130
    except (demo.DemoError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


def run_up(args: argparse.Namespace, settings: PulseSettings) -> int:
    from pulse_assets.stack import Stack, ensure_secrets

    stack = Stack(ensure_secrets(settings))
    try:
        check_ports_free(args.ui_port, args.receiver_port)
        stack.prepare()
        stack.start_receiver(args.receiver_port)
        stack.start_dagster(args.ui_port)
        print(
            f"Receiver: http://127.0.0.1:{args.receiver_port}/webhooks/firecrawl\n"
            f"Dagster UI: http://127.0.0.1:{args.ui_port}\nPress Ctrl-C to stop.",
            file=sys.stderr,
        )
        wait_for_stop_signal()
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


def run_receiver(args: argparse.Namespace, settings: PulseSettings) -> int:
    from pulse_assets.stack import ensure_secrets
    from webhook_receiver.app import ReceiverConfigError
    from webhook_receiver.server import serve

    # The same generated secrets as `pulse up`, unless PULSE_WEBHOOK_SECRET is set.
    if not settings.insecure_dev:
        settings = ensure_secrets(settings)
    try:
        serve(settings, host=args.host, port=args.port)
    except ReceiverConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def run_warehouse(args: argparse.Namespace, settings: PulseSettings) -> int:
    from warehouse_sql import migrate
    from warehouse_sql.connection import create_warehouse_engine, embedded_warehouse
    from warehouse_sql.embedded import EmbeddedWarehouseError

    if not settings.embedded_warehouse:
        if args.action == "url":
            print(settings.warehouse_url)
            return 0
        print(
            "error: PULSE_WAREHOUSE_URL is set, so there is no embedded warehouse to "
            f"{args.action}",
            file=sys.stderr,
        )
        return 2
    warehouse = embedded_warehouse(settings)
    try:
        if args.action == "start":
            started = warehouse.start()
            engine = create_warehouse_engine(warehouse.url())
            migrate.upgrade(engine)
            engine.dispose()
            state = "started" if started else "already running"
            print(f"Warehouse {state}: {warehouse.url(driver='postgresql')}", file=sys.stderr)
        elif args.action == "stop":
            stopped = warehouse.stop()
            print("Warehouse stopped" if stopped else "Warehouse was not running", file=sys.stderr)
        else:
            print(warehouse.url(driver="postgresql"))
    except EmbeddedWarehouseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def run_search(args: argparse.Namespace, settings: PulseSettings) -> int:
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from pulse_assets.search.output import format_results, results_as_dict
    from pulse_assets.search.runtime import SearchRuntime
    from pulse_assets.search.service import search
    from pulse_assets.search.stored import crawl_exists
    from warehouse_sql.connection import create_warehouse_engine, embedded_warehouse, warehouse_url

    if settings.embedded_warehouse and not embedded_warehouse(settings).is_running():
        print(
            f"error: the embedded warehouse in {settings.postgres_dir} is not running; "
            "start it with `pulse warehouse start`, or run `pulse up`",
            file=sys.stderr,
        )
        return 1
    if not args.query.strip() or args.limit < 1:
        print("error: QUERY must not be blank and --limit must be at least 1", file=sys.stderr)
        return 2
    runtime = SearchRuntime(settings)
    engine = create_warehouse_engine(warehouse_url(settings))
    try:
        if args.crawl_id is not None and not crawl_exists(engine, args.crawl_id):
            print(f"error: crawl {args.crawl_id!r} not found in the warehouse", file=sys.stderr)
            return 1
        results = search(
            args.query,
            crawl_id=args.crawl_id,
            limit=args.limit,
            engine=engine,
            embedder=runtime.embedder,
            open_store=runtime.open_store,
            bm25_cache=runtime.bm25_cache,
        )
    except SQLAlchemyError as error:
        first_line = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(f"error: warehouse query failed: {first_line}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(results_as_dict(args.query, args.crawl_id, results), indent=2))
    else:
        print("\n".join(format_results(results)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pulse_assets.demo import DEMO_DELIVERIES

    parser = argparse.ArgumentParser(prog="pulse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="Run the main job on a crawl and print its session.")
    demo.add_argument(
        "--deliveries",
        default=str(DEMO_DELIVERIES),
        help="JSON Lines file of webhook bodies (default: the bundled demo crawl)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the receiver and the Dagster UI up until Ctrl-C",
    )
    demo.add_argument(
        "--ui-port",
        type=int,
        default=DEFAULT_UI_PORT,
        help="port of the Dagster UI on 127.0.0.1 (default 3000; 0 for no UI)",
    )
    demo.add_argument(
        "--receiver-port",
        type=int,
        default=0,
        help="port of the receiver on 127.0.0.1 (default: a free port)",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds to wait for the crawls to finish (default 1800)",
    )
    demo.add_argument(
        "--first-run-timeout",
        type=float,
        default=180,
        help="seconds to wait for the first run to start (default 180)",
    )
    demo.set_defaults(handler=run_demo)

    up = commands.add_parser("up", help="Run the warehouse, receiver, Dagster UI and daemon.")
    up.add_argument(
        "--ui-port",
        type=int,
        default=DEFAULT_UI_PORT,
        help="port of the Dagster UI on 127.0.0.1 (default 3000)",
    )
    up.add_argument(
        "--receiver-port",
        type=int,
        default=DEFAULT_RECEIVER_PORT,
        help="port of the receiver on 127.0.0.1 (default 8000)",
    )
    up.set_defaults(handler=run_up)

    receiver = commands.add_parser("receiver", help="Run the webhook receiver alone.")
    receiver.add_argument("--host", default="127.0.0.1", help="address to listen on")
    receiver.add_argument(
        "--port", type=int, default=DEFAULT_RECEIVER_PORT, help="port to listen on (default 8000)"
    )
    receiver.set_defaults(handler=run_receiver)

    warehouse = commands.add_parser("warehouse", help="Start, stop or locate the warehouse.")
    warehouse.add_argument("action", choices=["start", "stop", "url"])
    warehouse.set_defaults(handler=run_warehouse)

    search = commands.add_parser("search", help="Search the indexed pages (hybrid ranking).")
    search.add_argument("query", metavar="QUERY", help="search text")
    search.add_argument("--crawl-id", help="search only this crawl (default: every crawl)")
    search.add_argument("--limit", type=int, default=10, help="maximum hits (default 10)")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    search.set_defaults(handler=run_search)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic reports each plugin and migration step at INFO; Pulse reports what matters itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    stop_on_sigterm()
    if getattr(args, "ui_port", None) == 0:
        args.ui_port = None
    return int(args.handler(args, load_settings()))


if __name__ == "__main__":
    sys.exit(main())
