"""Command line: no sub-command opens the GUI; `serve` runs the receiver headless."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from app import __version__
from app.config import (
    DB_ENV,
    DEFAULT_PORT,
    PORT_ENV,
    STALE_ENV,
    ConfigError,
    Settings,
    resolve_settings,
    spool_dir,
)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        default=argparse.SUPPRESS,
        help="SQLite history file, or postgresql://user:password@host:port/dbname "
        f"(default: ${DB_ENV} or history.db in the user data folder)",
    )
    common.add_argument(
        "--port",
        type=int,
        default=argparse.SUPPRESS,
        help=f"receiver port on 127.0.0.1 (default: ${PORT_ENV} or {DEFAULT_PORT})",
    )
    common.add_argument(
        "--stale-after",
        metavar="HOURS",
        type=float,
        default=argparse.SUPPRESS,
        help="a run still 'running' with no report for this long becomes 'interrupted' "
        f"(default: ${STALE_ENV} or 24)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="hindsight",
        description="Hindsight records and shows the execution history of workflows. "
        "With no command it opens the desktop app.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"hindsight {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        parents=[common],
        help="run the receiver without a window until interrupted",
        description="Receive execution reports on 127.0.0.1 and store them; stop with Ctrl+C.",
    )
    return parser


def _serve(settings: Settings) -> int:
    from app.ingest.service import IngestService
    from app.store.connection import StoreError, close_database, open_database

    try:
        open_database(settings.db_path)
    except StoreError as exc:
        print(f"hindsight: {exc}", file=sys.stderr)
        return 1
    service = IngestService(
        settings.host,
        settings.port,
        stale_after_hours=settings.stale_after_hours,
        spool=spool_dir(),
    )
    try:
        service.start()
    except OSError as exc:
        print(
            f"hindsight: cannot listen on {settings.receiver_url}: {exc.strerror}. "
            "Is Hindsight already running? Choose another port with --port.",
            file=sys.stderr,
        )
        close_database()
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Hindsight {__version__} receiving on {service.url}/api/executions", flush=True)
    print(f"Database: {settings.database_label}", flush=True)
    stop.wait()
    service.stop()
    close_database()
    print("Hindsight receiver stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(
            getattr(args, "db", None),
            getattr(args, "port", None),
            getattr(args, "stale_after", None),
        )
    except ConfigError as exc:
        print(f"hindsight: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    from app.ui.application import run_gui  # Qt is imported only when a window is wanted

    return run_gui(settings)
