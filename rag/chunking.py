"""Structure-aware chunking: paragraphs -> sentences -> overlapping sentence windows.

An interview is a run of paragraphs where the interviewer's questions and the first paragraph
of each answer start with a dash (`- `). Dash paragraphs alternate question, answer; plain
paragraphs continue the current answer. Chunks are windows of a few sentences inside one block
(the preamble, one question, or one answer), so a chunk never crosses from one answer into
another; every chunk records the question it answers as `section`.

All positions are offsets into the document text as stored: `text[chunk.start:chunk.end]` is the
chunk, and each sentence span likewise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.types import Chunk, Document, Span

# Words that end with a period without ending a sentence.
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "nos", "art", "fig", "gen", "gov", "sen", "rep", "inc", "ltd", "co", "corp", "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "cf", "al", "eg", "ie", "viz"]
)
_DASH = re.compile(r"[-–—]\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# A sentence may end at . ! ? … (then closing quotes/brackets) before whitespace.
_END = re.compile(r"[.!?…]+[’”\"')\]»]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘«(\[]?[A-Z0-9À-ÖØ-Þ\-–—]")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?$")
_HEADING = re.compile(r"#{1,6}\s+(.+)")


@dataclass(frozen=True, slots=True)
class Paragraph:
    start: int  # first character of the content (after any dash marker)
    end: int
    dashed: bool


@dataclass(frozen=True, slots=True)
class Block:
    """Consecutive paragraphs that belong together: a preamble, one question, or one answer."""

    kind: str  # "preamble" | "question" | "answer" | "text"
    section: str | None
    paragraphs: tuple[Paragraph, ...]


def iter_paragraphs(text: str) -> Iterator[Paragraph]:
    pos = 0
    for brk in [*_PARAGRAPH_BREAK.finditer(text), None]:
        stop = brk.start() if brk else len(text)
        raw = text[pos:stop]
        lead = len(raw) - len(raw.lstrip())
        start, end = pos + lead, pos + len(raw.rstrip())
        if end > start:
            dash = _DASH.match(text, start, end)
            if dash and dash.end() < end:
                yield Paragraph(dash.end(), end, dashed=True)
            else:
                yield Paragraph(start, end, dashed=False)
        pos = brk.end() if brk else len(text)


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"“‘'":
        word_start -= 1
    word = text[word_start : dot + 1]
    bare = word.rstrip(".").lower()
    return bare in ABBREVIATIONS or bool(_INITIALS.fullmatch(word) and len(bare) <= 4)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans inside `text[start:end]`, trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    sent_start = start
    for match in _END.finditer(text, start, end):
        stop = match.end()
        if not _NEXT_STARTS_SENTENCE.match(text, stop, end):
            continue
        first_dot = match.start()
        if text[first_dot] == "." and match.group().count(".") == 1 and _is_abbreviation(text, first_dot):
            continue
        spans.append(Span(sent_start, stop))
        sent_start = stop
    spans.append(Span(sent_start, end))
    trimmed = []
    for span in spans:
        piece = text[span.start : span.end]
        a = span.start + (len(piece) - len(piece.lstrip()))
        b = span.start + len(piece.rstrip())
        if b > a:
            trimmed.append(Span(a, b))
    return trimmed


def _looks_like_interview(text: str, paragraphs: list[Paragraph]) -> bool:
    questions = [p for p in paragraphs if p.dashed and text[p.start : p.end].rstrip().endswith("?")]
    return len(questions) >= 2


def split_blocks(text: str) -> list[Block]:
    paragraphs = list(iter_paragraphs(text))
    if not _looks_like_interview(text, paragraphs):
        return _plain_blocks(text, paragraphs)
    blocks: list[Block] = []
    current: list[Paragraph] = []
    kind, section = "preamble", None

    def flush() -> None:
        if current:
            blocks.append(Block(kind, section, tuple(current)))
            current.clear()

    for para in paragraphs:
        if para.dashed and kind != "question":
            # A dash paragraph after a preamble or an answer opens a new question.
            flush()
            kind, section = "question", " ".join(text[para.start : para.end].split())
        elif kind == "question":
            # Whatever follows a question (dashed or not) is the start of its answer.
            flush()
            kind = "answer"
        current.append(para)
    flush()
    return blocks


def _plain_blocks(text: str, paragraphs: list[Paragraph]) -> list[Block]:
    blocks: list[Block] = []
    section: str | None = None
    current: list[Paragraph] = []
    for para in paragraphs:
        heading = _HEADING.fullmatch(text[para.start : para.end])
        if heading:
            if current:
                blocks.append(Block("text", section, tuple(current)))
                current = []
            section = heading.group(1).strip()
        current.append(para)
    if current:
        blocks.append(Block("text", section, tuple(current)))
    return blocks


def _windows(sentences: list[Span], text: str, size: int, overlap: int, max_words: int) -> Iterator[list[Span]]:
    i = 0
    while i < len(sentences):
        window = [sentences[i]]
        words = len(text[sentences[i].start : sentences[i].end].split())
        j = i + 1
        while j < len(sentences) and len(window) < size:
            more = len(text[sentences[j].start : sentences[j].end].split())
            if words + more > max_words:
                break
            window.append(sentences[j])
            words += more
            j += 1
        yield window
        if j >= len(sentences):
            return
        i = max(i + 1, j - overlap)


def chunk_document(doc: Document, *, chunk_sentences: int = 3, chunk_overlap: int = 1, chunk_max_words: int = 120) -> list[Chunk]:
    text = doc.text
    chunks: list[Chunk] = []
    for block in split_blocks(text):
        sentences = [s for p in block.paragraphs for s in split_sentences(text, p.start, p.end)]
        kind = "text" if block.kind == "preamble" else block.kind
        for window in _windows(sentences, text, chunk_sentences, chunk_overlap, chunk_max_words):
            start, end = window[0].start, window[-1].end
            chunks.append(
                Chunk(
                    doc_id=doc.doc_id,
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    start=start,
                    end=end,
                    text=text[start:end],
                    section=block.section,
                    kind=kind,
                    sentences=tuple(window),
                )
            )
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What the models see for a chunk: an answer carries the question it answers as context."""
    if chunk.kind == "answer" and chunk.section:
        return f"{chunk.section}\n{chunk.text}"
    return chunk.text


@dataclass(frozen=True, slots=True)
class Section:
    start: int
    end: int
    question: str | None


def document_sections(text: str) -> list[Section]:
    """Spans of the document with the question each answers (a question belongs to its own section)."""
    return [Section(b.paragraphs[0].start, b.paragraphs[-1].end, b.section) for b in split_blocks(text)]
