"""Parses `[n]` citation markers out of a model's answer and keeps only the valid ones.

Accepted forms: `[1]`, `[1][2]`, `[1, 2]`, `[1; 2]`, `[1-3]` (a short range) and
`[Passage 2]`. A number counts only if 1 <= n <= the number of passages the model was
given; `[0]`, out-of-range numbers and bracket groups with digits that are not a citation
(`[1a]`, `[2.5]`) are removed from the text and logged. Brackets without digits are text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_RANGE = 20
_GROUP = re.compile(r"\[([^\[\]]{0,60})\]")
_ITEM = re.compile(r"(?:(?:passages?|p\.?)\s*)?([0-9]{1,6})(?:\s*[-–]\s*([0-9]{1,6}))?", re.IGNORECASE)
_SEP = re.compile(r"\s*[,;]\s*|\s+and\s+", re.IGNORECASE)
_DIGIT = re.compile(r"\d")  # any Unicode digit: `[٣]` is junk, not 3
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[.,;:!?])")
_DOUBLE_SPACE = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True, slots=True)
class CitedText:
    text: str  # the answer with valid markers normalised to `[n]` and the rest removed
    numbers: tuple[int, ...]  # valid passage numbers, in order of first appearance
    dropped: tuple[str, ...]  # the marker texts that were removed


def _parse_group(inner: str) -> list[int] | None:
    """The numbers in a bracket group's inside, or None if it is not a citation list."""
    numbers: list[int] = []
    for part in _SEP.split(inner.strip()):
        match = _ITEM.fullmatch(part)
        if match is None:
            return None
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first or last - first > MAX_RANGE:
            return None
        numbers.extend(range(first, last + 1))
    return numbers


def extract_citations(answer: str, n_passages: int) -> CitedText:
    kept: list[int] = []
    dropped: list[str] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if not _DIGIT.search(inner):
            return match.group(0)  # "[sic]", "[...]": ordinary text
        numbers = _parse_group(inner)
        if numbers is None:
            dropped.append(match.group(0))
            return ""
        valid = [n for n in numbers if 1 <= n <= n_passages]
        if len(valid) < len(numbers):
            dropped.append(match.group(0))
        for n in valid:
            if n not in kept:
                kept.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    text = _GROUP.sub(replace, answer)
    while True:  # removing "[9]" from "[1[9]]" makes a new marker: repeat until nothing changes
        again = _GROUP.sub(replace, text)
        if again == text:
            break
        text = again
    if dropped:
        log.warning("dropped invalid citation markers %s (passages given: %d)", dropped, n_passages)
        text = _DOUBLE_SPACE.sub(" ", _SPACE_BEFORE_PUNCT.sub("", text)).strip()
    return CitedText(text, tuple(kept), tuple(dropped))
