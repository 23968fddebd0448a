"""The library's value types: frozen dataclasses, no behaviour beyond small helpers.

Offsets (`start`, `end`) are always Python string indices into the document text exactly
as stored on disk (decoded as UTF-8, newlines untouched), so `text[start:end]` is the quote.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]
Mode = Literal["auto", "extractive", "llm"]


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    path: str
    text: str
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.doc_id)

    @property
    def interviewee(self) -> str:
        """Who answers in the document, from its metadata's `speakers.interviewee` up to the first
        comma ("Yevgeniy Sysoyev, Director of…" → "Yevgeniy Sysoyev"); "" when not given."""
        speakers = self.meta.get("speakers")
        name = speakers.get("interviewee") if isinstance(speakers, dict) else None
        return str(name).split(",")[0].strip() if name else ""

    @property
    def year(self) -> int | None:
        """The year the document was published, from its metadata's `date` ("2016", "2016-05-12", "May 2016")."""
        m = re.search(r"\b(1[6-9]|20)\d\d\b", str(self.meta.get("date") or ""))
        return int(m.group()) if m else None


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence inside a document: `text == document.text[start:end]`."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    # The interviewer's question this chunk answers (or the chunk's heading); None in a preamble.
    section: str | None
    # "answer", "question" (the interviewer's own words) or "text" (no interview structure).
    kind: str
    sentences: tuple[Span, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sentences"] = [[s.start, s.end] for s in self.sentences]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            doc_id=data["doc_id"],
            chunk_id=data["chunk_id"],
            start=int(data["start"]),
            end=int(data["end"]),
            text=data["text"],
            section=data.get("section"),
            kind=data.get("kind", "text"),
            sentences=tuple(Span(int(a), int(b)) for a, b in data["sentences"]),
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks that produced it (1-based, None = absent)."""

    chunk: Chunk
    score: float
    position: int = -1  # row of the chunk in the index
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    start: int
    end: int
    quote: str
    score: float


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    answerable: bool
    citations: tuple[Citation, ...]
    backend: str
    fallback_reason: str | None
    timings_ms: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "answerable": self.answerable,
            "citations": [asdict(c) for c in self.citations],
            "backend": self.backend,
            "fallback_reason": self.fallback_reason,
            "timings_ms": dict(self.timings_ms),
        }
