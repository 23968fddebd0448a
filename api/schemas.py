"""Request and response bodies of the HTTP API (the answer contract of DESIGN.md)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.settings import Settings, get_settings

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
    fallback_reason: str | None
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
