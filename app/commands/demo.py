"""`hindsight demo`: the command-line face of app.demo."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.commands.errors import CommandFailed
from app.config import ConfigError, Settings, resolve_settings
from app.demo import URL_ENV, TokenRefused, run_demo
from app.store.connection import StoreError


def run_demo_command(args: argparse.Namespace, settings: Settings) -> int:
    # The receiver this installation would run (--port, $HINDSIGHT_PORT) unless told otherwise.
    url = args.url or os.environ.get(URL_ENV) or settings.receiver_url
    try:
        result = run_demo(url=url, db_path=settings.db_path)
    except (StoreError, TokenRefused) as error:
        raise CommandFailed(str(error)) from None
    try:
        default_db: Path | str | None = resolve_settings().db_path  # `hindsight runs` without --db
    except ConfigError:
        default_db = None
    print(result.describe(default_db))
    return 0
