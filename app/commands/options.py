"""Command-line options shared by several commands; no store imports, so building the parser
stays cheap for the GUI start-up."""

from __future__ import annotations

import argparse


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which runs")
    group.add_argument("--workflow", metavar="W", help="workflow id or name")
    group.add_argument("--project", metavar="P", help="project id")
    group.add_argument(
        "--status",
        metavar="S,...",
        help="comma-separated statuses: success, error, running, cancelled, interrupted, ...",
    )
    group.add_argument(
        "--since", metavar="T", help="started at or after T: ISO date/time or an age like 2h, 7d"
    )
    group.add_argument("--until", metavar="T", help="started before T (same forms as --since)")
    group.add_argument(
        "--search", metavar="TEXT", help="every word occurs in the run (inputs, errors, logs...)"
    )
