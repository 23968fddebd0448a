"""The HTTP API against a real uvicorn server on 127.0.0.1: the answer contract and its errors."""

from __future__ import annotations

import re

import httpx
import pytest

from api.app import STATIC_DIR
from rag.llm.base import REASONS
from rag.pipeline import LLM_NOT_CONFIGURED, OFF_TOPIC, SMALL_TALK
from tests.conftest import LiveServer


def assert_contract(body: dict[str, object], text: str) -> None:
    assert set(body) == {"answer", "answerable", "citations", "backend", "fallback_reason", "timings_ms"}
    citations = body["citations"]
    assert isinstance(citations, list)
    for c in citations:
        assert c["quote"] == text[c["start"] : c["end"]]
        assert f"[{c['n']}]" in body["answer"]  # type: ignore[operator]
    import re

    markers = {int(n) for n in re.findall(r"\[(\d+)\]", str(body["answer"]))}
    assert markers == {c["n"] for c in citations}


def test_health(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["chunks"] > 10 and body["documents"] == 1
    assert body["dimension"] == 384 and "MiniLM" in body["model"]


def test_ask_returns_a_cited_answer(client: httpx.Client, interview_text: str) -> None:
    r = client.post("/ask", json={"question": "How many terrorist and extremist crimes were averted in 2015?"})
    assert r.status_code == 200
    body = r.json()
    assert_contract(body, interview_text)
    assert body["answerable"] is True and body["backend"] == "extractive"
    assert "167" in body["answer"]
    assert body["citations"] and body["timings_ms"]["total"] > 0


def test_off_topic_question_is_refused(client: httpx.Client) -> None:
    body = client.post("/ask", json={"question": "What is a good recipe for chocolate cake?"}).json()
    assert body["answerable"] is False and body["citations"] == []


def test_small_talk_gets_a_reply_not_a_quote_or_a_refusal(client: httpx.Client) -> None:
    # "hi" got "The interview does not say."; "Thanks, that was helpful about RATS." got a quote.
    for said, reply in (
        ("hi", "Hello!"),
        ("Thanks, that was helpful about RATS.", "You're welcome."),
        ("bye", "Goodbye!"),
        ("who are you?", "I answer questions"),
    ):
        body = client.post("/ask", json={"question": said}).json()
        assert body["answer"].startswith(reply) and body["answerable"] is False and body["citations"] == [], body
        assert body["fallback_reason"] == "small_talk" and body["backend"] == "extractive"
    # Asking anything is a question, greeting or not.
    body = client.post("/ask", json={"question": "Thanks! And how many crimes were averted in 2015?"}).json()
    assert body["answerable"] is True and "167" in body["answer"] and body["fallback_reason"] is None


def test_llm_mode_without_a_backend_says_so(client: httpx.Client, interview_text: str) -> None:
    body = client.post("/ask", json={"question": "Where was the Xiaomen-2015 exercise held?", "mode": "llm"}).json()
    assert body["backend"] == "extractive" and body["fallback_reason"] == "llm_not_configured"
    assert_contract(body, interview_text)


def test_follow_up_uses_history(client: httpx.Client) -> None:
    first = client.post("/ask", json={"question": "Which convention was adopted in 2001?"}).json()
    history = [
        {"role": "user", "content": "Which convention was adopted in 2001?"},
        {"role": "assistant", "content": first["answer"]},
    ]
    alone = client.post("/search", json={"query": "What complemented it later?", "top_k": 3}).json()
    follow = client.post("/ask", json={"question": "What complemented it later?", "history": history}).json()
    assert follow["answerable"] is True
    assert "2009" in follow["answer"] or "Convention Against Terrorism" in follow["answer"]
    assert alone["results"]  # sanity: the endpoint answers without history too


def test_tell_me_more_and_two_questions_in_one_over_http(client: httpx.Client, interview_text: str) -> None:
    first = client.post("/ask", json={"question": "What was the Xiaomen-2015 exercise?"}).json()
    history = [
        {"role": "user", "content": "What was the Xiaomen-2015 exercise?"},
        {"role": "assistant", "content": first["answer"]},
    ]
    more = client.post("/ask", json={"question": "Tell me more.", "history": history}).json()
    assert more["answerable"] is True
    assert min(c["start"] for c in more["citations"]) > max(c["end"] for c in first["citations"])
    both = client.post(
        "/ask", json={"question": "How many crimes were averted in 2015 and how many weapons were forfeited?"}
    ).json()
    quotes = " ".join(c["quote"] for c in both["citations"])
    assert "167" in quotes and "1500 weapons" in quotes
    for body in (more, both):
        for c in body["citations"]:
            assert interview_text[c["start"] : c["end"]] == c["quote"]
            assert f"[{c['n']}]" in body["answer"]


def test_what_the_interview_is_about_and_more_of_it_over_http(client: httpx.Client, interview_text: str) -> None:
    overview = client.post("/ask", json={"question": "What is this interview about?"}).json()
    assert overview["answerable"] is True
    assert overview["citations"][0]["quote"] == interview_text.splitlines()[0]  # the headline
    history = [
        {"role": "user", "content": "What is this interview about?"},
        {"role": "assistant", "content": overview["answer"]},
    ]
    # The headline is printed twice: continuing an answer that quotes it raised (a 500).
    more = client.post("/ask", json={"question": "Tell me more", "history": history})
    assert more.status_code == 200, more.text
    for body in (overview, more.json()):
        for c in body["citations"]:
            assert interview_text[c["start"] : c["end"]] == c["quote"]


def test_search(client: httpx.Client, interview_text: str) -> None:
    body = client.post("/search", json={"query": "Xiamen-2015 Internet exercise", "top_k": 3}).json()
    results = body["results"]
    assert 1 <= len(results) <= 3
    for r in results:
        assert r["text"] == interview_text[r["start"] : r["end"]]
        assert set(r) == {"chunk_id", "doc_id", "start", "end", "text", "score", "section"}
    assert any("Xiaomen-2015" in r["text"] or "Xiamen-2015" in r["text"] for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_search_gives_first_the_passage_ask_quotes(client: httpx.Client) -> None:
    # The ranking alone had the standfirst ("…Director of the SCO RATS…") first, the answer second.
    question = "Who were the previous directors of SCO RATS?"
    answer = client.post("/ask", json={"question": question, "mode": "extractive"}).json()
    assert answer["answerable"] and answer["citations"]
    best = max(answer["citations"], key=lambda c: c["score"])
    first = client.post("/search", json={"query": question, "top_k": 5}).json()["results"][0]
    assert first["chunk_id"] == best["chunk_id"] and first["start"] <= best["start"] and best["end"] <= first["end"]


def test_document(client: httpx.Client, interview_text: str) -> None:
    body = client.get("/documents/sysoyev-interview").json()
    assert body["text"] == interview_text
    assert body["meta"]["source"] == "TASS"
    assert any(s["question"] == "What are the priority objectives of SCO RATS today?" for s in body["sections"])


def test_unknown_document_is_404(client: httpx.Client) -> None:
    r = client.get("/documents/no-such-doc")
    assert r.status_code == 404
    assert "no-such-doc" in r.json()["detail"] and "sysoyev-interview" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "top_k": 21}, "top_k"),
        ({"question": "ok?", "top_k": "five"}, "top_k"),
        ({"question": "ok?", "mode": "magic"}, "mode"),
        ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, "history"),
        ({"question": 42}, "question"),
        ({}, "question"),
        ({"question": "ok?", "surprise": 1}, "surprise"),
    ],
)
def test_bad_ask_input_is_422_naming_the_field(client: httpx.Client, body: dict[str, object], field: str) -> None:
    r = client.post("/ask", json=body)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert field in payload["message"]
    assert any(field in [str(p) for p in d["loc"]] for d in payload["detail"])


@pytest.mark.parametrize("raw", ["{", "not json", '{"question": "a",}', "[1, 2]", "null"])
def test_malformed_json_is_422(client: httpx.Client, raw: str) -> None:
    r = client.post("/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"query": ""}, "query"), ({"query": "x", "top_k": 0}, "top_k"), ({"query": "x", "top_k": 99}, "top_k")],
)
def test_bad_search_input_is_422(client: httpx.Client, body: dict[str, object], field: str) -> None:
    r = client.post("/search", json=body)
    assert r.status_code == 422 and field in r.json()["message"]


def test_openapi_docs(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/ask", "/search", "/health", "/documents/{doc_id}"} <= set(spec["paths"])


# Every `fallback_reason` the server gives: the backends' errors, the pipeline's own, and the
# answerer's (rag/llm/answerer.py, rag/llm/grounding.py), by their kind before any colon.
FALLBACK_REASONS = sorted(
    REASONS
    | {
        LLM_NOT_CONFIGURED,
        OFF_TOPIC,
        SMALL_TALK,
        "no_passages",
        "prompt_echo",
        "no_citations",
        "ungrounded_number",
        "ungrounded_name",
        "unsafe_output",
    }
)


def test_every_fallback_reason_is_documented_and_shown(client: httpx.Client) -> None:
    """The OpenAPI description of `fallback_reason` and the page name each reason (the page
    showed "ungrounded_number: 170" as a reason it did not know)."""
    spec = client.get("/openapi.json").json()
    described = spec["components"]["schemas"]["AskResponse"]["properties"]["fallback_reason"]["description"]
    page = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for reason in FALLBACK_REASONS:
        assert f"`{reason}" in described, reason
        assert reason == SMALL_TALK or re.search(rf"^\s*{reason}: \"", page, re.MULTILINE), reason


def test_server_is_real(live_server: LiveServer) -> None:
    assert live_server.url.startswith("http://127.0.0.1:")
    assert live_server.thread.is_alive()
