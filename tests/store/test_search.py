from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest.report import decode_report
from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.models import db
from app.store.search import match_expression, search_hits
from app.store.search_pg import query_expression
from tests.conftest import make_report
from tests.ingest.test_report import full_report
from tests.store.index_size import index_size


def _store(report: dict[str, object]) -> None:
    writes.replace_runs([decode_report(json.dumps(report).encode())])


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
    indexed = index_size()
    assert indexed > 0
    _store(make_report("r"))  # re-post: same entries, not twice as many
    assert index_size() == indexed
    _store(make_report("r", status="success"))
    assert search_hits("ValueError") == []
    writes.delete_runs(["r"])
    assert index_size() == 0


def test_clear_workflow_unindexes_in_chunks(database: Path) -> None:
    for i in range(1_200):  # more than one delete chunk
        _store(make_report(f"r{i}", workflowId="bulk"))
    _store(make_report("keep", workflowId="other"))
    assert writes.clear_workflow("bulk") == 1_200
    assert {h.run_id for h in search_hits("ValueError", limit=5_000)} == {"keep"}


def test_user_text_cannot_inject_query_syntax(database: Path) -> None:
    _store(make_report("r"))
    # Punctuation separates words, as the tokenizer sees it; every word is quoted.
    assert match_expression('bad" OR total') == '"bad" "OR" "total"*'
    assert match_expression("customer_id") == '"customer" "id"*'
    assert query_expression("bad' | !total:*") == "'bad' & 'total':*"  # PostgreSQL
    for hostile in ['"', "AND", "NEAR(", "col:val", "*", "-x", "((", "'", "&", "!", ":*", "|"]:
        assert queries.list_runs(where=RunFilter(text=hostile)) is not None
        assert search_hits(hostile) is not None
    assert match_expression("   ") is None
    assert match_expression('"*(') is None
    assert query_expression(" !& ") is None
    assert [h.run_id for h in search_hits("BAD total")] == ["r"]  # case never matters


def test_accents_and_case_fold_the_same_way_on_both_backends(database: Path) -> None:
    _store(
        make_report(
            "r",
            status="success",
            nodeExecutions=[
                {"nodeId": "n", "status": "success", "output": {"note": "Café déjà-vu"}}
            ],
        )
    )
    assert [r.id for r in queries.list_runs(where=RunFilter(text="cafe DEJA"))] == ["r"]
    (hit,) = search_hits("deja")
    assert "[déjà]" in hit.snippet


def test_huge_payloads_and_endless_words_are_stored_and_found(database: Path) -> None:
    """PostgreSQL caps a tsvector at 1 MB and a word at 2 KB: a payload beyond both is
    stored whole and stays findable by its words."""
    many = " ".join(f"w{i}z" for i in range(250_000))  # ~2 MB of distinct words
    endless = "x" * 5_000
    _store(
        make_report(
            "big",
            status="success",
            nodeExecutions=[
                {"nodeId": "n", "status": "success", "output": {"text": f"{endless} {many}"}}
            ],
        )
    )
    assert [r.id for r in queries.list_runs(where=RunFilter(text="w17z w1234z"))] == ["big"]
    detail = queries.get_run("big")
    assert detail is not None
    payload = queries.get_node_payload(detail.nodes[0].pk)
    assert payload is not None and json.loads(payload.output_json or "")["text"].endswith(
        "w249999z"
    )
    if isinstance(database, str):  # PostgreSQL: past 1 MB a tsvector's offsets wrap silently
        valid = "SELECT bool_and(words = (words::text)::tsvector) FROM search_index"
        assert db.execute_sql(valid).fetchone()[0] is True


def test_text_pages_agree_with_the_matching_set(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing with text reads runs a window at a time; every path (enough hits in the first
    window, few hits collected whole, many hits over growing windows) gives the same pages
    as filtering by the complete set of matching runs, with hits in nodes and in logs."""
    from app.store import queries as queries_module

    reports = []
    for i in range(60):
        nodes = [{"nodeId": "n", "status": "success", "output": {"w": f"filler{i}"}}]
        logs = []
        if i % 3 == 0:
            nodes[0]["output"] = {"w": "common word"}
        if i % 7 == 0:
            logs = [{"level": "info", "message": "common in a log"}]
        if i in (5, 44):
            nodes[0]["input"] = {"q": "rarething"}
        reports.append(
            make_report(
                f"r{i:02}",
                status="success",
                startedAt=f"2026-01-01T00:{i:02}:00Z",
                nodeExecutions=nodes,
                logs=logs,
            )
        )
    writes.replace_runs([decode_report(json.dumps(r).encode()) for r in reports])
    common = [f"r{i:02}" for i in range(59, -1, -1) if i % 3 == 0 or i % 7 == 0]
    monkeypatch.setattr(queries_module, "_FIRST_WINDOW", 4)
    for few_hits in (1, 10_000):  # "few" never, then always
        monkeypatch.setattr(queries_module, "_FEW_HITS", few_hits)
        for text, expected in (("common", common), ("rareth", ["r44", "r05"]), ("zzz", [])):
            where = RunFilter(text=text)
            for size in (1, 2, 5, 100):
                seen, after = [], None
                while True:
                    page = queries.list_runs(limit=size, after=after, where=where)
                    seen += [r.id for r in page]
                    if len(page) < size:
                        break
                    after = queries.cursor_of(page[-1])
                assert seen == expected, (text, size, few_hits)
            assert queries.count_runs(where) == len(expected)


def test_hits_come_newest_first(database: Path) -> None:
    for run_id in ("old", "new"):
        _store(
            make_report(
                run_id,
                status="success",
                nodeExecutions=[{"nodeId": "n", "status": "success", "output": "needle"}],
            )
        )
    assert [h.run_id for h in search_hits("needle", limit=1)] == ["new"]


def test_words_of_one_node_may_sit_in_different_fields_on_sqlite(db_path: Path) -> None:
    """SQLite indexes a node as one row (a column per field): every word must appear in
    the node, and the hit names the field holding most of them."""
    from app.store.connection import close_database, open_database

    open_database(db_path)
    try:
        _store(
            make_report(
                "split",
                status="success",
                nodeExecutions=[
                    {
                        "nodeId": "n",
                        "status": "success",
                        "input": {"city": "Reykjavik"},
                        "output": {"animal": "puffin", "place": "Reykjavik harbour"},
                    }
                ],
            )
        )
        assert [r.id for r in queries.list_runs(where=RunFilter(text="reykjavik puffin"))] == [
            "split"
        ]
        (hit,) = search_hits("reykjavik puffin")
        assert (hit.node_id, hit.field) == ("n", "output")  # holds both words
        (hit,) = search_hits("harbour")
        assert hit.field == "output" and "[harbour]" in hit.snippet
    finally:
        close_database()


def test_prefix_spelled_out_from_the_vocabulary_finds_what_fts5_prefixes_find(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last word's prefix is looked up in the index's vocabulary and asked for word by
    word; past the expansion limit FTS5's own prefix query runs. Both find the same."""
    from app.store import search
    from app.store.connection import close_database, open_database

    open_database(db_path)
    try:
        words = [f"zebra{i}" for i in range(80)]
        for i, word in enumerate(words):
            _store(
                make_report(
                    f"r{i}",
                    status="success",
                    nodeExecutions=[{"nodeId": "n", "status": "success", "output": word}],
                )
            )
        _store(make_report("other", status="success"))
        everyone = {f"r{i}" for i in range(80)}

        def runs(text: str) -> set[str]:
            return {r.id for r in queries.list_runs(limit=500, where=RunFilter(text=text))}

        assert search._query_expression("zebra7") == '("zebra7" OR "zebra70" OR "zebra71" ' + (
            'OR "zebra72" OR "zebra73" OR "zebra74" OR "zebra75" OR "zebra76" OR "zebra77" '
            'OR "zebra78" OR "zebra79")'
        )
        assert runs("zebra7") == {"r7", *(f"r{i}" for i in range(70, 80))}
        assert runs("zeb") == everyone  # 80 words: FTS5's own prefix query
        assert search._query_expression("zeb") == '"zeb"*'
        assert runs("ZÉBRA1") == {"r1", *(f"r{i}" for i in range(10, 20))}  # folded alike
        assert runs("nothingstartslikethis") == set()
        # A new word with the prefix is found at once: the remembered lookup is per change.
        _store(
            make_report(
                "late",
                status="success",
                nodeExecutions=[{"nodeId": "n", "status": "success", "output": "zebra7x"}],
            )
        )
        assert "late" in runs("zebra7")
        monkeypatch.setattr(search, "_MAX_EXPANSION", 1)
        assert runs("zebra7") == {"r7", "late", *(f"r{i}" for i in range(70, 80))}
    finally:
        close_database()


def _answers_of_a_file(path: Path, create_index: str | None) -> dict[str, object]:
    """Store the same runs in a new file (its search index made by `create_index` when
    given, as an older Hindsight made it) and collect what searches answer there."""
    from app.store import search
    from app.store.connection import close_database, open_database

    open_database(path)
    try:
        if create_index is not None:
            db.execute_sql(f'DROP TABLE "{search.SEARCH_TABLE}"')
            db.execute_sql(create_index)
        table_sql = db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE name = ?", [search.SEARCH_TABLE]
        ).fetchone()[0]
        _store(full_report())
        for i, word in enumerate(["Zürich", "zurich-west", "harbour"]):
            _store(
                make_report(
                    f"r{i}",
                    startedAt=f"2026-11-2{i}T00:00:00Z",
                    nodeExecutions=[
                        {"nodeId": "n", "status": "error", "error": {"message": f"{word} down"}}
                    ],
                )
            )
        answers: dict[str, object] = {"table": table_sql}
        for text in ["ValueError", "zurich", "zur", "Summarise", "slow", "down harb", "nowhere"]:
            runs = [r.id for r in queries.list_runs(where=RunFilter(text=text))]
            hits = sorted((h.run_id, h.node_id, h.field) for h in search_hits(text))
            answers[text] = (runs, hits)
        return answers
    finally:
        close_database()


def test_new_files_index_rows_only_and_answer_as_files_indexed_by_column(tmp_path: Path) -> None:
    """New files keep only which rows hold a word (`detail = none`); files created before
    keep their `detail = column` index, and every search answers the same on both."""
    from app.store import search

    new = _answers_of_a_file(tmp_path / "new.db", None)
    older_index = search.CREATE_SEARCH_TABLE.replace("detail = none", "detail = column")
    old = _answers_of_a_file(tmp_path / "old.db", older_index)
    assert "detail = none" in str(new.pop("table"))
    assert "detail = column" in str(old.pop("table"))
    assert new == old
    assert new["zurich"] == (["r1", "r0"], [("r0", "n", "error"), ("r1", "n", "error")])
    assert new["down harb"][0] == ["r2"]  # type: ignore[index]
    assert new["nowhere"] == ([], [])


def test_a_new_files_index_merges_segments_eight_at_a_time(db_path: Path) -> None:
    from app.store import search
    from app.store.connection import close_database, open_database

    open_database(db_path)
    try:
        setting = db.execute_sql(
            f"SELECT v FROM \"{search.SEARCH_TABLE}_config\" WHERE k = 'automerge'"
        ).fetchone()
        assert setting == (search.AUTOMERGE,) == (8,)
    finally:
        close_database()
