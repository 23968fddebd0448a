"""The extractive answerer: the sentences of the retrieved chunks that best answer the question,
quoted verbatim with `[n]` markers — or an honest "the interview does not say".

Sentence score = cosine(question, sentence) + share of the question's words found in the
sentence (rare words weigh more) + cosine(question, the sentence's chunk with its interview
question) + a prior from the chunk's rank. A sentence that is itself a question never answers,
unless the question is about what the interviewer asked.

Whether to answer at all is a logistic decision over evidence signals (`EvidenceSignals`),
with weights fitted on labelled questions by `python -m eval.calibrate` and kept in settings.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

import bm25s
import numpy as np

from rag.chunking import embedding_text
from rag.index import SearchIndex, SentenceKey
from rag.lexical import (
    PLACE_NAMES,
    STOPWORDS,
    asked_title,
    asks_current_holder,
    asks_former_holder,
    content_terms,
    has_title,
    quantities,
    quantity_values,
    speaks_of_former,
    spelt_out,
    starts_sentence,
    stem,
    word_spans,
    words,
)
from rag.retrieval import Query, founds_a_body, names_document
from rag.safety import has_link, is_instruction_like
from rag.settings import Settings
from rag.types import Answer, Citation, Hit

NOT_IN_INTERVIEW = "The interview does not say."
NOTHING_MORE = "The interview says nothing more on this."

_TERMINAL = re.compile(r"[.!?…][’”\"')\]]*$")
_QUESTION_END = re.compile(r"\?[’”\"')\]]*$")
# A request to be told, as an interviewer puts a question without a question mark.
_REQUEST = re.compile(
    r"^[\s\-–—]*(?:please\s+|(?:could|would|can)\s+you\s+(?:please\s+)?)?"
    r"(?:explain|tell\s+(?:us|me|our\s+readers)|describe|comment\s+on|elaborate|clarify|share\s+with\s+us|give\s+us)\b",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"['’]s?$")
_ANY_WORD = re.compile(r"[^\W_][\w’'\-]*")
_PRONOUN_I = re.compile(r"I(['’](m|ve|d|ll))?")  # "I", "I'm": capitalised, but not a name
_SPECIFIC = re.compile(r"\b(?:\d[\d,.\-]*\d|\d|[A-Z][\w’'\-]*)")
_QUESTION_WORDS = frozenset(
    ["what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should", "has", "have", "had", "the", "a", "an", "in", "on", "at", "of", "for", "to", "and", "or", "but", "if", "please", "tell", "list", "name", "give", "according", "mr", "mrs", "ms"]
)
# A sentence an earlier answer quoted counts as repeated (scored down, and passed over for a new
# one within the answer margin) unless it holds at least this share, IDF-weighted, of the
# follow-up's own words: "Which one was from China?" after the predecessors points back at them.
# Measured on 45 follow-ups of my own: .1–.3 give the same answers; .01 loses "And how many
# terrorists were liquidated?" to the 167 crimes quoted before, .4 two that .3 gains.
_POINTS_BACK = 0.2
_CARDINALS = frozenset(
    ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "dozen", "dozens", "several"]
)
_YEAR = re.compile(r"(1[6-9]|20)\d\d")
_BEFORE_YEAR = frozenset(
    "in since by from until till of during before after through for the and or to between early late mid spring summer autumn fall winter year circa".split()  # noqa: SIM905
)
_NOT_PLURAL = frozenset("this thus always perhaps sometimes whereas besides news series".split())  # noqa: SIM905
_MONTHS = frozenset(["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"])
_EXPECTS_DATE = re.compile(
    r"^\s*(when\b|(in )?(what|which) years?\b|(on )?(what|which) dates?\b"
    r"|(what|which)(['’]s|\s+is|\s+was)?\s+the\s+(year|date)\b)",
    re.I,
)
# A question about what the interviewer asked or said: then the interviewer's words are the answer.
_ABOUT_INTERVIEWER = r"\b(interviewer|journalist|correspondent|reporter)s?\b|\b(was|were|is|did|does) ({who}) (being )?asked\b"
_ASKED = "he|she|they|the director|the interviewee"
_YES_NO = re.compile(r"^\s*(do|does|did|is|are|was|were|can|could|will|would|has|have|had|should|whether)\b", re.I)
# "When will…?", "When is it expected to be signed?": a date after the source was published answers.
_FUTURE_WHEN = re.compile(
    r"^\s*(?:when|(?:(?:on|in|by)\s+)?(?:what|which)\s+(?:date|year|day|month))(?:\s+(?:exactly|precisely|roughly|approximately))?\s+"
    r"(?:(?:will|shall)\b|(?:is|are)\b.*\b(?:expected|going|planned|scheduled|due|set)\s+to\b)",
    re.I,
)
# "…: how many?", "…, when?", "… in which year?" closing a question that opened otherwise.
_ASKED_LAST = re.compile(
    r"(?:[,:;]|\s[—–-])?\s+(?P<wh>how many|how much|how long|how old|when|(?:in |on )?(?:what|which) (?:year|date))\s*[?!.]*\s*$",
    re.I,
)
_WH_OPENING = re.compile(r"^\s*(what|which|who|whom|whose|where|why|how|when)\b", re.I)
# "the next SCO summit", "the upcoming exercise": what a question asks the next of follows.
_NEXT = re.compile(r"\b(?:next|upcoming|coming)\s+", re.I)
_PAST_TENSE = re.compile(r"\b(?:was|were|did|had)\b", re.I)
# A sentence that speaks of what is to come.
_SPEAKS_OF_LATER = re.compile(r"\b(?:will|shall|going\s+to)\b", re.I)
_RELATIVE_FUTURE = re.compile(
    r"\b(next|coming|upcoming) (year|month|week|summit|session)\b|\bsoon\b|\bnear future\b|\bby the end of\b", re.I
)
_EXPECTS_NUMBER = re.compile(
    r"^\s*(how many\b|how much\b|how old\b|what number\b|what percentage\b|how long\b"
    r"|((what|which)(['’]s|\s+is|\s+was|\s+were|\s+are)?\s+)?the\s+((total|overall|exact)\s+)?"
    r"(number|amount|count|quantity|percentage|share|proportion)\s+of\b)",
    re.I,
)
# "How long…?", "For how long…?", "How old…?": a span of time ("for over 12 years") or the year it
# runs from ("since its inception in 2004"), not any count ("the 'three evil forces'").
_EXPECTS_DURATION = re.compile(r"^\s*(?:(?:for|since)\s+)?how\s+(?:long|old)\b", re.I)
_TIME_UNITS = frozenset("year years month months week weeks day days decade decades hour hours minute minutes".split())  # noqa: SIM905
# "How often…?", "How frequently…?": how often something happens ("organised annually",
# "regularly attend", "twice a year"), not a count or a date.
_EXPECTS_FREQUENCY = re.compile(r"^\s*how\s+(?:often|frequently|regularly)\b|^\s*how\s+many\s+times\s+(?:a|an|per|each|every)\b", re.I)
_FREQUENCY = re.compile(
    r"\b(?:annually|yearly|monthly|weekly|daily|quarterly|regularly|periodically|frequently|often|biennially|annual|"
    r"(?:every|each)\s+(?:\w+\s+)?(?:year|month|week|day|quarter)s?|(?:once|twice|\w+\s+times)\s+(?:a|an|per)\s+\w+)\b",
    re.I,
)
# A question about a share: "What percentage of…?", "What proportion of…?", "the share of…". Answered
# by a percentage or a fraction, not by any count ("averted 167 crimes" says no percentage).
_EXPECTS_SHARE = re.compile(
    r"^\s*(?:(?:what|which)\s+(?:percentage|per\s?cent|share|proportion|fraction)\b|how\s+many\s+per\s?cent\b"
    r"|(?:(?:what|which)(?:['’]s|\s+is|\s+was|\s+were|\s+are)?\s+)?the\s+(?:(?:total|overall|exact)\s+)?(?:percentage|share|proportion|fraction)\s+of\b)",
    re.I,
)
# "What languages…?", "In which language…?", "What is the official language of…?": a language's name.
_EXPECTS_LANGUAGE = re.compile(
    r"^\s*(?:(?:in\s+)?(?:what|which)\s+(?:(?:official|working|main|other)\s+)*languages?\b"
    r"|(?:(?:what|which)(?:['’]s|\s+is|\s+was|\s+were|\s+are)?\s+)?the\s+(?:(?:official|working|main)\s+)*languages?\s+of\b)",
    re.I,
)
# "Where…?", "In which city…?", "Which country hosted…?": a place, named after "in" or "at" ("signed
# in Yekaterinburg", "at the Ufa Summit"). Not "Where is he from?", which a person's "of Uzbekistan"
# answers.
_EXPECTS_PLACE = re.compile(
    r"^\s*(?:where\b(?!.*\bfrom\W*$)|(?:in\s+)?(?:what|which)\s+(?:city|town|capital|venue|location|place)\b"
    r"|in\s+(?:what|which)\s+country\b|(?:what|which)\s+country\s+(?:will\s+)?host(?:s|ed)?\b)",
    re.I,
)
# "Which month…?", "On what exact day…?", "the exact date…": a day or a month, not only a year.
_EXPECTS_DAY = re.compile(
    r"^\s*(?:(?:on|in)\s+)?(?:what|which)(?:['’]s|\s+is|\s+was)?\s+(?:the\s+)?(?:(?:exact|precise)\s+)?(?:day|month)s?\b"
    r"|\b(?:exact|precise)\s+(?:day|date)s?\b|\bday\s+and\s+month\b",
    re.I,
)
# "Where does he mention the UN?", "Where in the interview…?": a passage, not a place.
_WHERE_IN_TEXT = re.compile(
    r"^\s*where\b.*\b(?:mention(?:s|ed)?|say(?:s)?|said|talk(?:s|ed)?|discuss(?:es|ed)?|speak(?:s)?|spoke|refer(?:s|red)?|"
    r"describe(?:s|d)?|write(?:s)?|wrote|quote(?:s|d)?|in\s+the\s+(?:interview|text|article|document))\b",
    re.I,
)
# A place in a sentence, after "in" or "at" and a few words of its own ("at the last…"): a name that
# is not an acronym nor a month ("in China", "signed in Yekaterinburg", not "In October 2015" nor
# "…credit in the SCO RATS’ establishment"), or a meeting that acronyms name ("at the last SCO RATS
# meeting").
_PLACE = re.compile(
    r"\b(?i:in|at)\s+(?:the\s+)?(?:[a-z]+\s+){0,2}"
    rf"(?:(?!(?:{'|'.join(sorted(m.capitalize() for m in _MONTHS))})\b)[A-Z][a-z]"
    r"|(?:[A-Z][\w’'-]*\s+){1,3}(?:meeting|summit|session|conference|forum|congress)s?\b)"
)
# A capitalised word just before "in" or "at": they are inside a name ("…Illegal Trade in Narcotics…",
# "…Agreement on Cooperation in the Area of…"), not before a place.
_NAME_GOES_ON = re.compile(r"\b[A-Z][\w’'-]*\s+$")


def has_place(text: str) -> bool:
    """Whether the text names a place after "in" or "at" (`_PLACE`), outside a longer name."""
    return any(not _NAME_GOES_ON.search(text, 0, m.start()) for m in _PLACE.finditer(text))


_LANGUAGES = frozenset(
    ["english", "russian", "chinese", "mandarin", "cantonese", "arabic", "french", "spanish", "portuguese", "german", "italian", "japanese", "korean", "hindi", "urdu", "bengali", "persian", "farsi", "dari", "pashto", "turkish", "kazakh", "kyrgyz", "uzbek", "tajik", "turkmen", "mongolian", "belarusian", "ukrainian", "polish", "dutch", "greek", "hebrew", "swahili", "malay", "indonesian", "thai", "vietnamese", "tamil", "telugu", "punjabi", "armenian", "azerbaijani", "georgian", "latin", "uyghur", "tatar"]
)
_SHARE = re.compile(
    r"%|\bper\s?cent\b|\bpercentage\b|\b(?:half|halves|thirds?|quarters?|fifths?|tenths?|majority|minority)\b"
    r"|\b\w+\s+(?:out\s+of|in\s+every)\s+\w+\b",
    re.I,
)
# A question about an amount of money: "How much money…?", "How much does it cost?", "What is the
# budget…?", "What salary…?". Answered by a sum: a currency, or a number beside a money word.
_MONEY_WORDS = (
    r"money|funds?|funding|budgets?|salary|salaries|wages?|pay|paid|costs?|price|prices|fees?|income|revenues?|"
    r"spending|expenditures?|spend|spent|earn|earns|earned|worth"
)
_AMOUNT_NOUNS = r"budgets?|salary|salaries|wages?|costs?|price|prices|fees?|income|revenues?|spending|expenditures?"
_EXPECTS_MONEY = re.compile(
    rf"^\s*(how much\b.*\b({_MONEY_WORDS})\b|(what|which)(['’]s)?\b(\s+[\w’']+){{0,3}}\s+({_AMOUNT_NOUNS})\b"
    rf"|how (big|large|high|small|low)\b(\s+[\w’']+){{0,4}}\s+({_AMOUNT_NOUNS})\b"
    r"|((what|which)(['’]s|\s+is|\s+was|\s+were)?\s+)?the\s+((total|overall|exact)\s+)?(amount|sum)\s+of\s+(money|funds?|funding)\b)",
    re.I
)
_MONEY_NOUN = re.compile(rf"\b({_MONEY_WORDS})\b", re.I)
_CURRENCY = re.compile(
    r"[$€£¥₽₹]|\b(dollars?|euros?|pounds sterling|roubles?|rubles?|yuan|renminbi|tenge|soms?|rupees?|"
    r"USD|EUR|RUB|CNY|GBP|KZT|UZS|INR)\b",
    re.I,
)


class Reading(NamedTuple):
    """A question as the answerer reads it (ExtractiveAnswerer.read)."""

    terms: list[str]  # content terms of the question (and its context, for a follow-up)
    kind: str | None  # the kind of answer it wants (expected_type)
    counted: str | None  # the stemmed noun a "how many" question counts (counted_noun)
    asked: list[str]  # its numbers and names (specifics)
    asked_values: list[float | None]  # the value of each of `asked` that is a number ("1,500": 1500.0)
    yes_no: bool
    about_interviewer: bool  # it asks what the interviewer asked (asks_about_interviewer)
    current_holder: bool = False  # it asks who holds a post now (rag.lexical.asks_current_holder)
    former_holder: bool = False  # it asks who held a post before (rag.lexical.asks_former_holder)
    next_of: tuple[str, ...] = ()  # what it asks the next of, stemmed ("the next SCO summit": summit)

    @property
    def names(self) -> list[str]:
        """The names it asks about: `asked` without its numbers."""
        return [t for t in self.asked if not t[:1].isdigit()]


@dataclass(frozen=True, slots=True)
class EvidenceSignals:
    """What the abstention decision looks at."""

    coverage: float  # IDF-weighted share of the question's terms present in the top chunks, 0..1
    dense: float  # best cosine between question and a candidate sentence
    bm25: float  # best BM25 score divided by the number of query terms
    missing: float  # numbers and names of the question absent from the evidence (capped at 2)
    type_mismatch: float  # 1 when the answer lacks the kind of answer the question wants (a date, count, place…)
    # The question names something the interview names, and the evidence has all it names: no
    # off-topic question, whatever the cosine (not a feature of the fitted model).
    named: bool = False

    def features(self) -> tuple[float, ...]:
        return (self.coverage, self.dense, self.bm25, self.missing, self.type_mismatch)

    def probability(self, s: Settings) -> float:
        weights = (s.refuse_w_coverage, s.refuse_w_dense, s.refuse_w_bm25, s.refuse_w_missing, s.refuse_w_type)
        z = s.refuse_bias + sum(w * x for w, x in zip(weights, self.features(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def refuses(self, s: Settings) -> bool:
        """Whether the evidence is too weak to answer from: no sentence is near the question at
        all (an off-topic question), or the fitted model says the interview does not say."""
        return (self.dense < s.refuse_min_dense and not self.named) or self.probability(s) < s.refuse_threshold


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    key: SentenceKey
    chunk_id: str
    score: float
    features: tuple[float, ...]  # one value per SENTENCE_FEATURES

    @property
    def dense(self) -> float:
        return self.features[0]

    @property
    def lexical(self) -> float:
        return self.features[1]


# What a candidate sentence is scored on; its score is the weighted sum (weights in Settings,
# fitted on labelled questions by `python -m eval.calibrate --sentences`).
SENTENCE_FEATURES = (
    "dense",  # cosine(question, sentence)
    "lexical",  # IDF-weighted share of the question's words in the sentence (a follow-up's: or of its own words, if more)
    "context",  # cosine(question, the sentence's chunk or the interviewer's question it answers)
    "rank",  # 1 / rank of the chunk the sentence came from
    "question_chunk",  # 1 when the sentence is the interviewer's
    "heading",  # 1 when it does not end like a sentence (headline, byline)
    "lead_match",  # cosine to the interviewer's question, for the opening sentence of a close match
    "type_match",  # 1 when the sentence has the kind of answer the question wants (a date, count, place…: expected_type)
    "specifics",  # share of the question's numbers and names in the sentence (0 unless weighted)
    "length",  # log(1 + distinct words)
    "repeated",  # 1 when an earlier answer quoted the sentence (and it holds little of the follow-up's own words)
    "nearby",  # 1 when a follow-up's sentence is in the answer the previous answer quoted from
)


# The setting that weighs each feature, and its sign (a penalty is stored positive).
SENTENCE_WEIGHT_SETTINGS = (
    ("answer_w_dense", 1),
    ("answer_w_lexical", 1),
    ("answer_w_chunk", 1),
    ("answer_w_rank", 1),
    ("answer_question_penalty", -1),
    ("answer_heading_penalty", -1),
    ("answer_w_match", 1),
    ("answer_w_type", 1),
    ("answer_w_specifics", 1),
    ("answer_w_length", 1),
    ("answer_repeat_penalty", -1),
    ("answer_w_nearby", 1),
)


def sentence_weights(s: Settings) -> tuple[float, ...]:
    """The weight of each of SENTENCE_FEATURES under these settings."""
    return tuple(sign * float(getattr(s, name)) for name, sign in SENTENCE_WEIGHT_SETTINGS)


# An answer sentence that points at the interviewer's words: "All the countries you have listed…".
_POINTS_AT_QUESTION = re.compile(
    r"\byou(?:['’]ve|\s+have)?\s+(?:just\s+)?(?:listed|mentioned|named|cited|enumerated|referred\s+to)\b"
    r"|\bas\s+you\s+(?:said|say|mentioned|noted|put\s+it)\b",
    re.IGNORECASE,
)


# A sentence that says something came to be ("…since the first days of its inception in 2004").
_CAME_TO_BE = re.compile(r"\b(?:inception|founding|foundation|establishment|creation|formation|inauguration|launch)\b", re.IGNORECASE)


def _names_whole(text: str, name: str) -> bool:
    """Whether the text names `name` as a whole name, capitalised as names are, and not as the
    start of a longer one: "RATS" and "SCO RATS" are in "…SCO RATS had been…", "SCO" is not (there
    it is part of SCO RATS), nor "Cooperation" in "…close cooperation with…"."""
    tokens = [t.group() for t in word_spans(text)]
    asked = words(name)
    n = len(asked)
    for i in range(len(tokens) - n + 1):
        found = tokens[i : i + n]
        if [t.lower() for t in found] == asked and all(t[:1].isupper() or t[:1].isdigit() for t in found):
            after = tokens[i + n] if i + n < len(tokens) else ""
            if not after[:1].isupper():
                return True
    return False


_ALL_WORDS = 0.99  # an IDF-weighted coverage of all the question's words (rounding aside)
_WHY = re.compile(r"\s*(?:why|how\s+come|for\s+what\s+reason)\b", re.I)
# A question that asks for things by name: "Which international organisations does RATS cooperate
# with?", "What countries are observers?", "What are its partners?", "Who are its partners?".
_WHICH_ONES = re.compile(
    r"\s*(?:(?:which|what)\s+(?:[\w’'-]+\s+){0,2}?[a-z]+[^s\W]s\s+(?:do|does|did|are|were|is|was|has|have|had|will|can|could)\b"
    r"|(?:which|what)\s+(?:are|were)\s+(?:the|its|their)\s+(?:[\w’'-]+\s+){0,2}?[a-z]+[^s\W]s\b"
    r"|who\s+(?:are|were)\b)",
    re.I,
)
_NAMES_IN_A_LIST = 3  # a sentence that names this many things the question does not, lists them
_MOST_SENTENCES = 3  # an answer quotes one to three sentences (the answer contract)
_NAMED = re.compile(r"(?<=\s)[A-Z][\w’'-]*")  # a capitalised word, not the first


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the extractive answerer weighed for one question."""

    scored: tuple[ScoredSentence, ...]
    chosen: tuple[ScoredSentence, ...]
    signals: EvidenceSignals


def is_question(sentence: str) -> bool:
    """A question: it ends with a question mark, or asks to be told ("Please explain whether…",
    "Tell us about…", "Could you describe…")."""
    return bool(_QUESTION_END.search(sentence.rstrip()) or _REQUEST.match(sentence))


def is_unquotable(sentence: str) -> bool:
    """Orders aimed at a model and links are never quoted, whatever the question."""
    return is_instruction_like(sentence) or has_link(sentence)


def is_answer_candidate(sentence: str) -> bool:
    """A question never answers; orders aimed at a model and links are never quoted as answers."""
    return not (is_question(sentence) or is_unquotable(sentence))


# Pronouns that stand for something named before ("Which countries belong to it?"), and "there"
# where it is a place ("How many people work there?"), not in "Is there…?" or "there are…".
_BACK_REFERENCE = re.compile(r"\b(?:it|its|they|them|their|theirs)\b", re.IGNORECASE)
_THERE = re.compile(r"\b(is|are|was|were|will|has|have|had|be|been)?\s*\bthere\b\s*(is|are|was|were|will|has|have|had|be|been|'s)?", re.IGNORECASE)


def refers_back(question: str) -> bool:
    """Whether a question points back with a pronoun to something named before it."""
    return bool(_BACK_REFERENCE.search(question)) or any(not (m.group(1) or m.group(2)) for m in _THERE.finditer(question))


# A follow-up that asks what brought about what was just said: "What made that possible?", "How did
# they manage that?", "Why was it so successful?", "How come?".
_ASKS_CAUSE = re.compile(
    r"^\s*(?:(?:and|but|so|ok|okay|then)[\s,]+)*(?:"
    r"what\s+(?:has\s+|had\s+)?(?:made|makes|make|allowed|allows|enabled|enables|led\s+to|leads\s+to|caused|causes|"
    r"contributed\s+to|helped|brought\s+about|was\s+behind|is\s+behind|explains)\s+(?:that|this|it|those|these|them|such)\b"
    r"|how\s+(?:did|do|does|could|can|were|was|have|has)\s+(?:they|he|it|we|you|rats|the\s+\w+)\s+(?:manage|achieve|accomplish|pull)\w*\b"
    r".*\b(?:that|this|it|those|these|them|off)\b"
    r"|how\s+come\b"
    r"|why\s+(?:was|were|is|are|has|have)\s+(?:it|that|this|they|those|these|them)\b.*\b(?:successful|effective|possible|high|good)\b"
    r"|(?:thanks\s+to|due\s+to|because\s+of)\s+what\b)",
    re.I,
)
# A sentence that states a consequence of what comes before it: "Thus, …", "As a result, …".
_CONSEQUENCE = re.compile(r"^(?:Thus|Therefore|Hence|Consequently|Accordingly|As\s+a\s+result|In\s+consequence)\s*,", re.I)


def asks_cause(question: str) -> bool:
    """Whether a follow-up asks what brought about what the previous answer said."""
    return bool(_ASKS_CAUSE.match(question))


# Words that may come before what a question asks without changing it: "And how many…?", "So
# when…?", "Roughly how many…?", "OK but does…?". The rules that read a question's opening skip them.
_LEAD_IN = re.compile(
    r"^\s*(?:(?:and|but|so|also|then|ok|okay|well|now|roughly|approximately|about|around|exactly|precisely|just)(?=[\s,])[\s,]*)+",
    re.I,
)


def opening(question: str) -> str:
    """The question from the word that says what it asks: "And roughly how many…?" → "how many…?"."""
    return _LEAD_IN.sub("", question, count=1)


def is_yes_no(question: str) -> bool:
    """"Do…?", "Is…?", "Will…?": answered by the opening of the matching answer ("Absolutely!").
    Not "Was the convention adopted: when?", which asks when."""
    return bool(_YES_NO.match(opening(question))) and not _ASKED_LAST.search(question)


def asked_first(question: str) -> str:
    """A question that asks for a date or a number last ("Crimes averted in 2015: how many?", "The
    convention was adopted when?"), turned to ask it first ("how many Crimes averted in 2015?"),
    so the rules that read a question's opening read it. Words before its opening that do not
    change what it asks go ("Roughly how many…?" asks how many)."""
    question = opening(question)
    m = _ASKED_LAST.search(question)
    if not m or not question[: m.start()].strip() or _WH_OPENING.match(question):
        return question  # nothing before it, or a question of its own ("What was signed, and when?")
    return f"{m.group('wh')} {question[: m.start()].strip()}?"


def about_interviewer_pattern(interviewees: Iterable[str] = ()) -> re.Pattern[str]:
    """What asks about the interviewer's words: "the interviewer", "was he asked", "was <any word of
    an interviewee's name> asked"."""
    names = sorted({w for name in interviewees for w in words(name)}, key=len, reverse=True)
    return re.compile(_ABOUT_INTERVIEWER.format(who="|".join([_ASKED, *map(re.escape, names)])), re.I)


def asks_about_interviewer(question: str, pattern: re.Pattern[str] | None = None) -> bool:
    """"Which countries did the interviewer ask about?": the interviewer's own questions answer it."""
    return bool((pattern or _ABOUT_ANYONE).search(question))


_ABOUT_ANYONE = about_interviewer_pattern()


def specifics(question: str, names: Set[str] = frozenset()) -> list[str]:
    """Numbers and names in a question (not its opening word, question words or "I").

    Names are the capitalised words. When the question's case says nothing (all lower case, all
    capitals, Every Word Capitalised: see `case_blind`), they are instead its words that the
    corpus writes as names (`name_words`).
    """
    if case_blind(question):
        return [
            token
            for token in (_POSSESSIVE.sub("", m.group()) for m in _ANY_WORD.finditer(question))
            if token[0].isdigit() or (token.lower() in names and token.lower() not in _QUESTION_WORDS and not _PRONOUN_I.fullmatch(token))
        ]
    out = []
    for m in _SPECIFIC.finditer(question):
        token = m.group()
        if m.start() == len(question) - len(question.lstrip()):
            continue  # the question's first word is capitalised anyway
        token = _POSSESSIVE.sub("", token)  # "SCO's" asks about the SCO
        if token.lower() in _QUESTION_WORDS or _PRONOUN_I.fullmatch(token):
            continue
        out.append(token)
    return out


def _vocabulary(text: str, cached: bool = True) -> frozenset[str]:
    """A text's words and content terms: what the missing-name check looks a name up in.
    `cached=False` for long texts read once (a whole exchange): they would crowd term_sets' cache."""
    terms, words_ = term_sets(text) if cached else term_sets.__wrapped__(text)
    return terms | words_


class _Postings:
    """Which chunks hold each search term, read straight from the BM25 index (its columns list
    the chunks of each term): the chunks in which a name is found, without reading every chunk's
    words for each name (at 10,000 chunks that took 1.6 s a name, and a word set per chunk held
    56 MB)."""

    def __init__(self, bm25: bm25s.BM25) -> None:
        self._indices = np.asarray(bm25.scores["indices"])
        self._indptr = np.asarray(bm25.scores["indptr"])
        self._column: dict[str, int] = bm25.vocab_dict
        self._sorted = sorted(self._column)

    def _chunks(self, term: str) -> np.ndarray:
        column = self._column.get(term)
        if column is None or column + 1 >= len(self._indptr):
            return self._indices[:0]
        return self._indices[self._indptr[column] : self._indptr[column + 1]]

    def holding(self, token: str) -> set[int]:
        """The chunks that have every word of `token` as a term, as `_present` reads it: the word,
        its term ("India’s": "india"), or (five letters or more) a term sharing its first five letters."""
        held: set[int] | None = None
        for part in words(token):
            terms = content_terms(part)
            if not terms:
                continue  # a stopword or an initial ("The", "M."): in nearly every chunk, no constraint
            keys = {part, *terms}
            if len(part) >= 5:
                at = bisect.bisect_left(self._sorted, part[:5])
                while at < len(self._sorted) and self._sorted[at].startswith(part[:5]):
                    keys.add(self._sorted[at])
                    at += 1
            found = {int(i) for k in keys for i in self._chunks(k)}
            held = found if held is None else held & found
            if not held:
                return set()
        return held or set()


def _missing(reading: Reading, vocabulary: Set[str], values: Set[float]) -> int:
    """How many of the question's numbers and names are not in the text these were read from.

    A number is there however it is written: "1,500" is "1500", "1000" is "about a thousand".
    """
    return sum(
        1
        for token, value in zip(reading.asked, reading.asked_values, strict=True)
        if not (_present(token, vocabulary) or (value is not None and value in values))
    )


def asked_values(question: str, asked: Sequence[str]) -> list[float | None]:
    """The value of each number among a question's specifics, read with the scale word after it
    ("200,000" → 200000.0, "200 thousand" → 200000.0); None for a name."""
    spans = quantities(question)
    out: list[float | None] = []
    for token in asked:
        value = None
        if token[:1].isdigit():
            at = question.find(token)
            value = next((v for start, end, v in spans if start <= at < end), None)
        out.append(value)
    return out


def case_blind(question: str) -> bool:
    """Whether capitals in the question fail to tell names apart: all lower case, all capitals, or
    Title Case (four words in five after the first capitalised, "of" and "the" too)."""
    if not any(c.isalpha() for c in question):
        return False
    if question == question.lower() or question == question.upper():
        return True
    rest = [w for w in _ANY_WORD.findall(question)[1:] if w[0].isalpha()]
    return len(rest) >= 3 and sum(w[0].isupper() for w in rest) >= 0.8 * len(rest)


def name_words(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased words a text writes capitalised inside sentences and never in lower case
    ("india", "xiaomen-2015", "rats"): what a question whose case says nothing still names."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        for m in _ANY_WORD.finditer(text):
            token = m.group()
            if "'" in token or "’" in token:
                token = _POSSESSIVE.sub("", token)
            if token[0].islower():
                lower.add(token)
            elif token[0].isupper() and token.lower() not in capitalised and not starts_sentence(text[max(0, m.start() - 8) : m.start()]):
                capitalised.add(token.lower())
    return frozenset(w for w in capitalised - lower - _QUESTION_WORDS if len(w) > 1)


def _present(token: str, vocabulary: Set[str]) -> bool:
    parts = words(token)
    return all(p in vocabulary or stem(p) in vocabulary or any(v.startswith(p[:5]) for v in vocabulary if len(p) >= 5) for p in parts)


@lru_cache(maxsize=65536)
def term_sets(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """A text's content terms (stemmed) and its lower-cased words, computed once per distinct text."""
    return frozenset(content_terms(text)), frozenset(words(text))


class SentenceFacts(NamedTuple):
    terms: frozenset[str]  # content terms (stemmed)
    vocabulary: frozenset[str]  # lower-cased words
    terminal: bool  # ends like a sentence
    question: bool  # ends with a question mark
    unquotable: bool  # an order aimed at a model, or a link (see is_unquotable)
    has_date: bool
    has_number: bool
    has_money: bool
    has_share: bool
    has_duration: bool
    has_frequency: bool
    has_place: bool
    has_day: bool

    def has_kind(self, kind: str | None) -> bool:
        """Whether the sentence has what a question wanting `kind` (expected_type) asks for; for
        "future", any date (the publication year is read in ExtractiveAnswerer.has_kind)."""
        field = _FACT_OF_KIND.get(kind or "")
        return field is not None and bool(getattr(self, field))

    @property
    def candidate(self) -> bool:
        """May be quoted as an answer (see is_answer_candidate)."""
        return not (self.question or self.unquotable)

    @property
    def quotable_question(self) -> bool:
        """A question, otherwise quotable: it answers what the interviewer asked."""
        return self.question and not self.unquotable


# A citation marker in an answer: "… [1] … [2]".
_MARKER = re.compile(r"\s*\[\d+\]\s*")
_LEAD_IN_END = re.compile(r"[.:]\s+")

# The SentenceFacts field that says whether a sentence has what a question of each kind wants.
_FACT_OF_KIND = {
    "date": "has_date",
    "future": "has_date",
    "number": "has_number",
    "money": "has_money",
    "share": "has_share",
    "duration": "has_duration",
    "frequency": "has_frequency",
    "place": "has_place",
    "day": "has_day",
}


@lru_cache(maxsize=65536)
def sentence_facts(sentence: str) -> SentenceFacts:
    """What the scorer needs from a sentence's text, computed once per distinct sentence."""
    return SentenceFacts(
        *term_sets(sentence),
        bool(_TERMINAL.search(sentence)),
        is_question(sentence),
        is_unquotable(sentence),
        has_type(sentence, "date"),
        has_type(sentence, "number"),
        has_type(sentence, "money"),
        has_type(sentence, "share"),
        has_type(sentence, "duration"),
        has_type(sentence, "frequency"),
        has_type(sentence, "place"),
        has_type(sentence, "day"),
    )


# The kind of answer "Who is the Director of…?" wants, the title after it: "holder:director".
HOLDER = "holder:"


def expected_type(question: str) -> str | None:
    """What kind of answer the question's opening asks for: "future" (a date to come), "date",
    "day" (a day or month named: "Which month…?", "On what exact date…?"),
    "money", "share" (a percentage or fraction), "duration" (how long), "frequency" (how often),
    "number", "language" (a language's name), "place" (a place named after "in" or "at"), or the
    holder of a post the question names ("holder:director": a sentence that names the post;
    `rag.lexical.asked_title`).
    A question that asks it last is read as if it asked it first (`asked_first`)."""
    question = asked_first(question)
    if _FUTURE_WHEN.match(question):
        return "future"
    if _EXPECTS_MONEY.match(question):
        return "money"
    if _EXPECTS_SHARE.match(question):
        return "share"
    if _EXPECTS_LANGUAGE.match(question):
        return "language"
    if _EXPECTS_PLACE.match(question) and not _WHERE_IN_TEXT.match(question):
        return "place"
    if _EXPECTS_DAY.search(question):
        return "day"
    if _EXPECTS_DATE.match(question):
        return "date"
    if _EXPECTS_DURATION.match(question):
        return "duration"
    if _EXPECTS_FREQUENCY.match(question):
        return "frequency"
    if _EXPECTS_NUMBER.match(question):
        return "number"
    if title := asked_title(question):
        return HOLDER + title
    return None


_COUNTING = re.compile(
    r"\s*(?:how\s+many|(?:(?:what|which)(?:['’]s|\s+is|\s+was|\s+were|\s+are)?\s+)?the\s+(?:(?:total|overall|exact)\s+)?number\s+of)"
    r"\s+(?:(?:of\s+)?(?:the|its|their|these|those)\s+)?",
    re.I,
)
_IRREGULAR_PLURALS = frozenset("people men women children staff personnel police troops".split())  # noqa: SIM905


def next_of(question: str) -> tuple[str, ...]:
    """What a question asks the next of, stemmed: the common words (up to three, not names) after
    "next", "upcoming" or "coming", up to a small word. "Which city will host the next SCO summit?"
    → ("summit",). Nothing for a question in the past tense ("Who was the next director after
    Kasymov?" asks of an earlier one)."""
    m = _NEXT.search(question)
    if not m or _PAST_TENSE.search(question):
        return ()
    out: list[str] = []
    for word in re.findall(r"[\w'’-]+|[^\w\s]", question[m.end() :])[:3]:
        if not word[0].isalnum() or word.lower() in STOPWORDS:
            break
        if word.islower():
            out.extend(content_terms(word))
    return tuple(out)


def earlier_one(text: str, asked: Sequence[str], published: int | None) -> bool:
    """Whether `text` speaks of an earlier one of what a question asks the next of (`next_of`): it
    names it, with dates only before the year its document was `published`, and says nothing of
    what is to come. "…at the Ufa Summit in 2015…" is not the next SCO summit of a 2016 interview."""
    if published is None or not asked or _SPEAKS_OF_LATER.search(text) or _RELATIVE_FUTURE.search(text):
        return False
    years = _years(text)
    return bool(years) and all(y < published for y in years) and not set(asked).isdisjoint(content_terms(text))


def counted_noun(question: str) -> str | None:
    """The noun a "how many" question counts, stemmed: the first plural among the (up to four)
    words after "how many" or "the number of". "How many member states does the SCO have?" →
    "state", "What is the number of improvised explosive devices seized?" → "devic". None for
    another question, or when no plural follows ("How many took part?")."""
    question = asked_first(question)
    m = _COUNTING.match(question)
    if not m:
        return None
    for token in words(question[m.end() :])[:4]:
        if _is_plural(token):
            terms = content_terms(token)
            return terms[0] if terms else None
    return None


# Words for people counted: "How many people were charged?" is answered by "…over 200 persons".
_PEOPLE = frozenset({"peopl", "person", "individu"})


def _is_plural(word: str) -> bool:
    word = word.lower()
    return word in _IRREGULAR_PLURALS or (len(word) > 3 and word.endswith("s") and not word.endswith("ss"))


def counts(text: str, counted: str | None, window: int = 5) -> bool | None:
    """Whether a count in `text` counts `counted` (a stemmed noun: counted_noun), that noun being
    among the few words after it: "averted 167 terrorist and extremist crimes" counts crimes, not
    the member states named before it. None when the text does not name the noun at all (a
    paraphrase may count it: "150 terrorists" for "militants"), or when nothing is counted."""
    if counted is None:
        return None
    tokens = word_spans(text)
    stems = [stem(t.group().lower()) for t in tokens]
    alike = _PEOPLE if counted in _PEOPLE else {counted}
    if alike.isdisjoint(stems):
        return None
    # Counted in the plural, as asked: "167 terrorist and extremist crimes" counts crimes, not terrorists.
    plural = [s in alike and _is_plural(t.group()) for s, t in zip(stems, tokens, strict=True)]
    return any(any(plural[i + 1 : i + 1 + window]) for i in _count_positions(text, tokens))


def has_type(text: str, kind: str, published: int | None = None) -> bool:
    """Whether a text has what a "when" question (a date), a "how many" question (a count), a
    "how long" one (a span of time), a "how often" one (annually, twice a year…), a "where" one (a
    place after "in" or "at"), a "which month" one (a month: "day") or a question about money (a
    sum: `has_money`) wants.

    For a question about the future ("future"), a date counts only when it is not before the year
    the text was `published` (or it says "next year", "soon"…); without that year, any date does.
    """
    if kind.startswith(HOLDER):
        return has_title(text, kind.removeprefix(HOLDER))
    if kind == "language":
        return not _LANGUAGES.isdisjoint(words(text))
    if kind == "place":
        return has_place(text)
    if kind == "money":
        return has_money(text)
    if kind == "share":
        return bool(_SHARE.search(text))
    if kind == "duration":
        return has_duration(text)
    if kind == "frequency":
        return bool(_FREQUENCY.search(text))
    if kind not in ("date", "future", "day"):
        return has_count(text)
    if kind == "future" and _RELATIVE_FUTURE.search(text):
        return True
    has_month = bool(_MONTHS.intersection(words(text)))
    if kind == "day":
        return has_month
    years = _years(text)
    if kind == "future" and published is not None:
        return any(y >= published for y in years) or (not years and has_month)
    return has_month or bool(years)


def _years(text: str) -> list[int]:
    """The years a text names (four digits from 1600 to 2099), not the numbers inside names, nor
    a count that happens to look like a year ("averted 2000 attacks")."""
    tokens = word_spans(text)
    return [
        int(m.group())
        for i, m in enumerate(tokens)
        if _YEAR.fullmatch(m.group()) and not _in_name(text, m) and not _year_like_count(tokens, i)
    ]


def _year_like_count(tokens: Sequence[re.Match[str]], i: int) -> bool:
    """A number in the years' range that counts: a plural noun follows it, and no word that comes
    before a year ("in", "since", "the", a month…) precedes it. "blocked 2000 websites" counts;
    "in 2015 terrorists…", "the 2015 exercises" and "2015 was…" are years."""
    after = tokens[i + 1].group() if i + 1 < len(tokens) else ""
    before = tokens[i - 1].group().lower() if i > 0 else ""
    return (
        len(after) > 3
        and after.isalpha()
        and after.islower()
        and after.endswith("s")
        and not after.endswith("ss")
        and after not in _NOT_PLURAL
        and before not in _BEFORE_YEAR
        and before not in _MONTHS
    )


def _in_name(text: str, m: re.Match[str]) -> bool:
    """A number joined to a word by a hyphen ("Xiaomen-2015", "G-20") names something; "2015-2017" does not."""
    return m.start() > 1 and text[m.start() - 1] == "-" and text[m.start() - 2].isalpha()


def has_money(text: str) -> bool:
    """A sum of money: a currency ("$5", "3 million roubles"), or a count beside a money word ("a budget of 40 million")."""
    return bool(_CURRENCY.search(text)) or (bool(_MONEY_NOUN.search(text)) and has_count(text))


def has_duration(text: str) -> bool:
    """A span of time ("for over 12 years", "the last 10-15 years") or the year it runs from
    ("since the first days of its inception in 2004")."""
    tokens = word_spans(text)
    lowered = [t.group().lower() for t in tokens]
    since = next((t.start() for t, w in zip(tokens, lowered, strict=True) if w in ("since", "from")), None)
    if since is not None and _years(text[since:]):
        return True
    return any(not _TIME_UNITS.isdisjoint(lowered[i + 1 : i + 3]) for i in _count_positions(text, tokens))


def has_count(text: str) -> bool:
    """A number that counts something: not a year, a day of a month, an ordinal or part of a name.

    "In October 2015 … Xiaomen-2015 … the first" has none; "167 crimes", "two hundred devices" do.
    A four-digit number from 1600 to 2099 reads as a year unless a plural noun follows it and no
    word that comes before a year precedes it ("blocked 2000 websites"; see _year_like_count).
    """
    return next(_count_positions(text, word_spans(text)), None) is not None


def _count_positions(text: str, tokens: Sequence[re.Match[str]]) -> Iterator[int]:
    """The indices, among the text's `tokens`, of the words that count (see has_count)."""
    for i, m in enumerate(tokens):
        token = m.group().lower()
        if token in _CARDINALS:
            yield i
            continue
        if not token.isdigit() or (_YEAR.fullmatch(token) and not _year_like_count(tokens, i)):
            continue
        if _in_name(text, m):
            continue
        neighbours = {tokens[j].group().lower() for j in (i - 1, i + 1) if 0 <= j < len(tokens)}
        if len(token) <= 2 and neighbours & _MONTHS:
            continue  # "17 June", "June 17"
        yield i


class ExtractiveAnswerer:
    def __init__(
        self,
        index: SearchIndex,
        texts: dict[str, str],
        settings: Settings,
        published: Mapping[str, int] | None = None,
        interviewees: Iterable[str] = (),
    ) -> None:
        self.index = index
        self.texts = texts
        self.settings = settings
        self.published = dict(published or {})  # doc_id → the year it was published, when known
        # What a question typed in lower case still names: the corpus's names, and any country or
        # people ("who signed it for russia": the interview never names Russia).
        self.names = name_words(texts.values()) | PLACE_NAMES
        # The interviewee's name in a question ("Who does Sysoyev credit…?") names the speaker of
        # every answer, not a fact the evidence must hold: it is never missing from the evidence.
        self._voice = frozenset(w for name in interviewees for w in words(name))
        self._voice_terms = frozenset(content_terms(" ".join(interviewees)))
        self._about_interviewer = about_interviewer_pattern(self._voice)
        # Document frequency per term straight from the BM25 matrix (CSC: one column per term).
        vocab: dict[str, int] = index.bm25.vocab_dict
        df = np.diff(np.asarray(index.bm25.scores["indptr"]))
        n_docs = max(len(index.chunks), 1)
        self._idf = {term: math.log(1 + (n_docs - df[i] + 0.5) / (df[i] + 0.5)) for term, i in vocab.items() if i < len(df)}
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)
        # The opening sentence of each answer: when the question repeats the interviewer's, it leads.
        self._lead_sentence: dict[int, SentenceKey] = {}
        for position, chunk in enumerate(index.chunks):
            section = index.chunk_section[position]
            if chunk.kind == "answer" and section >= 0 and section not in self._lead_sentence:
                first = chunk.sentences[0]
                self._lead_sentence[section] = SentenceKey(chunk.doc_id, first.start, first.end)
        # The interview questions that ask yes or no ("Do the SCO RATS' experts cooperate…?"): only
        # their answers open with a yes or no for a yes/no question that restates them. "Is Interpol
        # a partner of RATS?" is close to "What are the priority objectives of SCO RATS today?", but
        # that answer's opening says no yes.
        self._yes_no_sections = frozenset(
            index.chunk_section[position]
            for position, chunk in enumerate(index.chunks)
            if chunk.kind == "question" and any(is_yes_no(texts[chunk.doc_id][span.start : span.end]) for span in chunk.sentences)
        )
        # The chunks of each interview question and its answer; what they say is read when first
        # needed (section_words), not for every section at start.
        self._section_chunks: dict[int, list[int]] = {}
        for position in range(len(index.chunks)):
            if (section := index.chunk_section[position]) >= 0:
                self._section_chunks.setdefault(section, []).append(position)
        self._section_words: dict[int, tuple[frozenset[str], frozenset[float]]] = {}
        # Which chunks hold each term, for the names a question asks about (see anchor).
        self._postings = _Postings(index.bm25)
        # The sentence after each answer sentence, within its answer (chunks never cross answers),
        # and after each sentence of plain text (an article, an interview's opening lines). The
        # opening lines go on into the first answer: "Tell me more" after "What is the interview
        # about?" reads on into the interview, past the interviewer's first question.
        self._next_sentence: dict[SentenceKey, SentenceKey] = {}
        opening_end: dict[str, SentenceKey] = {}
        for chunk in index.chunks:
            keys = [SentenceKey(chunk.doc_id, span.start, span.end) for span in chunk.sentences]
            if chunk.kind in ("answer", "text"):
                self._next_sentence.update(itertools.pairwise(keys))
            if chunk.kind == "text" and keys:
                opening_end[chunk.doc_id] = max(keys[-1], opening_end.get(chunk.doc_id, keys[-1]), key=lambda k: k.start)
            elif chunk.kind == "answer" and keys and (end := opening_end.pop(chunk.doc_id, None)) and end.start < keys[0].start:
                self._next_sentence.setdefault(end, keys[0])
        self._sentence_texts = {k: texts[k.doc_id][k.start : k.end] for k in index.sentence_keys if k.doc_id in texts}
        self._openings: dict[str, list[int]] = {}
        self._self_references: dict[str, list[SentenceKey]] = {}

    def section_words(self, section: int) -> tuple[frozenset[str], frozenset[float]]:
        """What an interview question and its answer say (words, terms, and the values of their
        numbers), for the names and numbers a question asks about; read once per section."""
        found = self._section_words.get(section)
        if found is None:
            chunks = [self.index.chunks[i] for i in self._section_chunks.get(section, [])]
            text = " ".join([chunks[0].section or "" if chunks else "", *(c.text for c in chunks)])
            found = self._section_words[section] = (_vocabulary(text, cached=False), quantity_values(text))
        return found

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unknown_idf)

    def weighted_coverage(self, terms: Sequence[str], present: Set[str]) -> float:
        unique = set(terms)
        if not unique:
            return 0.0
        total = sum(self.idf(t) for t in unique)
        return sum(self.idf(t) for t in unique if t in present) / total

    def read(self, query: Query) -> Reading:
        """What the scorer and the abstention signals need from the question, read once per answer."""
        asked = self._asked(query)
        carried = self._carried(query, asked)
        terms = content_terms(query.full)
        # The interviewee's name says whose words are asked for, not which: it is in the byline
        # only, so it counts as a word of the question only when no other word of it is in the
        # interview ("What is Sysoyev's position?" is about him; "What does Sysoyev say about
        # Afghanistan?" is about Afghanistan).
        searched = [t for t in terms if t not in self._voice_terms]
        return Reading(
            terms=searched if any(t in self._idf for t in searched) else terms,
            kind=(kind := expected_type(query.text)),
            counted=counted_noun(query.text) if kind == "number" else None,
            asked=asked + carried,
            asked_values=asked_values(query.text, asked) + [None] * len(carried),
            yes_no=is_yes_no(query.text),
            about_interviewer=asks_about_interviewer(query.text, self._about_interviewer),
            current_holder=asks_current_holder(query.text),
            former_holder=asks_former_holder(query.text),
            next_of=next_of(query.text),
        )

    def _asked(self, query: Query) -> list[str]:
        """The question's numbers and names."""
        return self._specifics(query.text)

    def _specifics(self, text: str) -> list[str]:
        """The numbers and names of a question (specifics), but the interviewee's."""
        return [t for t in specifics(text, self.names) if not set(words(t)) <= self._voice]

    def _carried(self, query: Query, asked: Sequence[str]) -> list[str]:
        """The names a follow-up asks about through a pronoun: the previous question's ("Which
        countries belong to it?" after "What is the G7?" asks about the G7)."""
        if not query.context or not refers_back(query.text):
            return []
        return [t for t in self._specifics(query.context) if not t[:1].isdigit() and t not in asked]

    def signals(
        self, reading: Reading, hits: Sequence[Hit], scored: Sequence[ScoredSentence], chosen: Sequence[ScoredSentence]
    ) -> EvidenceSignals:
        terms, kind = reading.terms, reading.kind
        present: set[str] = set()
        vocabulary: set[str] = set()
        values: set[float] = set()
        for hit in hits[:3]:
            text = embedding_text(hit.chunk)
            chunk_terms, chunk_words = term_sets(text)
            present |= chunk_terms
            vocabulary |= chunk_words
            values |= quantity_values(text)
        vocabulary |= present
        missing = _missing(reading, vocabulary, values)
        best = [max(chosen, key=lambda c: c.score)] if chosen else []
        mismatch = kind is not None and not self.has_kind(best, kind, reading.counted)
        if not mismatch and best and reading.counted in self._idf:
            # A noun the interview uses, which the count's sentence does not name: what it counts is
            # something else ("How many suicide bombers were detained?" is not "…averted 167
            # crimes…"; the interview names suicide bombers elsewhere, and counts none). A noun it
            # never uses may be a paraphrase of what is counted ("militants" for "150 terrorists").
            mismatch = counts(self._sentence_texts[best[0].key], reading.counted) is None
        if not mismatch and best and reading.next_of:
            # "Which city will host the next SCO summit?" is not answered by "…at the Ufa Summit in
            # 2015…": what it asks the next of, dated before the document, is an earlier one.
            key = best[0].key
            mismatch = earlier_one(self._sentence_texts[key], reading.next_of, self.published.get(key.doc_id))
        title = kind.removeprefix(HOLDER) if kind and kind.startswith(HOLDER) else None
        if title and best and not mismatch and (named := [t for t in reading.names if not has_title(t, title)]):
            # A post of something the question names: "Who was in charge of it?" after a question
            # about Xiaomen-2015 is not answered by "…Director of the SCO RATS Executive Committee…".
            # One of its names will do: the interview may write the others otherwise.
            rests_on = sentence_facts(self._sentence_texts[best[0].key]).vocabulary
            mismatch = not any(all(w in rests_on or stem(w) in rests_on for w in words(t)) for t in named)
        coverage = self.weighted_coverage(terms, present)
        return EvidenceSignals(
            coverage=coverage,
            dense=max((s.dense for s in scored), default=0.0),
            bm25=max((h.bm25_score or 0.0 for h in hits), default=0.0) / max(len(set(terms)), 1),
            missing=float(min(missing, 2)),
            # The sentence the answer rests on must have it: a count in a second one ("…the two
            # countries' competent authorities…") answers no "How many staff work at RATS?".
            type_mismatch=float(mismatch),
            named=(
                coverage >= _ALL_WORDS
                and bool(reading.names)
                and not missing
                and all(w in self.names for t in reading.names for w in words(t))
            ),
        )

    @staticmethod
    def _has_kind(facts: SentenceFacts, sentence: str, kind: str | None) -> bool:
        """Whether the sentence has what the question's answer type wants: a date, count, sum or
        share (read once per sentence: `SentenceFacts`), or the post asked about ("Who were the
        previous bosses of…?" wants a sentence that names a Director). Not a language's name: the
        names of peoples are those of languages too ("…M.U.Subanov of the Kyrgyz Republic…")."""
        if kind is not None and kind.startswith(HOLDER):
            return has_type(sentence, kind)
        return facts.has_kind(kind)

    def has_kind(self, chosen: Sequence[ScoredSentence], kind: str, counted: str | None = None) -> bool:
        """Whether one of the sentences, read with its document's publication year, has `kind`.

        Each sentence on its own: a money word in one and a count in another make no sum.
        """
        return any(
            has_type(text := self.texts[c.key.doc_id][c.key.start : c.key.end], kind, self.published.get(c.key.doc_id))
            and counts(text, counted) is not False
            for c in chosen
        )

    def score_sentences(self, query: Query, reading: Reading, vector: np.ndarray, hits: Sequence[Hit]) -> list[ScoredSentence]:
        """Every candidate sentence of the hits, scored and best first."""
        terms, about_interviewer = reading.terms, reading.about_interviewer
        seen: set[SentenceKey] = set()
        candidates: list[tuple[SentenceKey, Hit, int]] = []
        for rank, hit in enumerate(hits, 1):
            for span in hit.chunk.sentences:
                key = SentenceKey(hit.chunk.doc_id, span.start, span.end)
                if key in seen:
                    continue
                sentence = self.texts[key.doc_id][key.start : key.end]
                facts = sentence_facts(sentence)
                if reading.current_holder and speaks_of_former(sentence):
                    continue  # "Who is the Director of RATS?" is not answered by the former directors
                if reading.former_holder and self._voice_terms.intersection(facts.terms):
                    continue  # nor "Who was the Director of RATS before him?" by the interviewee
                if facts.candidate or (about_interviewer and facts.quotable_question):
                    seen.add(key)
                    candidates.append((key, hit, rank))
        if not candidates:
            return []
        context_cos = {id(h): self._context_cos(h, vector) for h in hits}
        w = self.settings
        leads: dict[SentenceKey, float] = {}
        threshold = min(w.answer_match_threshold, w.answer_yes_no_threshold) if reading.yes_no else w.answer_match_threshold
        restated = []
        for rank, hit in enumerate(hits, 1):
            section = self.index.chunk_section[hit.position]
            lead = self._lead_sentence.get(section)
            if lead is not None and (not reading.yes_no or section in self._yes_no_sections):
                match = float(self.index.section_vectors[section] @ vector)
                if match >= threshold:
                    restated.append((match, section, lead, hit, rank))
        # Restating an interview question is not enough when the question names what that
        # exchange never mentions ("Does RATS work with the CIS?" is not "Do RATS' experts
        # cooperate with India…?"): then no interview question is taken as restated.
        if restated and not _missing(reading, *self.section_words(max(restated, key=lambda r: r[0])[1])):
            for match, section, lead, hit, rank in restated:
                if _missing(reading, *self.section_words(section)):
                    continue
                leads[lead] = max(match, leads.get(lead, 0.0))
                if lead not in seen and lead.doc_id == hit.chunk.doc_id:
                    seen.add(lead)
                    candidates.append((lead, hit, rank))
        rows = [self.index.sentence_row[k] for k, _, _ in candidates]
        sentence_cos = self.index.sentence_vectors[rows] @ vector
        kind, asked = reading.kind, reading.asked
        weights = sentence_weights(self.settings)
        specifics_weight = weights[SENTENCE_FEATURES.index("specifics")]
        scored = []
        own_terms = content_terms(query.text) if query.said or query.context else []  # a follow-up's own words
        # A kind of answer the previous question did not ask for ("When exactly was it held?" after
        # "What is the Xiamen-2015 exercise?"): the sentence quoted for it may hold it after all.
        newly_asked = kind is not None and bool(query.context) and expected_type(query.context) != kind
        # Where the conversation is: the interview's answers the previous answer quoted from.
        nearby = self._quoted_sections(query.said[-1]) if query.context and query.said else frozenset()
        for (key, hit, rank), cos, row in zip(candidates, sentence_cos, rows, strict=True):
            sentence = self.texts[key.doc_id][key.start : key.end]
            facts = sentence_facts(sentence)
            typed = self._has_kind(facts, sentence, kind)
            lexical = self.weighted_coverage(terms, facts.terms)
            if query.context:
                # A follow-up's own words say what is asked now; the previous question's words,
                # the topic. "What was its objective?" after "What was Xiaomen-2015?": the sentence
                # with "objective" and not the name scores as well as one with the name alone.
                lexical = max(lexical, self.weighted_coverage(own_terms, facts.terms))
            features = (
                float(cos),
                lexical,
                context_cos[id(hit)],
                1.0 / rank,
                # The interviewer's words answer only when nothing else does, or when asked about.
                # The sentence's own chunk, not the hit's: an answer's opening sentence comes in
                # with the interviewer's question it answers (`leads`), and is not theirs.
                float(self._interviewers(key) and not about_interviewer),
                float(not facts.terminal),  # a headline or byline, not a statement
                leads.get(key, 0.0),
                float(typed and counts(sentence, reading.counted) is not False),
                # Weight 0 by default (see eval.calibrate): then not worth computing.
                sum(_present(t, facts.vocabulary) for t in asked) / len(asked) if asked and specifics_weight else 0.0,
                math.log1p(len(facts.vocabulary)),
                float(
                    any(sentence in said for said in query.said)
                    and self.weighted_coverage(own_terms, facts.terms) < _POINTS_BACK
                    # No repeat when it holds what is asked now: the date or count newly asked
                    # for, or a count of the very noun asked about ("how many crimes…").
                    and not (newly_asked and typed)
                    and not counts(sentence, reading.counted)
                ),
                float(bool(nearby) and self._section_of(key) in nearby),
            )
            score = sum(weight * value for weight, value in zip(weights, features, strict=True))
            inside = hit.chunk.start <= key.start and key.end <= hit.chunk.end
            chunk_id = hit.chunk.chunk_id if inside else self.index.chunks[self.index.sentence_chunks[row][0]].chunk_id
            scored.append(ScoredSentence(key, chunk_id, score, features))
        scored.sort(key=lambda s: -s.score)
        return scored

    def _context_cos(self, hit: Hit, vector: np.ndarray) -> float:
        """How well the chunk, or the interviewer's question it answers, matches the question."""
        chunk = float(np.asarray(self.index.dense.reconstruct(hit.position)) @ vector)
        section = self.index.chunk_section[hit.position]
        return max(chunk, float(self.index.section_vectors[section] @ vector)) if section >= 0 else chunk

    def select(self, scored: Sequence[ScoredSentence], yes_no: bool = False, counted: str | None = None) -> list[ScoredSentence]:
        s = self.settings
        if not scored:
            return []
        # What the conversation already quoted is not quoted again while something new is close.
        said = SENTENCE_FEATURES.index("repeated")
        fresh = [c for c in scored if not c.features[said]]
        if fresh and len(fresh) < len(scored) and fresh[0].score >= scored[0].score - s.answer_margin:
            scored = fresh
        first = scored[0]
        rest = list(scored[: s.answer_max_sentences + 2])
        opens = False  # whether the first sentence only says yes or no, and the next says how
        counting = counted is not None and self._counts(first, counted)  # the first counts the noun asked
        if counted is not None and not counting:
            # "How many terrorists…?" of a noun the interview uses: a close sentence that counts
            # it ("150 terrorists were liquidated…") leads, and those above it give way, rather
            # than a best that counts something else ("…averted 167 terrorist and extremist crimes").
            at = next((i for i, c in enumerate(scored) if c.score >= first.score - s.answer_margin and self._counts(c, counted)), None)
            if at is not None:
                first, counting = scored[at], True
                rest = list(scored[at : at + s.answer_max_sentences + 2])
        if counting:
            # Nor does a sentence that names the noun but counts something else join it.
            rest = [c for c in rest if counts(self._sentence_texts[c.key], counted) is not False]
        if yes_no:
            # A yes/no question that restates an interviewer's question: that answer's opening
            # sentence says yes or no ("Absolutely!"), whatever its own similarity to the question,
            # and the sentence after it says how. The interviewer's words, which the question
            # restates, do not join them.
            column = SENTENCE_FEATURES.index("lead_match")
            asked = SENTENCE_FEATURES.index("question_chunk")
            lead = max(scored, key=lambda c: c.features[column])
            section = self._section_of(lead.key)
            # Only when the best sentence is in that answer: the exchange restated is what it is
            # about. "Are european countries interested in RATS at all?" is close enough to "Do the
            # SCO RATS' experts cooperate with their colleagues from India…?", but the European
            # partners are in another answer.
            if lead.features[column] > 0 and self._section_of(scored[0].key) == section:
                first, opens = lead, True
                # The sentences of the same answer say how; another answer's do not ("Absolutely!"
                # was followed by "We put a great deal of trust in… new Dialogue Partners").
                answers = [c for c in scored if not c.features[asked] and self._section_of(c.key) == section]
                after = self._next_sentence.get(lead.key)
                # The following sentence first, then the rest by score (each once).
                answers.sort(key=lambda c: c.key != after)
                rest = answers[: s.answer_max_sentences + 2]
        chosen = [first]
        length = first.key.end - first.key.start
        # A sentence printed twice (a title repeated under itself) is quoted once.
        quoted_texts = {self._sentence_texts.get(first.key)}
        for cand in [c for c in rest if c is not first]:
            if len(chosen) >= s.answer_max_sentences:
                break
            size = cand.key.end - cand.key.start
            # What says how after a yes or no is never too long to join it: "Absolutely!" alone
            # answers nothing, and a long sentence of its answer is quoted whole when it is the best.
            too_long = length + size > s.answer_max_chars and not (opens and len(chosen) == 1)
            if cand.score < first.score - s.answer_margin or too_long:
                continue
            if (text := self._sentence_texts.get(cand.key)) in quoted_texts:
                continue
            quoted_texts.add(text)
            chosen.append(cand)
            length += size
        # Read in document order when the sentences come from the same document.
        chosen.sort(key=lambda c: (c.key.doc_id, c.key.start))
        return chosen

    def _quoted_sections(self, said: str) -> frozenset[int]:
        """The interview's answers (sections) that an earlier answer quoted a sentence from: its
        pieces between citation markers, looked up as sentences ("… [1] … [2]"; a line given a full
        stop in the answer without it). An LLM's own words match none."""
        found = set()
        for piece in _MARKER.split(said):
            # Whole, or after what an answer puts before a quote ("ITOs: international terrorist
            # organisations. The number of incidences…").
            for start in [0, *(m.end() for m in _LEAD_IN_END.finditer(piece))]:
                quote = piece[start:].strip()
                if (key := self._keys_by_text.get(quote) or self._keys_by_text.get(quote.removesuffix("."))) is not None:
                    found.add(self._section_of(key))
                    break
        return frozenset(found - {-1})

    @cached_property
    def _keys_by_text(self) -> dict[str, SentenceKey]:
        """Each sentence's key by its text (the first, for a text printed twice); made when first
        needed, for follow-ups only."""
        out: dict[str, SentenceKey] = {}
        for key, text in self._sentence_texts.items():
            out.setdefault(text, key)
        return out

    def _holders(self, key: SentenceKey) -> list[int]:
        """The positions of the chunks that hold the sentence, in index order; none for a span
        that is no sentence of the index."""
        row = self.index.sentence_row.get(key)
        return self.index.sentence_chunks[row] if row is not None else []

    def _chunk_of(self, key: SentenceKey) -> int:
        """The position of the first chunk that holds the sentence."""
        return self._holders(key)[0]

    def _section_of(self, key: SentenceKey) -> int:
        """The interview question (section) whose answer the sentence is in; -1 outside every one."""
        return self.index.chunk_section[self._chunk_of(key)]

    def _counts(self, candidate: ScoredSentence, counted: str) -> bool:
        """Whether the candidate sentence has a count of `counted` (see `counts`)."""
        return bool(counts(self._sentence_texts[candidate.key], counted))

    def expansion(self, acronym: str, vector: np.ndarray) -> Answer:
        """What "What does SCO stand for?" asks: the first sentence that spells the acronym out
        (`rag.lexical.spelt_out`: "The Shanghai Cooperation Organisation is celebrating its 15th
        anniversary."), led by the name it gives; a refusal when no document spells it out (the
        interview never does for RATS). The word "stand", searched, found "…able to stand against…"."""
        for doc_id, text in self.texts.items():
            for start, end in spelt_out(text, acronym):
                key = next((k for k in self._sentence_texts if k.doc_id == doc_id and k.start <= start and end <= k.end), None)
                if key is None:
                    continue  # outside every sentence (a heading): keep looking
                citation = self._cite(1, key, vector)
                name = " ".join(text[start:end].split())
                return dataclasses.replace(quoted([citation]), answer=f"{acronym}: {name}. {citation.quote} [1]")
        return refusal()

    def overview(self, doc_id: str, vector: np.ndarray) -> Answer:
        """What "What is the interview about?" asks: the document's headline and the sentences that
        open it (an interview's standfirst, an article's lede), as many as an answer holds. A
        document without a preamble opens with its first block. Searched, such a question has
        little to search for but "about": it got a sentence about conferences in Tashkent."""
        headline: SentenceKey | None = None
        lead: list[SentenceKey] = []
        seen: set[str] = set()
        length = 0
        for key in self._opening_sentences(doc_id):
            text = self._sentence_texts.get(key)
            if text is None or text in seen:
                continue  # a title printed twice
            seen.add(text)
            facts = sentence_facts(text)
            if not facts.terminal:
                if headline is None and not lead:
                    headline, length = key, len(text)
                continue
            if not facts.candidate:
                continue
            if len(lead) == self.settings.answer_max_sentences or (lead and length + len(text) > self.settings.answer_max_chars):
                break
            lead.append(key)
            length += len(text)
        if not lead:
            return refusal()
        return quoted([self._cite(n, k, vector) for n, k in enumerate([*([headline] if headline else []), *lead], 1)], full_stops=True)

    def _opening_sentences(self, doc_id: str) -> list[SentenceKey]:
        """The sentences of the chunks that open a document, in order."""
        opening = [self.index.chunks[i] for i in self._opening(doc_id)]
        return sorted({SentenceKey(doc_id, s.start, s.end) for c in opening for s in c.sentences}, key=lambda k: k.start)

    def headline(self, doc_id: str, vector: np.ndarray) -> Answer:
        """What "What's the headline of this interview?" asks: the line that opens the document
        when it is no sentence (a title, not a standfirst); a refusal for a document that opens
        with a sentence."""
        for key in self._opening_sentences(doc_id):
            text = self._sentence_texts.get(key)
            if text is None:
                continue
            facts = sentence_facts(text)
            if facts.terminal or not facts.candidate:
                break
            return quoted([self._cite(1, key, vector)], full_stops=True)
        return refusal()

    def _opening(self, doc_id: str) -> list[int]:
        """The positions of the chunks that open a document: its preamble, or else its first chunk
        (looked up once per document)."""
        if (found := self._openings.get(doc_id)) is None:
            chunks = [i for i, c in enumerate(self.index.chunks) if c.doc_id == doc_id]
            found = [i for i in chunks if self.index.chunks[i].kind == "text" and self.index.chunks[i].section is None] or chunks[:1]
            self._openings[doc_id] = found
        return found

    def opening_first(self, doc_id: str, vector: np.ndarray, hits: Sequence[Hit]) -> list[Hit]:
        """`hits` led by the chunks that open the document (scored by their cosine to the question),
        as many as before: what an LLM reads for "What is the interview about?"."""
        return self._led_by(self._opening(doc_id), vector, hits)

    def reranked(self, answer: Answer, evidence: Evidence, hits: Sequence[Hit], read: int) -> list[Hit]:
        """`hits` in the order the sentence scorer puts them, as it reads more than the ranking
        does (the kind of answer asked for, what is counted, the interviewer's question…): first
        the passages `answer` quotes, that of its best-scored quote first (a quote is led by the
        best-ranked hit that holds it, or else by the first chunk that does); then the other
        passages the answer was drawn from (the first `read` hits), by the best score `evidence`
        gives a sentence they hold; then the rest in the ranking's order. Each place keeps the
        score of the hit that was there, so the results stay best first by score."""
        quoted: list[int] = []
        if answer.answerable:
            for c in sorted(answer.citations, key=lambda c: -c.score):
                if holders := self._holders(SentenceKey(c.doc_id, c.start, c.end)):
                    holder = next((h.position for h in hits if h.position in holders), holders[0])
                    if holder not in quoted:
                        quoted.append(holder)
        answered_from = {h.position for h in hits[:read]}
        best: dict[int, float] = {}
        for scored in evidence.scored:
            for position in self._holders(scored.key):
                if position in answered_from:
                    best[position] = max(scored.score, best.get(position, scored.score))
        found = {h.position: h for h in hits}
        rest = [h.position for h in hits if h.position not in quoted]
        weighed = sorted((i for i in rest if i in best), key=lambda i: -best[i])  # stable: ties keep their rank
        order = [*quoted, *weighed, *(i for i in rest if i not in best)][: max(len(hits), len(quoted))]
        scores = [h.score for h in hits] or [0.0]
        return [
            dataclasses.replace(found[i], score=scores[min(n, len(scores) - 1)])
            if i in found
            else Hit(self.index.chunks[i], scores[min(n, len(scores) - 1)], position=i)
            for n, i in enumerate(order)
        ]

    def _led_by(self, positions: Sequence[int], vector: np.ndarray, hits: Sequence[Hit]) -> list[Hit]:
        # A passage put first scores as the best one found, so the hits stay best first by score;
        # one that was among the hits keeps the ranks that found it.
        found = {h.position: h for h in hits}
        first = [
            dataclasses.replace(found[i], score=hits[0].score)
            if i in found
            else Hit(self.index.chunks[i], hits[0].score if hits else float(np.asarray(self.index.dense.reconstruct(i)) @ vector), position=i)
            for i in positions
        ]
        taken = {h.position for h in first}
        return [*first, *(h for h in hits if h.position not in taken)][: max(len(hits), len(first))]

    def _interviewers(self, key: SentenceKey) -> bool:
        """Whether the sentence is the interviewer's (in a chunk of their questions)."""
        return self.index.chunks[self._chunk_of(key)].kind == "question"

    def provenance(
        self, doc_id: str, vector: np.ndarray, hits: Sequence[Hit], asked: frozenset[str] = frozenset()
    ) -> tuple[Answer, list[Hit]] | None:
        """What "Who conducted this interview?" and "Which news agency was it given to?" ask: the
        document's sentences that speak of the document itself (`names_document`: the standfirst's
        "…has told in its interview to TASS…", the credit "Interview facilitated by…"), not the
        interviewer's, in document order; those closest to the question when there are more than
        an answer holds. The hits are led by their chunks. None when no sentence speaks of it:
        searched, such a question found nothing ("interview" is no search term), and got
        whatever matched "agency" or "conducted". `asked`: search terms of what the question asks
        of them (`rag.retrieval.provenance_terms`); when some of the lines have one, only those
        answer ("Which news agency…?": the standfirst naming TASS, not the credit line too)."""
        if (keys := self._self_references.get(doc_id)) is None:  # looked up once per document
            keys, seen = [], set()
            for key, text in sorted(self._sentence_texts.items(), key=lambda kt: kt[0].start):
                if key.doc_id == doc_id and text not in seen and not self._interviewers(key) and names_document(text):
                    seen.add(text)  # a title printed twice
                    keys.append(key)
            self._self_references[doc_id] = keys
        if not keys:
            return None
        if asked:
            keys = [k for k in keys if not asked.isdisjoint(map(stem, words(self._sentence_texts[k])))] or keys
        rows = [self.index.sentence_row[k] for k in keys]
        closest = np.argsort(-(self.index.sentence_vectors[rows] @ vector), kind="stable")
        chosen: list[SentenceKey] = []
        length = 0
        for i in closest[: self.settings.answer_max_sentences]:
            size = keys[i].end - keys[i].start
            if chosen and length + size > self.settings.answer_max_chars:
                continue
            chosen.append(keys[i])
            length += size
        # The hits are led by the chunk of the closest sentence ("Who facilitated the interview?":
        # the credit line's, not the standfirst's); the answer reads in document order.
        positions = list(dict.fromkeys(self._chunk_of(k) for k in chosen))
        chosen.sort(key=lambda k: k.start)
        answer = quoted([self._cite(n, k, vector) for n, k in enumerate(chosen, 1)], full_stops=True)
        return answer, self._led_by(positions, vector, hits)

    def definition(self, acronym: str, vector: np.ndarray) -> Answer:
        """What "What is RATS?" asks where no document spells RATS out: the sentences that say
        what it is — the acronym as a subject (no name after it: "SCO RATS" says nothing of the
        SCO), then within five words "is a/an/the", "remains a", "serves as a" ("RATS today,
        metaphorically speaking, is a framework for the regional security system…"). Not the
        interviewer's words, nor a headline; the closest to the question first. A refusal when
        there is none: the question is then answered as any other."""
        defines = re.compile(
            rf"(?<![\w-]){re.escape(acronym)}s?(?![\w-])(?!\s+[A-Z])(?:,?\s+[\w’'-]+,?){{0,5}}?\s+"
            r"(?:is|are|remains|serves\s+as|acts\s+as)\s+(?:a|an|the|one\s+of)\b"
        )
        keys = []
        for key, text in self._sentence_texts.items():
            if not self._interviewers(key) and sentence_facts(text).terminal and defines.search(text):
                keys.append(key)
        if not keys:
            return refusal()
        return quoted([self._cite(1, self._closest(keys, vector), vector)])

    def _closest(self, keys: Sequence[SentenceKey], vector: np.ndarray) -> SentenceKey:
        """Of these sentences, the one whose vector is closest to the question's."""
        rows = [self.index.sentence_row[k] for k in keys]
        return keys[int(np.argmax(self.index.sentence_vectors[rows] @ vector))]

    def founding(self, query: Query, vector: np.ndarray) -> Answer | None:
        """What "When was RATS set up?" asks (`rag.retrieval.asks_founding`): the sentence that
        dates its coming to be — a word for it ("inception", "establishment", "founding"…) and a
        year — and, when the question names anything (or its follow-up points at something named
        before), names it as a whole name: "SCO" is not "SCO RATS", which only starts with it.
        Not the interviewer's words; the closest to the question first. A refusal when such a
        sentence names it only as part of another name ("When did the SCO start?" got "…since the
        first days of its inception in 2004", of SCO RATS, as any question); None when none names
        it at all ("When was the Xiaomen-2015 exercise launched?"), or when the question names
        nothing and asks about no body (`founds_a_body`: "When was the exercise launched?"): the
        question is then answered as any other."""
        names = self.read(query).names
        dated = self._came_to_be
        if not dated or not (names or founds_a_body(query.text)):
            return None  # "When was the exercise launched?": not a body's coming to be
        keys = [k for k in dated if not names or any(_names_whole(self._sentence_texts[k], name) for name in names)]
        if not keys:
            asked = {w for name in names for w in words(name)}
            part_of = any(asked <= set(words(self._sentence_texts[k])) for k in dated)  # every word it names is there
            return refusal() if part_of else None
        return quoted([self._cite(1, self._closest(keys, vector), vector)])

    @cached_property
    def _came_to_be(self) -> list[SentenceKey]:
        """The sentences (not the interviewer's, not headlines) that date something's coming to
        be: a word for it and a year. Found at the first question that asks, not at each."""
        return [
            key
            for key, text in self._sentence_texts.items()
            if not self._interviewers(key) and sentence_facts(text).terminal and _CAME_TO_BE.search(text) and _years(text)
        ]

    def continuation(self, said: str, vector: np.ndarray) -> Answer:
        """The sentences that follow, in the interviewee's answer (or in plain text: an article,
        the opening lines, which go on into the first answer), the last sentence that `said` (the
        previous answer) quoted and that it did not quote itself: what "Tell me more" asks for.
        A refusal when the previous answer quoted nothing; "nothing more" when its answer goes no
        further."""
        found = self._quoted_in(said)
        if not found:
            return refusal()
        chosen: list[SentenceKey] = []
        length = 0
        # A sentence printed twice (a title) is found twice at one place: the later copy, then.
        for key in self._following(found[-1]):
            text = self._sentence_texts[key]
            if text in said or not self._statement(key):
                continue  # said already, or a headline or credit line ("In other news")
            if len(chosen) == self.settings.answer_max_sentences or (chosen and length + len(text) > self.settings.answer_max_chars):
                break
            chosen.append(key)
            length += len(text)
        if not chosen:
            return Answer(NOTHING_MORE, False, (), "extractive", None, {})
        return quoted([self._cite(n, k, vector) for n, k in enumerate(chosen, 1)])

    def cause(self, said: str, vector: np.ndarray) -> Answer:
        """What "What made that possible?" asks after an answer: for a sentence `said` (the previous
        answer) quoted, the sentence before the one that opens its paragraph's run of consequences
        ("Thus, the competent authorities… have averted 167… crimes…" comes after "The improved
        mechanisms for exchange of intelligence have facilitated…"). A refusal when no sentence it
        quoted follows from one before it so."""
        for key in self._quoted_in(said):
            for sentence in self._back_in_paragraph(key):
                if not _CONSEQUENCE.match(self._sentence_texts[sentence]):
                    continue
                before = self._previous_sentence.get(sentence)
                if before is not None and self._sentence_texts[before] not in said and self._statement(before):
                    return quoted([self._cite(1, before, vector)])
                break
        return refusal()

    def _quoted_in(self, said: str) -> list[SentenceKey]:
        """The sentences `said` (an earlier answer) quotes, in the order it quotes them; of a
        sentence printed twice at one place (a title), the earlier copy first."""
        found = sorted((said.find(text), key.start, key) for key, text in self._sentence_texts.items() if text in said)
        return [key for _, _, key in found]

    def _statement(self, key: SentenceKey) -> bool:
        """Whether a sentence may be quoted as a statement: not a question, an order to a model, a
        headline or a credit line."""
        facts = sentence_facts(self._sentence_texts[key])
        return facts.candidate and facts.terminal

    @cached_property
    def _previous_sentence(self) -> dict[SentenceKey, SentenceKey]:
        """The sentence before each, within its answer (`_next_sentence` turned round); built when
        first asked for, as only "What made that possible?" reads back."""
        return {after: key for key, after in self._next_sentence.items()}

    def _back_in_paragraph(self, key: SentenceKey) -> Iterator[SentenceKey]:
        """The sentence, then those before it in its answer up to the start of its paragraph."""
        yield key
        text = self.texts[key.doc_id]
        while (before := self._previous_sentence.get(key)) is not None and "\n" not in text[before.end : key.start]:
            yield before
            key = before

    def _cite(self, n: int, key: SentenceKey, vector: np.ndarray) -> Citation:
        """Citation `n` of a sentence quoted without being scored (its chunk: the first that holds
        it; its score: its cosine to the question)."""
        row = self.index.sentence_row[key]
        chunk_id = self.index.chunks[self.index.sentence_chunks[row][0]].chunk_id
        score = round(float(self.index.sentence_vectors[row] @ vector), 4)
        return Citation(n, key.doc_id, chunk_id, key.start, key.end, self._sentence_texts[key], score)

    def _following(self, key: SentenceKey) -> Iterator[SentenceKey]:
        """The sentences after `key` in its answer, in order."""
        while (after := self._next_sentence.get(key)) is not None:
            yield after
            key = after

    def anchor(self, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        """`hits`, with the chunk that names what the question names when the first three do not.

        A name the question asks about ("Which country is Djumanbekov from?") is the strongest
        sign of where the answer is, yet one word can lose to a whole question's worth of
        similarity elsewhere. When a name of the question is in none of the first three hits
        but in one to three chunks of the index, the one of those BM25 scores best for the name
        comes third. Numbers and the interviewee's name are no anchors.
        """
        out = list(hits)
        for name in self._asked(query):
            if name[:1].isdigit():
                continue
            holders = self._postings.holding(name)
            if any(h.position in holders for h in out[:3]) or not 1 <= len(holders) <= 3:
                continue
            terms = content_terms(name)
            if not terms:
                continue  # an initial ("D.") or a stopword ("Against"): no word to search for
            scores = self.index.bm25.get_scores(terms)
            best = max(sorted(holders), key=lambda i: float(scores[i]))
            chunk = self.index.chunks[best]
            out = [h for h in out if h.position != best]
            at = min(2, len(out))
            out.insert(at, Hit(chunk, out[at - 1].score if at else 0.0, best, None, float(scores[best]), None, None))
            out = out[: max(len(hits), 1)]
        return out

    def analyse(self, query: Query, vector: np.ndarray, hits: Sequence[Hit]) -> Evidence:
        reading = self.read(query)
        scored = self.score_sentences(query, reading, vector, hits)
        counted = reading.counted if reading.counted in self._idf else None
        chosen = self.select(scored, reading.yes_no, counted)
        return Evidence(tuple(scored), tuple(chosen), self.signals(reading, hits, scored, chosen))

    def answer(self, query: Query, vector: np.ndarray, hits: Sequence[Hit]) -> tuple[Answer, EvidenceSignals]:
        answer, evidence = self.answer_with_evidence(query, vector, hits)
        return answer, evidence.signals

    def answer_with_evidence(self, query: Query, vector: np.ndarray, hits: Sequence[Hit]) -> tuple[Answer, Evidence]:
        """The answer and everything weighed for it (`analyse`)."""
        evidence = self.analyse(query, vector, hits)
        signals = evidence.signals
        if not evidence.chosen or signals.refuses(self.settings):
            return refusal(), evidence
        citations = [
            Citation(n, c.key.doc_id, c.chunk_id, c.key.start, c.key.end, self.texts[c.key.doc_id][c.key.start : c.key.end], round(c.score, 4))
            for n, c in enumerate(evidence.chosen, 1)
        ]
        if _WHY.match(opening(query.text)) and len(citations) == 1:
            citations += self._reason_after(citations[0], vector)
        elif query.listing or _WHICH_ONES.match(opening(query.text)):
            citations = self._listed(citations, query, vector)
        return quoted(self._with_what_it_points_at(citations, vector)), evidence

    def _listed(self, citations: list[Citation], query: Query, vector: np.ndarray) -> list[Citation]:
        """For a question that asks for things by name ("Which international organisations does
        RATS cooperate with?", "list a couple of those partners") answered by sentences that name
        none of them ("…developing close cooperation with specialised international and regional
        organisations since… 2004"): the best of them and the sentence after it in its answer,
        when that one names them ("…with the UN Office for Drugs and Crime, the UN SC
        Counter-Terrorism Committee, the Interpol…"), however long: a list is quoted whole. The
        citations as they are otherwise."""
        asked = {w.lower() for t in self._specifics(query.full) for w in words(t)}

        def new_names(sentence: str) -> set[str]:
            return {w.lower() for t in specifics(sentence, self.names) if not t[:1].isdigit() for w in words(t) if len(w) > 1} - asked

        named = set().union(*(new_names(c.quote) for c in citations))
        if len(named) >= _NAMES_IN_A_LIST:
            return citations
        for cited in sorted(citations, key=lambda c: -c.score):
            if (after := self._quotable_after(cited)) is not None and len(new_names(self._sentence_texts[after]) - named) >= _NAMES_IN_A_LIST:
                return [dataclasses.replace(cited, n=1), self._cite(2, after, vector)]
        return citations

    def _reason_after(self, cited: Citation, vector: np.ndarray) -> list[Citation]:
        """For a "Why…?" answered by one sentence, the sentence after it in its answer, which
        so often gives the reason for what the first states ("Our European partners are also
        expressing their interest…" → "Noting the challenging regional situation…"); none when it
        ends its answer or would make the answer too long."""
        after = self._quotable_after(cited)
        if after is None or len(cited.quote) + len(self._sentence_texts[after]) > self.settings.answer_max_chars:
            return []
        return [self._cite(2, after, vector)]

    def _quotable_after(self, cited: Citation) -> SentenceKey | None:
        """The sentence after a quoted one in its answer, when it may be quoted as a statement
        (not a question, nor a headline); None at the end of an answer."""
        after = self._next_sentence.get(SentenceKey(cited.doc_id, cited.start, cited.end))
        return after if after is not None and self._statement(after) else None

    def _with_what_it_points_at(self, citations: Sequence[Citation], vector: np.ndarray) -> list[Citation]:
        """The citations, with the interviewer's sentence before a quoted sentence that points at
        it: "All the countries you have listed are Observers…" says which only with "Do the SCO
        RATS' experts cooperate with their colleagues from India, Pakistan, Mongolia, Iran and
        Afghanistan?". It comes on top of the answer's usual sentences and length, up to the three
        sentences an answer has at most (the last of the others gives way)."""
        spans = {(c.doc_id, c.start, c.end) for c in citations}
        out: list[Citation] = []
        for c in citations:
            asked = self._pointed_at(SentenceKey(c.doc_id, c.start, c.end), vector)
            if asked is not None and (asked.doc_id, asked.start, asked.end) not in spans:
                out.append(self._cite(0, asked, vector))
                spans.add((asked.doc_id, asked.start, asked.end))
            out.append(c)
        if len(out) == len(citations):
            return list(citations)
        while len(out) > _MOST_SENTENCES:
            free = [i for i, c in enumerate(out) if not _POINTS_AT_QUESTION.search(c.quote) and not (i + 1 < len(out) and _POINTS_AT_QUESTION.search(out[i + 1].quote))]
            if not free:
                break
            out.pop(free[-1])
        return [dataclasses.replace(c, n=n) for n, c in enumerate(out, 1)]

    def _pointed_at(self, key: SentenceKey, vector: np.ndarray) -> SentenceKey | None:
        """The interviewer's sentence that an answer sentence points at ("…you have listed…", "as
        you said"): of those that ask what it answers, the one naming most (what was listed), and
        of those the closest to the question; else None."""
        if not _POINTS_AT_QUESTION.search(self._sentence_texts.get(key, "")):
            return None
        section = self._section_of(key)
        asked = [
            k
            for position in self._section_chunks.get(section, [])  # none for a sentence outside every section
            if (chunk := self.index.chunks[position]).kind == "question"
            for span in chunk.sentences
            if (k := SentenceKey(chunk.doc_id, span.start, span.end)) in self.index.sentence_row
        ]
        if not asked:
            return None
        rows = [self.index.sentence_row[k] for k in asked]
        closeness = self.index.sentence_vectors[rows] @ vector
        return max(zip(asked, closeness, strict=True), key=lambda kc: (len(_NAMED.findall(self._sentence_texts[kc[0]])), kc[1]))[0]


def cites(answer: str) -> bool:
    """Whether an answer's text carries citation marks ("… [1]"): it quotes the document."""
    return _MARKER.search(answer) is not None


def quoted(citations: Sequence[Citation], full_stops: bool = False) -> Answer:
    """The answer that quotes these sentences, each followed by its number: "… [1] … [2]".
    `full_stops`: a line with no full stop of its own (a headline, a credit) gets one in the answer;
    its quote stays exact."""
    stop = ["." if full_stops and not sentence_facts(c.quote).terminal else "" for c in citations]
    return Answer(" ".join(f"{c.quote}{dot} [{c.n}]" for c, dot in zip(citations, stop, strict=True)), True, tuple(citations), "extractive", None, {})


def combine_answers(parts: Sequence[str], answers: Sequence[Answer]) -> Answer:
    """One answer to a question that asks several (`rag.retrieval.split_question`): each part's
    quotes in turn, numbered anew (a sentence two parts quote is cited once), and for a part the
    interview does not answer, "The interview does not say: how many…?". Refused when every part is."""
    if not any(a.answerable for a in answers):
        return refusal()
    # Three sentences at most, as any answer: each part's best, then the parts' others in turn.
    # A part's best is the sentence that points at the interviewer's words, not those words
    # quoted before it (ExtractiveAnswerer._with_what_it_points_at).
    extra = 3 - sum(1 for a in answers if a.answerable)
    trimmed = []
    for answer in answers:
        cited = answer.citations
        lead = int(len(cited) > 1 and is_question(cited[0].quote) and bool(_POINTS_AT_QUESTION.search(cited[1].quote)))
        others = [i for i in range(len(cited)) if i != lead][: max(extra, 0)]
        extra -= len(others)
        trimmed.append(dataclasses.replace(answer, citations=tuple(c for i, c in enumerate(cited) if i == lead or i in others)))
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    pieces: list[str] = []
    for part, answer in zip(parts, trimmed, strict=True):
        if not answer.answerable:
            asked = part.strip()
            first = asked.split(maxsplit=1)[0]
            # "What…" reads on in lower case; a name or a word in capitals ("HOW BIG…") stays as typed.
            if first[1:].islower() and first.lower() in STOPWORDS:
                asked = asked[0].lower() + asked[1:]
            pieces.append(f"{NOT_IN_INTERVIEW[:-1]}: {asked}")
            continue
        for c in answer.citations:
            span = (c.doc_id, c.start, c.end)
            if span in numbers:
                continue  # quoted for an earlier part already
            numbers[span] = len(numbers) + 1
            citations.append(dataclasses.replace(c, n=numbers[span]))
            pieces.append(f"{c.quote} [{numbers[span]}]")
    return Answer(" ".join(pieces), True, tuple(citations), "extractive", None, {})


def refusal(reason: str | None = None) -> Answer:
    return Answer(NOT_IN_INTERVIEW, False, (), "extractive", reason, {})
