"""`hindsight serve` stores reports in a process of its own (writer_process.py): what the
receiver promises holds across that boundary, on a real socket and a real child process."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from app.ingest.service import IngestService
from app.ingest.spool import ingest_spool
from app.ingest.store_worker import Task
from app.ingest.writer import StoreCrashed
from app.ingest.writer_process import DatabaseTrouble, ProcessStore
from app.store import queries
from app.store.connection import StoreError
from app.store.failures import Trouble, classify
from app.store.models import db
from app.store.records import ArtifactRecord, LlmRecord, LogRecord, NodeRecord, RunRecord
from app.store.status import Status
from app.store.streaming import RunNotFound
from tests.conftest import make_report, post_json, wait_until
from tests.ingest.test_database_trouble import write_lock_held

# The child's state is read from /proc.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def served(database: Path | str) -> Iterator[IngestService]:
    """A receiver whose writer stores in a child process opening the test database."""
    service = IngestService("127.0.0.1", 0, store_process=database)
    service.start()
    yield service
    service.stop()


def _child_pid(service: IngestService) -> int:
    store = service.writer._store
    assert isinstance(store, ProcessStore) and store.pid is not None
    return store.pid


def _gone(pid: int) -> bool:
    """Exited, every thread of it (a zombie until its parent reaps it counts as exited).
    The main thread turns zombie before the others have ended and let go of the files they
    share, the pipes to the receiver among them."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
        states = [
            Path(f"/proc/{pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()[0]
            for thread in threads
        ]
    except FileNotFoundError:
        return True
    return all(state in ("Z", "X") for state in states)


def test_reports_nodes_logs_and_steps_are_stored_by_the_child(served: IngestService) -> None:
    assert _child_pid(served) != os.getpid()
    assert post_json(served.url, "/api/executions", make_report("r1"))[0] == 201
    batch = [make_report("r2", status="success"), make_report("r3", status="success")]
    assert post_json(served.url, "/api/executions", batch)[0] == 201
    node = {"nodeId": "late", "status": "success", "output": {"rows": 3}}
    assert post_json(served.url, "/api/executions/r1/nodes", node)[0] == 200
    assert post_json(served.url, "/api/executions/r1/logs", {"message": "done"})[0] == 200
    step = {
        "projectId": "p",
        "workflowId": "w",
        "runId": "s1",
        "stepId": "ask",
        "timestamp": "2026-11-22T09:00:00Z",
        "status": "success",
    }
    assert post_json(served.url, "/api/steps", step)[0] == 201

    assert {run.id for run in queries.list_runs()} == {"r1", "r2", "r3", "p:w:s1"}
    detail = queries.get_run("r1")
    assert detail is not None
    assert "late" in [node.node_id for node in detail.nodes]
    assert [entry.message for entry in queries.list_logs("r1")][-1] == "done"


def test_a_refusal_in_the_child_is_the_same_answer(served: IngestService) -> None:
    status, body, _ = post_json(
        served.url, "/api/executions/nobody/nodes", {"nodeId": "n", "status": "success"}
    )
    assert status == 404 and body["runId"] == "nobody"
    assert queries.list_runs() == []


def test_a_child_that_died_idle_is_replaced_before_the_next_write(
    served: IngestService,
) -> None:
    assert post_json(served.url, "/api/executions", make_report("before"))[0] == 201
    first = _child_pid(served)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: _gone(first))
    # Nothing was sent to the dead child: the write goes to a new one, no refusal.
    assert post_json(served.url, "/api/executions", make_report("after"))[0] == 201
    assert _child_pid(served) != first
    assert {run.id for run in queries.list_runs()} == {"before", "after"}


def test_a_write_that_kills_the_child_twice_fails_alone_then_a_new_child_stores(
    served: IngestService,
) -> None:
    first = _child_pid(served)
    with pytest.raises(StoreCrashed, match="stopped Hindsight's store process, twice"):
        served.writer.apply(partial(os._exit, 3))  # the child dies inside the transaction
    assert _gone(first)
    assert post_json(served.url, "/api/executions", make_report("next"))[0] == 201
    assert [run.id for run in queries.list_runs()] == ["next"]
    assert _child_pid(served) != first


def test_a_report_that_kills_the_child_does_not_take_its_group_down(
    served: IngestService, tmp_path: Path
) -> None:
    """A report that crashes the store process every time shared a transaction with good
    ones: each is tried again alone, the good ones are stored and the crashing one fails."""
    store = served.writer._store
    assert isinstance(store, ProcessStore)
    started, release = tmp_path / "started", tmp_path / "release"
    outcomes: dict[str, object] = {}

    def write(name: str, change: object) -> None:
        try:
            served.writer.apply(change)  # type: ignore[arg-type]
            outcomes[name] = "stored"
        except Exception as exc:
            outcomes[name] = exc

    def post(name: str) -> None:
        outcomes[name] = post_json(served.url, "/api/executions", make_report(name))[0]

    threads = [
        threading.Thread(target=write, args=("first", partial(_pause, started, release))),
        threading.Thread(target=write, args=("second", partial(_pause, None, None))),
        threading.Thread(target=write, args=("poison", partial(os._exit, 3))),
        threading.Thread(target=post, args=("good",)),
        threading.Thread(target=post, args=("also-good",)),
    ]
    threads[0].start()
    assert wait_until(started.exists)  # the child is inside the first group
    threads[1].start()
    assert wait_until(lambda: store._unanswered == 2)  # the second waits in the child
    for thread in threads[2:]:
        thread.start()
    # The poison and the two reports wait together: they become one group.
    assert wait_until(lambda: served.writer._queue.qsize() == 3)
    release.touch()
    for thread in threads:
        thread.join(30)
    assert outcomes["first"] == outcomes["second"] == "stored"
    assert isinstance(outcomes["poison"], StoreCrashed)
    assert outcomes["good"] == outcomes["also-good"] == 201
    assert {run.id for run in queries.list_runs()} == {"good", "also-good"}


def test_a_report_that_crashes_the_store_is_final_and_its_body_kept(
    database: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """422, so that clients stop sending it (a reporter replaying its spool would stop at it
    for good); the body is kept in the spool folder, where the pick-up never takes it."""
    spool = tmp_path / "spool"
    service = IngestService("127.0.0.1", 0, store_process=database, spool=spool)
    service.start()
    try:

        def crash(*args: object, **kwargs: object) -> None:
            raise StoreCrashed("storing this stopped Hindsight's store process, twice")

        monkeypatch.setattr(service.writer, "write", crash)
        sent = json.dumps(make_report("poison")).encode()
        status, body, _ = post_json(service.url, "/api/executions", sent)
        assert status == 422
        assert "stopped Hindsight's store process" in body["error"]
        [kept] = spool.iterdir()
        assert kept.name.endswith(".json.crashed") and str(kept) in body["error"]
        assert kept.read_bytes() == sent
        assert ingest_spool(spool, service.writer) == 0  # never picked up
    finally:
        service.stop()


# Loaded by every Python started with its folder on PYTHONPATH, so by the spawned store
# process before it imports anything of Hindsight's: the real write path, ending the process
# as a crash would whenever it prepares the run "poison".
_CRASH_ON_POISON = """
import os
from app.store import prepared

_prepare_runs = prepared.prepare_runs


def prepare_runs(records, *args, **kwargs):
    if any(record.id == "poison" for record in records):
        os._exit(3)
    return _prepare_runs(records, *args, **kwargs)


prepared.prepare_runs = prepare_runs
"""


def test_a_report_that_really_crashes_the_store_ends_as_a_kept_crashed_file(
    database: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, with nothing in the receiver patched: the store process dies on the
    report each time it tries it; the answer is 422, the body is kept byte for byte, the
    reports around it are stored, and a spooled copy is set aside the same way."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_CRASH_ON_POISON)
    paths = [str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    spool = tmp_path / "spool"
    service = IngestService("127.0.0.1", 0, store_process=database, spool=spool)
    service.start()
    try:
        assert post_json(service.url, "/api/executions", make_report("before"))[0] == 201
        first = _child_pid(service)
        sent = json.dumps(make_report("poison")).encode()
        status, body, _ = post_json(service.url, "/api/executions", sent)
        assert status == 422, body
        assert wait_until(lambda: _gone(first), timeout=10)  # it really died
        [kept] = spool.glob("*.json.crashed")
        assert str(kept) in body["error"] and kept.read_bytes() == sent
        assert post_json(service.url, "/api/executions", make_report("after"))[0] == 201

        spooled = spool / "0001-poison.json"
        spooled.write_bytes(sent)
        (spool / "0002-later.json").write_text(json.dumps(make_report("later")))
        assert ingest_spool(spool, service.writer) == 1
        assert not spooled.exists() and (spool / "0001-poison.json.crashed").read_bytes() == sent
        assert sorted(path.name for path in spool.glob("*.json")) == []
    finally:
        service.stop()
    assert sorted(run.id for run in queries.list_runs()) == ["after", "before", "later"]


def _pause(started: Path | None, release: Path | None) -> list[str]:
    """Runs in the child: says it has started, then holds its transaction until released."""
    if started is not None and release is not None:
        started.touch()
        assert wait_until(release.exists, timeout=20)
    return []


def test_a_child_that_dies_with_two_groups_in_flight_retries_both_alone(
    served: IngestService, tmp_path: Path
) -> None:
    store = served.writer._store
    assert isinstance(store, ProcessStore)
    first = _child_pid(served)
    started = tmp_path / "started"
    outcomes: dict[str, object] = {}

    def hold() -> None:
        served.writer.apply(partial(_hold, started))
        outcomes["held"] = "stored"

    def post() -> None:
        outcomes["posted"] = post_json(served.url, "/api/executions", make_report("queued"))[0]

    threads = [threading.Thread(target=hold), threading.Thread(target=post)]
    sent: list[int] = []
    send = store.send

    def counting(tasks: list[Task]) -> int:
        sent.append(len(tasks))
        return send(tasks)

    threads[0].start()
    assert wait_until(started.exists)  # the child is inside the first group
    threads[1].start()
    assert wait_until(lambda: store._unanswered == 2)  # the second is sent, not answered
    store.send = counting  # type: ignore[method-assign]
    os.kill(first, signal.SIGKILL)
    for thread in threads:
        thread.join(10)
    # Which group the child died on is not known: each job is tried again alone, in a new
    # child, and nothing is lost.
    assert outcomes["held"] == "stored"
    assert outcomes["posted"] == 201
    assert sent == [1, 1]  # each alone
    assert _child_pid(served) != first
    assert [run.id for run in queries.list_runs()] == ["queued"]


def _hold(started: Path) -> list[str]:
    """Runs in the child: says it has started, then holds its transaction until killed; when
    tried again, it returns at once."""
    if started.exists():
        return []
    started.touch()
    threading.Event().wait(30)
    return []


def test_a_new_child_that_cannot_open_the_database_is_503_until_it_can(
    served: IngestService, database: Path | str, tmp_path: Path
) -> None:
    store = served.writer._store
    assert isinstance(store, ProcessStore)
    first = _child_pid(served)
    store._target = tmp_path  # a folder: the next child cannot open it
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: _gone(first))
    status, body, response = post_json(served.url, "/api/executions", make_report("x"))
    assert status == 503 and "could not open the database" in body["error"]
    assert response.getheader("Retry-After")
    store._target = database
    assert post_json(served.url, "/api/executions", make_report("x"))[0] == 201
    assert [run.id for run in queries.list_runs()] == ["x"]


@pytest.mark.sqlite_only
def test_a_lock_held_in_the_child_is_still_told_apart(
    served: IngestService, database: Path
) -> None:
    served.writer.call(partial(_pragma, "busy_timeout = 200"))
    with write_lock_held(database):
        status, body, _ = post_json(served.url, "/api/executions", make_report())
        assert status == 503 and "locked by another program" in body["error"]
    assert post_json(served.url, "/api/executions", make_report())[0] == 201


def _pragma(setting: str) -> None:
    """Runs in the child (a partial of a module-level function pickles)."""
    db.execute_sql(f"PRAGMA {setting}")


def test_stop_commits_what_was_acknowledged_and_ends_the_child(database: Path | str) -> None:
    service = IngestService("127.0.0.1", 0, store_process=database)
    service.start()
    store = service.writer._store
    assert isinstance(store, ProcessStore)
    child = store._process
    assert child is not None
    assert post_json(service.url, "/api/executions", make_report("kept"))[0] == 201
    service.stop()
    assert child.exitcode == 0  # it finished and closed the database; it was not killed
    assert [run.id for run in queries.list_runs()] == ["kept"]


def test_a_child_that_cannot_open_the_database_fails_the_start(tmp_path: Path) -> None:
    service = IngestService("127.0.0.1", 0, store_process=tmp_path)  # a folder, not a file
    with pytest.raises(StoreError, match="store process could not open the database"):
        service.start()


def test_reports_cross_to_the_child_whole_as_messagepack_or_else_by_pickle() -> None:
    full = RunRecord(
        id="r-1",
        workflow_id="wf",
        status=Status.ERROR,
        started_at=1_700_000_000_000,
        completed_at=1_700_000_000_500,
        params_json='{"a":1}',
        tags=(("team", "data"),),
        nodes=(
            NodeRecord(node_id="n", status=Status.SUCCESS, group=-(2**63)),
            NodeRecord(
                node_id="llm",
                status=Status.ERROR,
                llm=LlmRecord(model="m", prompt_tokens=3, cost_usd=0.25),
            ),
        ),
        logs=(LogRecord(sequence=0, level="warn", message="é", data_json="null"),),
        artifacts=(ArtifactRecord(key="k", data_json="[1]"),),
    )
    task = Task(records=[full])
    assert b"_records_task" in pickle.dumps(task)  # the MessagePack way
    back = pickle.loads(pickle.dumps(task))
    assert back == task
    record = back.records[0]  # == alone would take "error" for Status.ERROR, 1 for 1.0
    assert type(record.status) is Status and type(record.nodes) is tuple
    assert type(record.tags[0]) is tuple and type(record.nodes[0].group) is int
    llm = record.nodes[1].llm
    assert llm is not None and type(llm.cost_usd) is float and type(llm.prompt_tokens) is int
    # A value its field does not take cannot come from the decoders; if it did, it would
    # fail its own job in the child, not the child.
    unreadable = pickle.loads(pickle.dumps(Task(records=[replace(full, started_at="soon")])))
    assert unreadable.records is None and unreadable.change is not None
    with pytest.raises(ValueError, match="could not read the reports"):
        unreadable.change()
    for odd in (replace(full, id="\ud800"), replace(full, exit_code=2**70)):
        task = Task(records=[odd])
        assert b"_records_task" not in pickle.dumps(task)
        assert pickle.loads(pickle.dumps(task)) == task
    change = pickle.loads(
        pickle.dumps(Task(change=partial(_pragma, "x"), outside_transaction=True))
    )
    assert isinstance(change.change, partial) and change.change.args == ("x",)
    assert change.records is None and change.outside_transaction


def test_errors_keep_what_the_receiver_reads_from_them_across_processes() -> None:
    missing = pickle.loads(pickle.dumps(RunNotFound("r-9")))
    assert missing.run_id == "r-9" and "r-9" in str(missing)
    trouble = pickle.loads(pickle.dumps(DatabaseTrouble("database is locked", "busy")))
    assert classify(trouble) is Trouble.BUSY and str(trouble) == "database is locked"


@pytest.mark.sqlite_only
def test_ctrl_c_in_a_terminal_stops_serve_and_its_child_cleanly(tmp_path: Path) -> None:
    """Ctrl-C signals the whole process group: the child ignores it and the parent stops
    it after the last commit, without a traceback from either."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--db", str(tmp_path / "c.db"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" receiving on ")[1].split("/api/")[0]
        assert post_json(url, "/api/executions", make_report("x"))[0] == 201
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def _touched(count: int, ballast: str = "") -> list[str]:
    """Runs in the child: a change that reports `count` run ids (its answer is that long);
    `ballast` only makes the group itself long on its way there."""
    return [f"run-{number:06d}" for number in range(count)]


@pytest.mark.sqlite_only
def test_a_long_answer_and_a_long_next_group_cross_without_waiting_on_each_other(
    tmp_path: Path,
) -> None:
    """The child answers a group while the parent is still sending the next one; both are
    far longer than a pipe's buffer (64 KiB on Linux). Were the child to read only between
    answers, each side would wait for the other to read, for ever."""
    store = ProcessStore(tmp_path / "history.db")
    store.open()
    try:
        first = store.send([Task(change=partial(_touched, 50_000))])  # an answer of ~700 KB
        sent: dict[str, int] = {}
        sender = threading.Thread(
            target=lambda: sent.setdefault(
                "ticket", store.send([Task(change=partial(_touched, 1, "x" * 4_000_000))])
            )
        )
        sender.start()
        sender.join(20)
        assert not sender.is_alive(), "the parent could not send while the child answered"
        [long_answer] = store.receive(first)
        assert long_answer.error is None and len(long_answer.changed) == 50_000
        [short_answer] = store.receive(sent["ticket"])
        assert short_answer.error is None and list(short_answer.changed) == ["run-000000"]
    finally:
        store.abandon()
        store.close()
