"""A short run of `eval.load` against a real uvicorn server: 300 gold questions at
concurrency 16, no errors, every citation an exact quote of the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from eval.load import LoadReport, ask_url, citation_problem, run_load
from rag.pipeline import Pipeline
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.slow

REQUESTS = 300
CONCURRENCY = 16


@pytest.fixture(scope="module")
def load_server(pipeline: Pipeline) -> Iterator[LiveServer]:
    # Its own answer cache, so the gold questions are answered from scratch once.
    server = start_server(create_app(pipeline=pipeline.configured()))
    yield server
    server.stop()


def test_concurrent_questions_all_get_exact_citations(load_server: LiveServer) -> None:
    report = run_load(load_server.url, REQUESTS, CONCURRENCY)
    print("\n" + report.summary())
    assert report.errors == 0, report.summary()
    assert report.broken == 0, report.summary()
    assert report.ok == REQUESTS and report.statuses == {200: REQUESTS}
    assert len(report.latencies_ms) == REQUESTS
    assert 0 < report.percentile(50) <= report.percentile(95) <= report.percentile(100)


def test_over_the_concurrency_limit_the_refusals_are_counted_as_errors(pipeline: Pipeline) -> None:
    server = start_server(create_app(pipeline=pipeline.configured(max_concurrency=1, cache_size=0)))
    try:
        report = run_load(f"{server.url}/ask", 40, 8)
    finally:
        server.stop()
    assert report.ok + report.errors == 40 and report.broken == 0
    assert set(report.statuses) <= {200, 503}
    assert report.errors == report.statuses.get(503, 0)


def test_citation_check() -> None:
    text = "The SCO was founded in 2001."
    good: dict[str, Any] = {
        "answer": "Founded in 2001 [1].",
        "citations": [{"n": 1, "doc_id": "d", "start": 4, "end": 7, "quote": "SCO"}],
    }
    assert citation_problem(good, {"d": text}) is None
    off_by_one = {**good, "citations": [{**good["citations"][0], "start": 5}]}
    assert "does not quote" in str(citation_problem(off_by_one, {"d": text}))
    no_marker = {**good, "answer": "Founded in 2001."}
    assert "markers" in str(citation_problem(no_marker, {"d": text}))


def test_report_percentiles_and_endpoint_forms() -> None:
    report = LoadReport(10, 2, 2.0, 10, 0, 0, {200: 10}, tuple(float(i) for i in range(1, 11)), ())
    assert (report.percentile(50), report.percentile(95), report.percentile(100)) == (5.0, 10.0, 10.0)
    assert report.throughput == 5.0
    assert ask_url("http://h:1") == ask_url("http://h:1/ask/") == ("http://h:1", "http://h:1/ask")
