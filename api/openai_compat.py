"""The OpenAI chat API over the pipeline: `POST /v1/chat/completions` and `GET /v1/models`.

Any OpenAI client can talk to the chatbot. The last user message is the question, earlier
user/assistant messages are the history, system messages are ignored. The reply text
carries the `[n]` markers; the citations ride along in extra top-level fields (`citations`,
`answerable`, `backend`, `fallback_reason`) of the response, or of the last stream chunk.

Models: `sysoyev-rag` (the configured default: the LLM if one is set up, else extractive),
`sysoyev-rag-extractive`, `sysoyev-rag-llm`. Sampling parameters (temperature, max_tokens,
...) are accepted and ignored. A stream sends only checked text: the answer is complete
(and an LLM's reply grounded, or replaced by the extractive fallback) before the first
chunk, which then carries it word by word.

Errors have OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 400 for a
body that is not JSON, 422 for one that breaks the schema, 404 for an unknown model. (A body
that is not UTF-8 is refused before it gets here, in the app's 422 shape; see api.security.)
The OpenAPI schema documents all of these, and the stream event by event.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict
from typing import Any, Literal, NotRequired

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from api.deps import PipelineDep
from api.schemas import CitationOut, EventStream, SseEvent, ValidationErrorResponse
from api.streaming import SSE_HEADERS, word_pieces
from rag.errors import DocumentNotFoundError, InputError, RagError
from rag.pipeline import Pipeline
from rag.types import Answer, ChatTurn, Mode

MODEL_ID = "sysoyev-rag"
MODES: dict[str, Mode] = {MODEL_ID: "auto", f"{MODEL_ID}-extractive": "extractive", f"{MODEL_ID}-llm": "llm"}


class OpenAIRefusal(Exception):
    """A request the endpoint refuses, answered in OpenAI's error shape."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code


# ---------------------------------------------------------------------------- response shapes
# What the endpoints send, for the OpenAPI schema (the bodies themselves are built as dicts below).


class OpenAIErrorDetail(TypedDict):
    message: str
    type: Literal["invalid_request_error", "server_error"]
    param: str | None
    code: str | None


class OpenAIError(TypedDict):
    """An error, in OpenAI's shape."""

    error: OpenAIErrorDetail


class AnswerExtras(TypedDict):
    """The answer's grounding, beyond OpenAI's fields (see /ask)."""

    citations: list[CitationOut]
    answerable: bool
    backend: str
    fallback_reason: str | None


class ChatMessageOut(TypedDict):
    role: Literal["assistant"]
    content: str


class ChatChoice(TypedDict):
    index: int
    message: ChatMessageOut
    finish_reason: Literal["stop"]
    logprobs: None


class ChatCompletion(AnswerExtras):
    """The answer, with `[n]` markers in the message, as an OpenAI chat completion."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatChoice]


class ChatDelta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str


class ChatChunkChoice(TypedDict):
    index: int
    delta: ChatDelta
    finish_reason: Literal["stop"] | None
    logprobs: None


class ChatCompletionChunk(TypedDict):
    """A piece of a streamed chat completion; the last one also carries the answer's grounding."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatChunkChoice]
    citations: NotRequired[list[CitationOut]]
    answerable: NotRequired[bool]
    backend: NotRequired[str]
    fallback_reason: NotRequired[str | None]


CHAT_STREAM = EventStream(
    SseEvent(None, ChatCompletionChunk, "A chunk of the completion (no `event` field, as OpenAI sends them)."),
    SseEvent(None, {"const": "[DONE]"}, "The end of the stream: `data: [DONE]`."),
)


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind: Literal["invalid_request_error", "server_error"] = "invalid_request_error" if status < 500 else "server_error"
    content: OpenAIError = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(status_code=status, content=content)


def _param(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


class OpenAIErrorRoute(APIRoute):
    """Answers this router's errors in OpenAI's shape instead of the app's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                if any(e.get("type") == "json_invalid" for e in errors):
                    return error_response(400, "the request body is not valid JSON; send a JSON object")
                first = errors[0] if errors else {}
                message = "; ".join(
                    f"{_param(e.get('loc', ())) or 'body'}: {str(e.get('msg', '')).removeprefix('Value error, ')}"
                    for e in errors
                )
                return error_response(422, message or "invalid request", _param(first.get("loc", ())))
            except OpenAIRefusal as exc:
                return error_response(exc.status, str(exc), exc.param, exc.code)
            except InputError as exc:
                return error_response(422, str(exc), "messages")
            except DocumentNotFoundError as exc:
                return error_response(404, str(exc))
            except RagError as exc:
                return error_response(503, str(exc))

        return route_handler


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIErrorRoute)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @field_validator("content")
    @classmethod
    def _text_only(cls, value: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(value, list):
            for part in value:
                if part.type != "text" or part.text is None:
                    raise ValueError(f"content part of type {part.type!r} is not supported; send text parts only")
        return value

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # Sampling and tool parameters are accepted and ignored: answers come from the interview.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [{"role": "user", "content": "How many terrorist crimes were averted in 2015?"}],
                }
            ]
        },
    )
    model: str = Field(MODEL_ID, description=f"One of: {', '.join(MODES)}.")
    messages: list[Message] = Field(
        min_length=1, description="The conversation; the last user message is the question."
    )
    stream: bool = False
    n: int = Field(1, description="Only one choice is supported.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve (an extension).")

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"only n=1 is supported (got {value}); ask again for another answer")
        return value


def conversation(messages: Sequence[Message], pipeline: Pipeline) -> tuple[str, tuple[ChatTurn, ...]]:
    """The question (last user message) and the user/assistant turns before it, newest kept within the limits."""
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if last_user is None:
        raise OpenAIRefusal(422, "messages has no user message; the last user message is the question", "messages")
    question = messages[last_user].text
    if not question.strip():
        raise OpenAIRefusal(422, "the last user message is empty; put the question there", "messages")
    turns = [ChatTurn(m.role, m.text) for m in messages[:last_user] if m.role in ("user", "assistant")]
    limits = pipeline.settings
    kept: list[ChatTurn] = []
    chars = 0
    for turn in reversed(turns):
        chars += len(turn.content)
        if len(kept) >= limits.max_history_turns or chars > limits.max_history_chars:
            break
        kept.append(turn)
    return question, tuple(reversed(kept))


def mode_of(model: str) -> Mode:
    try:
        return MODES[model]
    except KeyError:
        raise OpenAIRefusal(
            404,
            f"model {model!r} does not exist; use one of: {', '.join(MODES)} (see GET /v1/models)",
            "model",
            "model_not_found",
        ) from None


def extras(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [asdict(c) for c in answer.citations],
        "answerable": answer.answerable,
        "backend": answer.backend,
        "fallback_reason": answer.fallback_reason,
    }


def completion(answer: Answer, model: str, fingerprint: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        **extras(answer),
    }


def completion_chunks(answer: Answer, model: str, fingerprint: str) -> Iterable[dict[str, Any]]:
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
    }

    def chunk(delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in word_pieces(answer.answer):
        yield chunk({"content": piece})
    yield {**chunk({}, "stop"), **extras(answer)}


async def sse_chunks(chunks: Iterable[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletion,
            "description": "The completion; with `stream: true`, Server-Sent Events instead: chunks, then "
            "`[DONE]` (the event-stream schema describes one event).",
            "content": {"text/event-stream": CHAT_STREAM.content()},
        },
        400: {"model": OpenAIError, "description": "The body is not JSON."},
        404: {"model": OpenAIError, "description": "No such model (see GET /v1/models)."},
        422: {
            "model": OpenAIError | ValidationErrorResponse,
            "description": "The body breaks the schema, or has no question (OpenAI's shape); "
            "or it is not UTF-8 (the app's shape: refused before the endpoint).",
        },
    },
)
def chat_completions(body: ChatCompletionRequest, pipeline: PipelineDep) -> dict[str, Any] | StreamingResponse:
    """OpenAI's chat completion: the answer with `[n]` markers, plus `citations` and `answerable`."""
    mode = mode_of(body.model)
    question, history = conversation(body.messages, pipeline)
    answer = pipeline.ask(question, history, body.top_k, mode)
    fingerprint = pipeline.index.version
    if body.stream:
        chunks = completion_chunks(answer, body.model, fingerprint)
        return StreamingResponse(sse_chunks(chunks), media_type="text/event-stream", headers=SSE_HEADERS)
    return completion(answer, body.model, fingerprint)


@router.get("/models")
def models(pipeline: PipelineDep) -> dict[str, Any]:
    """The models this server answers as (OpenAI's model list)."""
    created = int(pipeline.loaded_at)
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "sysoyev-rag"} for model in MODES],
    }
