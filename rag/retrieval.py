"""Hybrid retrieval: dense (FAISS inner product) and BM25 rankings fused by reciprocal rank.

A follow-up question ("what did they do about it?") is searched together with the previous
user question, so pronouns find what they refer to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.index import SearchIndex
from rag.lexical import content_terms, words
from rag.settings import Settings
from rag.types import ChatTurn, Hit

_ANAPHORA = frozenset(
    "it its they them their theirs that this these those he him his she her there such one ones".split()
)
_FOLLOW_UP_OPENERS = re.compile(r"^\s*(and|what about|how about|why|how so|so|also|then)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Query:
    """What is actually searched: the question, plus context from the conversation when needed."""

    text: str
    context: str  # the previous user question, when the question leans on it; else ""

    @property
    def full(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


def is_follow_up(question: str) -> bool:
    tokens = words(question)
    return bool(_ANAPHORA.intersection(tokens)) or bool(_FOLLOW_UP_OPENERS.match(question)) or len(content_terms(question)) <= 2


def build_query(question: str, history: Sequence[ChatTurn] = ()) -> Query:
    previous = next((t.content for t in reversed(history) if t.role == "user" and t.content.strip()), "")
    if previous and is_follow_up(question):
        return Query(question, previous)
    return Query(question, "")


class Retriever:
    def __init__(self, index: SearchIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def query_vector(self, query: Query) -> np.ndarray:
        return self.embedder.encode_query(query.full)

    def dense_ranking(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.index.dense.ntotal)
        if k <= 0:
            return []
        scores, ids = self.index.dense.search(vector.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_ranking(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        if not terms:
            return []
        scores = self.index.bm25.get_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def retrieve(self, question: str, top_k: int | None = None, history: Sequence[ChatTurn] = ()) -> list[Hit]:
        query = build_query(question, history)
        return self.retrieve_query(query, top_k)

    def retrieve_query(self, query: Query, top_k: int | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        s = self.settings
        top_k = top_k or s.top_k
        depth = max(s.candidates, top_k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if s.retrieval in ("hybrid", "dense"):
            dense = self.dense_ranking(self.query_vector(query) if vector is None else vector, depth)
        if s.retrieval in ("hybrid", "bm25"):
            # The follow-up's own words count twice: they say what is asked now.
            terms = content_terms(query.text) * 2 + content_terms(query.context)
            lexical = self.bm25_ranking(terms, depth)
        return fuse(self.index, dense, lexical, top_k, s.rrf_k, s.dense_weight, s.bm25_weight)


def fuse(
    index: SearchIndex,
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    top_k: int,
    rrf_k: int,
    dense_weight: float = 1.0,
    bm25_weight: float = 1.0,
) -> list[Hit]:
    """Reciprocal rank fusion: score = Σ weight / (rrf_k + rank), ranks 1-based."""
    fused: dict[int, float] = {}
    dense_info = {i: (rank, score) for rank, (i, score) in enumerate(dense, 1)}
    bm25_info = {i: (rank, score) for rank, (i, score) in enumerate(lexical, 1)}
    for i, (rank, _) in dense_info.items():
        fused[i] = fused.get(i, 0.0) + dense_weight / (rrf_k + rank)
    for i, (rank, _) in bm25_info.items():
        fused[i] = fused.get(i, 0.0) + bm25_weight / (rrf_k + rank)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:top_k]
    hits = []
    for i in order:
        d = dense_info.get(i)
        b = bm25_info.get(i)
        hits.append(
            Hit(
                chunk=index.chunks[i],
                score=fused[i],
                dense_score=d[1] if d else None,
                bm25_score=b[1] if b else None,
                dense_rank=d[0] if d else None,
                bm25_rank=b[0] if b else None,
            )
        )
    return hits
