"""`POST /ask/stream`: the answer to an /ask request as Server-Sent Events.

    event: citations  {"citations": [...], "final": true|false}   always first
    event: token      {"text": "..."}                             the answer as it is written
    event: done       the full /ask JSON                          authoritative: replaces the tokens
    event: error      {"message": "...", "type": "..."}           the stream failed after it began

An extractive answer exists whole before the first byte is sent, so its citations come
first and `final` is true. An LLM's reply is streamed as the model writes it; which passages
it cites (and whether it passes the grounding check) is known only at the end, so the
citations event is empty with `final: false` and the `done` event carries the checked answer.
A request refused before the stream starts (validation) is a plain JSON error, as from /ask;
a failure after that is an `error` event, never a dropped connection. The OpenAPI schema
documents each kind of event and its `data` (api.schemas.ASK_STREAM).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from api.deps import PipelineDep
from api.routes import history_of
from api.schemas import ASK_STREAM, AskRequest, ValidationErrorResponse
from rag.errors import RagError
from rag.pipeline import Pipeline, StreamEvent
from rag.types import Answer, ChatTurn, Citation, Mode

log = logging.getLogger("api.streaming")

router = APIRouter()

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_WORD = re.compile(r"\s*\S+\s*")


@dataclass(frozen=True, slots=True)
class CitationsEvent:
    citations: tuple[Citation, ...]
    final: bool


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    answer: Answer


AnswerEvent = CitationsEvent | TokenEvent | DoneEvent


def word_pieces(text: str) -> list[str]:
    """`text` cut into words with their surrounding spaces; the pieces join back to `text`."""
    return _WORD.findall(text) or ([text] if text else [])


def answer_events(
    pipeline: Pipeline,
    question: str,
    history: Sequence[ChatTurn] = (),
    top_k: int | None = None,
    mode: Mode = "auto",
) -> Iterator[AnswerEvent]:
    """The pipeline's stream reshaped into citations -> tokens -> done.

    Checks the question and retrieves now, so the pipeline's input errors raise from this
    call, before there is a stream; later failures raise from the returned iterator.
    """
    source = pipeline.ask_stream(question, history, top_k, mode)
    return _reshaped(next(source), source)


def _reshaped(first: StreamEvent, source: Iterator[StreamEvent]) -> Iterator[AnswerEvent]:
    second = next(source) if first.kind == "token" else first
    if second.kind == "done":
        # The answer was whole before anything was sent: cite up front, then show it word by word.
        assert second.answer is not None
        answer = second.answer
        yield CitationsEvent(answer.citations, final=True)
        for piece in word_pieces(answer.answer):
            yield TokenEvent(piece)
        yield DoneEvent(answer)
        return
    yield CitationsEvent((), final=False)
    yield TokenEvent(first.text)
    yield TokenEvent(second.text)
    for event in source:
        if event.kind == "done":
            assert event.answer is not None
            yield DoneEvent(event.answer)
        else:
            yield TokenEvent(event.text)


def sse_message(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def encode_event(event: AnswerEvent) -> bytes:
    if isinstance(event, CitationsEvent):
        return sse_message("citations", {"citations": [asdict(c) for c in event.citations], "final": event.final})
    if isinstance(event, TokenEvent):
        return sse_message("token", {"text": event.text})
    return sse_message("done", event.answer.to_json())


def error_message(exc: Exception) -> str:
    if isinstance(exc, RagError):
        return str(exc)
    return "the answer failed while it was being written (internal error; the server log has the details)"


async def sse_body(events: Iterator[AnswerEvent]) -> AsyncIterator[bytes]:
    """Encodes the events, pulling each in a worker thread (model work stays off the event loop)."""
    try:
        async for event in iterate_in_threadpool(events):
            yield encode_event(event)
    except Exception as exc:
        log.exception("answer stream failed")
        yield sse_message("error", {"message": error_message(exc), "type": type(exc).__name__})


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `citations`, then `token`s, then `done` with the /ask JSON "
            "(or `error` with a message if the answer fails mid-stream). The schema describes one event.",
            "content": {"text/event-stream": ASK_STREAM.content()},
        },
        422: {"model": ValidationErrorResponse},
    },
    tags=["answers"],
)
def ask_stream(body: AskRequest, pipeline: PipelineDep) -> StreamingResponse:
    """Like /ask, but the answer streams in as Server-Sent Events."""
    # Validation and retrieval run here, in the route's worker thread: a refused request is a plain JSON error.
    events = answer_events(pipeline, body.question, history_of(body), body.top_k, body.mode)
    return StreamingResponse(sse_body(events), media_type="text/event-stream", headers=SSE_HEADERS)
