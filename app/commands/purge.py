"""`hindsight purge`: delete old history by age, status and "keep the newest N"."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commands import output
from app.commands.confirm import confirm_deletion
from app.commands.database import open_existing
from app.commands.errors import UsageError
from app.commands.selection import parse_statuses
from app.commands.timespec import now_ms, parse_duration_ms
from app.config import Settings
from app.sizes import byte_size
from app.store import queries
from app.store.retention import AgeRule, RetentionPolicy, plan_purge, purge, reclaim_space

LISTED_RUNS = 20


def _policy(args: argparse.Namespace) -> RetentionPolicy:
    if args.keep_last < 0:
        raise UsageError(f"--keep-last: expected 0 or more, got {args.keep_last}")
    older_than = parse_duration_ms(args.older_than, "--older-than")
    rule = AgeRule(older_than, parse_statuses(args.status))
    return RetentionPolicy(rules=(rule,), keep_last=args.keep_last)


def _file_bytes(db_path: Path | str) -> int:
    """The database with its write-ahead log: what the user sees on disk (0 for a server)."""
    if not isinstance(db_path, Path):
        return 0
    files = [db_path, db_path.with_name(db_path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists())


def _describe(args: argparse.Namespace) -> str:
    what = f"{args.status} runs" if args.status else "runs"
    keep = f", keeping the newest {args.keep_last} of each workflow" if args.keep_last else ""
    return f"{what} started more than {args.older_than} ago{keep}"


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(args)
    open_existing(settings.db_path)
    now = now_ms()
    plan = plan_purge(policy, now)
    count = len(plan.run_ids)
    facts = {
        "dryRun": args.dry_run,
        "runs": count,
        "nodes": plan.nodes,
        "logs": plan.logs,
        "payloadBytes": plan.payload_bytes,
        "runIds": list(plan.run_ids),
    }
    if args.json and (args.dry_run or count == 0):
        output.print_json(facts)
        return 0
    if count == 0:
        print(f"Nothing to purge: no {_describe(args)}.")
        return 0
    summary = (
        f"{count} run{'s' if count != 1 else ''}, {plan.nodes} node executions and "
        f"{plan.logs} log entries ({byte_size(plan.payload_bytes)} of stored payload)"
    )
    if args.dry_run:
        print(f"Would delete {summary}: {_describe(args)}.")
        _print_runs(plan.run_ids)
        return 0
    # A person at a terminal is asked; a scheduled job (no terminal) runs the policy as given.
    interactive = sys.stdin.isatty() and not args.yes
    if interactive and args.json:
        raise UsageError("purge --json at a terminal needs --yes (or --dry-run)")
    if interactive and not confirm_deletion(summary, assume_yes=False):
        print("Nothing deleted.")
        return 1
    before = _file_bytes(settings.db_path)
    deleted = purge(policy, now)
    reclaim_space()
    after = _file_bytes(settings.db_path)
    if args.json:
        output.print_json(
            {**facts, "runs": deleted, "fileBytesBefore": before, "fileBytesAfter": after}
        )
        return 0
    print(
        f"Deleted {deleted} run{'s' if deleted != 1 else ''}; the database went from "
        f"{byte_size(before)} to {byte_size(after)}."
    )
    return 0


def _print_runs(run_ids: tuple[str, ...]) -> None:
    rows = []
    for run_id in run_ids[:LISTED_RUNS]:  # oldest first, as the purge goes
        detail = queries.get_run(run_id)
        if detail is None:
            continue
        run = detail.summary
        rows.append(
            [run.id, output.local_time(run.started_at), run.workflow_label, run.status.value]
        )
    print(output.table(("ID", "STARTED", "WORKFLOW", "STATUS"), rows, max_widths={2: 32}))
    if len(run_ids) > LISTED_RUNS:
        print(f"... and {len(run_ids) - LISTED_RUNS} more")
