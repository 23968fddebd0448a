"""The word layer shared by BM25 and the answer scorer, and the question as it is searched:
American spellings meet the British text; greetings and polite wrappers come off."""

from __future__ import annotations

import pytest

from rag.lexical import Speller, british, content_terms
from rag.pipeline import Pipeline
from rag.retrieval import build_query, plain_question


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


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("Hi! How many weapons were seized?", "How many weapons were seized?"),
        ("Hey there, what does RATS do?", "what does RATS do?"),
        ("Hello, could you please tell me how many weapons were seized", "how many weapons were seized?"),
        ("Please tell me: who leads the Executive Committee?", "who leads the Executive Committee?"),
        ("Do you know who the director is?", "who the director is?"),
        ("I'd like to know when the exercise took place.", "when the exercise took place."),
        ("Could you tell me if Iran is an observer", "whether Iran is an observer?"),
        ("Thanks! And what about Pakistan?", "And what about Pakistan?"),
        # Nothing to take off, or too little left: the question stays as asked.
        ("How many weapons were seized?", "How many weapons were seized?"),
        ("If India joins, what changes?", "If India joins, what changes?"),
        ("Tell me more", "Tell me more"),
        ("Hi", "Hi"),
        ("SCO RATS budget", "SCO RATS budget"),
    ],
)
def test_a_question_is_searched_without_its_greeting_or_polite_wrapper(asked: str, searched: str) -> None:
    assert plain_question(asked) == searched
    assert build_query(asked).text == searched


def test_a_misspelt_word_is_corrected_to_the_corpus_word_one_edit_away() -> None:
    speller = Speller(["The terrorist organisations and the Executive Committee met. Terrorist acts."], frozenset({"funded", "foil"}))
    assert speller.correct("How many terorist organiations?") == "How many terrorist organisations?"
    assert speller.correct("the EXCECUTIVE Comittee") == "the EXECUTIVE Committee"  # case kept
    # Left alone: known English words (and their inflections), short words, words one edit from nothing.
    assert speller.correct("It was funded, foiled, met") == "It was funded, foiled, met"
    assert speller.correct("tset budgett") == "tset budgett"
    # Two different corpus words one edit away, equally frequent: no guess.
    assert Speller(["cart card"], frozenset()).correct_word("carts") == "carts"  # stem of "cart": kept
    assert Speller(["bears beard"], frozenset()).correct_word("bearx") == "bearx"


def test_a_misspelt_question_is_searched_as_if_spelt_right(pipeline: Pipeline) -> None:
    right = "Which organisations has SCO RATS executed cooperation acts with?"
    typed = "Which organsations has SCO RATS exceuted cooperation acts with?"
    assert pipeline.retriever.query(typed).text == right
    ranking = [(h.chunk.chunk_id, round(h.score, 6)) for h in pipeline.search(right)]
    assert [(h.chunk.chunk_id, round(h.score, 6)) for h in pipeline.search(typed)] == ranking
    # RAG_SPELL_CORRECT=false searches what was typed, and ranks other passages.
    off = pipeline.configured(spell_correct=False)
    assert off.retriever.query(typed).text == typed
    assert [(h.chunk.chunk_id, round(h.score, 6)) for h in off.search(typed)] != ranking
