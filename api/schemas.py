"""Request and response bodies of the HTTP API (the answer contract of DESIGN.md)."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from rag.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# The serving app's settings, for limits a validator must apply; set per request by
# api.security (a request model cannot take arguments). Unset: the environment's.
request_settings: ContextVar[Settings | None] = ContextVar("request_settings", default=None)


def current_settings() -> Settings:
    return request_settings.get() or get_settings()


# Control characters in text: line breaks become "\n", whitespace-like ones a space, the rest
# (NUL, escape sequences, C1 codes) are dropped. Tab and newline stay.
_CONTROLS: dict[int, str | None] = {c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)}
_CONTROLS.update({c: " " for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85)})


def clean_text(value: str) -> str:
    """`value` without control characters (see _CONTROLS). Lone surrogates never get here: pydantic refuses them."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _clean_not_blank(value: str) -> str:
    return _not_blank(clean_text(value))


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)

    _content_clean = field_validator("content")(clean_text)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "How many terrorist crimes were averted in 2015?"}]},
    )
    question: str = Field(min_length=1, description="The question, in plain text.")
    history: list[Turn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: at most RAG_MAX_HISTORY_TURNS turns (default 20) "
        "of RAG_MAX_HISTORY_CHARS characters in all (default 8000).",
    )
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve (default from settings).")
    mode: Literal["auto", "extractive", "llm"] = "auto"

    _question_clean = field_validator("question")(_clean_not_blank)

    @field_validator("history")
    @classmethod
    def _history_within_limits(cls, history: list[Turn]) -> list[Turn]:
        limits = current_settings()
        if len(history) > limits.max_history_turns:
            raise ValueError(
                f"has {len(history)} turns; the limit is {limits.max_history_turns} (RAG_MAX_HISTORY_TURNS): "
                "send only the most recent turns"
            )
        chars = sum(len(turn.content) for turn in history)
        if chars > limits.max_history_chars:
            raise ValueError(
                f"has {chars} characters; the limit is {limits.max_history_chars} (RAG_MAX_HISTORY_CHARS): "
                "send fewer or shorter turns"
            )
        return history


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    start: int
    end: int
    quote: str
    score: float


class AskResponse(BaseModel):
    answer: str
    answerable: bool
    citations: list[CitationOut]
    backend: str
    fallback_reason: str | None = Field(
        description=(
            "Null for an LLM's checked answer, or an extractive answer asked for. Otherwise why no LLM "
            "answer is given: `llm_not_configured`, `off_topic`, `small_talk`; the backend failed: "
            "`connection_error`, `timeout`, `http_error`, `malformed_response`, `stream_interrupted`, "
            "`empty_answer`, `no_passages`; or its reply was turned down: `prompt_echo`, `no_citations`, "
            "`ungrounded_number: <number>`, `ungrounded_name: <name>`, `unsafe_output: link`. "
            "The answer is then the extractive one."
        )
    )
    timings_ms: dict[str, float]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"query": "Xiamen-2015 exercise", "top_k": 3}]})
    query: str = Field(min_length=1)
    top_k: int = Field(default=5, ge=1, le=20)

    _query_clean = field_validator("query")(_clean_not_blank)


class SearchResult(BaseModel):
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    score: float
    section: str | None


class SearchResponse(BaseModel):
    results: list[SearchResult]


class HealthResponse(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    model: str
    dimension: int
    index_id: str
    index_built_at: str
    llm_backend: str


class Section(BaseModel):
    """A span of the document and the interviewer's question it answers (None: no question)."""

    start: int
    end: int
    question: str | None


class DocumentResponse(BaseModel):
    doc_id: str
    title: str
    text: str
    meta: dict[str, Any]
    sections: list[Section]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    message: str
    detail: list[ErrorItem]


class ErrorResponse(BaseModel):
    detail: str


# ---------------------------------------------------------------------------- Server-Sent Events
# A text/event-stream response is documented event by event, as OpenAPI 3.0/3.1 tools read its
# schema (Schemathesis, SDK generators): one event as an SSE parser reports it, `{"event", "data"}`,
# a JSON `data` as text holding JSON of the payload's schema (contentMediaType/contentSchema).
# OpenAPI 3.2 names this per-event schema `itemSchema`; the document stays 3.1, which Redoc 2 reads.

COMPONENTS = "#/components/schemas/"
JsonSchema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SseEvent:
    """A kind of event in a stream.

    `name` is its `event` field (None: none is sent, so parsers report "message"). `data` is a
    model, for a line of that model's JSON, or the schema of the text itself.
    """

    name: str | None
    data: type | JsonSchema
    description: str

    def schema(self) -> JsonSchema:
        data = self.data
        if isinstance(data, type):
            data = {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": COMPONENTS + data.__name__},
            }
        return {
            "type": "object",
            "description": self.description,
            "properties": {"event": {"const": self.name or "message"}, "data": data},
            "required": ["event", "data"] if self.name else ["data"],
            "additionalProperties": False,  # no `id`, no `retry`
        }


class EventStream:
    """The kinds of event of a text/event-stream response."""

    def __init__(self, *events: SseEvent) -> None:
        self.events = events

    @property
    def models(self) -> list[type]:
        """The models the events' `data` refer to: they belong in the OpenAPI components (see document_schemas)."""
        return [event.data for event in self.events if isinstance(event.data, type)]

    def content(self) -> JsonSchema:
        """The response's `content` entry for text/event-stream: every event is one of the kinds."""
        return {"schema": {"anyOf": [event.schema() for event in self.events]}}


def document_schemas(app: FastAPI, models: Iterable[type]) -> None:
    """Adds `models`, and the models they use, to the app's OpenAPI components.

    For the payloads of text/event-stream events: FastAPI collects the models of JSON bodies
    only, so without this the events' `$ref`s would point nowhere.
    """
    build = app.openapi
    schemas: dict[str, JsonSchema] = {}
    for model in models:
        schema = TypeAdapter(model).json_schema(mode="serialization", ref_template=COMPONENTS + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema

    def openapi() -> dict[str, Any]:
        document = build()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in schemas.items():
            components.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class CitationsData(BaseModel):
    citations: list[CitationOut]
    final: bool = Field(description="True: these are the answer's citations. False: none yet; `done` has them.")


class TokenData(BaseModel):
    text: str = Field(description="The next piece of the answer; the pieces join to the answer.")


class StreamErrorData(BaseModel):
    message: str
    type: str = Field(description="The kind of failure (an exception's class name).")


ASK_STREAM = EventStream(
    SseEvent(
        "citations",
        CitationsData,
        "Always first: the passages the answer cites, or none yet (`final: false`) while an LLM writes.",
    ),
    SseEvent("token", TokenData, "A piece of the answer, as it is written."),
    SseEvent("done", AskResponse, "Last: the checked answer as /ask returns it; it replaces the tokens."),
    SseEvent("error", StreamErrorData, "Last, instead of `done`: the answer failed after the stream began."),
)
