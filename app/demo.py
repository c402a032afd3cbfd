"""Sample history for a new user: `hindsight demo`, and the desktop app's demo button.

The sample workflows (`app.demo_workflows`) report through `app.reporter`, exactly as a
user's workflow would. Their runs are spread over the last week so the charts have
something to show: each report is moved onto its place in the timeline just before the
reporter queues it. When a receiver answers at the URL, the reporter delivers them there;
otherwise the same reports are validated like a POST body and stored straight into the
database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import shlex
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app import demo_workflows as flows
from app.reporter import DEFAULT_URL, Reporter, default_token

URL_ENV = "HINDSIGHT_URL"
DAYS = 7
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000

Workflow = Callable[[Reporter, str, random.Random, bool, flows.Timeline], None]


@dataclass(frozen=True)
class DemoResult:
    runs: int
    failed: int
    url: str
    via_receiver: bool  # False: stored straight into `db_path`
    # Where they were stored: the database given, or the one the receiver names (None: an
    # older receiver that does not say).
    db_path: Path | str | None
    confirmed: int  # runs the receiver or the database holds afterwards

    def describe(self, default_db: Path | str | None = None) -> str:
        """`default_db`: the database `hindsight runs` reads without --db; the hint names
        the receiver's when it is another one."""
        what = f"{self.runs} sample runs of 3 workflows ({self.failed} failed)"
        hint = "Try: hindsight runs show --last --workflow invoice-triage"
        if self.via_receiver:
            stored = (
                ""
                if self.confirmed == self.runs
                else f" It has stored {self.confirmed} so far; the rest wait in the spool folder."
            )
            where = f", which stores them in {self.db_path}" if self.db_path else ""
            named = str(self.db_path or "")
            if named and "***" not in named and not _same_database(named, default_db):
                hint += f" --db {shlex.quote(named)}"
            return f"Sent {what} to the receiver at {self.url}{where}.{stored}\n{hint}"
        return (
            f"No receiver answered at {self.url}, so {what} went straight into "
            f"{self.db_path}.\n{hint} --db {shlex.quote(str(self.db_path))}"
        )


def _same_database(named: str, other: Path | str | None) -> bool:
    if other is None:
        return False
    if "://" in named or "://" in str(other):
        return named == str(other)
    return Path(named).expanduser().resolve() == Path(other).expanduser().resolve()


@dataclass(frozen=True)
class _Planned:
    started_ms: int
    workflow: Workflow
    workflow_id: str
    fail: bool
    scale: float


def _iso(ms: float) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
    return moment.removesuffix("+00:00") + "Z"


def _ms(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp() * 1000


def place_report(report: dict[str, Any], placement: flows.Placement) -> dict[str, Any]:
    """The report moved to start at `placement.started_ms`, its timeline stretched by `scale`."""
    origin = _ms(report["startedAt"])

    def move(stamp: str) -> str:
        return _iso(placement.started_ms + (_ms(stamp) - origin) * placement.scale)

    def moved(item: dict[str, Any], *stamps: str) -> dict[str, Any]:
        copy = dict(item)
        for key in stamps:
            if key in copy:
                copy[key] = move(copy[key])
        if "durationMs" in copy:
            copy["durationMs"] = round(copy["durationMs"] * placement.scale)
        return copy

    out = moved(report, "startedAt", "completedAt")
    nodes = []
    for node in report.get("nodeExecutions", []):
        copy = moved(node, "startedAt", "completedAt")
        if node["nodeId"] in placement.groups:
            copy["group"] = placement.groups[node["nodeId"]]
        nodes.append(copy)
    out["nodeExecutions"] = nodes
    if "logs" in report:
        out["logs"] = [moved(entry, "timestamp") for entry in report["logs"]]
    if placement.artifacts:
        out["artifacts"] = list(placement.artifacts)
    return out


class _DemoReporter(Reporter):
    """app.reporter with the timeline applied to each report before it is queued.

    Overrides the reporter's private `_submit` hook: the demo ships with the reporter, and
    this keeps everything else (queueing, retries, spooling) the reporter's own.
    """

    def __init__(self, url: str, timeline: flows.Timeline, spool_dir: Path | None) -> None:
        super().__init__(url, spool_dir=spool_dir, retry_seconds=2.0)
        self.timeline = timeline
        self.capture = spool_dir is not None  # no receiver: collect instead of sending
        self.captured: list[dict[str, Any]] = []

    def _submit(self, run_id: str, report: dict[str, Any], final: bool) -> None:
        placement = self.timeline.placements.get(run_id)
        if placement is not None:
            report = place_report(report, placement)
        if self.capture:
            if final:
                self.captured.append(report)
            return
        super()._submit(run_id, report, final)


def _local_midnight(ms: int, days_back: int) -> int:
    day = dt.datetime.fromtimestamp(ms / 1000).astimezone().date() - dt.timedelta(days=days_back)
    return int(dt.datetime.combine(day, dt.time()).astimezone().timestamp() * 1000)


def plan(now_ms: int, rng: random.Random) -> list[_Planned]:
    """A week of runs at working hours, oldest first; the newest invoice run fails."""
    runs: list[_Planned] = []
    for days_back in range(DAYS - 1, -1, -1):
        midnight = _local_midnight(now_ms, days_back)
        etl_scale = rng.uniform(45_000, 75_000)  # ~30 ms of simulated work -> ~25 minutes
        runs.append(
            _Planned(
                midnight + 2 * _HOUR_MS, flows.nightly_etl, "nightly-etl", days_back == 3, etl_scale
            )
        )
        for _ in range(rng.randint(3, 5)):
            at = midnight + rng.randint(8 * _HOUR_MS, 18 * _HOUR_MS)
            runs.append(
                _Planned(
                    at,
                    flows.invoice_triage,
                    "invoice-triage",
                    rng.random() < 0.2,
                    rng.uniform(120, 200),
                )
            )
        for _ in range(rng.randint(2, 4)):
            at = midnight + rng.randint(7 * _HOUR_MS, 22 * _HOUR_MS)
            runs.append(
                _Planned(
                    at,
                    flows.support_reply,
                    "support-reply",
                    rng.random() < 0.15,
                    rng.uniform(250, 400),
                )
            )
    runs = [run for run in runs if run.started_ms < now_ms - 15 * 60_000]
    runs.append(_Planned(now_ms - 10 * 60_000, flows.support_reply, "support-reply", False, 300))
    runs.append(_Planned(now_ms - 2 * 60_000, flows.invoice_triage, "invoice-triage", True, 150))
    return sorted(runs, key=lambda run: run.started_ms)


class TokenRefused(Exception):
    """The receiver answers but refuses the token this machine's reporter sends."""


def receiver_health(url: str, token: str | None = None, timeout: float = 1.0) -> dict[str, Any]:
    """What the Hindsight receiver listening at `url` says of itself (GET /api/health,
    sending `token` as the reporter will), or {} when none answers; TokenRefused when it
    answers 401 to that token, which it would answer to every report too (a wrong token is
    refused even on loopback)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return {}
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request("GET", parts.path.rstrip("/") + "/api/health", headers=headers)
        response = connection.getresponse()
        if response.status == 401:
            raise TokenRefused(
                f"the receiver at {url} refuses this machine's token, so it would store "
                "none of the sample runs. Set HINDSIGHT_TOKEN to the content of that "
                "receiver's token file, or choose another receiver with --url."
            )
        body = json.loads(response.read() or b"{}")
        healthy = response.status == 200 and body.get("status") == "ok"
        return body if healthy else {}
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        return {}
    finally:
        connection.close()


def _stored_on_receiver(url: str, run_ids: list[str]) -> int:
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=5)
    stored = 0
    try:
        for run_id in run_ids:
            connection.request("GET", f"{parts.path.rstrip('/')}/api/executions/{run_id}")
            response = connection.getresponse()
            response.read()
            stored += response.status == 200
    except (OSError, http.client.HTTPException):
        pass
    finally:
        connection.close()
    return stored


def _record(
    reporter: _DemoReporter, planned: list[_Planned], timeline: flows.Timeline, rng: random.Random
) -> list[str]:
    run_ids = []
    for run in planned:
        run_id = timeline.place(run.workflow_id, flows.Placement(run.started_ms, run.scale))
        run_ids.append(run_id)
        # The sample failures raise out of the workflow; the reporter has recorded them.
        with contextlib.suppress(Exception):
            run.workflow(reporter, run_id, rng, run.fail, timeline)
    return run_ids


def _store_directly(reports: list[dict[str, Any]], db_path: Path | str) -> int:
    """Validate the reports as the receiver would, then store them in one go."""
    from app.ingest.importer import import_records
    from app.ingest.report import decode_reports
    from app.store.connection import open_database

    records = decode_reports(json.dumps(reports, default=str).encode())
    open_database(db_path)
    return import_records(records)


def run_demo(
    url: str | None = None, db_path: Path | str | None = None, now_ms: int | None = None
) -> DemoResult:
    """Record a week of sample runs; takes a second or two.

    Sends through the receiver at `url` (default $HINDSIGHT_URL or the default port) when
    one answers, else stores into `db_path` (required then; the store raises StoreError if
    the file is unusable). Running it again replaces the previous sample runs. Raises
    TokenRefused when the receiver answers but would refuse every report.
    """
    target = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
    rng = random.Random(20260105)  # the same story every time, placed relative to now
    now = int(time.time() * 1000) if now_ms is None else now_ms
    planned = plan(now, rng)
    timeline = flows.Timeline()
    failed = sum(run.fail for run in planned)
    # The token the reporter will send (HINDSIGHT_TOKEN or the token file).
    health = receiver_health(target, token=default_token())
    if health:
        reporter = _DemoReporter(target, timeline, spool_dir=None)
        try:
            run_ids = _record(reporter, planned, timeline, rng)
        finally:
            reporter.close(timeout=15)
        confirmed = _stored_on_receiver(target, run_ids)
        database = health.get("database")
        return DemoResult(
            len(run_ids),
            failed,
            target,
            True,
            database if isinstance(database, str) else None,
            confirmed,
        )
    if db_path is None:
        raise ValueError(f"no receiver answers at {target} and no database was given")
    with tempfile.TemporaryDirectory(prefix="hindsight-demo-") as unused_spool:
        reporter = _DemoReporter(target, timeline, spool_dir=Path(unused_spool))
        try:
            _record(reporter, planned, timeline, rng)
        finally:
            reporter.close(timeout=0)
    stored = _store_directly(reporter.captured, db_path)
    return DemoResult(len(reporter.captured), failed, target, False, db_path, stored)
