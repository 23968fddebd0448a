"""What the runner evaluates: the library in-process, or a running server over HTTP.

Both expose the same three calls, so every metric is computed the same way either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from rag.types import Answer, ChatTurn, Citation, Hit, Mode

if TYPE_CHECKING:
    from rag.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One search result, reduced to what the retrieval metrics need."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    score: float


class Target(Protocol):
    def search(self, query: str, top_k: int) -> list[Retrieved]: ...

    def ranking(self, query: str, top_k: int) -> list[Retrieved] | None:
        """The ranking alone, before the answer orders it; None where it cannot be seen (HTTP)."""
        ...

    def ask(self, question: str, history: Sequence[ChatTurn], top_k: int | None, mode: Mode) -> Answer: ...

    def document_text(self, doc_id: str) -> str: ...


class PipelineTarget:
    """The library called directly."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def search(self, query: str, top_k: int) -> list[Retrieved]:
        return _retrieved(self.pipeline.search(query, top_k=top_k))

    def ranking(self, query: str, top_k: int) -> list[Retrieved] | None:
        return _retrieved(self.pipeline.ranking(query, top_k=top_k))

    def ask(self, question: str, history: Sequence[ChatTurn], top_k: int | None, mode: Mode) -> Answer:
        return self.pipeline.ask(question, history=tuple(history), top_k=top_k, mode=mode)

    def document_text(self, doc_id: str) -> str:
        return self.pipeline.documents[doc_id].text


def _retrieved(hits: Sequence[Hit]) -> list[Retrieved]:
    return [Retrieved(h.chunk.doc_id, h.chunk.chunk_id, h.chunk.start, h.chunk.end, h.score) for h in hits]


class EndpointError(RuntimeError):
    """The server answered with an error or a body that breaks the API contract."""


class HttpTarget:
    """A running server, reached only through its public HTTP API."""

    def __init__(self, base_url: str, client: httpx.Client | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(base_url=self.base_url, timeout=timeout)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, json=body)
            response.raise_for_status()
            data = response.json()
        except httpx.HTTPStatusError as exc:
            raise EndpointError(
                f"{method} {self.base_url}{path} returned {exc.response.status_code}: {exc.response.text[:300]}"
            ) from exc
        except httpx.HTTPError as exc:
            raise EndpointError(
                f"{method} {self.base_url}{path} failed ({exc!r}); is the server running? Check --endpoint."
            ) from exc
        except ValueError as exc:
            raise EndpointError(f"{method} {self.base_url}{path} did not return JSON") from exc
        if not isinstance(data, dict):
            raise EndpointError(f"{method} {self.base_url}{path} returned {type(data).__name__}, not an object")
        return data

    def search(self, query: str, top_k: int) -> list[Retrieved]:
        data = self._call("POST", "/search", {"query": query, "top_k": top_k})
        try:
            return [
                Retrieved(str(r["doc_id"]), str(r["chunk_id"]), int(r["start"]), int(r["end"]), float(r["score"]))
                for r in data["results"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise EndpointError(f"POST /search: malformed result ({exc!r})") from exc

    def ranking(self, query: str, top_k: int) -> list[Retrieved] | None:
        return None  # the API serves /search only: the ranking after the answer has ordered it

    def ask(self, question: str, history: Sequence[ChatTurn], top_k: int | None, mode: Mode) -> Answer:
        body: dict[str, Any] = {
            "question": question,
            "history": [{"role": t.role, "content": t.content} for t in history],
            "mode": mode,
        }
        if top_k is not None:
            body["top_k"] = top_k
        return answer_from_json(self._call("POST", "/ask", body))

    def document_text(self, doc_id: str) -> str:
        data = self._call("GET", f"/documents/{doc_id}")
        if not isinstance(data.get("text"), str):
            raise EndpointError(f"GET /documents/{doc_id}: no 'text' in the reply")
        return str(data["text"])


def answer_from_json(data: dict[str, Any]) -> Answer:
    """An `Answer` from the /ask JSON (the DESIGN.md answer contract)."""
    try:
        citations = tuple(
            Citation(
                n=int(c["n"]),
                doc_id=str(c["doc_id"]),
                chunk_id=str(c["chunk_id"]),
                start=int(c["start"]),
                end=int(c["end"]),
                quote=str(c["quote"]),
                score=float(c.get("score") or 0.0),
            )
            for c in data.get("citations") or []
        )
        return Answer(
            answer=str(data["answer"]),
            answerable=bool(data["answerable"]),
            citations=citations,
            backend=str(data.get("backend", "")),
            fallback_reason=data.get("fallback_reason"),
            timings_ms={str(k): float(v) for k, v in (data.get("timings_ms") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EndpointError(f"POST /ask: reply breaks the answer contract ({exc!r})") from exc
