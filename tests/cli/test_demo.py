"""`hindsight demo`: a week of realistic runs through the receiver, or straight into --db."""

from __future__ import annotations

import json
import shlex
import socket
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from app.config import describe_database
from app.demo import DemoResult, run_demo
from app.store import queries
from app.store.filters import RunFilter
from app.store.status import Status
from tests.cli.conftest import Hindsight


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _check_sample_history(expected_runs: int) -> None:
    """What a new user should find in the viewer after the demo."""
    runs = queries.list_runs(limit=1000)
    assert len(runs) == expected_runs >= 30
    assert {r.workflow_id for r in runs} == {"invoice-triage", "support-reply", "nightly-etl"}
    assert {r.status for r in runs} == {Status.SUCCESS, Status.ERROR}
    days = {datetime.fromtimestamp(r.started_at / 1000).date() for r in runs}
    assert len(days) >= 6  # spread over the last week, so charts have something to show
    assert runs[0].workflow_id == "invoice-triage" and runs[0].status is Status.ERROR

    # a failure with a real stack trace, and the input that caused it
    newest = queries.get_run(runs[0].id)
    assert newest is not None
    failed = newest.first_failed_node()
    assert failed is not None and failed.node_id == "parse"
    payload = queries.get_node_payload(failed.pk)
    assert payload is not None and payload.error_stack is not None
    assert payload.error_stack.startswith("Traceback (most recent call last):")
    assert "in parse_total" in payload.error_stack and "ValueError" in payload.error_stack
    assert json.loads(payload.input_json or "null") == {"total": "1 249,00"}
    assert newest.params_json and newest.tags == (("env", "demo"), ("team", "finance"))

    # LLM steps with messages, response, tokens and cost
    support = next(r for r in runs if r.workflow_id == "support-reply" and r.total_tokens)
    assert support.cost_usd and support.cost_usd > 0
    detail = queries.get_run(support.id)
    assert detail is not None
    draft = next(n for n in detail.nodes if n.node_id == "draft" and n.status is Status.SUCCESS)
    assert draft.llm_model == "claude-3-5-sonnet" and draft.prompt_tokens and draft.cost_usd
    draft_payload = queries.get_node_payload(draft.pk)
    assert draft_payload is not None
    messages: list[dict[str, Any]] = json.loads(draft_payload.llm_prompt_json or "[]")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert json.loads(draft_payload.llm_response_json or "{}")["role"] == "assistant"
    assert any(len(queries.list_logs(r.id)) > 0 for r in runs[:5])

    # a retried step: attempt 1 failed, attempt 2 succeeded, the run still succeeded
    retried = [
        r for r in runs if r.workflow_id == "support-reply" and r.failed_node_name == "Draft reply"
    ]
    assert retried and retried[0].status is Status.SUCCESS

    # a long run with parallel nodes in execution groups, and an artifact
    etl = next(r for r in runs if r.workflow_id == "nightly-etl" and r.status is Status.SUCCESS)
    assert etl.duration_ms is not None and etl.duration_ms > 10 * 60_000
    etl_detail = queries.get_run(etl.id)
    assert etl_detail is not None
    groups = {n.node_id: n.group for n in etl_detail.nodes}
    assert sorted(k for k, g in groups.items() if g == 1) == [
        "extract-apac",
        "extract-eu",
        "extract-us",
    ]
    assert sorted(k for k, g in groups.items() if g == 2) == [
        "transform-customers",
        "transform-orders",
    ]
    assert groups["load"] is None
    assert [a.key for a in queries.list_artifacts(etl.id)] == ["daily-report"]
    broken_etl = [r for r in runs if r.workflow_id == "nightly-etl" and r.status is Status.ERROR]
    assert [r.failed_node_name for r in broken_etl] == ["Extract APAC"]


def test_without_a_receiver_the_runs_go_straight_into_the_database(
    hindsight: Hindsight, database: Path
) -> None:
    url = _closed_port_url()
    result = hindsight("demo", "--db", str(database), env={"HINDSIGHT_URL": url})
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith(f"No receiver answered at {url}, so ")
    runs = int(first_line.split(", so ")[1].split()[0])
    assert first_line.endswith(f"went straight into {database}.")
    _check_sample_history(runs)

    again = hindsight("--db", str(database), "demo", "--url", url)
    assert again.returncode == 0, again.stderr
    assert queries.count_runs() == runs  # the same sample runs, replaced, not doubled


def test_with_a_receiver_the_reporter_sends_them_there(
    hindsight: Hindsight, ingest: Any, tmp_path: Path, database: Path | str
) -> None:
    elsewhere = tmp_path / "not-used.db"
    result = hindsight("demo", "--db", str(elsewhere), env={"HINDSIGHT_URL": ingest.url})
    assert result.returncode == 0, result.stderr
    first_line, hint = result.stdout.splitlines()[:2]
    where = str(database.resolve()) if isinstance(database, Path) else describe_database(database)
    assert first_line.startswith("Sent ") and first_line.endswith(
        f"to the receiver at {ingest.url}, which stores them in {where}."
    )
    # `hindsight runs` reads another database by default: the hint names the receiver's.
    if isinstance(database, Path):
        assert hint.endswith(f"invoice-triage --db {shlex.quote(where)}")
    runs = int(first_line.split()[1])
    _check_sample_history(runs)
    assert not elsewhere.exists()
    assert not list((tmp_path / "spool").glob("*.json"))  # all delivered, nothing spooled


def test_one_command_tells_what_failed_in_the_last_run(
    hindsight: Hindsight, database: Path
) -> None:
    run_demo(url=_closed_port_url(), db_path=database)
    result = hindsight(
        "runs", "show", "--last", "--workflow", "Invoice triage", "--db", str(database)
    )
    assert result.returncode == 0, result.stderr
    assert "status     ERROR" in result.stdout
    assert "Failed node: Parse total (parse)" in result.stdout
    assert "ValueError: could not convert string to float: '1 249,00'" in result.stdout


def test_the_hint_names_the_receivers_database_only_when_runs_would_read_another() -> None:
    sent = DemoResult(30, 3, "http://127.0.0.1:7341", True, "/data/team.db", 30)
    assert sent.describe("/data/team.db").endswith("--workflow invoice-triage")
    assert sent.describe("/home/me/history.db").endswith("invoice-triage --db /data/team.db")
    secret = replace(sent, db_path="postgresql://me:***@db.example/hindsight")
    assert "--db" not in secret.describe("/home/me/history.db")  # no password to give it
    assert "stores them in postgresql://me:***@db.example/hindsight." in secret.describe(None)
    older = replace(sent, db_path=None)  # a receiver that does not name its database
    assert older.describe(None).splitlines()[0].endswith("at http://127.0.0.1:7341.")


def test_the_function_reports_where_the_runs_went(database: Path) -> None:
    url = _closed_port_url()
    result = run_demo(url=url, db_path=database)
    assert (result.via_receiver, result.url, result.db_path) == (False, url, database)
    assert result.confirmed == result.runs == queries.count_runs()
    assert result.failed == queries.count_runs(RunFilter(statuses=frozenset({Status.ERROR})))


def test_a_receiver_that_refuses_the_token_is_an_error_not_a_success(
    hindsight: Hindsight, ingest: Any, tmp_path: Path
) -> None:
    """Every report would be refused (401) and spooled: saying "Sent" would be a lie."""
    result = hindsight("demo", env={"HINDSIGHT_URL": ingest.url, "HINDSIGHT_TOKEN": "wrong"})
    assert result.returncode == 1
    assert f"the receiver at {ingest.url} refuses this machine's token" in result.stderr
    assert "HINDSIGHT_TOKEN" in result.stderr
    assert queries.count_runs() == 0
    assert not list((tmp_path / "spool").glob("*.json"))  # nothing sent, so nothing spooled
