"""The OpenAI-compatible client and the answerer against a REAL llama.cpp server (Gemma 3 270M).

The server is started once per session by `start_llama_server()` (tests/llm_servers.py).
Outside CI the module is skipped when llama-cpp-python is not installed; with CI=true it
always runs, so a missing install fails loudly instead of passing quietly.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator

import pytest

from rag.errors import LLMError
from rag.llm import REFUSAL, ChatMessage, OpenAIBackend, answer_with_llm, stream_with_llm
from rag.settings import Settings, get_settings
from rag.types import Answer, ChatTurn, Chunk, Hit
from tests.conftest import ARTIFACTS, INTERVIEW
from tests.llm_servers import LlamaServer, llama_cpp_available

if not llama_cpp_available() and os.environ.get("CI") != "true":
    pytest.skip(
        "llama-cpp-python is not installed: pip install -e '.[llm]' (or `make install-test`) to run the "
        "real-LLM tests; with CI=true they run regardless",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.llm, pytest.mark.slow]

TEXT = INTERVIEW.read_bytes().decode("utf-8")
PARAGRAPHS = [
    "Thus, the competent authorities of SCO member states have averted 167 terrorist and extremist crimes in 2015 alone.",
    "two hundred improvised explosive devices and 1500 weapons were forfeited.",
    "The initiation of accession of India and Pakistan as full members at the Ufa Summit in 2015",
]
TIMINGS: dict[str, float] = {}


def hit_for(quote: str, n: int) -> Hit:
    start = TEXT.index(quote)
    chunk = Chunk("sysoyev-interview", f"sysoyev-interview#{n}", start, start + len(quote), quote, None, "answer", ())
    return Hit(chunk, score=1.0 / n)


HITS = [hit_for(p, n) for n, p in enumerate(PARAGRAPHS, start=1)]


def fallback(reason: str) -> Answer:
    return Answer("extractive", False, (), "extractive", reason, {})


@pytest.fixture(scope="session")
def llama(llama_server: LlamaServer) -> Iterator[LlamaServer]:
    TIMINGS["server_start_s"] = round(llama_server.startup_s, 2)
    yield llama_server
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "llm-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture()
def backend(llama: LlamaServer) -> Iterator[OpenAIBackend]:
    client = OpenAIBackend(llama.base_url, "gemma-3-270m", read_timeout=60, retries=1)
    yield client
    client.close()


@pytest.fixture()
def llm_settings(llama: LlamaServer) -> Settings:
    return get_settings(
        llm_backend="openai",
        llm_base_url=llama.base_url,
        llm_model="gemma-3-270m",
        llm_deadline=90,
        llm_max_tokens=48,  # the base model never stops by itself; 48 tokens hold a short answer
    )


def check_contract(answer: Answer) -> None:
    """The answer contract: exact quotes, and every [n] in the text has a citation."""
    for citation in answer.citations:
        assert 1 <= citation.n <= len(HITS)
        assert TEXT[citation.start : citation.end] == citation.quote == HITS[citation.n - 1].chunk.text
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} == {c.n for c in answer.citations}


COUNT = [ChatMessage("user", "Count from one to five in words.")]


def test_real_completion(backend: OpenAIBackend) -> None:
    began = time.monotonic()
    text = backend.complete(COUNT, max_tokens=24, deadline=time.monotonic() + 60)
    TIMINGS["completion_24_tokens_s"] = round(time.monotonic() - began, 2)
    assert text.strip()


def test_real_stream_matches_the_completion(backend: OpenAIBackend) -> None:
    # Greedy decoding (temperature 0): the streamed pieces must add up to the same reply.
    began = time.monotonic()
    first: float | None = None
    pieces: list[str] = []
    for piece in backend.stream(COUNT, max_tokens=24, deadline=time.monotonic() + 60):
        first = first or time.monotonic() - began
        pieces.append(piece)
    TIMINGS["stream_first_piece_s"] = round(first or 0.0, 2)
    TIMINGS["stream_24_tokens_s"] = round(time.monotonic() - began, 2)
    assert len(pieces) > 5
    assert "".join(pieces) == backend.complete(COUNT, max_tokens=24, deadline=time.monotonic() + 60)


def test_real_deadline_is_kept_and_frees_the_server(backend: OpenAIBackend) -> None:
    began = time.monotonic()
    with pytest.raises(LLMError) as info:
        backend.complete(COUNT, max_tokens=512, deadline=began + 1.0)
    assert info.value.reason == "timeout"
    assert time.monotonic() - began < 2.0
    # The server stopped generating when we hung up; 512 tokens would take it ~40 s.
    began = time.monotonic()
    assert backend.complete(COUNT, max_tokens=8, deadline=began + 60)
    assert time.monotonic() - began < 10


# Gemma 3 270M here is the base (pre-trained) model: it ignores instructions but imitates the
# conversation, so an earlier exchange in the history steers what it writes.
WEAPONS_TURNS = [
    ChatTurn("user", "How many weapons were forfeited?"),
    ChatTurn("assistant", "1500 weapons were forfeited [2]."),
]
TASHKENT_TURNS = [
    ChatTurn("user", "Where did the committee meet?"),
    ChatTurn("assistant", "The committee met in Tashkent [1]."),
]


def test_real_answer_any_question_keeps_the_contract(backend: OpenAIBackend, llm_settings: Settings) -> None:
    began = time.monotonic()
    question = "How many terrorist and extremist crimes were averted in 2015?"
    answer = answer_with_llm(question, [], HITS, backend, llm_settings, fallback)
    TIMINGS["answer_with_llm_s"] = round(time.monotonic() - began, 2)
    check_contract(answer)
    # Whatever the small model said, it was either grounded and cited, a refusal, or replaced.
    if answer.fallback_reason is None:
        assert answer.backend == "llm:openai:gemma-3-270m"
        assert answer.citations or answer.answer == REFUSAL
    else:
        assert answer.backend == "extractive"


def test_real_grounded_answer_keeps_its_validated_citation(backend: OpenAIBackend, llm_settings: Settings) -> None:
    question = "Where was the accession of India and Pakistan initiated?"
    items = list(stream_with_llm(question, WEAPONS_TURNS, HITS, backend, llm_settings, fallback))
    raw = "".join(i for i in items if isinstance(i, str))
    final = items[-1]
    assert isinstance(final, Answer)
    assert "[2]" in raw and "1500" in raw, raw
    assert final.fallback_reason is None, (raw, final)
    assert final.answerable
    assert [c.n for c in final.citations] == [2]
    assert final.answer.startswith("1500 weapons were forfeited [2]")
    check_contract(final)


def test_real_ungrounded_answer_falls_back(backend: OpenAIBackend, llm_settings: Settings) -> None:
    question = "How many weapons were forfeited?"
    items = list(stream_with_llm(question, TASHKENT_TURNS, HITS, backend, llm_settings, fallback))
    raw = "".join(i for i in items if isinstance(i, str))
    final = items[-1]
    assert isinstance(final, Answer)
    # The model cited a real passage ([1]) for a place no passage names: the check replaces it.
    assert "Tashkent [1]" in raw, raw
    assert final.backend == "extractive"
    assert final.fallback_reason == "ungrounded_name: Tashkent"
