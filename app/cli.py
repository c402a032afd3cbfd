"""Command line: no sub-command opens the GUI; `serve` runs the receiver headless."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from app import __version__, desktop_install
from app.config import (
    DB_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    PORT_ENV,
    STALE_ENV,
    ConfigError,
    Settings,
    resolve_settings,
    spool_dir,
)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr (exit status 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _common_options() -> _Parser:
    common = _Parser(add_help=False)
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
    parser = _Parser(
        prog="hindsight",
        description="Hindsight records and shows the execution history of workflows. "
        "With no command it opens the desktop app.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"hindsight {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the app offscreen on a temporary database, receive one report, exit 0",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the receiver without a window until interrupted",
        description="Receive execution reports on 127.0.0.1 and store them; stop with Ctrl+C.",
    )
    serve.add_argument(
        "--listen",
        metavar="ADDR",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}); beyond loopback, e.g. 0.0.0.0, "
        "every request must carry the token from the token file",
    )
    _add_history_commands(commands, common)
    desktop_install.register(commands)
    return parser


# -- history commands: parsers here, the work in app/commands/ ---------------------------
def _handler(module: str, function: str) -> dict[str, tuple[str, str]]:
    """Named, not imported: the GUI start-up need not load every command's dependencies."""
    return {"handler": (f"app.commands.{module}", function)}


def _add_history_commands(
    commands: argparse._SubParsersAction[_Parser],
    common: _Parser,
) -> None:
    from app.commands.options import add_filter_options

    runs = commands.add_parser(
        "runs",
        parents=[common],
        help="list, show, export, import and delete recorded runs",
        description="Read and manage the recorded runs.",
    )
    actions = runs.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        parents=[common],
        help="recorded runs, newest first",
        description="Recorded runs, newest first, as a table or (--json) as the HTTP API's items.",
    )
    add_filter_options(listing)
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (50)")
    listing.add_argument("--json", action="store_true", help="print GET /api/executions items")
    listing.set_defaults(**_handler("runs", "list_runs"))

    show = actions.add_parser(
        "show",
        parents=[common],
        help="one run: nodes, the failed node's error, stack and input",
        description="One run in detail. `runs show --last --workflow W` answers "
        "'what failed in the last run of W, and why'.",
    )
    show.add_argument("run_id", nargs="?", metavar="ID", help="run id, or `last`")
    show.add_argument(
        "--last", action="store_true", help="the newest run (narrowed by the options below)"
    )
    add_filter_options(show)
    show.add_argument("--json", action="store_true", help="print the run in the report shape")
    show.set_defaults(**_handler("runs", "show_run"))

    export = actions.add_parser(
        "export",
        parents=[common],
        help="write runs to a JSON (re-importable) or CSV file",
        description="Write the selected runs, newest first, as a JSON array of reports "
        "(`runs import` and POST /api/executions take it back) or as CSV.",
    )
    add_filter_options(export)
    export.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default or `-`: standard output)"
    )
    export.add_argument(
        "--format", choices=("json", "csv"), help="default: csv for *.csv, otherwise json"
    )
    export.add_argument(
        "--per", choices=("run", "node"), default="run", help="CSV: one row per run or per node"
    )
    export.set_defaults(**_handler("runs", "export_runs"))

    importing = actions.add_parser(
        "import",
        parents=[common],
        help="store the runs of a JSON report file",
        description="Store the runs of a file holding one report or an array of them "
        "(what `runs export` writes). The whole file is checked first: if any report is "
        "invalid, every problem is listed and nothing is stored.",
    )
    importing.add_argument("file", metavar="FILE")
    importing.set_defaults(**_handler("runs", "import_runs"))

    delete = actions.add_parser(
        "delete",
        parents=[common],
        help="delete runs by id, a workflow's runs, or everything",
        description="Delete runs. Asks for confirmation with the exact count unless --yes; "
        "without a terminal, --yes is required.",
    )
    delete.add_argument("run_ids", nargs="*", metavar="ID")
    delete.add_argument("--workflow", metavar="W", help="every run of workflow W (id or name)")
    delete.add_argument("--all", action="store_true", help="every run in the history")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
    delete.set_defaults(**_handler("runs", "delete_runs"))

    purge = commands.add_parser(
        "purge",
        parents=[common],
        help="delete old runs by age and status, then give the space back",
        description="Delete runs started longer ago than --older-than (optionally only "
        "some statuses), always keeping the newest --keep-last runs of every workflow, then "
        "return the freed space to the file system. At a terminal it asks first.",
    )
    purge.add_argument(
        "--older-than", default="30d", metavar="AGE", help="e.g. 12h, 30d, 8w (default 30d)"
    )
    purge.add_argument("--status", metavar="S,...", help="only runs with these statuses")
    purge.add_argument(
        "--keep-last", type=int, default=0, metavar="N", help="keep each workflow's newest N runs"
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="list what would go and the bytes freed"
    )
    purge.add_argument("--yes", "-y", action="store_true", help="do not ask")
    purge.add_argument("--json", action="store_true", help="print counts, bytes and run ids")
    purge.set_defaults(**_handler("purge", "run_purge"))

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="record sample workflow runs so there is something to look at",
        description="Run a few sample workflows through the reporter to the receiver at "
        "$HINDSIGHT_URL (default: this machine's receiver port); when none answers, store "
        "them straight into the --db database.",
    )
    demo.add_argument("--url", metavar="URL", help="receiver to send to (default $HINDSIGHT_URL)")
    demo.set_defaults(**_handler("demo", "run_demo_command"))


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    from peewee import DatabaseError

    from app.commands.errors import CommandFailed, UsageError

    module, function = args.handler
    command = getattr(importlib.import_module(module), function)
    # Report text can hold any character; a terminal that cannot show one gets a `?`.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        return int(command(args, settings))
    except UsageError as error:
        print(f"hindsight: {error}", file=sys.stderr)
        return error.exit_status
    except CommandFailed as error:
        print(f"hindsight: {error}", file=sys.stderr)
        for line in error.details:
            print(f"  {line}", file=sys.stderr)
        return error.exit_status
    except DatabaseError as error:
        print(f"hindsight: database error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hindsight runs list | head`: the reader has seen enough
        # Point stdout at nothing so the flush at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _serve(settings: Settings) -> int:
    from app.ingest.auth import TokenError, is_loopback, token_path
    from app.ingest.service import IngestService
    from app.store.connection import StoreError, close_database, open_database
    from app.store.failures import read_only_reason

    read_only = read_only_reason(settings.db_path) if isinstance(settings.db_path, Path) else None
    if read_only is not None:
        print(f"hindsight: cannot store reports: {read_only}", file=sys.stderr)
        return 1
    try:
        open_database(settings.db_path)
    except StoreError as exc:
        print(f"hindsight: {exc}", file=sys.stderr)
        return 1
    try:
        service = IngestService(
            settings.host,
            settings.port,
            stale_after_hours=settings.stale_after_hours,
            spool=spool_dir(),
            store_process=settings.db_path,
        )
    except TokenError as exc:
        print(f"hindsight: {exc}", file=sys.stderr)
        close_database()
        return 1
    # Before starting: the store process takes a moment to start, and a Ctrl-C meanwhile
    # must stop serve like any other (exit 0), not end it with a traceback.
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        service.start()
    except StoreError as exc:
        print(f"hindsight: {exc}", file=sys.stderr)
        close_database()
        return 1
    except OSError as exc:
        print(
            f"hindsight: cannot listen on {settings.receiver_url}: {exc.strerror}. "
            "Is Hindsight already running? Choose another port with --port.",
            file=sys.stderr,
        )
        close_database()
        return 1
    print(f"Hindsight {__version__} receiving on {service.url}/api/executions", flush=True)
    print(f"Database: {settings.database_label}", flush=True)
    if not is_loopback(settings.host):
        print(f"Token required (Authorization: Bearer ...): see {token_path()}", flush=True)
    stop.wait()
    service.stop()
    close_database()
    print("Hindsight receiver stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.self_test:
        from app.ui.self_test import run_self_test

        return run_self_test()
    if args.command == "install-desktop":
        return desktop_install.main(uninstall_requested=args.uninstall)
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
        return _serve(dataclasses.replace(settings, host=args.listen))
    if hasattr(args, "handler"):
        return _run_command(args, settings)
    from app.ui.application import run_gui  # Qt is imported only when a window is wanted

    return run_gui(settings)
