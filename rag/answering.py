"""The extractive answerer: the sentences of the retrieved chunks that best answer the question,
quoted verbatim with `[n]` markers — or an honest "the interview does not say".

Sentence score = cosine(question, sentence) + weighted share of the question's words found in
the sentence (rare words weigh more) + a prior from the rank of the chunk it came from.

Whether to answer at all is a calibrated logistic decision over evidence signals (see
`EvidenceSignals`); its weights live in settings so they can be re-fitted on new data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.chunking import embedding_text
from rag.index import SearchIndex, SentenceKey
from rag.lexical import content_terms
from rag.retrieval import Query
from rag.settings import Settings
from rag.types import Answer, Citation, Hit

NOT_IN_INTERVIEW = "The interview does not say."
QUESTION_SENTENCE_PENALTY = 0.15


@dataclass(frozen=True, slots=True)
class EvidenceSignals:
    """What the abstention decision looks at; all in [0, 1] except bm25 (raw, per query term)."""

    coverage: float  # IDF-weighted share of the question's terms present in the top chunks
    dense: float  # best cosine between question and a retrieved sentence
    bm25: float  # best BM25 score divided by the number of query terms

    def probability(self, s: Settings) -> float:
        z = s.refuse_bias + s.refuse_w_coverage * self.coverage + s.refuse_w_dense * self.dense + s.refuse_w_bm25 * self.bm25
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    key: SentenceKey
    chunk_id: str
    kind: str
    score: float
    dense: float
    lexical: float


class ExtractiveAnswerer:
    def __init__(self, index: SearchIndex, texts: dict[str, str], settings: Settings) -> None:
        self.index = index
        self.texts = texts
        self.settings = settings
        self._sentence_row = index.sentence_row()
        # Document frequency per term straight from the BM25 matrix (CSC: one column per term).
        vocab: dict[str, int] = index.bm25.vocab_dict
        indptr = np.asarray(index.bm25.scores["indptr"])
        n_docs = max(len(index.chunks), 1)
        df = np.diff(indptr)
        self._idf = {term: math.log(1 + (n_docs - df[i] + 0.5) / (df[i] + 0.5)) for term, i in vocab.items() if i < len(df)}
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unknown_idf)

    def weighted_coverage(self, terms: Sequence[str], present: set[str]) -> float:
        unique = set(terms)
        if not unique:
            return 0.0
        total = sum(self.idf(t) for t in unique)
        return sum(self.idf(t) for t in unique if t in present) / total

    def signals(self, query: Query, hits: Sequence[Hit], sentences: Sequence[ScoredSentence]) -> EvidenceSignals:
        terms = content_terms(query.full)
        present: set[str] = set()
        for hit in hits[:3]:
            present.update(content_terms(embedding_text(hit.chunk)))
        bm25 = max((h.bm25_score or 0.0 for h in hits), default=0.0) / max(len(set(terms)), 1)
        return EvidenceSignals(
            coverage=self.weighted_coverage(terms, present),
            dense=max((s.dense for s in sentences), default=0.0),
            bm25=bm25,
        )

    def score_sentences(self, query: Query, vector: np.ndarray, hits: Sequence[Hit]) -> list[ScoredSentence]:
        terms = content_terms(query.full)
        seen: set[SentenceKey] = set()
        keys: list[tuple[SentenceKey, Hit, int]] = []
        for rank, hit in enumerate(hits, 1):
            for span in hit.chunk.sentences:
                key = SentenceKey(hit.chunk.doc_id, span.start, span.end)
                if key not in seen:
                    seen.add(key)
                    keys.append((key, hit, rank))
        if not keys:
            return []
        rows = [self._sentence_row[k] for k, _, _ in keys]
        dense = self.index.sentence_vectors[rows] @ vector
        scored = []
        for (key, hit, rank), cos in zip(keys, dense, strict=True):
            words = set(content_terms(self.texts[key.doc_id][key.start : key.end]))
            lexical = self.weighted_coverage(terms, words)
            score = float(cos) + 0.5 * lexical + 0.25 / rank
            if hit.chunk.kind == "question":
                score -= QUESTION_SENTENCE_PENALTY
            scored.append(ScoredSentence(key, hit.chunk.chunk_id, hit.chunk.kind, score, float(cos), lexical))
        scored.sort(key=lambda s: -s.score)
        return scored

    def select(self, scored: Sequence[ScoredSentence]) -> list[ScoredSentence]:
        s = self.settings
        if not scored:
            return []
        chosen = [scored[0]]
        length = scored[0].key.end - scored[0].key.start
        for cand in scored[1 : s.answer_max_sentences + 2]:
            if len(chosen) >= s.answer_max_sentences:
                break
            size = cand.key.end - cand.key.start
            if cand.score < scored[0].score - 0.1 or length + size > s.answer_max_chars:
                continue
            chosen.append(cand)
            length += size
        # Read in document order when the sentences come from the same document.
        chosen.sort(key=lambda c: (c.key.doc_id, c.key.start))
        return chosen

    def answer(self, query: Query, vector: np.ndarray, hits: Sequence[Hit]) -> tuple[Answer, EvidenceSignals]:
        scored = self.score_sentences(query, vector, hits)
        signals = self.signals(query, hits, scored)
        if not scored or signals.probability(self.settings) < self.settings.refuse_threshold:
            return refusal(), signals
        parts = []
        citations = []
        for n, sent in enumerate(self.select(scored), 1):
            quote = self.texts[sent.key.doc_id][sent.key.start : sent.key.end]
            parts.append(f"{quote} [{n}]")
            citations.append(
                Citation(n, sent.key.doc_id, sent.chunk_id, sent.key.start, sent.key.end, quote, round(sent.score, 4))
            )
        return Answer(" ".join(parts), True, tuple(citations), "extractive", None, {}), signals


def refusal(reason: str | None = None) -> Answer:
    return Answer(NOT_IN_INTERVIEW, False, (), "extractive", reason, {})
