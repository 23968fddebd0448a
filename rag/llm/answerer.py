"""Turns retrieved hits into an LLM answer whose citations are checked, or into the fallback.

Passage n is `hits[n - 1].chunk`. The model's own numbers are kept; only markers for passages
it was given survive, and each surviving `[n]` gets a Citation. Any LLMError, or an answer
that fails the grounding check, returns `fallback(reason)` instead (the pipeline passes a
function giving the extractive answer with `fallback_reason=reason`). A reply is first cut
where the model starts echoing the prompt: its structure (a `<passage` tag, a `Question:` line)
or its rules (eight words in a row of `SYSTEM_PROMPT`). A reply that is nothing but an echo
falls back with `prompt_echo`.

A refusal ("The interview does not say.") is accepted as it is: `answerable=False`, no
citations, no fallback. Refusing cites nothing, so there is nothing to ground, and when the
retrieved passages lack the answer the extractive answerer would mostly refuse too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence

from rag.errors import LLMError
from rag.llm.base import ChatBackend
from rag.llm.citations import extract_citations
from rag.llm.grounding import check_grounding
from rag.llm.prompt import REFUSAL, SYSTEM_PROMPT, Prompt, build_prompt
from rag.safety import has_link
from rag.settings import Settings
from rag.types import Answer, ChatTurn, Citation, Hit

log = logging.getLogger(__name__)

Fallback = Callable[[str], Answer]

# Where a model starts echoing the prompt's own structure; the reply is cut there. Small base
# models go on to invent passages of their own (`<passage n="4">…`) after their answer.
_PROMPT_ECHO = re.compile(r"<\s*/?\s*(?:passage|question)|^\s*(?:question|passages)\s*:", re.IGNORECASE | re.MULTILINE)
# A reply that repeats the rules: a base model continues the text it was given, so Gemma 3 270M
# answered 111 of 117 gold questions with the rules themselves, and their example "[1] or [2][3]"
# passed for citations. Eight words in a row of the rules are no answer's own words ("the
# passages do not contain the answer" is seven).
_ECHO_WORDS = 8
_WORD = re.compile(r"\w+")
_RULE_WORDS = [w.lower() for w in _WORD.findall(SYSTEM_PROMPT)]
_RULE_RUNS = frozenset(tuple(_RULE_WORDS[i : i + _ECHO_WORDS]) for i in range(len(_RULE_WORDS) - _ECHO_WORDS + 1))
# An unfinished fragment after the last citation (the model ran out of tokens, or babbled).
_UNFINISHED_TAIL = re.compile(r"(?<=\])[.!?]?([^\]]*)$")
_REFUSAL_START = re.compile(r"^\W*the interview does not (say|state|mention)", re.IGNORECASE)
_REFUSAL_ANY = re.compile(r"\b(does|do|did) not (say|state|mention|contain)\b", re.IGNORECASE)


def backend_label(backend: ChatBackend, settings: Settings) -> str:
    return f"llm:{backend.name}:{settings.llm_model}"


def _prompt(question: str, history: Sequence[ChatTurn], hits: Sequence[Hit], settings: Settings) -> Prompt:
    passages = [hit.chunk.text for hit in hits]
    return build_prompt(
        question, history, passages, budget_tokens=settings.llm_prompt_tokens, system_role=settings.llm_system_role
    )


def _echo_start(raw: str) -> int | None:
    """Where the reply starts echoing the prompt: its structure or its rules; None if nowhere."""
    structure = _PROMPT_ECHO.search(raw)
    found = [] if structure is None else [structure.start()]
    words = list(_WORD.finditer(raw))
    for i in range(len(words) - _ECHO_WORDS + 1):
        if tuple(w.group().lower() for w in words[i : i + _ECHO_WORDS]) in _RULE_RUNS:
            found.append(words[i].start())
            break
    return min(found, default=None)


def _trim(raw: str, echo: int | None) -> str:
    """The reply without echoed prompt (from `echo`, where `_echo_start` found it) or an
    unfinished tail after its last citation."""
    text = (raw if echo is None else raw[:echo]).strip()
    tail = _UNFINISHED_TAIL.search(text)
    if tail is not None and tail.group(1).strip() and tail.group(1).rstrip()[-1] not in ".!?\"')”’":
        text = text[: tail.start(1)].rstrip()
    return text


def finish_answer(raw: str, hits: Sequence[Hit], label: str, generate_ms: float, fallback: Fallback) -> Answer:
    """The checked Answer for the model's reply `raw`, given the passages it saw (`hits`)."""
    timings = {"generate": round(generate_ms, 1)}
    echo = _echo_start(raw)
    cited = extract_citations(_trim(raw, echo), len(hits))
    if not cited.text:
        return fallback("empty_answer" if echo is None else "prompt_echo")
    if has_link(cited.text):  # could exfiltrate data or send readers elsewhere
        log.warning("LLM answer contains a link or image; using the fallback: %r", raw[:300])
        return fallback("unsafe_output: link")
    if _REFUSAL_START.search(cited.text) or (not cited.numbers and _REFUSAL_ANY.search(cited.text)):
        return Answer(REFUSAL, False, (), label, None, timings)
    grounding = check_grounding(cited.text, {n: hits[n - 1].chunk.text for n in cited.numbers})
    if not grounding.ok:
        reason = grounding.reason or "ungrounded"
        log.warning("LLM answer failed the grounding check (%s): %r", reason, raw[:300])
        return fallback(reason)
    citations = tuple(
        Citation(n, hit.chunk.doc_id, hit.chunk.chunk_id, hit.chunk.start, hit.chunk.end, hit.chunk.text, hit.score)
        for n in sorted(cited.numbers)
        for hit in (hits[n - 1],)
    )
    return Answer(cited.text, True, citations, label, None, timings)


def answer_with_llm(
    question: str,
    history: Sequence[ChatTurn],
    hits: Sequence[Hit],
    backend: ChatBackend,
    settings: Settings,
    fallback: Fallback,
) -> Answer:
    """The checked Answer for the model's whole reply, or the fallback. The reply is read as
    `stream_with_llm` reads it, so a reply that starts echoing the prompt is closed there: Gemma 3
    270M went on with its rules for all 256 tokens (about 13 s) before falling back anyway."""
    for item in stream_with_llm(question, history, hits, backend, settings, fallback):
        if isinstance(item, Answer):
            return item
    raise AssertionError("stream_with_llm ends with an Answer")  # pragma: no cover


def stream_with_llm(
    question: str,
    history: Sequence[ChatTurn],
    hits: Sequence[Hit],
    backend: ChatBackend,
    settings: Settings,
    fallback: Fallback,
) -> Iterator[str | Answer]:
    """The model's text pieces as they arrive (`str`), then exactly one final `Answer`.

    The pieces are the raw reply, shown while it is written; the final Answer replaces it:
    cleaned citations, or the fallback (with `fallback_reason`) if the stream failed or the
    finished answer is not grounded. Send pieces as token events and the Answer as `done`.
    Once the reply starts echoing the prompt, the stream is closed: what follows would be cut.
    """
    started = time.perf_counter()
    prompt = _prompt(question, history, hits, settings)
    if prompt.n_passages == 0:
        yield fallback("no_passages")
        return
    deadline = time.monotonic() + settings.llm_deadline
    pieces: list[str] = []
    stream = backend.stream(prompt.messages, max_tokens=settings.llm_max_tokens, deadline=deadline)
    try:
        for piece in stream:
            pieces.append(piece)
            yield piece
            if _echo_start("".join(pieces)) is not None:
                break  # the rest is the prompt again, cut off anyway: stop the model here
    except LLMError as exc:
        log.warning("LLM stream failed, using the fallback: %s", exc)
        yield fallback(exc.reason)
        return
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a generator's close ends its request, and the server stops generating
    elapsed = (time.perf_counter() - started) * 1000
    yield finish_answer("".join(pieces), hits[: prompt.n_passages], backend_label(backend, settings), elapsed, fallback)
