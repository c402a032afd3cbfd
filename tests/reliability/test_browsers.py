"""Browsers and DNS rebinding (issue 7, test 5): nothing a web page can send is stored or read.

The header-level cases run everywhere. The last test drives a real headless Chromium: a page
on another origin tries `fetch()` (simple and preflighted), `no-cors`, a text/plain form
POST forged to look like JSON, and reading the history; the receiver stores nothing and the
page learns nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.store import queries
from tests.conftest import make_report, post_json

pytestmark = pytest.mark.reliability

REPORT = json.dumps(make_report("from-a-web-page"))


def _port(service: Any) -> int:
    return int(service.url.rsplit(":", 1)[1])


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("version", [b"HTTP/1.0", b"HTTP/1.1"])
def test_a_request_without_host_is_refused(ingest: Any, version: bytes) -> None:
    body = REPORT.encode()
    answer = _raw(
        _port(ingest),
        b"POST /api/executions " + version + b"\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
    )
    assert answer.split(b" ", 2)[1] == b"403", answer[:200]
    assert queries.count_runs() == 0


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1.nip.io:{port}",
        "localtest.me:{port}",
        "127.0.0.1:{other}",
        "localhost",
        "127.0.0.1",
        "0.0.0.0:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "LOCALHOST.:{port}",
        "",
    ],
)
def test_forged_hosts_are_refused(ingest: Any, host: str) -> None:
    forged = host.format(port=_port(ingest), other=_port(ingest) + 1)
    status, _, _ = post_json(ingest.url, "/api/executions", REPORT, headers={"Host": forged})
    assert status == 403
    assert queries.count_runs() == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "",
    ],
)
def test_content_types_a_page_can_send_without_preflight_are_refused(
    ingest: Any, content_type: str
) -> None:
    status, body, _ = post_json(
        ingest.url, "/api/executions", REPORT, headers={"Content-Type": content_type}
    )
    assert status == 415 and "application/json" in body["error"]
    assert queries.count_runs() == 0


def test_a_page_cannot_read_the_history(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/executions", make_report("secret"))[0] == 201
    for path in ("/api/executions", "/api/executions/secret", "/api/workflows", "/api/stats"):
        status, body, response = post_json(
            ingest.url, path, b"", method="GET", headers={"Origin": "http://evil.example"}
        )
        assert status == 403, path
        assert "secret" not in json.dumps(body)
        assert response.getheader("Access-Control-Allow-Origin") is None


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "FOO"])
def test_other_methods_are_refused_and_store_nothing(ingest: Any, method: str) -> None:
    status, _, _ = post_json(ingest.url, "/api/executions", REPORT, method=method)
    assert status == 405
    assert queries.count_runs() == 0


# -- a real browser ---------------------------------------------------------------------

ATTACK_PAGE = """<!doctype html>
<html><body>
<iframe name="sink" id="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink"
      action="{receiver}/api/executions">
<input name='{form_name}' value='{form_value}'>
</form>
<script>
const receiver = "{receiver}";
const report = {report};
const results = {{}};
async function attempt(name, run) {{
  try {{ results[name] = await run(); }} catch (e) {{ results[name] = "blocked: " + e.name; }}
}}
async function main() {{
  await attempt("form_post", () => new Promise((resolve) => {{
    document.getElementById("sink").onload = () => resolve("submitted");
    document.getElementById("form").submit();
  }}));
  await attempt("json_post", async () => {{
    const r = await fetch(receiver + "/api/executions", {{method: "POST",
      headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(report)}});
    return "status " + r.status;
  }});
  await attempt("simple_post", async () => {{
    const r = await fetch(receiver + "/api/executions", {{method: "POST",
      headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify(report)}});
    return "status " + r.status;
  }});
  await attempt("no_cors_post", async () => {{
    const r = await fetch(receiver + "/api/executions", {{method: "POST", mode: "no-cors",
      body: JSON.stringify(report)}});
    return "opaque " + r.type;
  }});
  await attempt("read_history", async () => {{
    const r = await fetch(receiver + "/api/executions");
    return "read " + (await r.text()).slice(0, 200);
  }});
  await fetch("/results", {{method: "POST", body: JSON.stringify(results)}});
}}
main();
</script></body></html>
"""


class _AttackSite(ThreadingHTTPServer):
    daemon_threads = True
    page = b""
    results: dict[str, str]
    reported: threading.Event


class _AttackHandler(BaseHTTPRequestHandler):
    server: _AttackSite

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.server.page)))
        self.end_headers()
        self.wfile.write(self.server.page)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.results = json.loads(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()
        self.server.reported.set()


@pytest.fixture
def attack_site(ingest: Any) -> Iterator[_AttackSite]:
    site = _AttackSite(("127.0.0.1", 0), _AttackHandler)
    site.reported = threading.Event()
    # The form's text/plain body reads `{"id": "form-post", "x": "=..."}`: valid JSON.
    form_name = '{"id": "form-post", "workflowId": "w", "status": "success", "x": "'
    site.page = ATTACK_PAGE.format(
        receiver=ingest.url,
        report=REPORT,
        form_name=form_name.replace("'", "&#39;"),
        form_value='"}',
    ).encode()
    thread = threading.Thread(target=site.serve_forever, name="attack-site", daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()
    thread.join(timeout=5)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_real_browser_page_on_another_origin_stores_and_reads_nothing(
    ingest: Any, attack_site: _AttackSite, tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium); .ci/run installs it")
    assert post_json(ingest.url, "/api/executions", make_report("secret-run"))[0] == 201
    page = f"http://localhost:{attack_site.server_address[1]}/"
    process = subprocess.Popen(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--remote-debugging-port=0",
            page,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert attack_site.reported.wait(60), "the page never reported its attempts"
    finally:
        process.kill()
        process.wait(timeout=20)
    results = attack_site.results
    assert set(results) == {
        "form_post",
        "json_post",
        "simple_post",
        "no_cors_post",
        "read_history",
    }
    assert "secret-run" not in json.dumps(results)
    assert not results["read_history"].startswith("read "), results
    assert results["form_post"] == "submitted"  # the browser did send the forged form
    assert [run.id for run in queries.list_runs()] == ["secret-run"]
