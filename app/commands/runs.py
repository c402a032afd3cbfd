"""`hindsight runs list|show|export|import|delete`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

from app.commands import output
from app.commands.confirm import confirm_deletion
from app.commands.database import open_existing, open_or_create
from app.commands.errors import CommandFailed, UsageError
from app.commands.run_view import render_run
from app.commands.selection import resolve_workflow, run_filter
from app.config import Settings
from app.ingest.importer import import_records, read_report_file
from app.ingest.read_api import summary_json
from app.ingest.report import ReportError
from app.store import queries, writes
from app.store.export import export_csv, export_json, replacing, run_to_report
from app.store.filters import RunFilter
from app.store.models import Run
from app.store.records import RunDetail

MAX_LISTED_PROBLEMS = 50


def list_runs(args: argparse.Namespace, settings: Settings) -> int:
    open_existing(settings.db_path)
    if args.limit < 1:
        raise UsageError(f"--limit: expected a whole number of at least 1, got {args.limit}")
    where = run_filter(args)
    runs = queries.list_runs(limit=args.limit, where=where)
    if args.json:
        # The same items GET /api/executions returns, from the same function.
        output.print_json([summary_json(run) for run in runs])
        return 0
    if not runs:
        print("No runs match." if where != RunFilter() else "No runs recorded yet.")
        return 0
    rows = [
        [
            run.id,
            output.local_time(run.started_at),
            run.workflow_label,
            run.status.value,
            output.run_duration(run),
            str(run.node_count),
            run.failed_node_name or "",
        ]
        for run in runs
    ]
    headers = ("ID", "STARTED", "WORKFLOW", "STATUS", "DURATION", "NODES", "FAILED NODE")
    print(output.table(headers, rows, right=(4, 5), max_widths={0: 40, 2: 32, 6: 32}))
    total = queries.count_runs(where)
    if total > len(runs):
        print(f"\n{len(runs)} of {total} runs shown; use --limit to see more.")
    return 0


def _find_run(args: argparse.Namespace) -> RunDetail:
    filters = ("workflow", "project", "status", "since", "until", "search")
    filtering = any(getattr(args, name) for name in filters)
    last = args.last or (args.run_id == "last" and queries.get_run("last") is None)
    if args.run_id and not last:
        if filtering:
            raise UsageError("give a run id or --last with filters, not both")
        detail = queries.get_run(args.run_id)
        if detail is None:
            raise UsageError(f"no run with id {args.run_id!r} (see `hindsight runs list`)")
        return detail
    if not last:
        raise UsageError("give a run id, or --last for the newest run (with --workflow W ...)")
    where = run_filter(args)
    newest = queries.list_runs(limit=1, where=where)
    if not newest:
        raise UsageError("no run matches" if filtering else "no runs recorded yet")
    detail = queries.get_run(newest[0].id)
    if detail is None:  # deleted between the two queries
        raise UsageError(f"run {newest[0].id!r} was just deleted")
    return detail


def show_run(args: argparse.Namespace, settings: Settings) -> int:
    open_existing(settings.db_path)
    detail = _find_run(args)
    if args.json:
        output.print_json(run_to_report(detail))
    else:
        print(render_run(detail))
    return 0


def export_runs(args: argparse.Namespace, settings: Settings) -> int:
    open_existing(settings.db_path)
    where = run_filter(args)
    target = args.output
    fmt = args.format or ("csv" if target and target.lower().endswith(".csv") else "json")
    if args.per == "node" and fmt != "csv":
        raise UsageError("--per node is for --format csv; JSON always holds every node")
    if target in (None, "-"):
        written = _export(where, fmt, args.per, sys.stdout)
        print(f"Exported {written} {_unit(fmt, args.per, written)}.", file=sys.stderr)
        return 0
    path = Path(target)
    if not path.parent.is_dir():
        raise UsageError(f"-o: folder {path.parent} does not exist")
    try:
        with replacing(path) as handle:
            written = _export(where, fmt, args.per, handle)
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror}") from None
    print(f"Exported {written} {_unit(fmt, args.per, written)} to {path}.")
    return 0


def _unit(fmt: str, per: str, n: int) -> str:
    noun = "node rows" if fmt == "csv" and per == "node" else "runs"
    return noun[:-1] if n == 1 else noun


def _export(where: RunFilter, fmt: str, per: str, out: IO[str]) -> int:
    return export_csv(where, out, per=per) if fmt == "csv" else export_json(where, out)


def import_runs(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no file {path}")
    try:
        records = read_report_file(path)  # the whole file is checked before anything is stored
    except ReportError as error:
        details = [f"{d['path']}: {d['message']}" for d in error.details]
        if len(details) > MAX_LISTED_PROBLEMS:
            hidden = len(details) - MAX_LISTED_PROBLEMS
            details = [*details[:MAX_LISTED_PROBLEMS], f"... and {hidden} more problems"]
        raise CommandFailed(f"{path}: {error.message}; nothing was imported", details) from None
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None
    open_or_create(settings.db_path)
    stored = import_records(records)
    print(f"Imported {stored} run{'s' if stored != 1 else ''} from {path} into {settings.db_path}.")
    return 0


def delete_runs(args: argparse.Namespace, settings: Settings) -> int:
    chosen = [bool(args.run_ids), args.workflow is not None, args.all]
    if sum(chosen) != 1:
        raise UsageError("give run ids, --workflow W or --all (exactly one of them)")
    open_existing(settings.db_path)
    if args.run_ids:
        ids = list(dict.fromkeys(args.run_ids))
        known = {row.id for row in Run.select(Run.id).where(Run.id.in_(ids))}
        missing = [run_id for run_id in ids if run_id not in known]
        if missing:
            raise UsageError(f"no run with id {', '.join(map(repr, missing))}; nothing deleted")
        what = f"{len(ids)} run{'s' if len(ids) != 1 else ''}"
        if not confirm_deletion(what, args.yes):
            print("Nothing deleted.")
            return 1
        deleted = writes.delete_runs(ids)
    else:
        workflow = resolve_workflow(args.workflow) if args.workflow else None
        where = RunFilter(workflow_id=workflow)
        total = queries.count_runs(where)
        if total == 0:
            print("Nothing to delete.")
            return 0
        scope = f" of workflow {workflow}" if workflow else " (the whole history)"
        what = f"{total} run{'s' if total != 1 else ''}{scope}"
        if not confirm_deletion(what, args.yes):
            print("Nothing deleted.")
            return 1
        deleted = writes.delete_matching(where)
    print(f"Deleted {deleted} run{'s' if deleted != 1 else ''}.")
    return 0
