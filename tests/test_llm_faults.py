"""The LLM clients against faults on the wire, over real sockets on 127.0.0.1.

The servers are fakes of the OpenAI / Ollama wire formats (tests/llm_servers.py): the faults
cannot be provoked on demand from a real server, and no real Ollama can be installed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from rag.errors import LLMError
from rag.llm import ChatBackend, ChatMessage, OllamaBackend, OpenAIBackend, answer_with_llm, stream_with_llm
from rag.pipeline import Pipeline
from rag.settings import get_settings
from rag.types import Answer, ChatTurn, Chunk, Hit
from tests.conftest import dead_port
from tests.llm_servers import (
    FakeWireServer,
    Reply,
    body_reply,
    json_reply,
    ollama_chat,
    ollama_lines_reply,
    openai_completion,
    openai_sse_reply,
    silent_reply,
    status_reply,
    streamed_reply,
)

MESSAGES = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Hello?")]
SLACK = 0.75  # seconds allowed past a deadline (thread start-up, a loaded CI machine)

MakeBackend = Callable[..., ChatBackend]


def openai_backend(server_url: str, **kwargs: object) -> OpenAIBackend:
    return OpenAIBackend(server_url + "/v1", "fake-model", **kwargs)  # type: ignore[arg-type]


def ollama_backend(server_url: str, **kwargs: object) -> OllamaBackend:
    return OllamaBackend(server_url, "fake-model", **kwargs)  # type: ignore[arg-type]


BACKENDS = [pytest.param(openai_backend, id="openai"), pytest.param(ollama_backend, id="ollama")]


def ok_reply(make: MakeBackend, text: str) -> Reply:
    return json_reply(openai_completion(text)) if make is openai_backend else json_reply(ollama_chat(text))


def stream_reply(make: MakeBackend, pieces: list[str], cut_after: int | None = None) -> Reply:
    if make is openai_backend:
        return openai_sse_reply(pieces, cut_after=cut_after)
    return ollama_lines_reply(pieces, cut_after=cut_after)


def in_seconds(seconds: float) -> float:
    return time.monotonic() + seconds


# ------------------------------------------------------------------------ connection


@pytest.mark.parametrize("make", BACKENDS)
def test_nothing_listening_is_a_connection_error_after_retries(make: MakeBackend) -> None:
    backend = make(f"http://127.0.0.1:{dead_port()}", retries=2)
    began = time.monotonic()
    with pytest.raises(LLMError) as info:
        backend.complete(MESSAGES, max_tokens=16, deadline=in_seconds(10))
    assert info.value.reason == "connection_error"
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "RAG_LLM_BASE_URL" in str(info.value)
    # Two backoffs (0.25 s + 0.5 s), not the 10 s deadline.
    assert 0.7 < time.monotonic() - began < 3


@pytest.mark.parametrize("make", BACKENDS)
def test_stream_from_nothing_listening_is_a_connection_error(make: MakeBackend) -> None:
    backend = make(f"http://127.0.0.1:{dead_port()}", retries=0)
    with pytest.raises(LLMError) as info:
        list(backend.stream(MESSAGES, max_tokens=16, deadline=in_seconds(5)))
    assert info.value.reason == "connection_error"


# ------------------------------------------------------------------------ deadline


@pytest.mark.parametrize("make", BACKENDS)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_silent_server_times_out_at_the_deadline(make: MakeBackend, streaming: bool) -> None:
    with FakeWireServer([silent_reply()]) as server:
        backend = make(server.root_url, read_timeout=30.0, retries=3)
        began = time.monotonic()
        deadline = began + 1.0
        with pytest.raises(LLMError) as info:
            if streaming:
                list(backend.stream(MESSAGES, max_tokens=16, deadline=deadline))
            else:
                backend.complete(MESSAGES, max_tokens=16, deadline=deadline)
        elapsed = time.monotonic() - began
    assert info.value.reason == "timeout"
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert 0.9 < elapsed < 1.0 + SLACK
    assert len(server.requests) == 1  # a read timeout is not retried


def test_slow_stream_is_cut_at_the_deadline() -> None:
    # Each piece arrives well within the read timeout, but all of them would take 5 s.
    with FakeWireServer([openai_sse_reply(["tick "] * 50, delay=0.1)]) as server:
        backend = openai_backend(server.root_url, read_timeout=5.0)
        began = time.monotonic()
        pieces: list[str] = []
        with pytest.raises(LLMError) as info:
            pieces.extend(backend.stream(MESSAGES, max_tokens=16, deadline=began + 1.0))
    assert info.value.reason == "timeout"
    assert 3 < len(pieces) < 50
    assert time.monotonic() - began < 1.0 + SLACK


def test_deadline_already_passed_sends_nothing() -> None:
    with FakeWireServer([json_reply(openai_completion("hi"))]) as server, pytest.raises(LLMError) as info:
        openai_backend(server.root_url).complete(MESSAGES, max_tokens=16, deadline=time.monotonic() - 1)
    assert info.value.reason == "timeout"
    assert server.requests == []


# ------------------------------------------------------------------------ statuses and retries


@pytest.mark.parametrize("make", BACKENDS)
def test_500_is_retried_then_fails(make: MakeBackend) -> None:
    with FakeWireServer([status_reply(500)]) as server, pytest.raises(LLMError) as info:
        make(server.root_url, retries=2).complete(MESSAGES, max_tokens=16, deadline=in_seconds(10))
    assert info.value.reason == "http_error"
    assert "HTTP 500" in str(info.value)
    assert len(server.requests) == 3


@pytest.mark.parametrize("make", BACKENDS)
def test_429_then_success(make: MakeBackend) -> None:
    with FakeWireServer([status_reply(429, **{"Retry-After": "0"}), ok_reply(make, "Hello [1]")]) as server:
        text = make(server.root_url, retries=2).complete(MESSAGES, max_tokens=16, deadline=in_seconds(10))
    assert text == "Hello [1]"
    assert len(server.requests) == 2


@pytest.mark.parametrize("make", BACKENDS)
def test_503_then_streamed_success(make: MakeBackend) -> None:
    with FakeWireServer([status_reply(503), stream_reply(make, ["Hel", "lo"])]) as server:
        pieces = list(make(server.root_url, retries=1).stream(MESSAGES, max_tokens=16, deadline=in_seconds(10)))
    assert "".join(pieces) == "Hello"
    assert len(server.requests) == 2


def test_client_error_is_not_retried() -> None:
    with FakeWireServer([status_reply(401)]) as server, pytest.raises(LLMError) as info:
        openai_backend(server.root_url, retries=3).complete(MESSAGES, max_tokens=16, deadline=in_seconds(10))
    assert info.value.reason == "http_error"
    assert "RAG_LLM_API_KEY" in str(info.value)
    assert len(server.requests) == 1


def test_retries_stop_before_the_deadline() -> None:
    # The server asks for 10 s of patience; the deadline is 1 s away: fail now, do not sleep past it.
    with FakeWireServer([status_reply(503, **{"Retry-After": "10"})]) as server:
        began = time.monotonic()
        with pytest.raises(LLMError) as info:
            openai_backend(server.root_url, retries=5).complete(MESSAGES, max_tokens=16, deadline=began + 1.0)
    assert info.value.reason == "http_error"
    assert time.monotonic() - began < 1.0
    assert len(server.requests) == 1


# ------------------------------------------------------------------------ malformed replies


@pytest.mark.parametrize("make", BACKENDS)
def test_invalid_json_is_malformed(make: MakeBackend) -> None:
    with FakeWireServer([body_reply(200, b'{"choices": [{"message": ')]) as server, pytest.raises(LLMError) as info:
        make(server.root_url).complete(MESSAGES, max_tokens=16, deadline=in_seconds(5))
    assert info.value.reason == "malformed_response"
    assert len(server.requests) == 1


@pytest.mark.parametrize("make", BACKENDS)
def test_json_of_the_wrong_shape_is_malformed(make: MakeBackend) -> None:
    with FakeWireServer([json_reply({"unexpected": True})]) as server, pytest.raises(LLMError) as info:
        make(server.root_url).complete(MESSAGES, max_tokens=16, deadline=in_seconds(5))
    assert info.value.reason == "malformed_response"


@pytest.mark.parametrize("make", BACKENDS)
def test_empty_answer(make: MakeBackend) -> None:
    with FakeWireServer([ok_reply(make, "  ")]) as server, pytest.raises(LLMError) as info:
        make(server.root_url).complete(MESSAGES, max_tokens=16, deadline=in_seconds(5))
    assert info.value.reason == "empty_answer"


def test_invalid_sse_event_is_malformed() -> None:
    bad_event = streamed_reply("text/event-stream", [b"data: {oops\n\n"], False, 0.0)
    with FakeWireServer([bad_event]) as server, pytest.raises(LLMError) as info:
        list(openai_backend(server.root_url).stream(MESSAGES, max_tokens=16, deadline=in_seconds(5)))
    assert info.value.reason == "malformed_response"


# ------------------------------------------------------------------------ broken streams


@pytest.mark.parametrize("make", BACKENDS)
def test_stream_cut_in_the_middle(make: MakeBackend) -> None:
    with FakeWireServer([stream_reply(make, ["The ", "SCO ", "RATS"], cut_after=2)]) as server:
        pieces: list[str] = []
        with pytest.raises(LLMError) as info:
            pieces.extend(make(server.root_url, retries=2).stream(MESSAGES, max_tokens=16, deadline=in_seconds(5)))
    assert info.value.reason == "stream_interrupted"
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert pieces == ["The ", "SCO "]
    assert len(server.requests) == 1  # a stream that has begun is never retried


def test_stream_ending_without_done_is_interrupted() -> None:
    with FakeWireServer([openai_sse_reply(["The ", "SCO"], done=False)]) as server, pytest.raises(LLMError) as info:
        list(openai_backend(server.root_url).stream(MESSAGES, max_tokens=16, deadline=in_seconds(5)))
    assert info.value.reason == "stream_interrupted"


# ------------------------------------------------------------------------ what goes on the wire


def test_openai_request_carries_model_max_tokens_and_key() -> None:
    with FakeWireServer([json_reply(openai_completion("ok"))]) as server:
        backend = OpenAIBackend(server.openai_url, "my-model", api_key="sk-test", temperature=0.2)
        backend.complete(MESSAGES, max_tokens=77, deadline=in_seconds(5))
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "my-model"
    assert request.body["max_tokens"] == 77
    assert request.body["temperature"] == 0.2
    assert request.body["stream"] is True  # even for complete(): see rag/llm/openai.py
    assert request.body["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]


def test_ollama_request_sends_num_predict() -> None:
    with FakeWireServer([ollama_lines_reply(["o", "k"])]) as server:
        backend = OllamaBackend(server.root_url + "/api/", "llama3")
        assert "".join(backend.stream(MESSAGES, max_tokens=33, deadline=in_seconds(5))) == "ok"
    request = server.requests[0]
    assert request.path == "/api/chat"
    assert "authorization" not in request.headers
    assert request.body["options"]["num_predict"] == 33
    assert request.body["stream"] is True


# ------------------------------------------------------------------------ the answerer falls back


CHUNK_TEXT = "The SCO RATS has been acting for over 12 years as a coordinating structure."
HITS = [Hit(Chunk("doc", "doc#0", 0, len(CHUNK_TEXT), CHUNK_TEXT, None, "answer", ()), score=0.9)]


def fallback_answer(reason: str) -> Answer:
    return Answer("extractive [1]", True, (), "extractive", reason, {})


def test_answer_falls_back_when_the_server_fails() -> None:
    settings = get_settings(llm_backend="openai", llm_retries=1, llm_deadline=5)
    with FakeWireServer([status_reply(500)]) as server:
        backend = openai_backend(server.root_url, retries=settings.llm_retries)
        answer = answer_with_llm("How long?", [], HITS, backend, settings, fallback_answer)
    assert answer.backend == "extractive"
    assert answer.fallback_reason == "http_error"


def test_stream_falls_back_when_cut() -> None:
    settings = get_settings(llm_backend="openai", llm_deadline=5)
    with FakeWireServer([openai_sse_reply(["For over ", "12 years [1]."], cut_after=1)]) as server:
        items = list(stream_with_llm("How long?", [], HITS, openai_backend(server.root_url), settings, fallback_answer))
    assert items[:-1] == ["For over "]
    final = items[-1]
    assert isinstance(final, Answer)
    assert final.fallback_reason == "stream_interrupted"


def test_stream_through_the_wire_gives_a_checked_answer() -> None:
    settings = get_settings(llm_backend="openai", llm_deadline=5, llm_model="fake-model")
    with FakeWireServer([openai_sse_reply(["For over ", "12 years [1][4]."])]) as server:
        items = list(stream_with_llm("How long?", [], HITS, openai_backend(server.root_url), settings, fallback_answer))
    final = items[-1]
    assert isinstance(final, Answer)
    assert final == replace(final, answer="For over 12 years [1].", answerable=True, fallback_reason=None)
    assert final.backend == "llm:openai:fake-model"
    assert [c.n for c in final.citations] == [1]


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("What does SCO stand for?", None),  # the sentence that spells it out
        ("When was RATS set up?", None),  # the sentence that dates its inception
        ("How does Sysoyev describe RATS?", None),  # the sentence that says what it is
        ("How many terrorists were liquidated and how many abettors were apprehended?", None),  # two parts
        ("Tell me more", "What is Xiaomen-2015?"),  # reads on from the previous answer
    ],
)
def test_a_failing_llm_falls_back_to_the_answer_extractive_mode_gives(
    pipeline: Pipeline, question: str, first: str | None
) -> None:
    """A failing LLM degrades to the extractive answer, the one `mode: extractive` gives: for these
    questions, answered their own way, it fell back to the plain answer from the passages (for
    "When was RATS set up?" a refusal, for "Tell me more" the previous answer again)."""
    down = pipeline.configured(
        llm_backend="openai", llm_base_url=f"http://127.0.0.1:{dead_port()}/v1", llm_retries=0, cache_size=0
    )
    history = (
        [ChatTurn("user", first), ChatTurn("assistant", pipeline.ask(first, mode="extractive").answer)] if first else []
    )
    extractive = pipeline.ask(question, history, mode="extractive")
    streamed = list(down.ask_stream(question, history, mode="llm"))[-1].answer
    for fallen in (down.ask(question, history, mode="llm"), down.ask(question, history, mode="auto"), streamed):
        assert fallen is not None and fallen.backend == "extractive" and fallen.fallback_reason == "connection_error"
        assert (fallen.answer, fallen.answerable, fallen.citations) == (
            extractive.answer,
            extractive.answerable,
            extractive.citations,
        )
    assert extractive.answerable
