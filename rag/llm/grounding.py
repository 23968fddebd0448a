"""A cheap check that an answer says nothing its cited passages do not.

Grounded means: at least one valid citation, and every number and every capitalised name in
the answer occurs in the passages it cites (together). Numbers are compared after removing
thousands separators ("1,500" == "1500"); names case-insensitively as whole words. Names are
runs of capitalised words; a sentence's first word is skipped (it is capitalised anyway)
unless it is an acronym like "NATO" or opens a multi-word name like "Yevgeniy Sysoyev".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rag.llm.citations import extract_citations

# Sentence-initial words that never start a name ("The SCO" is checked as "SCO").
# fmt: off
COMMON_WORDS = frozenset({
    "a", "about", "according", "after", "against", "all", "also", "although", "among", "an", "and", "as", "at",
    "because", "before", "besides", "between", "both", "but", "by", "currently", "during", "each", "every",
    "first", "for", "from", "furthermore", "he", "her", "here", "his", "how", "however", "i", "if", "in",
    "into", "it", "its", "many", "meanwhile", "moreover", "most", "mr", "mrs", "ms", "no", "not", "now", "of",
    "on", "one", "or", "our", "over", "since", "so", "some", "that", "the", "their", "then", "there",
    "therefore", "these", "they", "this", "those", "though", "through", "thus", "to", "today", "under", "upon",
    "we", "what", "when", "where", "which", "while", "who", "why", "with", "within", "without", "yes", "you",
})
# fmt: on
NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
}  # fmt: skip

_MARKER = re.compile(r"\[[^\[\]\n]*\]")
_LIST_ENUMERATOR = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]", re.MULTILINE)
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_][\w’'-]*")
# Skipped when looking back for a sentence end: spaces, opening quotes and brackets, bullets.
_OPENERS = " \t\"'“‘([-*•"
_APOSTROPHE = str.maketrans({"’": "'", "‘": "'"})


@dataclass(frozen=True, slots=True)
class Grounding:
    ok: bool
    reason: str | None = None  # e.g. "no_citations", "ungrounded_number: 170"


def normalize_number(token: str) -> str:
    token = re.sub(r",(?=\d{3}(?!\d))", "", token)
    return str(int(token)) if token.isdigit() else token


def numbers_in(text: str) -> list[str]:
    return [normalize_number(m.group(0)) for m in _NUMBER.finditer(text)]


def names_in(text: str) -> list[str]:
    """Capitalised names in `text`, as written (sentence-initial ordinary words skipped)."""
    names: list[str] = []
    run: list[str] = []
    run_initial = False
    prev_end = 0

    def flush() -> None:
        words = list(run)
        if run_initial and words[0].lower() in COMMON_WORDS:
            words = words[1:]
        elif run_initial and len(words) == 1 and not _is_acronym(words[0]):
            words = []  # a lone capitalised first word: ordinary, as far as we can tell
        if words:
            names.append(" ".join(words))

    for match in _WORD.finditer(text):
        word, gap = match.group(0), text[prev_end : match.start()]
        before = text[: match.start()].rstrip(_OPENERS)
        initial = not before or before[-1] in ".!?:;\n"
        capital = word[0].isupper() and word != "I"
        if run and (not capital or gap != " " or initial):
            flush()
            run = []
        if capital:
            if not run:
                run_initial = initial
            run.append(word.rstrip("'’-"))
        prev_end = match.end()
    if run:
        flush()
    return names


def _is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


def _norm(text: str) -> str:
    return " ".join(text.translate(_APOSTROPHE).lower().split())


def _strip_possessive(name: str) -> str:
    return re.sub(r"'s$", "", name.translate(_APOSTROPHE))


def check_grounding(answer: str, cited: Mapping[int, str]) -> Grounding:
    """Is `answer` backed by `cited` (passage number -> passage text, the valid cited ones)?"""
    numbers = extract_citations(answer, max(cited, default=0)).numbers
    evidence = "\n".join(cited[n] for n in numbers if n in cited)
    if not evidence:
        return Grounding(False, "no_citations")
    body = _LIST_ENUMERATOR.sub("", _MARKER.sub(" ", answer))

    known_numbers = set(numbers_in(evidence))
    known_numbers |= {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", evidence.lower()) if w in NUMBER_WORDS}
    for number in numbers_in(body):
        if number not in known_numbers:
            return Grounding(False, f"ungrounded_number: {number}")

    haystack = _norm(evidence)
    for name in names_in(body):
        needle = _norm(_strip_possessive(name))
        if not re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack):
            return Grounding(False, f"ungrounded_name: {name}")
    return Grounding(True)
