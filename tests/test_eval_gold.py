"""The gold files themselves: well-formed, grounded in the interview, and covering all of it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from eval.gold import ITEM_TYPES, Conversation, GoldItem, evidence_spans, load_conversations, load_gold
from eval.metrics import TextSpan

MIN_PER_TYPE = {"factual": 15, "paraphrase": 12, "list": 8, "context": 8, "unanswerable": 18}
# Words a follow-up leans on to refer back to the previous turn.
REFERRING = re.compile(r"\b(it|its|they|them|their|that|those|this|these|he|his|she|her)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def gold() -> list[GoldItem]:
    return load_gold()


@pytest.fixture(scope="module")
def conversations() -> list[Conversation]:
    return load_conversations()


def test_enough_items_of_every_type(gold: list[GoldItem]) -> None:
    counts = Counter(item.type for item in gold)
    assert len(gold) >= 85
    for item_type in ITEM_TYPES:
        assert counts[item_type] >= MIN_PER_TYPE[item_type], (item_type, counts[item_type])


def test_ids_are_unique(gold: list[GoldItem], conversations: list[Conversation]) -> None:
    ids = [item.id for item in gold] + [c.id for c in conversations]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates


def test_questions_are_unique(gold: list[GoldItem]) -> None:
    questions = Counter(item.question.strip().lower() for item in gold)
    assert [q for q, n in questions.items() if n > 1] == []


def test_answerable_follows_type(gold: list[GoldItem]) -> None:
    for item in gold:
        assert item.answerable == (item.type != "unanswerable"), item.id
        assert item.question.strip().endswith("?"), item.id
        if item.answerable:
            assert item.answer.strip() and item.keys and item.evidence, item.id
        else:
            assert item.answer == "" and item.keys == () and item.evidence == (), item.id


def test_evidence_is_verbatim_and_unambiguous(gold: list[GoldItem], interview_text: str) -> None:
    # `str.find` locates evidence, so each string must occur exactly once.
    for item in gold:
        for quote in item.evidence:
            assert interview_text.count(quote) == 1, (item.id, quote, interview_text.count(quote))


def test_every_key_occurs_in_the_evidence(gold: list[GoldItem]) -> None:
    for item in gold:
        evidence = " ".join(item.evidence).lower()
        for fact in item.keys:
            for alternative in fact:
                assert alternative.lower() in evidence, (item.id, alternative)


def test_list_items_name_several_things(gold: list[GoldItem]) -> None:
    for item in gold:
        if item.type == "list":
            assert len(item.keys) >= 2, item.id


def _answer_paragraphs(text: str) -> list[TextSpan]:
    """The interviewee's paragraphs: after the first question, excluding the interviewer's
    questions and everything from the credit line on."""
    spans = []
    position = 0
    started = False
    for paragraph in text.split("\n"):
        start, end = position, position + len(paragraph)
        position = end + 1
        stripped = paragraph.strip()
        if stripped.startswith("Interview facilitated"):
            break
        is_question = stripped.startswith("- ") and stripped.endswith("?")
        if is_question:
            started = True
        elif started and stripped:
            spans.append(TextSpan(start, end))
    return spans


def test_gold_covers_every_answer_paragraph(gold: list[GoldItem], interview_text: str) -> None:
    evidence = [span for item in gold for span in evidence_spans(interview_text, item.evidence)]
    paragraphs = _answer_paragraphs(interview_text)
    assert len(paragraphs) >= 20  # the five answers, paragraph by paragraph
    uncovered = [interview_text[p.start : p.start + 60] for p in paragraphs if not any(p.overlaps(e) for e in evidence)]
    assert uncovered == []


def test_enough_conversations(conversations: list[Conversation]) -> None:
    assert len(conversations) >= 12


def test_conversation_turns_are_grounded(conversations: list[Conversation], interview_text: str) -> None:
    for conversation in conversations:
        assert len(conversation.turns) >= 2, conversation.id
        assert conversation.turns[0].answerable, conversation.id
        for turn in conversation.turns:
            if turn.answerable:
                assert turn.keys and turn.evidence, (conversation.id, turn.question)
            for quote in turn.evidence:
                assert interview_text.count(quote) == 1, (conversation.id, quote)
            evidence = " ".join(turn.evidence).lower()
            for fact in turn.keys:
                assert any(alt.lower() in evidence for alt in fact), (conversation.id, fact)
                assert all(alt.lower() in evidence for alt in fact), (conversation.id, fact)


def test_follow_ups_refer_back(conversations: list[Conversation]) -> None:
    for conversation in conversations:
        for turn in conversation.turns[1:]:
            assert REFERRING.search(turn.question), (conversation.id, turn.question)
