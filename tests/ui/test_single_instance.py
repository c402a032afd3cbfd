"""One Hindsight per database, shown with real processes: a second start hands over to the
first and exits 0; a lock left by a killed process does not block the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from app.config import user_data_dir
from app.ui.single_instance import SingleInstance, bring_to_front, instance_key
from tests.conftest import post_json

START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(db: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"},
    )


def _health_pid(port: int) -> bool:
    try:
        status, body, _ = post_json(f"http://127.0.0.1:{port}", "/api/health", b"", method="GET")
    except OSError:
        return False
    return status == 200 and body.get("status") == "ok"


def _wait_serving(process: subprocess.Popen[str], port: int) -> None:
    """The app answers on its receiver, which it starts only after taking the lock."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _health_pid(port):
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"Hindsight exited with {process.returncode}: {err}")
        if time.monotonic() > deadline:
            pytest.fail("Hindsight did not start serving")
        time.sleep(0.05)  # polling another process's socket: there is no signal to await


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_second_start_on_the_same_database_hands_over_and_exits(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    db, port = tmp_path / "history.db", _free_port()
    first = _start(db, port)
    processes.append(first)
    _wait_serving(first, port)

    # Another port, so only the single-instance check (not a taken port) can stop it.
    second = _start(db, _free_port())
    processes.append(second)
    out, err = second.communicate(timeout=START_TIMEOUT_S)
    assert second.returncode == 0, err
    assert f"already open on {db} (process {first.pid})" in out
    assert "brought its window to the front" in out
    assert first.poll() is None and _health_pid(port)  # the first one carries on


def test_another_database_gets_its_own_instance(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    one, other = _free_port(), _free_port()
    processes.append(_start(tmp_path / "one.db", one))
    processes.append(_start(tmp_path / "other.db", other))
    _wait_serving(processes[0], one)
    _wait_serving(processes[1], other)


def test_lock_left_by_a_killed_instance_does_not_block_the_next_start(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    db, port = tmp_path / "history.db", _free_port()
    crashed = _start(db, port)
    processes.append(crashed)
    _wait_serving(crashed, port)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(10)
    lock = user_data_dir() / "locks" / f"{instance_key(db)}.lock"
    assert lock.read_text().split()[0] == str(crashed.pid)  # left behind, naming a dead PID

    recovered = _start(db, port)
    processes.append(recovered)
    _wait_serving(recovered, port)
    assert lock.read_text().split()[0] == str(recovered.pid)

    # The recovered instance also owns the hand-over channel the killed one left behind.
    third = _start(db, _free_port())
    processes.append(third)
    out, err = third.communicate(timeout=START_TIMEOUT_S)
    assert third.returncode == 0, err
    assert f"(process {recovered.pid})" in out


def test_instance_key_is_per_database_and_path_spelling_does_not_matter(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    same = tmp_path / "sub" / ".." / "history.db"
    assert instance_key(same) == instance_key(tmp_path / "history.db")
    assert instance_key(tmp_path / "other.db") != instance_key(tmp_path / "history.db")


HAND_OVER_CHILD = """
import sys
from PySide6.QtCore import QCoreApplication
from app.ui.single_instance import SingleInstance
app = QCoreApplication([])
instance = SingleInstance(sys.argv[1])
assert not instance.acquire(), "the lock should be taken"
answer = instance.hand_over(timeout_s=float(sys.argv[2]))
print(answer.delivered, answer.owner_pid)
"""


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen has no stacking
def test_owner_gets_the_raise_request_and_brings_its_window_back(
    qtbot: Any, tmp_path: Path
) -> None:
    owner = SingleInstance(tmp_path / "history.db")
    assert owner.acquire()
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    owner.activation_requested.connect(lambda: bring_to_front(window))
    try:
        with qtbot.waitSignal(owner.activation_requested, timeout=20_000):
            child = subprocess.Popen(
                [sys.executable, "-c", HAND_OVER_CHILD, str(tmp_path / "history.db"), "20"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        qtbot.waitUntil(lambda: child.poll() is not None, timeout=20_000)  # events keep flowing
        out, err = child.communicate()
        assert child.returncode == 0, err
        assert out.split() == ["True", str(os.getpid())]  # the child heard back from us
        assert window.isVisible() and not window.isMinimized()
    finally:
        owner.release()
    assert not owner.lock_path.exists()  # a clean exit leaves no lock behind


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_a_request_sent_while_the_owner_is_busy_starting_is_honoured_later(
    qtbot: Any, tmp_path: Path
) -> None:
    """The owner holds the lock but is not yet running its event loop (opening or upgrading
    the database): the second start leaves its request and exits 0; the owner acts on it."""
    owner = SingleInstance(tmp_path / "history.db")
    assert owner.acquire()
    try:
        child = subprocess.run(  # blocks this (the owner's) GUI thread: no events processed
            [sys.executable, "-c", HAND_OVER_CHILD, str(tmp_path / "history.db"), "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stderr
        assert child.stdout.split() == ["True", "None"]  # delivered, not yet answered
        with qtbot.waitSignal(owner.activation_requested, timeout=10_000):
            pass  # the event loop runs again and reads the waiting request
    finally:
        owner.release()
