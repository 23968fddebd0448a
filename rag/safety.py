"""Text that must not pass through as an answer: orders aimed at a model, and links.

A document may contain sentences that address a language model ("ignore all previous
instructions…") or links and images pointing outside. They stay in the corpus and can be read
in the document view, but no answer quotes them and no LLM prompt shows them.
"""

from __future__ import annotations

import re

_ORDER = (
    r"\b(?:"
    r"(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system)?\s*"
    r"(?:instructions?|prompts?|rules|directions|messages)"
    r"|system\s+prompt|you\s+are\s+now\b|new\s+instructions?"
    r")\b"
)
# Searching for the order alone is linear; the whole-sentence pattern starts only where a sentence
# does (text start or after . ! ? newline): unanchored, its leading [^.!?\n]* retried the rest of
# the sentence from every character (quadratic; ~1.5 ms per 200-character sentence).
_INJECTION_CORE = re.compile(_ORDER, re.IGNORECASE)
_INJECTION = re.compile(r"(?:^|(?<=[.!?\n]))[^.!?\n]*" + _ORDER + r"[^.!?\n]*[.!?]?", re.IGNORECASE)
_LINK = re.compile(r"https?://|\bwww\.|!\[[^\]]*\]\(|\]\([^)]*\)", re.IGNORECASE)
REDACTED = "[instruction-like text removed]"


def is_instruction_like(text: str) -> bool:
    return bool(_INJECTION_CORE.search(text))


def has_link(text: str) -> bool:
    return bool(_LINK.search(text))


def redact_instructions(text: str) -> str:
    """`text` with every sentence that gives the model orders replaced by a marker."""
    return _INJECTION.sub(REDACTED, text)
