"""The per-install token and listening beyond loopback, on real sockets and a real process."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import reporter as hs
from app.ingest.auth import allowed_hosts, ensure_token, token_path
from app.ingest.service import IngestService
from app.store import queries
from tests.conftest import make_report, post_json


def test_token_file_is_created_once_with_owner_only_access() -> None:
    token = ensure_token()
    path = token_path()
    assert len(token) >= 40 and path.read_text().strip() == token
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
    assert ensure_token() == token  # the same install keeps its token
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # loosened modes are taken back
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no scratch files left


def test_an_empty_token_file_is_replaced() -> None:
    path = token_path()
    path.parent.mkdir(parents=True)
    path.write_text("")
    token = ensure_token()
    assert token and path.read_text().strip() == token


def test_loopback_token_is_optional_but_never_wrong(ingest: Any) -> None:
    token = token_path().read_text().strip()  # the service made it when it started
    assert post_json(ingest.url, "/api/executions", make_report("plain"))[0] == 201
    bearer = {"Authorization": f"Bearer {token}"}
    assert post_json(ingest.url, "/api/executions", make_report("bearer"), bearer)[0] == 201
    for wrong in (f"Bearer {token}x", "Bearer ", f"Basic {token}", "Bearer nope"):
        status, body, response = post_json(
            ingest.url, "/api/executions", make_report("wrong"), {"Authorization": wrong}
        )
        assert status == 401 and "token" in body["error"]
        assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert {run.id for run in queries.list_runs()} == {"plain", "bearer"}


@pytest.fixture
def open_receiver(database: Path) -> Iterator[IngestService]:
    service = IngestService("0.0.0.0", 0)
    service.start()
    yield service
    service.stop()


def _local(service: IngestService) -> str:
    return f"http://127.0.0.1:{service.receiver.port}"


def test_beyond_loopback_every_request_needs_the_token(open_receiver: IngestService) -> None:
    assert open_receiver.receiver.token_required
    url, token = _local(open_receiver), ensure_token()
    for path, method in (("/api/health", "GET"), ("/api/executions", "POST")):
        status, body, _ = post_json(url, path, make_report(), method=method)
        assert status == 401 and "Authorization" in body["error"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert post_json(url, "/api/executions", make_report(), bearer)[0] == 201
    assert post_json(url, "/api/health", b"", bearer, method="GET")[0] == 200
    assert queries.count_runs() == 1


def test_beyond_loopback_the_machine_names_itself(open_receiver: IngestService) -> None:
    port = open_receiver.receiver.port
    bearer = {"Authorization": f"Bearer {ensure_token()}"}
    hostname = socket.gethostname().lower()
    for host in (f"{hostname}:{port}", f"localhost:{port}"):
        headers = {**bearer, "Host": host}
        assert post_json(_local(open_receiver), "/api/health", b"", headers, "GET")[0] == 200
    for forged in (f"evil.example:{port}", f"{hostname}:{port + 1}", "127.0.0.1.nip.io"):
        headers = {**bearer, "Host": forged}
        assert post_json(_local(open_receiver), "/api/health", b"", headers, "GET")[0] == 403


def test_allowed_hosts_on_loopback_are_only_loopback_names() -> None:
    assert allowed_hosts("127.0.0.1", 7341) == {"127.0.0.1:7341", "localhost:7341", "[::1]:7341"}
    wide = allowed_hosts("0.0.0.0", 7341)
    assert f"{socket.gethostname().lower()}:7341" in wide and "localhost:7341" in wide


def test_allowed_hosts_take_extra_names_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HINDSIGHT_ALLOWED_HOSTS", "hindsight.lan, 10.1.2.3")
    wide = allowed_hosts("0.0.0.0", 80)
    assert {"hindsight.lan:80", "10.1.2.3:80"} <= wide
    assert "hindsight.lan:80" not in allowed_hosts("127.0.0.1", 80)


def test_the_reporter_sends_the_token_from_the_file(open_receiver: IngestService) -> None:
    reporter = hs.Reporter(_local(open_receiver), spool_dir=token_path().parent / "spool")
    try:
        with reporter.run("wf-token", name="Token check") as run, run.node("only"):
            pass
        assert reporter.flush(10)
    finally:
        reporter.close(5)
    (stored,) = queries.list_runs()
    assert stored.workflow_id == "wf-token" and stored.status.value == "success"


def test_serve_listen_beyond_loopback_requires_the_token(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--listen",
            "0.0.0.0",
            "--port",
            "0",
            "--db",
            str(tmp_path / "served.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "0.0.0.0:" in first, first + (server.stderr.read() if server.stderr else "")
        port = int(first.split("0.0.0.0:")[1].split("/")[0])
        url = f"http://127.0.0.1:{port}"
        assert post_json(url, "/api/executions", make_report())[0] == 401
        bearer = {"Authorization": f"Bearer {token_path().read_text().strip()}"}
        assert post_json(url, "/api/executions", make_report(), bearer)[0] == 201
        lines = [server.stdout.readline() for _ in range(2)]
        assert str(token_path()) in lines[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)
    assert server.returncode == 0


def test_a_refused_request_does_not_leave_its_body_as_the_next_request(ingest: Any) -> None:
    """A request refused before its body is read (wrong token here) must not leave the body
    on a keep-alive connection, where it would be parsed as the next request line: the
    connection is closed, and a client reconnects for the next request."""
    import http.client
    import json as json_module

    port = int(ingest.url.rsplit(":", 1)[1])
    body = json_module.dumps(make_report("refused")).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer wrong"}
    connection.request("POST", "/api/executions", body, headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 401
    assert response.getheader("Connection", "").lower() == "close"
    connection.close()
    status, _, _ = post_json(ingest.url, "/api/executions", make_report("next"))
    assert status == 201
    assert {run.id for run in queries.list_runs()} == {"next"}
