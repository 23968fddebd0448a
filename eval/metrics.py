"""Evaluation metrics as pure functions: retrieval ranks, answer text, citations, refusals.

Relevance is binary and positional: a chunk or citation is relevant when its character span
[start, end) overlaps the span of a gold evidence string in the same document.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

Keys = Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A half-open character range [start, end) of a document."""

    start: int
    end: int

    def overlaps(self, other: TextSpan) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class CitedSpan:
    """What the metrics need of a citation."""

    doc_id: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True, slots=True)
class RefusalScores:
    precision: float | None  # of the refusals, the share on unanswerable questions (None: no refusals)
    recall: float | None  # of the unanswerable questions, the share refused (None: none in the set)
    false_refusals: int  # answerable questions refused
    false_refusals_per_20: float | None  # false refusals per 20 answerable questions


# ---- retrieval --------------------------------------------------------------------------


def overlaps_any(span: TextSpan, gold: Sequence[TextSpan]) -> bool:
    return any(span.overlaps(g) for g in gold)


def hit_at_k(relevance: Sequence[bool], k: int) -> float:
    """1.0 when a relevant result is among the first k, else 0.0."""
    return 1.0 if any(relevance[:k]) else 0.0


def reciprocal_rank(relevance: Sequence[bool], k: int = 10) -> float:
    """1/rank of the first relevant result within the first k (MRR@k per query), 0.0 if none."""
    for rank, relevant in enumerate(relevance[:k], start=1):
        if relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevance: Sequence[bool], n_relevant: int, k: int) -> float:
    """Binary nDCG@k. The ideal ranking puts min(n_relevant, k) relevant results first.

    `n_relevant` is the number of relevant chunks the gold data knows of (one per evidence
    span); if the ranking shows more relevant chunks than that, the observed count is used so
    the score stays within [0, 1].
    """
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(relevance[:k], start=1) if rel)
    n_ideal = min(k, max(n_relevant, sum(1 for rel in relevance[:k] if rel)))
    if n_ideal == 0:
        return 0.0
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
    return dcg / ideal


# ---- answer text ------------------------------------------------------------------------

_MARKER = re.compile(r"\s*\[\d+\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014")


def strip_markers(answer: str) -> str:
    """The answer without its [n] citation markers."""
    return _MARKER.sub("", answer)


def key_found(answer: str, alternatives: Sequence[str]) -> bool:
    lowered = answer.lower()
    return any(alt.lower() in lowered for alt in alternatives)


def all_keys_match(answer: str, keys: Keys) -> bool:
    """True when every fact has one of its alternatives in the answer (case-insensitive)."""
    return all(key_found(answer, fact) for fact in keys)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles, squeeze whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    return 1.0 if normalize_answer(prediction) == normalize_answer(truth) else 0.0


def token_f1(prediction: str, truth: str) -> float:
    """SQuAD token-level F1 between a prediction and a gold answer."""
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(truth).split()
    if not pred_tokens or not truth_tokens:
        return 1.0 if pred_tokens == truth_tokens else 0.0
    common = Counter(pred_tokens) & Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


# ---- citations --------------------------------------------------------------------------


def citation_supports(citation: CitedSpan, doc_id: str, gold: Sequence[TextSpan], keys: Keys) -> bool:
    """A citation supports an answer when it overlaps gold evidence or quotes a key fact."""
    if citation.doc_id == doc_id and overlaps_any(TextSpan(citation.start, citation.end), gold):
        return True
    return any(key_found(citation.quote, fact) for fact in keys)


def citation_precision(support: Sequence[Sequence[bool]]) -> float | None:
    """Supporting citations / all citations, pooled over answers (None: no citations)."""
    total = sum(len(flags) for flags in support)
    if total == 0:
        return None
    return sum(sum(flags) for flags in support) / total


def citation_recall(support: Sequence[Sequence[bool]]) -> float | None:
    """Share of answers with at least one supporting citation (None: no answers)."""
    if not support:
        return None
    return sum(1 for flags in support if any(flags)) / len(support)


def invariant_violations(citations: Sequence[CitedSpan], texts: dict[str, str]) -> int:
    """Citations whose quote is not exactly `text[start:end]` of their document."""
    bad = 0
    for c in citations:
        text = texts.get(c.doc_id)
        if text is None or not 0 <= c.start <= c.end <= len(text) or text[c.start : c.end] != c.quote:
            bad += 1
    return bad


# ---- refusals ---------------------------------------------------------------------------


def refusal_scores(gold_answerable: Sequence[bool], refused: Sequence[bool]) -> RefusalScores:
    """Refusal precision/recall, treating "refuse" as the positive class for unanswerable items."""
    if len(gold_answerable) != len(refused):
        raise ValueError(f"got {len(gold_answerable)} gold labels but {len(refused)} predictions")
    pairs = list(zip(gold_answerable, refused, strict=True))
    n_refused = sum(1 for _, r in pairs if r)
    n_unanswerable = sum(1 for a, _ in pairs if not a)
    n_answerable = len(pairs) - n_unanswerable
    correct = sum(1 for a, r in pairs if r and not a)
    false_refusals = sum(1 for a, r in pairs if r and a)
    return RefusalScores(
        precision=correct / n_refused if n_refused else None,
        recall=correct / n_unanswerable if n_unanswerable else None,
        false_refusals=false_refusals,
        false_refusals_per_20=20 * false_refusals / n_answerable if n_answerable else None,
    )


# ---- aggregation ------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
