from __future__ import annotations

import json
from pathlib import Path

from app.ingest.report import decode_report
from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.models import db
from app.store.search import match_expression, search_hits
from tests.conftest import make_report
from tests.ingest.test_report import full_report


def _store(report: dict[str, object]) -> None:
    writes.replace_runs([decode_report(json.dumps(report).encode())])


def _index_size() -> int:
    return int(db.execute_sql("SELECT COUNT(*) FROM search_index").fetchone()[0])


def test_text_filter_finds_runs_by_payload_error_log_and_llm_text(database: Path) -> None:
    _store(full_report())  # run "full": ValueError in parse, a log "slow", an LLM response
    _store(
        make_report(
            "other",
            status="success",
            startedAt="2026-11-23T00:00:00Z",
            nodeExecutions=[
                {"nodeId": "n", "status": "success", "output": {"greeting": "bonjour"}}
            ],
        )
    )
    for text, expected in [
        ("ValueError", ["full"]),  # error message
        ("Traceback", ["full"]),  # stack
        ("example invalid invoices", ["full"]),  # words of a node input, any order
        ("slow", ["full"]),  # log message
        ("totals EUR", ["full"]),  # LLM response
        ("Summarise", ["full"]),  # LLM prompt
        ("bonj", ["other"]),  # prefix of the last word
        ("greeting", ["other"]),  # JSON keys are searchable too
        ("nothing-like-this", []),
    ]:
        where = RunFilter(text=text)
        assert [r.id for r in queries.list_runs(where=where)] == expected, text
        assert queries.count_runs(where) == len(expected)


def test_hit_names_run_node_and_field(database: Path) -> None:
    _store(full_report())
    hits = search_hits("ValueError")
    assert {(h.run_id, h.node_id, h.field) for h in hits} == {("full", "parse", "error")}
    assert "[ValueError]" in hits[0].snippet
    (log_hit,) = search_hits("slow")
    assert (log_hit.run_id, log_hit.node_id, log_hit.field) == ("full", "fetch", "log")


def test_replacing_and_deleting_runs_keeps_the_index_exact(database: Path) -> None:
    _store(make_report("r"))
    indexed = _index_size()
    assert indexed > 0
    _store(make_report("r"))  # re-post: same entries, not twice as many
    assert _index_size() == indexed
    _store(make_report("r", status="success"))
    assert search_hits("ValueError") == []
    writes.delete_runs(["r"])
    assert _index_size() == 0


def test_clear_workflow_unindexes_in_chunks(database: Path) -> None:
    for i in range(1_200):  # more than one delete chunk
        _store(make_report(f"r{i}", workflowId="bulk"))
    _store(make_report("keep", workflowId="other"))
    assert writes.clear_workflow("bulk") == 1_200
    assert {h.run_id for h in search_hits("ValueError", limit=5_000)} == {"keep"}


def test_user_text_cannot_inject_fts_syntax(database: Path) -> None:
    _store(make_report("r"))
    # Punctuation separates words, as the tokenizer sees it; every word is quoted.
    assert match_expression('bad" OR total') == '"bad" "OR" "total"*'
    assert match_expression("customer_id") == '"customer" "id"*'
    for hostile in ['"', "AND", "NEAR(", "col:val", "*", "-x", "(("]:
        assert queries.list_runs(where=RunFilter(text=hostile)) is not None
    assert match_expression("   ") is None
    assert match_expression('"*(') is None
