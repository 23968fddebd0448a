"""The whole LLM path through the HTTP API: /ask and /ask/stream with mode=llm against a REAL
llama.cpp server (Gemma 3 270M), served by a real uvicorn server."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator, Sequence

import httpx
import pytest

from rag.llm import ChatBackend, ChatMessage
from rag.llm.prompt import SYSTEM_PROMPT
from rag.pipeline import Pipeline
from rag.types import ChatTurn
from tests.conftest import LiveServer, start_server
from tests.llm_servers import LlamaServer, llama_cpp_available

if not llama_cpp_available() and os.environ.get("CI") != "true":
    pytest.skip("llama-cpp-python is not installed: `make install-test` installs it", allow_module_level=True)

pytestmark = [pytest.mark.llm, pytest.mark.slow]

QUESTIONS = [
    "How many terrorist and extremist crimes were averted in 2015?",
    "How many websites were blocked in 2015?",
    "Where was the Xiaomen-2015 exercise conducted?",
    "Which countries are finalising their accession to the SCO?",
]
NUMBER = re.compile(r"\d[\d,]*")


def on_gemma(pipeline: Pipeline, llama_server: LlamaServer, **settings: object) -> Pipeline:
    """The pipeline answering through the real llama.cpp server (Gemma 3 270M), with room for its
    10–35 s answers on a busy machine."""
    return pipeline.configured(
        llm_backend="openai", llm_base_url=llama_server.base_url, llm_model="gemma-3-270m", llm_deadline=90, llm_read_timeout=60, **settings
    )


@pytest.fixture(scope="module")
def llm_api(pipeline: Pipeline, llama_server: LlamaServer) -> Iterator[LiveServer]:
    from api.app import create_app

    configured = on_gemma(pipeline, llama_server, llm_max_tokens=48)
    server = start_server(create_app(pipeline=configured))
    yield server
    server.stop()


def check(body: dict[str, object], text: str) -> None:
    citations = body["citations"]
    assert isinstance(citations, list)
    for c in citations:
        assert c["quote"] == text[c["start"] : c["end"]]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", str(body["answer"]))} == {c["n"] for c in citations}


@pytest.mark.parametrize("question", QUESTIONS)
def test_llm_answers_are_grounded_or_fall_back(llm_api: LiveServer, interview_text: str, question: str) -> None:
    with llm_api.client(timeout=120) as client:
        r = client.post("/ask", json={"question": question, "mode": "llm"})
    assert r.status_code == 200
    body = r.json()
    check(body, interview_text)
    if body["fallback_reason"] is None:
        # Kept as the model wrote it: every number it states occurs in a passage it cites.
        assert str(body["backend"]).startswith("llm")
        assert not repeats_rules(str(body["answer"]))
        cited = " ".join(c["quote"] for c in body["citations"]).replace(",", "")
        for number in NUMBER.findall(re.sub(r"\[\d+\]", "", str(body["answer"]))):
            assert number.replace(",", "") in cited
    else:
        # Caught: the extractive answer, and the reason says why.
        assert body["backend"] == "extractive"
        assert re.fullmatch(r"[a-z_]+(: .+)?", str(body["fallback_reason"]))


def repeats_rules(answer: str) -> bool:
    """Whether the answer holds eight words in a row of the prompt's rules."""
    words = SYSTEM_PROMPT.split()
    return any(" ".join(words[i : i + 8]) in answer for i in range(len(words) - 7))


def test_an_llm_that_repeats_its_rules_falls_back(
    pipeline: Pipeline, llama_server: LlamaServer, interview_text: str
) -> None:
    """At the default token cap (256) Gemma 3 270M answered 111 of 117 gold questions with the
    prompt's rules, example citations "[1] or [2][3]" included, and they passed the grounding
    check as its answer. (The other tests here cap it at 48 tokens, which cut the echo before
    the example, so it fell back for want of citations.)"""
    configured = on_gemma(pipeline, llama_server, cache_size=0)
    assert configured.settings.llm_max_tokens == 256
    answer = configured.ask(QUESTIONS[0], mode="llm")
    assert not repeats_rules(answer.answer)
    assert answer.fallback_reason in (None, "prompt_echo")
    if answer.fallback_reason == "prompt_echo":
        assert answer == dataclasses.replace(
            pipeline.ask(QUESTIONS[0], mode="extractive"), fallback_reason="prompt_echo", timings_ms=answer.timings_ms
        )


def test_llm_stream_ends_with_a_checked_answer(llm_api: LiveServer, interview_text: str) -> None:
    events = []
    with llm_api.client(timeout=120) as client, client.stream(
        "POST", "/ask/stream", json={"question": QUESTIONS[0], "mode": "llm"}
    ) as r:
        assert r.status_code == 200
        event = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
    kinds = [e for e, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done" and "error" not in kinds
    final = events[-1][1]
    check(final, interview_text)
    assert final["backend"].startswith("llm") or final["fallback_reason"]


def spied(pipeline: Pipeline, llama_server: LlamaServer) -> tuple[Pipeline, list[str]]:
    """The pipeline with the real server behind a spy that records each prompt it is sent."""
    configured = on_gemma(pipeline, llama_server, llm_max_tokens=48)
    assert configured.llm is not None
    real: ChatBackend = configured.llm
    prompts: list[str] = []

    class Spy:
        name = real.name

        def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> str:
            prompts.append("\n".join(m.content for m in messages))
            return real.complete(messages, max_tokens=max_tokens, deadline=deadline)

        def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> Iterator[str]:
            prompts.append("\n".join(m.content for m in messages))
            return real.stream(messages, max_tokens=max_tokens, deadline=deadline)

    configured.llm = Spy()
    return configured, prompts


def passage(prompt: str, n: int) -> str:
    found = re.search(rf'<passage n="{n}">\n(.*?)\n</passage>', prompt, re.DOTALL)
    assert found is not None, prompt
    return found.group(1)


def test_an_llm_reads_the_passages_in_the_order_search_gives_them(
    pipeline: Pipeline, llama_server: LlamaServer
) -> None:
    """The order the extractive answer puts the passages in ranks better than retrieval alone
    (gold MRR .846 -> .898) and is what `/search` shows; the LLM read them in the ranking's order,
    so its passage 1 could be one that `/search` puts lower, and the prompt budget dropped
    passages by that order."""
    configured, prompts = spied(pipeline, llama_server)
    for question in ("Who were the previous directors of SCO RATS?", "How many terrorists were liquidated in 2015?"):
        searched = [h.chunk.text for h in pipeline.search(question)]
        prompts.clear()
        configured.ask(question, mode="llm")
        list(configured.ask_stream(question, mode="llm"))
        assert len(prompts) == 2
        for prompt in prompts:
            n = prompt.count('<passage n="')
            assert n >= 3 and [passage(prompt, i) for i in range(1, n + 1)] == searched[:n]
    # The first question's answer reorders the ranking: the test would pass in that order too otherwise.
    question = "Who were the previous directors of SCO RATS?"
    assert pipeline.ranking(question)[0].chunk.text != pipeline.search(question)[0].chunk.text


def test_an_llm_asked_what_the_interview_is_about_reads_its_opening(pipeline: Pipeline, llama_server: LlamaServer) -> None:
    """The real server answers; a spy on the way records what it was given to read. Searched,
    "What is the interview about?" finds the conferences in Tashkent: the opening lines come first."""
    configured, prompts = spied(pipeline, llama_server)
    text = pipeline.document("sysoyev-interview").text
    headline = text.splitlines()[0]
    answer = configured.ask("What is the interview about?", mode="llm")
    events = list(configured.ask_stream("Summarise the interview", mode="llm"))  # and streamed
    assert len(prompts) == 2 and events[-1].kind == "done"
    for prompt in prompts:
        assert passage(prompt, 1).startswith(headline)
    assert all(c.quote == text[c.start : c.end] for c in answer.citations)
    if answer.fallback_reason is not None:  # the answer it falls back to is the opening too
        assert answer.backend == "extractive" and answer.citations[0].quote == headline


def test_an_llm_asked_who_made_the_interview_reads_its_lines_about_itself(pipeline: Pipeline, llama_server: LlamaServer) -> None:
    configured, prompts = spied(pipeline, llama_server)
    answer = configured.ask("Which news agency was the interview given to?", mode="llm")
    assert len(prompts) == 1
    # The line naming the agency first, as the extractive answer quotes it alone.
    assert "interview to TASS" in passage(prompts[0], 1)
    if answer.fallback_reason is not None:
        assert any("TASS" in c.quote for c in answer.citations)


def test_an_off_topic_question_is_refused_without_asking_the_llm(pipeline: Pipeline, llama_server: LlamaServer) -> None:
    """Nothing in the interview is near it (the cosine floor): the refusal is the answer, at once."""
    configured, prompts = spied(pipeline, llama_server)
    question = "How do I change a flat tire?"
    answer = configured.ask(question, mode="llm")
    events = list(configured.ask_stream(question, mode="llm"))
    history = [ChatTurn("user", "What was the Xiaomen-2015 exercise?"), ChatTurn("assistant", "An exercise. [1]")]
    later = configured.ask(question, history, mode="auto")
    assert prompts == []
    for refused in (answer, events[-1].answer, later):
        assert refused is not None and not refused.answerable
        assert refused.backend == "extractive" and refused.fallback_reason == "off_topic"
    # A question about the interview still goes to the LLM.
    configured.ask(QUESTIONS[0], mode="llm")
    assert len(prompts) == 1


def test_small_talk_gets_its_reply_without_asking_the_llm(pipeline: Pipeline, llama_server: LlamaServer) -> None:
    configured, prompts = spied(pipeline, llama_server)
    replies = [configured.ask("hi", mode="llm"), list(configured.ask_stream("Thanks, that was helpful!", mode="llm"))[-1].answer]
    assert prompts == []
    for reply in replies:
        assert reply is not None and not reply.answerable and reply.citations == ()
        assert reply.backend == "extractive" and reply.fallback_reason == "small_talk"


def test_an_off_topic_question_over_http_says_why_no_llm_answered(llm_api: LiveServer) -> None:
    with llm_api.client(timeout=60) as client:
        body = client.post("/ask", json={"question": "What is the best recipe for pancakes?", "mode": "llm"}).json()
    assert body["answerable"] is False and body["backend"] == "extractive" and body["fallback_reason"] == "off_topic"


def test_extractive_mode_is_untouched_by_the_llm(llm_api: LiveServer) -> None:
    with llm_api.client(timeout=60) as client:
        body = client.post("/ask", json={"question": QUESTIONS[0], "mode": "extractive"}).json()
    assert body["backend"] == "extractive" and body["fallback_reason"] is None and "167" in body["answer"]


def test_llm_backend_down_falls_back_quickly(pipeline: Pipeline, interview_text: str) -> None:
    from api.app import create_app
    from tests.conftest import dead_port

    down = pipeline.configured(llm_backend="openai", llm_base_url=f"http://127.0.0.1:{dead_port()}/v1", llm_deadline=5)
    server = start_server(create_app(pipeline=down))
    try:
        r = httpx.post(f"{server.url}/ask", json={"question": QUESTIONS[0], "mode": "llm"}, timeout=30)
        body = r.json()
        assert r.status_code == 200 and body["fallback_reason"] == "connection_error"
        assert body["backend"] == "extractive" and "167" in body["answer"]
        check(body, interview_text)
    finally:
        server.stop()
