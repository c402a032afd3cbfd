"""Reports the reporter spooled to disk while no receiver answered, ingested once one does.

Files are taken oldest first (their names start with the UTC time they were written) and
each is removed only after the transaction holding it has committed. A file that is not a
valid report is renamed `*.json.rejected` so that it never blocks the ones behind it, and one
whose storing crashed the store process `*.json.crashed` (as are request bodies that did,
`keep_crashed`): kept for a look, never tried again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from pathlib import Path

from app.ingest.report import ReportError, decode_reports
from app.ingest.writer import ReportWriter, StoreCrashed, WriterBusy, WriterStopped
from app.reporter import write_atomic

log = logging.getLogger(__name__)

MAX_SPOOL_FILE = 20 * 1024 * 1024  # the same limit as an HTTP body
CRASHED_SUFFIX = ".crashed"


def keep_crashed(directory: Path, body: bytes) -> Path:
    """Keep a request body whose storing crashed the store process, next to the spooled
    reports but under a name the pick-up never takes: the client is told it will never be
    stored here (so it stops retrying), and the report is still on disk."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{stamp}-request-{secrets.token_hex(4)}.json{CRASHED_SUFFIX}"
    return write_atomic(directory, name, body)  # as the reporter spools


def ingest_spool(directory: Path, writer: ReportWriter, stop: threading.Event | None = None) -> int:
    """Store every complete spooled report; return how many files were ingested.

    Between files it checks `stop`, so shutting down never waits for a long spool.
    """
    try:
        files = sorted(path for path in directory.glob("*.json") if path.is_file())
    except OSError:
        return 0
    ingested = 0
    for path in files:
        if stop is not None and stop.is_set():
            break
        try:
            if path.stat().st_size > MAX_SPOOL_FILE:
                raise ReportError("spooled report is larger than 20 MiB", [])
            records = decode_reports(path.read_bytes())
        except FileNotFoundError:
            continue  # another process took it
        except ReportError as error:
            log.warning("spooled report %s is not valid (%s); set aside", path.name, error)
            with contextlib.suppress(OSError):
                path.rename(path.with_name(path.name + ".rejected"))
            continue
        except OSError as error:
            log.warning("cannot read spooled report %s: %s", path.name, error)
            continue
        try:
            writer.write(records)
        except (WriterBusy, WriterStopped):
            return ingested  # try the rest at the next pass
        except StoreCrashed:
            # Kept for a look, but never tried again: it would stop the store every pass.
            log.error("spooled report %s stops the store process; set aside", path.name)
            with contextlib.suppress(OSError):
                path.rename(path.with_name(path.name + CRASHED_SUFFIX))
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        ingested += 1
    return ingested
