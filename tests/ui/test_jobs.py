"""History jobs: the runner and its jobs are destroyed once, on the GUI thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Run in its own process: before the fix this segfaulted, which would end the whole suite.
RUNNER_ONLY_ITS_JOB_HOLDS = """
import sys, weakref
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.store.connection import close_database, open_database
from app.ui.jobs import JobRunner

app = QApplication([])
open_database(Path(sys.argv[1]))
runner = JobRunner()  # no parent: only this name holds it
job = runner.start("Counting", lambda control: 7)
results = []
job.finished.connect(results.append)
while not results:
    app.processEvents()
assert runner.wait_for_done()
freed = weakref.ref(runner)
del runner, job
for _ in range(3):
    app.processEvents()  # the finished job's deferred delete
close_database()
print(f"result {results[0]}, runner freed: {freed() is None}", flush=True)
"""


def test_a_runner_nothing_else_holds_outlives_its_finished_job(tmp_path: Path) -> None:
    """Lambdas connected to a job's signals held the runner: deleting the finished job
    released the runner's last reference, whose destructor deleted the job, still being
    destroyed, a second time (a crash in QObject::~QObject)."""
    done = subprocess.run(
        [sys.executable, "-c", RUNNER_ONLY_ITS_JOB_HOLDS, str(tmp_path / "history.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "result 7, runner freed: True"
