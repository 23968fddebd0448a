"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    CitedSpan,
    TextSpan,
    all_keys_match,
    citation_precision,
    citation_recall,
    citation_supports,
    exact_match,
    hit_at_k,
    invariant_violations,
    ndcg_at_k,
    normalize_answer,
    percentile,
    reciprocal_rank,
    refusal_scores,
    strip_markers,
    token_f1,
)

F, T = False, True


def test_hit_at_k() -> None:
    assert hit_at_k([F, T, F], 1) == 0.0
    assert hit_at_k([F, T, F], 2) == 1.0
    assert hit_at_k([F, F, F], 3) == 0.0
    assert hit_at_k([], 5) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([F, T, T]) == 0.5
    assert reciprocal_rank([T]) == 1.0
    assert reciprocal_rank([F, F, F, T]) == 0.25
    assert reciprocal_rank([F] * 10 + [T], k=10) == 0.0  # rank 11 is outside MRR@10
    assert reciprocal_rank([]) == 0.0


def test_ndcg_known_values() -> None:
    # Relevant at ranks 2 and 4, two relevant in the gold set:
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677; IDCG = 1 + 0.630930.
    assert ndcg_at_k([F, T, F, T, F], n_relevant=2, k=5) == pytest.approx(1.061606 / 1.630930, abs=1e-6)
    assert ndcg_at_k([F, T, F, T, F], n_relevant=2, k=5) == pytest.approx(0.650921, abs=1e-6)
    # One relevant at rank 1 but two expected: 1 / 1.630930.
    assert ndcg_at_k([T, F], n_relevant=2, k=5) == pytest.approx(0.613147, abs=1e-6)
    # The rank-4 hit falls outside k=3: 0.630930 / 1.630930.
    assert ndcg_at_k([F, T, F, T], n_relevant=2, k=3) == pytest.approx(0.386853, abs=1e-6)


def test_ndcg_bounds() -> None:
    assert ndcg_at_k([T], n_relevant=1, k=5) == 1.0
    assert ndcg_at_k([T, T], n_relevant=3, k=2) == 1.0  # ideal capped at k
    assert ndcg_at_k([T, T], n_relevant=1, k=5) == 1.0  # more relevant chunks than gold spans
    assert ndcg_at_k([F, F], n_relevant=1, k=5) == 0.0
    assert ndcg_at_k([], n_relevant=0, k=5) == 0.0


def test_squad_normalisation() -> None:
    assert normalize_answer("The ‘three evil forces’.") == "three evil forces"
    assert normalize_answer("  An   Apple, a PEAR ") == "apple pear"


def test_exact_match() -> None:
    assert exact_match("The Ufa Summit!", "ufa summit") == 1.0
    assert exact_match("Ufa Summit in 2015", "ufa summit") == 0.0


def test_token_f1_known_overlaps() -> None:
    # "cat sat" vs "cat sat down": precision 2/2, recall 2/3 -> F1 0.8
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    # Repeated tokens count once per occurrence in both: common {200, persons} -> P = R = 2/3
    assert token_f1("200 200 persons", "over 200 persons") == pytest.approx(2 / 3)
    assert token_f1("Yekaterinburg", "Tashkent") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("the", "Tashkent") == 0.0  # nothing left after normalisation


def test_keys_and_markers() -> None:
    assert strip_markers("It was 167 [1] and 150 [2].") == "It was 167 and 150."
    assert all_keys_match("They averted 167 crimes", [["167"]])
    assert not all_keys_match("They averted 167 crimes", [["167"], ["2015"]])
    assert all_keys_match("the XIAMEN-2015 drill", [["Xiaomen", "Xiamen"]])
    assert all_keys_match("anything", [])


def test_citation_support_by_span_or_key() -> None:
    gold = [TextSpan(100, 200)]
    keys = [["167"]]
    assert citation_supports(CitedSpan("doc", 190, 250, "x"), "doc", gold, keys)  # overlaps 190..200
    assert not citation_supports(CitedSpan("doc", 200, 260, "x"), "doc", gold, keys)  # [start, end) touch only
    assert not citation_supports(CitedSpan("doc", 40, 100, "x"), "doc", gold, keys)
    assert not citation_supports(CitedSpan("other", 150, 160, "x"), "doc", gold, keys)  # other document
    assert citation_supports(CitedSpan("doc", 500, 540, "averted 167 crimes"), "doc", gold, keys)  # quotes a key


def test_citation_precision_and_recall() -> None:
    # answer 1: one supporting of two; answer 2: none of one; answer 3: no citations
    support = [[T, F], [F], []]
    assert citation_precision(support) == pytest.approx(1 / 3)
    assert citation_recall(support) == pytest.approx(1 / 3)
    assert citation_precision([[T, T], [T, F]]) == pytest.approx(3 / 4)
    assert citation_recall([[T, T], [T, F]]) == 1.0
    assert citation_precision([[], []]) is None
    assert citation_recall([]) is None


def test_invariant_violations() -> None:
    texts = {"doc": "abcdef"}
    citations = [
        CitedSpan("doc", 1, 4, "bcd"),  # exact
        CitedSpan("doc", 1, 4, "bce"),  # wrong quote
        CitedSpan("doc", 4, 9, "ef"),  # past the end
        CitedSpan("gone", 0, 1, "a"),  # unknown document
    ]
    assert invariant_violations(citations, texts) == 3
    assert invariant_violations(citations[:1], texts) == 0


def test_refusal_scores_small_table() -> None:
    #  answerable: T  T  T  F  F
    #  refused:    F  T  F  T  F   -> 2 refusals, 1 right; 2 unanswerable, 1 refused; 1 false refusal
    scores = refusal_scores([T, T, T, F, F], [F, T, F, T, F])
    assert scores.precision == 0.5
    assert scores.recall == 0.5
    assert scores.false_refusals == 1
    assert scores.false_refusals_per_20 == pytest.approx(20 / 3)


def test_refusal_scores_edge_cases() -> None:
    never = refusal_scores([T, F], [F, F])
    assert never.precision is None and never.recall == 0.0 and never.false_refusals == 0
    perfect = refusal_scores([T, T, F, F], [F, F, T, T])
    assert perfect.precision == 1.0 and perfect.recall == 1.0 and perfect.false_refusals_per_20 == 0.0
    with pytest.raises(ValueError, match="2 gold labels but 1"):
        refusal_scores([T, F], [F])


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([4.0, 1.0, 3.0, 2.0], 0) == 1.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert math.isclose(percentile(list(map(float, range(101))), 95) or 0, 95.0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
