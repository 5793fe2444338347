"""Run the receiver: `python -m webhook_receiver [--host HOST] [--port PORT]`."""

from __future__ import annotations

import argparse

from pulse_assets.settings import load_settings
from webhook_receiver.server import DEFAULT_HOST, DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m webhook_receiver",
        description="Receive Firecrawl webhooks. Settings come from PULSE_* variables.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="Address to listen on.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port to listen on.")
    arguments = parser.parse_args(argv)
    serve(load_settings(), host=arguments.host, port=arguments.port)


if __name__ == "__main__":
    main()
