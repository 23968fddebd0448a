"""The chunker: offsets reproduce the text, chunks respect the interview's structure."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import chunk_document, document_sections, split_blocks, split_sentences
from rag.corpus import load_document
from rag.types import Document
from tests.conftest import INTERVIEW


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document(INTERVIEW)


def test_offsets_reproduce_the_text(doc: Document) -> None:
    chunks = chunk_document(doc)
    assert chunks
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        for s in c.sentences:
            assert c.start <= s.start < s.end <= c.end
            assert doc.text[s.start : s.end].strip() == doc.text[s.start : s.end]


def test_interview_structure_is_recognised(doc: Document) -> None:
    blocks = split_blocks(doc.text)
    kinds = [b.kind for b in blocks]
    assert kinds[0] == "preamble"
    # Five questions, each followed by its answer.
    assert kinds[1:] == ["question", "answer"] * 5
    for q, a in zip(blocks[1::2], blocks[2::2], strict=True):
        assert q.section and q.section.endswith("?")
        assert a.section == q.section
    assert blocks[7].section == "What are the priority objectives of SCO RATS today?"


def test_no_chunk_crosses_an_answer_boundary(doc: Document) -> None:
    blocks = split_blocks(doc.text)
    spans = [(b.paragraphs[0].start, b.paragraphs[-1].end, b.section) for b in blocks]
    for c in chunk_document(doc):
        inside = [s for s in spans if s[0] <= c.start and c.end <= s[1]]
        assert len(inside) == 1, f"{c.chunk_id} spans several blocks"
        assert c.section == inside[0][2]


def test_every_sentence_is_covered(doc: Document) -> None:
    chunks = chunk_document(doc)
    covered = {(s.start, s.end) for c in chunks for s in c.sentences}
    all_sentences = {
        (s.start, s.end) for b in split_blocks(doc.text) for p in b.paragraphs for s in split_sentences(doc.text, p.start, p.end)
    }
    assert covered == all_sentences
    # Every non-blank character outside the dash markers lies in some chunk.
    in_chunks: set[int] = set()
    for c in chunks:
        in_chunks.update(range(c.start, c.end))
    stray = [i for i, ch in enumerate(doc.text) if not ch.isspace() and i not in in_chunks and ch != "-"]
    assert stray == []


def test_consecutive_chunks_overlap_by_a_sentence(doc: Document) -> None:
    chunks = chunk_document(doc, chunk_sentences=3, chunk_overlap=1)
    # A window of one long sentence (past the word cap) has nothing to share.
    same_section = [
        (a, b)
        for a, b in itertools.pairwise(chunks)
        if a.section == b.section and a.kind == b.kind and len(a.sentences) > 1
    ]
    assert len(same_section) >= 10
    for a, b in same_section:
        assert a.sentences[-1] == b.sentences[0]


@pytest.mark.parametrize(
    ("sentence_part", "must_stay_whole"),
    [
        ("Mr. V.T.Kasymov of Uzbekistan", True),
        ("the UN SC Counter-Terrorism Committee", True),
        ("counteract the ‘three evil forces’.", True),
        ("called Xiaomen-2015, on counteracting", True),
    ],
)
def test_sentence_splitting_copes_with_the_interview(doc: Document, sentence_part: str, must_stay_whole: bool) -> None:
    sentences = [doc.text[s.start : s.end] for s in split_sentences(doc.text)]
    assert any(sentence_part in s for s in sentences) == must_stay_whole


def test_sentence_splitting_splits_where_it_should() -> None:
    text = "Absolutely! The authorities act. Mr. Zhang Xinfeng of China helped. Is it so? Yes."
    parts = [text[s.start : s.end] for s in split_sentences(text)]
    assert parts == ["Absolutely!", "The authorities act.", "Mr. Zhang Xinfeng of China helped.", "Is it so?", "Yes."]


def test_plain_documents_use_headings_as_sections(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Budget\n\nThe budget grew. It doubled.\n\n# Staff\n\nThirty people work there.\n", encoding="utf-8")
    chunks = chunk_document(load_document(path))
    assert {c.section for c in chunks} == {"Budget", "Staff"}
    assert all(c.kind == "text" for c in chunks)


def test_sections_cover_the_answers(doc: Document) -> None:
    sections = document_sections(doc.text)
    quote = "Thus, the competent authorities of SCO member states have averted 167 terrorist"
    pos = doc.text.index(quote)
    owner = [s for s in sections if s.start <= pos < s.end]
    assert len(owner) == 1 and owner[0].question and owner[0].question.startswith("Please explain whether")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=600))
def test_offsets_reproduce_arbitrary_unicode(text: str) -> None:
    doc = Document(doc_id="x", path="x.txt", text=text, sha256="0")
    for c in chunk_document(doc, chunk_sentences=2, chunk_overlap=1, chunk_max_words=15):
        assert text[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text
        for s in c.sentences:
            assert c.start <= s.start < s.end <= c.end


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["- ", ""]), st.text(alphabet="abcXYZ .?!-\n’", min_size=1, max_size=80)),
        max_size=12,
    )
)
def test_structured_text_never_loses_a_word(parts: list[tuple[str, str]]) -> None:
    text = "\n\n".join(prefix + body for prefix, body in parts)
    doc = Document(doc_id="x", path="x.txt", text=text, sha256="0")
    chunks = chunk_document(doc)
    covered: set[int] = set()
    for c in chunks:
        assert text[c.start : c.end] == c.text
        covered.update(range(c.start, c.end))
    for i, ch in enumerate(text):
        if ch.isalpha():
            assert i in covered, f"letter at {i} not in any chunk"
