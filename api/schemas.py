"""Request and response bodies of the HTTP API (the answer contract of DESIGN.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "How many terrorist crimes were averted in 2015?"}]},
    )
    question: str = Field(min_length=1, description="The question, in plain text.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve (default from settings).")
    mode: Literal["auto", "extractive", "llm"] = "auto"

    _question_not_blank = field_validator("question")(_not_blank)


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

    _query_not_blank = field_validator("query")(_not_blank)


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
