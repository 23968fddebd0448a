"""Routes of the answer API: /ask, /search, /health, /documents/{doc_id}."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import PipelineDep
from api.schemas import (
    AskRequest,
    AskResponse,
    DocumentResponse,
    ErrorResponse,
    HealthResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
    Section,
)
from rag.types import ChatTurn

router = APIRouter()


def history_of(request: AskRequest) -> tuple[ChatTurn, ...]:
    return tuple(ChatTurn(t.role, t.content) for t in request.history)


# Model work stays off the event loop: plain `def` routes run in the thread pool, and /ask answers
# from the cache on the loop but computes in the thread pool.
@router.post("/ask", response_model=AskResponse, tags=["answers"])
async def ask(body: AskRequest, pipeline: PipelineDep) -> dict[str, object]:
    """Answer a question with citations to exact spans of the interview."""
    history = history_of(body)
    answer = pipeline.cached_answer(body.question, history, body.top_k, body.mode)
    if answer is None:
        answer = await run_in_threadpool(pipeline.ask, body.question, history, body.top_k, body.mode)
    return answer.to_json()


@router.post("/search", response_model=SearchResponse, tags=["answers"])
def search(body: SearchRequest, pipeline: PipelineDep) -> SearchResponse:
    """The passages `/ask` reads for a query, best first: those its extractive answer quotes,
    then the others it was drawn from as it weighed them, then the rest of the ranking. Each
    score is that of the ranking's passage at that place, so scores never rise down the list."""
    hits = pipeline.search(body.query, body.top_k)
    return SearchResponse(
        results=[
            SearchResult(
                chunk_id=h.chunk.chunk_id,
                doc_id=h.chunk.doc_id,
                start=h.chunk.start,
                end=h.chunk.end,
                text=h.chunk.text,
                score=round(h.score, 6),
                section=h.chunk.section,
            )
            for h in hits
        ]
    )


@router.get("/health", response_model=HealthResponse, tags=["service"])
def health(pipeline: PipelineDep) -> HealthResponse:
    manifest = pipeline.index.manifest
    return HealthResponse(
        status="ok",
        documents=len(pipeline.documents),
        chunks=len(pipeline.index.chunks),
        model=pipeline.embedder.model_name,
        dimension=pipeline.embedder.dimension,
        index_id=pipeline.index.version,
        index_built_at=str(manifest.get("built_at", "")),
        llm_backend=pipeline.settings.llm_backend,
    )


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentResponse,
    responses={404: {"model": ErrorResponse}},
    tags=["documents"],
)
def document(doc_id: str, pipeline: PipelineDep) -> DocumentResponse:
    """A corpus document's full text, metadata, and which question each part answers."""
    doc = pipeline.document(doc_id)
    return DocumentResponse(
        doc_id=doc.doc_id,
        title=doc.title,
        text=doc.text,
        meta=doc.meta,
        sections=[Section(start=s.start, end=s.end, question=s.question) for s in pipeline.sections(doc_id)],
    )
