"""The word layer shared by BM25 and the answer scorer: American spellings meet the British text."""

from __future__ import annotations

import pytest

from rag.lexical import british, content_terms
from rag.pipeline import Pipeline


@pytest.mark.parametrize(
    ("us", "uk"),
    [
        ("organization", "organisation"),
        ("organizations", "organisations"),
        ("organized", "organised"),
        ("finalizing", "finalising"),
        ("analyze", "analyse"),
        ("center", "centre"),
        ("centers", "centres"),
        ("centered", "centred"),
        ("defense", "defence"),
        ("dialog", "dialogue"),
        ("program", "programme"),
        ("labor", "labour"),
        ("behaviors", "behaviours"),
        ("traveled", "travelled"),
        ("canceling", "cancelling"),
        # Words that only look American stay as they are.
        ("size", "size"),
        ("seize", "seize"),
        ("citizen", "citizen"),
        ("filled", "filled"),
        ("totally", "totally"),
        ("organisation", "organisation"),
    ],
)
def test_american_spellings_fold_into_british(us: str, uk: str) -> None:
    assert british(us) == uk


def test_both_spellings_give_the_same_terms() -> None:
    assert content_terms("Which organizations are centered on dialog?") == content_terms("Which organisations are centred on dialogue?")


def test_an_american_spelling_finds_the_british_text(pipeline: Pipeline) -> None:
    # The interview writes "organisations"; BM25 alone has no other way to match "organizations".
    bm25 = pipeline.configured(retrieval="bm25")
    us = bm25.search("Which regional organizations does the Executive Committee work with?")
    uk = bm25.search("Which regional organisations does the Executive Committee work with?")
    assert [h.chunk.chunk_id for h in us] == [h.chunk.chunk_id for h in uk]
    assert [h.score for h in us] == pytest.approx([h.score for h in uk])
