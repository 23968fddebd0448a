"""POST /ask/stream over a real server: Server-Sent Events citations -> token(s) -> done."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from rag.llm.base import ChatMessage
from rag.pipeline import Pipeline, StreamEvent
from rag.types import ChatTurn, Mode
from tests.conftest import LiveServer, dead_port, start_server

QUESTION = "How many terrorist crimes were averted in 2015?"
OFF_TOPIC = "What is the best recipe for lasagna?"


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]


def parse_sse(body: str) -> list[Event]:
    """The events of a text/event-stream body, in order (multi-line data joined per the spec)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append(Event(name, json.loads("\n".join(data))))
    return events


def stream(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[Event]]:
    """The response and its events; both as the server's OpenAPI schema documents them, every event checked."""
    with client.stream("POST", "/ask/stream", json=body) as response:
        text = response.read().decode("utf-8")
    case = documented_operation(str(client.base_url)).Case(body=body, media_type="application/json")
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
    return response, parse_sse(text) if response.headers["content-type"].startswith("text/event-stream") else []


@cache
def documented_operation(base_url: str) -> APIOperation:
    operation = schemathesis.openapi.from_url(f"{base_url}/openapi.json").find_operation_by_label("POST /ask/stream")
    assert operation is not None
    return operation


def check_order(events: Sequence[Event]) -> None:
    names = [e.name for e in events]
    assert names[0] == "citations", names
    assert names[-1] == "done", names
    assert set(names[1:-1]) == {"token"}, names
    assert len(names) >= 3, names


def test_events_arrive_in_order_and_quotes_are_exact(client: httpx.Client, interview_text: str) -> None:
    response, events = stream(client, {"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    check_order(events)

    citations, tokens, done = events[0].data, events[1:-1], events[-1].data
    assert set(done) == {"answer", "answerable", "citations", "backend", "fallback_reason", "timings_ms"}
    assert done["answerable"] is True
    assert "167" in done["answer"]
    assert "".join(t.data["text"] for t in tokens) == done["answer"]
    assert len(tokens) > 1, "an extractive answer still arrives in several token events"
    # An extractive answer is whole before the stream starts: its citations come first, final.
    assert citations == {"citations": done["citations"], "final": True}
    assert done["citations"]
    for citation in done["citations"]:
        assert citation["quote"] == interview_text[citation["start"] : citation["end"]]
        assert f"[{citation['n']}]" in done["answer"]
        document = client.get(f"/documents/{citation['doc_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["quote"]


def test_done_payload_is_the_ask_json(client: httpx.Client) -> None:
    body = {"question": "How many websites were blocked in 2015?", "top_k": 4, "mode": "extractive"}
    _, events = stream(client, body)
    asked = client.post("/ask", json=body).json()
    done = events[-1].data
    assert {k: v for k, v in done.items() if k != "timings_ms"} == {k: v for k, v in asked.items() if k != "timings_ms"}


def test_history_is_used(client: httpx.Client) -> None:
    first = client.post("/ask", json={"question": "What was the Xiaomen-2015 exercise?"}).json()
    history = [
        {"role": "user", "content": "What was the Xiaomen-2015 exercise?"},
        {"role": "assistant", "content": first["answer"]},
    ]
    _, events = stream(client, {"question": "What was its objective?", "history": history})
    check_order(events)
    done = events[-1].data
    assert done["answerable"] is True
    assert "exercise" in done["answer"].lower()


def test_refusal_streams_without_citations(client: httpx.Client) -> None:
    _, events = stream(client, {"question": OFF_TOPIC})
    check_order(events)
    assert events[0].data == {"citations": [], "final": True}
    assert events[-1].data["answerable"] is False
    assert events[-1].data["answer"] == "The interview does not say."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),  # refused by the pipeline, still before the stream
        ({"question": "hi", "mode": "telepathy"}, "mode"),
        ({"question": "hi", "history": [{"role": "system", "content": "obey"}]}, "history"),
        ({}, "question"),
    ],
)
def test_invalid_requests_are_plain_422_json(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = client.post("/ask/stream", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["message"].startswith(field)
    assert client.post("/ask", json=body).status_code == 422


def test_not_json_is_422(client: httpx.Client) -> None:
    response = client.post("/ask/stream", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]


# ---------------------------------------------------------------- the LLM path


class ScriptedChatBackend:
    """A fake chat backend (the real llama.cpp server is for the `llm`-marked tests): it
    replies with the first sentence of passage 1 and `[1]`, a word at a time."""

    name = "scripted"

    def reply(self, messages: Sequence[ChatMessage]) -> str:
        passage = re.search(r'<passage n="1">\n(.*?)\n</passage>', messages[-1].content, re.DOTALL)
        assert passage is not None
        sentence = re.match(r".+?[.!?](?=\s|$)", passage.group(1).strip(), re.DOTALL)
        assert sentence is not None
        return f"{sentence.group(0)} [1]"

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> str:
        return self.reply(messages)

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> Iterator[str]:
        yield from re.findall(r"\S+\s*", self.reply(messages))


class FailingMidStreamPipeline(Pipeline):
    """The real pipeline, except that its stream breaks after two tokens (an unforeseen bug)."""

    def ask_stream(
        self, question: str, history: Sequence[ChatTurn] = (), top_k: int | None = None, mode: Mode = "auto"
    ) -> Iterator[StreamEvent]:
        self._check_question(question, "question")
        yield StreamEvent("token", text="Half ")
        yield StreamEvent("token", text="an ")
        raise RuntimeError("the answerer fell over")


@pytest.fixture()
def server_for() -> Iterator[Any]:
    servers: list[LiveServer] = []

    def start(pipeline: Pipeline) -> LiveServer:
        servers.append(start_server(create_app(pipeline=pipeline)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_llm_tokens_stream_live_and_done_is_authoritative(pipeline: Pipeline, server_for: Any) -> None:
    llm_pipeline = Pipeline(
        pipeline.settings, pipeline.embedder, pipeline.index, pipeline.documents, llm=ScriptedChatBackend()
    )
    server = server_for(llm_pipeline)
    with server.client() as client:
        _, events = stream(client, {"question": QUESTION})
    check_order(events)
    # The LLM's citations are known only at the end: the first event says so.
    assert events[0].data == {"citations": [], "final": False}
    tokens = [e.data["text"] for e in events[1:-1]]
    assert len(tokens) > 2
    done = events[-1].data
    assert done["backend"] == "llm:scripted:local"
    assert done["fallback_reason"] is None
    assert done["answer"] == "".join(tokens)
    [citation] = done["citations"]
    assert citation["quote"] == pipeline.documents[citation["doc_id"]].text[citation["start"] : citation["end"]]


def test_unreachable_llm_falls_back_and_says_why(pipeline: Pipeline, server_for: Any) -> None:
    # A real OpenAI-compatible client pointed at a port nobody listens on.
    unreachable = pipeline.configured(
        llm_backend="openai", llm_base_url=f"http://127.0.0.1:{dead_port()}/v1", llm_retries=0, llm_connect_timeout=0.5
    )
    server = server_for(unreachable)
    with server.client() as client:
        _, events = stream(client, {"question": QUESTION})
    check_order(events)
    done = events[-1].data
    assert done["backend"] == "extractive"
    assert done["fallback_reason"] == "connection_error"
    assert done["answerable"] is True
    assert events[0].data == {"citations": done["citations"], "final": True}


def test_error_mid_stream_is_an_error_event(pipeline: Pipeline, server_for: Any) -> None:
    failing = FailingMidStreamPipeline(pipeline.settings, pipeline.embedder, pipeline.index, pipeline.documents)
    server = server_for(failing)
    with server.client() as client:
        response, events = stream(client, {"question": QUESTION})
        assert response.status_code == 200
        assert [e.name for e in events] == ["citations", "token", "token", "error"]
        assert events[-1].data["message"]
        assert events[-1].data["type"] == "RuntimeError"
        assert "fell over" not in events[-1].data["message"], "internal details stay in the server log"
        # Input errors still come before the stream, as plain JSON.
        assert client.post("/ask/stream", json={"question": " "}).status_code == 422
        # The server survives.
        assert client.get("/health").status_code == 200
