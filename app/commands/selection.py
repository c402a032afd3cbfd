"""Which runs a command is about: the filter options shared by list, show, export."""

from __future__ import annotations

import argparse

from app.commands.errors import UsageError
from app.commands.timespec import now_ms, parse_moment_ms
from app.store import queries
from app.store.filters import RunFilter
from app.store.models import Run
from app.store.status import Status, normalise_status


def parse_statuses(raw: str | None, option: str = "--status") -> frozenset[Status]:
    if raw is None:
        return frozenset()
    try:
        return frozenset(normalise_status(part) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def resolve_workflow(text: str) -> str:
    """A workflow id as typed, or else the one workflow whose name matches (any case)."""
    if Run.select().where(Run.workflow_id == text).exists():
        return text
    wanted = text.casefold()
    workflows = queries.list_workflows()
    matches = [w for w in workflows if w.workflow_name.casefold() == wanted]
    if len(matches) == 1:
        return matches[0].workflow_id
    if matches:
        ids = ", ".join(w.workflow_id for w in matches)
        raise UsageError(f"--workflow: several workflows are named {text!r}: {ids}; give the id")
    known = ", ".join(w.workflow_id for w in workflows[:10]) or "none yet"
    more = " ..." if len(workflows) > 10 else ""
    raise UsageError(f"--workflow: no workflow {text!r} in this history (known: {known}{more})")


def run_filter(args: argparse.Namespace) -> RunFilter:
    now = now_ms()
    since = parse_moment_ms(args.since, "--since", now) if args.since else None
    until = parse_moment_ms(args.until, "--until", now) if args.until else None
    if since is not None and until is not None and since >= until:
        raise UsageError("--since must be earlier than --until")
    return RunFilter(
        statuses=parse_statuses(args.status),
        workflow_id=resolve_workflow(args.workflow) if args.workflow else None,
        project_id=args.project,
        since=since,
        until=until,
        text=args.search or None,
    )
