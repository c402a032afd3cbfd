"""A workflow process for the reporter tests: posts `count` runs through app.reporter.

Usage: python -m tests.reliability.workflow_child URL SPOOL COUNT PAUSE PAYLOAD_BYTES PREFIX
Prints "run N" after each run is handed to the reporter (the parent watches progress).
"""

from __future__ import annotations

import sys
import time

from app.reporter import Reporter


def main() -> None:
    url, spool, count, pause, payload, prefix = sys.argv[1:7]
    reporter = Reporter(url, spool_dir=spool, retry_seconds=0.2, exit_timeout=10)
    blob = "x" * int(payload)
    for number in range(int(count)):
        with reporter.run("resilience", run_id=f"{prefix}-{number}") as run:
            with run.node("first", input=number) as node:
                node.output = blob
            with run.node("second", input=number) as node:
                node.output = number * 2
        print(f"run {number}", flush=True)
        time.sleep(float(pause))
    reporter.close(timeout=30)


if __name__ == "__main__":
    main()
