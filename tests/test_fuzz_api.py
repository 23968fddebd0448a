"""Schemathesis against a real uvicorn server: over a thousand generated requests, no 5xx,
every response as the OpenAPI schema documents it, every answer quoting the document exactly.

Each operation gets schema-valid (positive) and schema-breaking (negative) cases. Generation
is derandomised, so a run is repeatable; a failure prints the case as a curl command.

Every response goes through all of SCHEMA_CHECKS, event streams included: their schema
describes one event, and Schemathesis checks each event and the JSON in its `data`. On top,
by hand: what a schema cannot say (event order, quotes that are exact spans of the document).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.schemas import AskResponse
from rag.pipeline import Pipeline
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.slow

MIN_REQUESTS = 1000
# Cases per operation and generation mode; operations without inputs yield one case.
EXAMPLES = {GenerationMode.POSITIVE: 130, GenerationMode.NEGATIVE: 120}

SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

QUESTION = "How many terrorist crimes were averted in 2015?"
# Cases random generation rarely reaches: the real document, a streamed chat completion.
EXPLICIT: list[tuple[str, dict[str, Any]]] = [
    ("GET /documents/{doc_id}", {"path_parameters": {"doc_id": "sysoyev-interview"}}),
    ("POST /ask", {"body": {"question": QUESTION, "top_k": 3}}),
    ("POST /ask/stream", {"body": {"question": QUESTION}}),
    ("POST /v1/chat/completions", {"body": {"messages": [{"role": "user", "content": QUESTION}]}}),
    ("POST /v1/chat/completions", {"body": {"messages": [{"role": "user", "content": QUESTION}], "stream": True}}),
]


@pytest.fixture(scope="module")
def fuzz_server(pipeline: Pipeline) -> Iterator[LiveServer]:
    server = start_server(create_app(pipeline=pipeline.configured()))
    yield server
    server.stop()


def test_generated_requests_get_no_5xx_and_conform_to_the_schema(fuzz_server: LiveServer) -> None:
    # Read an answer stream to its end (Schemathesis stops after 20 events by default).
    config = schemathesis.Config.from_dict({"max-stream-events": 10_000})
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", config=config)
    schema.validate()  # a valid OpenAPI document, to begin with
    texts = DocumentTexts(fuzz_server.url)
    session = requests.Session()
    sent: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []

    for label, data in EXPLICIT:
        operation = schema.find_operation_by_label(label)
        assert operation is not None, f"{label} is not in the schema"
        case = operation.Case(media_type="application/json" if "body" in data else None, **data)
        response = case.call(base_url=fuzz_server.url, session=session, timeout=60)
        sent[label] += 1
        statuses[(label, response.status_code)] += 1
        assert response.status_code == 200, (label, response.status_code, response.text[:500])
        validate(case, response, texts)

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"an operation the schema does not describe properly: {result.err()}")
            continue
        operation = result.ok()
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Case) -> None:
                response = case.call(base_url=fuzz_server.url, session=session, timeout=60)
                sent[case.operation.label] += 1
                statuses[(case.operation.label, response.status_code)] += 1
                validate(case, response, texts)

            try:
                run()
            except Unsatisfiable:
                pass  # no way to break this operation's inputs (e.g. it has none)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}):\n{str(exc)[:4000]}")

    summary = ", ".join(f"{label} {n}" for label, n in sorted(sent.items()))
    print(f"\nschemathesis sent {sum(sent.values())} requests: {summary}\nstatuses: {dict(statuses)}")
    assert not failures, "\n\n".join(failures)
    assert sum(sent.values()) >= MIN_REQUESTS, summary
    assert {"POST /ask", "POST /search", "POST /ask/stream", "POST /v1/chat/completions"} <= set(sent)
    assert statuses[("POST /ask", 200)] > 0 and statuses[("POST /ask", 422)] > 0


# ---------------------------------------------------------------------------- checks


class DocumentTexts:
    """The documents' texts, fetched once each, to check citations against."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.texts: dict[str, str] = {}

    def __getitem__(self, doc_id: str) -> str:
        if doc_id not in self.texts:
            response = httpx.get(f"{self.url}/documents/{doc_id}", timeout=30)
            assert response.status_code == 200, f"cited document {doc_id!r}: {response.status_code}"
            self.texts[doc_id] = response.json()["text"]
        return self.texts[doc_id]


def validate(case: Case, response: Any, texts: DocumentTexts) -> None:
    case.validate_response(response, checks=SCHEMA_CHECKS)
    if response.status_code != 200:
        return
    label = case.operation.label
    if label == "POST /ask":
        check_citations(response.json(), texts)
    elif label == "POST /ask/stream":
        check_answer_stream(response, texts)
    elif label == "POST /v1/chat/completions":
        if header(response, "content-type").startswith("text/event-stream"):
            check_chat_stream(response, texts)
        else:
            check_chat_completion(response.json(), texts)


def header(response: Any, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return str(values[0]) if isinstance(values, list) else str(values)
    return ""


def check_citations(answer: dict[str, Any], texts: DocumentTexts) -> None:
    AskResponse.model_validate(answer)
    for c in answer["citations"]:
        assert c["quote"] == texts[c["doc_id"]][c["start"] : c["end"]], c
        assert f"[{c['n']}]" in answer["answer"]


def sse_events(body: str) -> list[tuple[str, str]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data.append(value.removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def check_answer_stream(response: Any, texts: DocumentTexts) -> None:
    assert not response.stream_cut_short, "the stream was not read to its end"
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names and names[0] == "citations" and names[-1] in ("done", "error"), names
    assert set(names[1:-1]) <= {"token"}, names
    if names[-1] == "done":
        check_citations(json.loads(events[-1][1]), texts)


def check_chat_stream(response: Any, texts: DocumentTexts) -> None:
    assert not response.stream_cut_short, "the stream was not read to its end"
    events = sse_events(response.text)
    assert events and events[-1][1] == "[DONE]", events[-1:]
    chunks = [json.loads(data) for _, data in events[:-1]]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    check_citations(answer_of(text, chunks[-1]), texts)


def check_chat_completion(body: dict[str, Any], texts: DocumentTexts) -> None:
    check_citations(answer_of(body["choices"][0]["message"]["content"], body), texts)


def answer_of(text: str, extras: dict[str, Any]) -> dict[str, Any]:
    keys: list[str] = ["answerable", "citations", "backend", "fallback_reason"]
    return {"answer": text, "timings_ms": {}, **{k: extras[k] for k in keys}}
