"""Word-level text handling shared by BM25 and the answer scorer: one tokenizer, one stemmer."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STEMMER = Stemmer.Stemmer("english")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "also", "did", "does", "tell", "say", "said", "says", "please", "according", "interview"]
)


# American spellings, folded into the British ones the interview uses, so "organization" finds
# "organisation" and "center" finds "centre". Suffixes: -ize/-yze in every form; the rest by stem.
_IZE = re.compile(r"^(\w{3,})(iz|yz)(e|es|ed|ing|ation|ations|er|ers|able)$")
_US_STEMS = {
    **{us: us[:-2] + "our" for us in ("armor", "behavior", "color", "endeavor", "favor", "harbor", "honor", "humor", "labor", "neighbor", "odor", "rumor", "savior", "valor", "vigor")},
    **{us: us[:-2] + "re" for us in ("caliber", "center", "fiber", "liter", "meager", "saber", "somber", "specter", "theater")},
    **{us: us[:-2] + "ce" for us in ("defense", "offense", "pretense")},
    **{us: us + "ue" for us in ("analog", "catalog", "dialog", "epilog", "monolog", "prolog")},
    "program": "programme",
    "gray": "grey",
    "judgment": "judgement",
    "maneuver": "manoeuvre",
    "enrollment": "enrolment",
}
_US_SUFFIXES = ("", "s", "es", "ed", "ing", "er", "ers", "al", "ally", "ly", "ful", "less", "able", "ist", "ists", "ism")
_DOUBLED_L = frozenset(["cancel", "channel", "counsel", "dial", "equal", "fuel", "label", "level", "marshal", "model", "signal", "total", "travel"])


def british(word: str) -> str:
    """A lower-case word in British spelling: "organization" → "organisation", "centers" → "centres"."""
    if m := _IZE.match(word):
        return m.group(1) + ("is" if m.group(2) == "iz" else "ys") + m.group(3)
    for cut in range(len(word), max(len(word) - 5, 2), -1):
        base, suffix = word[:cut], word[cut:]
        if suffix not in _US_SUFFIXES:
            continue
        if base in _US_STEMS:
            uk = _US_STEMS[base]
            # "centered" → "centred", "cataloged" → "catalogued": a vowel suffix takes the final "e"'s place.
            return (uk[:-1] if uk.endswith("e") and suffix[:1] in ("e", "i", "a") else uk) + suffix
        if base in _DOUBLED_L and suffix[:1] in ("e", "i"):
            return base + "l" + suffix  # "traveled" → "travelled"
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(british(word)))


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits), in order, stopwords kept."""
    return [w.lower() for w in _TOKEN.findall(text)]


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what BM25 indexes and what coverage counts."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
