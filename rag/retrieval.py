"""Hybrid retrieval: dense (FAISS inner product) and BM25 rankings, fused by standardised score
(or by min-max normalised score, RAG_FUSION=scores, or by reciprocal rank, RAG_FUSION=rrf).

A question is searched without its greeting or polite wrapper ("Hi! Can you tell me how many…"
is searched as "how many…"), without "according to <the interviewee>", and with its misspelt
words corrected to the corpus's (Retriever.query); a follow-up ("what did they do about it?")
together with the previous user question, so pronouns find what they refer to.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import bm25s
import numpy as np

from rag.embedding import Embedder
from rag.index import SearchIndex
from rag.lexical import (
    STOPWORDS,
    Acronyms,
    Speller,
    Titles,
    content_terms,
    english_frequencies,
    known_english,
    spell_out_dates,
    stem,
    term_pairs,
    words,
)
from rag.settings import Settings
from rag.types import ChatTurn, Hit

_ANAPHORA = frozenset(
    "it its they them their theirs that this these those he him his she her there such one ones".split()  # noqa: SIM905
)
_FOLLOW_UP_OPENERS = re.compile(r"^\s*(and|what about|how about|why|how so|so|also|then)\b", re.IGNORECASE)


# What people put around a question: greetings, thanks, and requests to be told. Each is removed
# from the start, repeatedly ("Hello, could you please tell me: …"). So is a request's verb ("List
# all the…", "Describe the…", "Explain how…"): it names no content, and as a search word it
# matched the text's "listed" and the interviewer's "Please explain whether…".
_WRAPPER = re.compile(
    r"""^\s*(?:
        (?:hi|hiya|hello|hey|howdy|yo|greetings|good\s+(?:morning|afternoon|evening)|thanks|thank\s+you|ok(?:ay)?)\b(?:\s+(?:there|all|everyone))?[\s,!.:;-]*
      | (?:please\s+)?(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+)?(?:tell|show|give|explain\s+to|remind)\s+me\b[\s,:;-]*
      | (?:please\s+)?(?:tell|show|give|explain\s+to|remind)\s+me\b[\s,:;-]*
      | (?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:list|name|describe|explain|summari[sz]e|outline|enumerate|identify|mention)
        (?:\s+(?:for\s+)?(?:me|us))?(?=\s+(?:all|the|a|an|some|each|every|any|his|its|their|what|which|who|whom|whose|when|where|why|how|whether|if)\b)[\s,:;-]*
      | (?:do|does)\s+(?:you|anyone)\s+know\b[\s,:;-]*
      | i(?:['’]d|\s+would)\s+like\s+to\s+know\b[\s,:;-]*
      | i\s+(?:want|need)\s+to\s+know\b[\s,:;-]*
      | i\s+wonder(?:ed)?\b[\s,:;-]*
      | i\s+have\s+a\s+question\b[\s,.:;!-]*
      | please\b[\s,:;-]*
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Where an attribution may stand: opening the question, set off by a comma, or "according to…"
# closing it ("How many were averted according to the interview?").
_ATTRIBUTION_START = r"(?:^|,\s*|\s+(?=according\s+to\b[^,?]*[?.!]?\s*$))"
# The interview is the only source: "According to the interview, …" and "…, in this text?" say
# nothing. Not inside the sentence: "mentioned in the interview" stays.
_SOURCE = re.compile(
    _ATTRIBUTION_START + r"(?:according\s+to|in|from)\s+(?:the|this|that|his)\s+"
    r"(?:interview|text|article|source|document|transcript|passage)(?:\s+(?:with|to)\s+\w+)?(?=\s*[,?.!]|\s*$)\s*,?",
    re.IGNORECASE,
)
# A question word typed as in a chat: "whats" for "what's", "wat" and "wut" for "what". Read as
# written, "whats its annual budget" opens with no question word, and wants no sum.
_CHAT_CONTRACTION = re.compile(r"\b(what|where|who|when|why|how|that|there)(s)\b", re.IGNORECASE)
_CHAT_WHAT = re.compile(r"\b(?:wat|wut)\b", re.IGNORECASE)


def chat_spelling(text: str) -> str:
    """The question words of a chat as written out: "whats" → "what's", "wat" → "what"."""
    text = _CHAT_CONTRACTION.sub(lambda m: f"{m.group(1)}'{m.group(2)}", text)
    return _CHAT_WHAT.sub(lambda m: "WHAT" if m.group().isupper() else "What" if m.group()[0].isupper() else "what", text)


# A clause before the question ("According to Sysoyev, what…", "In 2015, how many…"): moved to the
# end, so the question opens with its question word, which the answer-type and yes/no rules read.
_LEADING_CLAUSE = re.compile(r"^([^,?]{2,60}),\s+")
_CLAUSE_OPENERS = frozenset(
    ["according", "regarding", "concerning", "besides", "apart", "as", "in", "on", "at", "for", "from", "by", "with", "without", "after", "before", "during", "since", "if", "when", "while", "given", "today", "now", "currently", "then", "so", "also", "and", "but", "overall"]
)
# A participle opens a clause too ("Asked about…, what…", "Speaking of…", "Compared with…"):
# capitalised only as the question's first word, it is no name.
_PARTICIPLE = re.compile(r"[A-Z][a-z]{2,}(?:ing|ed)")
_QUESTION_OPENING = re.compile(
    r"^(what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|whether|if)\b",
    re.IGNORECASE,
)


# Where a question asks a second question ("How many crimes were averted and how many terrorists
# were liquidated?"): "and" (or ";" or "?") followed by a question's opening.
_SECOND_QUESTION = re.compile(
    r"(?:\s*[,;]?\s+and\s+(?:also\s+)?|\s*;\s*|\?\s+(?:and\s+)?)"
    r"(?=(?:how\s+many|how\s+much|how\s+long|what|which|who|whom|whose|when|where|why|how|"
    r"is|are|was|were|do|does|did|has|have|had|can|could|will|would)\b)",
    re.IGNORECASE,
)


# An embedded question's order ("tell me who the current director is", "…what the objective of the
# exercise was"): the verb comes last, and the rules that read a question's opening want it first.
_EMBEDDED = re.compile(r"^(who|what)\s+(the\s+[^?,;]+?)\s+(is|was|are|were)\s*(?=[?.!]*\s*$)", re.IGNORECASE)


_MORE = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|and|so|please|thanks)[,!.]?\s+)?(?:(?:please\s+)?(?:can|could)\s+you\s+)?(?:"
    r"(?:tell|give|show)\s+me\s+more(?:\s+about\s+(?:that|this|it))?|more(?:\s+(?:details|please|on\s+that))?|go\s+on|continue|"
    r"keep\s+going|what\s+else|anything\s+else|(?:elaborate|expand)(?:\s+on\s+(?:that|this|it))?|what\s+(?:happened|comes)\s+next"
    r")(?:,?\s+please)?\s*[?.!]*\s*$",
    re.IGNORECASE,
)


# "What does SCO stand for?", "(tell me) what SCO stands for", "What is RATS short for?", "What is
# the full name of the CSTO?", "What does the abbreviation ITO mean?" ("mean" only for capitals).
_EXPANSION = re.compile(
    r"^\s*(?:what\s+(?:does|do|did)\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+|letters\s+)?(?P<a>[\w.&]+)\s+stand\s+for"
    r"|what\s+(?:does|do|did)\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+|letters\s+)?(?P<m>[A-Z][A-Z.&]+s?)\s+mean"
    r"|what\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+|letters\s+)?(?P<d>[\w.&]+)\s+stands?\s+for"
    r"|what\s+(?:is|are)\s+(?:the\s+)?(?P<b>[\w.&]+)\s+short\s+for"
    r"|what\s+(?:is|are)\s+(?:the\s+)?full\s+(?:name|form)s?\s+of\s+(?:the\s+)?(?P<c>[\w.&]+))\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def _acronym_form(word: str) -> str:
    """A word asked about as an acronym, in capitals and without a plural "s" ("ITOs" → "ITO")."""
    return word[:-1].upper() if len(word) > 2 and word.endswith("s") and word[:-1].isupper() else word.upper()


def asked_expansion(question: str) -> str | None:
    """The acronym a question asks to have spelt out, in capitals without a plural "s" ("What does
    SCO stand for?" → "SCO"; "What are ITOs short for?" → "ITO"), or None. Only a word of two to
    eight letters counts ("What is the full name of Sysoyev?" asks something else)."""
    m = _EXPANSION.match(question)
    if not m:
        return None
    word = next(g for g in m.group("a", "m", "d", "b", "c") if g).replace(".", "")
    capitals = word.isupper() or (word.endswith("s") and word[:-1].isupper())
    if not (2 <= len(word) <= 8 and word.isalpha()) or not (capitals or (word.islower() and not m.group("m") and word not in STOPWORDS)):
        return None  # "What does it mean?", "What does that stand for?"
    return _acronym_form(word)


# "What is the SCO?", "What are ITOs?", "who's RATS": what an acronym is, asked and nothing more;
# "What is SCO RATS?" asks about RATS (the name's head), as "How would you describe SCO RATS?" does.
_DEFINITION = re.compile(
    r"^\s*(?:what|who)(?:\s+(?:is|are)|['’]s)\s+(?:the\s+|an?\s+)?(?:(?P<p>[a-z]{2,5})\s+)?(?P<a>[a-z][a-z.&]*[a-z]\.?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def asked_definition(question: str) -> str | None:
    """The word a question asks what it is, in capitals, when it may be an acronym ("What is the
    SCO?" → "SCO", "What are ITOs?" → "ITO", "what is the sco" → "SCO"); or None. The interview
    says what an acronym is by spelling it out, which "What does SCO stand for?" asks too
    (asked_expansion); a word it does not spell out is answered as any question is."""
    m = _DEFINITION.match(question)
    if not m:
        return None
    if (first := m.group("p")) and not (first.isupper() or question.islower()):
        return None  # "What is Iran doing?": a word before it that is no acronym
    word = m.group("a").replace(".", "")
    if not (2 <= len(word) <= 8 and word.isalpha()) or word.lower() in STOPWORDS:
        return None
    return _acronym_form(word)


# "How does Sysoyev describe RATS?", "How would you characterise SCO RATS today?", "What kind of
# body is RATS?", "What is RATS like?", "Define RATS": what it is, in the interviewee's words.
_NOW_WORDS = r"(?:today|now|nowadays|these\s+days|at\s+present|figuratively|metaphorically)"
_NOW = rf"(?:\s+{_NOW_WORDS})?"
_WORD = rf"(?-i:[A-Z]{{2,}}\s+)?(?!(?:{_NOW_WORDS}|to)\b)([a-z][a-z.&]*[a-z]\.?)"  # "SCO RATS" asks about RATS
_DESCRIBED = r"(?:describe|characteri[sz]e|see|view|portray|define|sum\s+up|think\s+of)"
_END = r"\s*[?.!]*\s*$"


@functools.lru_cache(maxsize=8)
def _characterisations(speaker: str | None) -> re.Pattern[str]:
    who = rf"(?:you|he|she|the\s+(?:director|interviewee){'|' + speaker if speaker else ''})"
    return re.compile(
        rf"^\s*(?:how\s+(?:does|do|did|would|will|could|can|might)\s+{who}\s+{_DESCRIBED}\s+(?:the\s+)?{_WORD}{_NOW}"
        rf"|how\s+(?:is|was)\s+(?:the\s+)?{_WORD}\s+(?:described|characteri[sz]ed|defined|portrayed)"
        rf"(?:\s+(?:in\s+the\s+(?:interview|article|text)|by\s+(?:him|her|the\s+(?:director|interviewee){'|' + speaker if speaker else ''})))?{_NOW}"
        rf"|what\s+(?:kind|sort|type)\s+of\s+(?:an?\s+)?[a-z]+\s+(?:is|was)\s+(?:the\s+)?{_WORD}{_NOW}"
        rf"|what\s+(?:does|do|did|would)\s+{who}\s+(?:call|compare)\s+(?:the\s+)?{_WORD}(?:\s+to)?{_NOW}"
        rf"|what\s+(?:is|was)\s+(?:the\s+)?{_WORD}\s+like{_NOW}"
        rf"|(?:please\s+)?(?:describe|characteri[sz]e|define)\s+(?:the\s+)?{_WORD})"
        + _END,
        re.IGNORECASE,
    )


def asked_characterisation(question: str, speaker: str | None = None) -> str | None:
    """The word a question asks to have characterised, in capitals, when it may be an acronym:
    "How does Sysoyev describe RATS?", "How would you characterise SCO RATS today?", "What kind of
    body is RATS?", "What is RATS like?", "What does he call RATS?", "Define RATS" → "RATS"; or None. `speaker` is a pattern
    for the interviewee's name (`voice_name`): only their view is the document's own ("How do the
    European partners view RATS?" asks what the partners say, and is answered as any question)."""
    m = _characterisations(speaker).match(question)
    if not m:
        return None
    word = next(g for g in m.groups() if g).replace(".", "")
    if not (2 <= len(word) <= 8 and word.isalpha()) or word.lower() in STOPWORDS:
        return None
    return _acronym_form(word)


# "When was RATS set up?", "What year was it founded?", "When did RATS start?", "When was the
# establishment of RATS?": when something came to be, which a text says as its "inception",
# "establishment" or "founding" ("…since the first days of its inception in 2004…").
_FOUNDED = r"(?:founded|set\s+up|established|created|formed|launched|started|inaugurated|instituted|born)"
_FOUNDING = re.compile(
    rf"^\s*(?:when|since\s+when|(?:in\s+)?what\s+year|in\s+which\s+year)\s+(?:was|were|is|are)\s+(?P<subject>.+?)\s+{_FOUNDED}\b"
    r"|^\s*when\s+did\s+(?P<doer>.+?)\s+(?:start|begin|get\s+started|come\s+into\s+being|come\s+about)\b"
    r"|^\s*(?:when|what\s+year)\s+(?:was|is)\s+(?:the\s+)?(?:founding|foundation|establishment|creation|inception|launch|formation)\s+of\s+(?P<of>.+?)\??$",
    re.IGNORECASE,
)
# What comes to be as an organisation does ("When was the agency set up?"), or a pronoun for it:
# not "the exercise", "that process" or "the cooperation", which a text dates otherwise.
_BODIES = frozenset(
    """it they this that organisation organization agency structure centre center body committee bloc group institution
    secretariat council office service services alliance association union""".split()  # noqa: SIM905
)


def asks_founding(question: str) -> bool:
    """Whether the question asks when something came to be: "When was RATS set up?", "what year
    was it founded", "When did RATS start?"; not "When was the agreement signed?"."""
    return bool(_FOUNDING.match(question))


def founded_thing(question: str) -> str:
    """What a founding question (asks_founding) asks about, as written: "RATS", "the anti-terror
    agency", "it", "that process"; "" for another question."""
    m = _FOUNDING.match(question)
    return next((g for g in m.groups() if g), "") if m else ""


def founds_a_body(question: str) -> bool:
    """Whether a founding question that names nothing asks about a body or a pronoun for one
    ("When was the organisation established?", "what year was it founded"): "When was the exercise
    launched?" or "When did that process start?" ask when something else began, which an
    organisation's inception does not answer."""
    thing = words(founded_thing(question))
    return bool(thing) and thing[-1] in _BODIES


# What a request for the gist of the whole document is made of ("What is the interview about?",
# "Summarise the article", "main points?", "tl;dr"): words naming the document, words asking for a
# summary, and filler. A question with any other word asks about something in the document ("What
# does the interview say about Afghanistan?", "What is the draft convention about?") and is
# searched as usual, or about who made it ("Who gave the interview?": asks_provenance).
_DOCUMENT_WORDS = frozenset(
    "interview interviews article text texts piece story document conversation transcript report source q publication".split()  # noqa: SIM905
)
_OPENING_REFERENCES = frozenset("it this that here thing whole all".split())  # noqa: SIM905 (the document only as a conversation opens)
_SUMMARY_WORDS = frozenset(  # ask for a summary whatever they point at
    """summary summaries summarise summarize summarised summarized summarising summarizing sum overview overviews gist
    synopsis recap rundown outline tldr tl dr nutshell essence essentials highlights takeaway takeaways point points
    topic topics theme themes subject subjects message messages idea ideas argument arguments thrust picture version
    main key central big overall general broadly basically mostly mainly essentially roughly brief briefly
    condense condensed shorten boil distil distill digest""".split()  # noqa: SIM905
)
_ABOUT_WORDS = frozenset(  # ask what something is about: the document only when it is named
    "about abt cover covers covered covering discuss discusses discussed discussing say says saying said talk talks talking deal deals dealing".split()  # noqa: SIM905
)
_FILLER = (STOPWORDS - frozenset("who whom when where why no not nor against before after between during until more".split())) | frozenset(  # noqa: SIM905
    """please pls plz thanks thank hi hello hey ok okay so quick quickly short shortly simple simply plain terms words sentence
    sentences line lines couple few one two three give gave given provide show explain describe tell know like want need time read don
    t s d ll re ve m whats even really actually exactly anyway just well let go goes going get answer fast
    u ur r wat wut thx im ive id dont cant k break
    bullet bullets list paragraph paragraphs liner tweet eli5 english language layman laymans
    single four five six seven eight nine ten
    briefing class meeting presentation homework writing try trying across convey""".split()  # noqa: SIM905
)
_OVERVIEW_WORDS = _DOCUMENT_WORDS | _OPENING_REFERENCES | _SUMMARY_WORDS | _ABOUT_WORDS | _FILLER


# What asks who made the document or whom it was made for ("Which news agency was the interview
# given to?", "Who conducted this interview?", "who interviewed him? the reporter's name",
# "interviewer name", "whose interview is this"): a maker ("reporter", "agency"…), or the document
# with "who"/"whose" or a word for making it; and nothing else but filler and the document's names.
# "Who conducted the Xiaomen-2015 exercise?" and "Which agency does Sysoyev head?" have words of
# their own and are searched as usual.
_MAKERS = frozenset(
    """agency agencies outlet outlets publication publications publisher publishers newspaper newspapers paper media press
    wire reporter reporters journalist journalists correspondent correspondents interviewer interviewers author authors writer
    writers editor editors source sources""".split()  # noqa: SIM905
)
_MAKING = frozenset(
    """conducted conduct conducts conducting facilitated facilitate facilitates facilitating interviewed interviewing
    published publish publishes publishing wrote write writes written writing gave give gives given giving ran run runs carried
    carry carries released release made make did do does done credited credit behind responsible appear appears appeared
    appearing speaking speaks spoke speaker put asked questions arranged arrange arranges arranging organised organized
    organise organize organising organizing""".split()  # noqa: SIM905
)
_WHO = frozenset("who whom whose whos".split())  # noqa: SIM905
_PROVENANCE_WORDS = _DOCUMENT_WORDS | _MAKERS | _MAKING | _WHO | _OPENING_REFERENCES | _FILLER | frozenset(
    "what whats which where name names news".split()  # noqa: SIM905
)


def asks_provenance(question: str, opening: bool = True, names: frozenset[str] = frozenset()) -> bool:
    """Whether the question asks who made the document (gave, conducted, published or wrote it),
    or for which outlet: "Which news agency was the interview given to?", "Who conducted this
    interview?", "Who is the reporter?", "whose interview is this". Its words are all of that kind,
    filler or the document's `names`. `opening`: the first question of a conversation, where "it"
    and "this" mean the document ("who facilitated it?")."""
    tokens = words(question)
    if not tokens or any(t not in _PROVENANCE_WORDS and t not in names for t in tokens):
        return False
    named = any(t in _DOCUMENT_WORDS for t in tokens) or (opening and any(t in _OPENING_REFERENCES for t in tokens))
    if any(t in _MAKERS for t in tokens):
        return True
    return named and (any(t in _WHO for t in tokens) or any(t in _MAKING for t in tokens))


# Makers that are organisations: "Which news agency was it given to?", "Which outlet published it?"
# ask for the document's source, not for the person who facilitated it.
_PUBLISHERS = frozenset(
    """agency agencies outlet outlets publication publications publisher publishers newspaper newspapers paper media press
    wire news published publish publishes publishing""".split()  # noqa: SIM905
)
_PROVENANCE_GENERIC = frozenset(stem(w) for w in (_PROVENANCE_WORDS - _MAKING - _MAKERS) | STOPWORDS)


def provenance_terms(question: str, source: str, names: frozenset[str] = frozenset()) -> frozenset[str]:
    """What a question about who made the document asks of the lines that speak of it, as search
    terms: its words for a maker or for making it ("Who facilitated the interview?": "facilit",
    which the credit line has), and the document's `source` ("TASS") when it asks for an
    organisation ("Which news agency…?"); not the document, "who", filler or the document's
    `names` ("…this interview with Sysoyev?" names no line). Empty when it asks nothing more
    specific than who made it ("Who conducted the interview?"): then every such line answers."""
    tokens = words(question)
    terms = {stem(t) for t in tokens if t not in _PUBLISHERS} - _PROVENANCE_GENERIC - {stem(n) for n in names}
    if not _PUBLISHERS.isdisjoint(tokens):
        terms |= {stem(t) for t in words(source) if t not in STOPWORDS}
    return frozenset(terms)


# When the document was made ("What year was the interview conducted?", "When was it published?",
# "When did the interview take place?"): the document, a word for making it, "when", filler.
_WHEN_WORDS = frozenset("when year years date dates day month time".split())  # noqa: SIM905
_PUBLISHING = frozenset("published publish publishes publication released release printed posted aired broadcast".split())  # noqa: SIM905 (only documents are)
_TAKING_PLACE = frozenset("recorded record held hold took take taken place happen happened".split())  # noqa: SIM905
_DOCUMENT_DATE_WORDS = _DOCUMENT_WORDS | _MAKING | _PUBLISHING | _TAKING_PLACE | _WHEN_WORDS | _OPENING_REFERENCES | _FILLER | frozenset(
    "what which exact exactly".split()  # noqa: SIM905
)


def asks_document_date(question: str, opening: bool = True, names: frozenset[str] = frozenset()) -> bool:
    """Whether the question asks when the document was made: "What year was the interview
    conducted?", "When did TASS publish this?", and "on what date was it published?" at any turn
    (only a document is published); "When was it held?" only as a conversation's first question.
    Its words are all of that kind, filler or the document's `names`; "When was the Xiaomen-2015
    exercise conducted?" has words of its own."""
    tokens = words(question)
    if not tokens or any(t not in _DOCUMENT_DATE_WORDS and t not in names for t in tokens) or _WHEN_WORDS.isdisjoint(tokens):
        return False
    published = not _PUBLISHING.isdisjoint(tokens)
    named = any(t in _DOCUMENT_WORDS or t in names for t in tokens) or ((opening or published) and not _OPENING_REFERENCES.isdisjoint(tokens))
    return named and (published or not _MAKING.isdisjoint(tokens) or not _TAKING_PLACE.isdisjoint(tokens))


# What the document is called ("What's the headline of this interview?", "What is the article
# titled?"): the document or, as a conversation opens, "it"/"this", a word for its title, filler.
_TITLING = frozenset("headline headlines headlined title titled heading".split())  # noqa: SIM905
_TITLE_WORDS = _TITLING | frozenset("called named name".split())  # noqa: SIM905
_PERSONAL = frozenset("he him his she her hers they them their theirs".split())  # noqa: SIM905 ("What is his title?": a post)
_DOCUMENT_TITLE_WORDS = _DOCUMENT_WORDS | _TITLE_WORDS | _OPENING_REFERENCES | _FILLER | frozenset("what which exactly".split())  # noqa: SIM905


def asks_document_title(question: str, opening: bool = True, names: frozenset[str] = frozenset()) -> bool:
    """Whether the question asks what the document is called: "What's the headline of this
    interview?", "What is the TASS piece titled?", "what is the interview called?", and as a
    conversation's first question "What's the headline?". Its words are all of that kind, filler or
    the document's `names`, with a word for the document itself: "What is the title of Sysoyev?"
    asks his post, "What is the title of the Shanghai Convention?" something the document names."""
    tokens = words(question)
    if not tokens or any(t not in _DOCUMENT_TITLE_WORDS and t not in names for t in tokens) or _TITLE_WORDS.isdisjoint(tokens):
        return False
    if any(t in _DOCUMENT_WORDS for t in tokens):
        return True
    return opening and not _TITLING.isdisjoint(tokens) and not any(t in names or t in _PERSONAL for t in tokens)


def names_document(sentence: str) -> bool:
    """Whether a sentence speaks of the document itself ("…has told in its interview to TASS…",
    "Interview facilitated by Alexander Shashkov"): what answers `asks_provenance`."""
    return not _DOCUMENT_WORDS.isdisjoint(words(sentence))


def asks_overview(question: str, opening: bool = True, names: frozenset[str] = frozenset()) -> bool:
    """Whether the question asks what the document is about as a whole ("What is the interview
    about?", "Summarise the article", "What are the main points of this interview?"), not about
    something in it ("What does the interview say about Afghanistan?"): every word of it names the
    document, asks for a summary or is filler. `names`: more words that name the document (its
    interviewee's, its source's: "Sysoyev's interview", "the TASS piece"). `opening`: the first
    question of a conversation, where "What is it about?" and "Give me a summary" mean the document
    too; later they may mean what was just said."""
    tokens = words(question)
    # A small number is a format ("in 3 bullet points", "like I'm 5"), not a fact asked about.
    if not tokens or any(t not in _OVERVIEW_WORDS and t not in names and not (t.isdigit() and len(t) <= 2) for t in tokens):
        return False
    named = any(t in _DOCUMENT_WORDS or t in names for t in tokens)
    if any(t in _SUMMARY_WORDS for t in tokens):
        return named or opening
    if any(t in _DOCUMENT_WORDS for t in tokens) and any(t in ("what", "whats", "wat", "wut") for t in tokens):
        return True  # "What is this document?", "What's the story here?" (not "What is TASS?")
    return any(t in _ABOUT_WORDS for t in tokens) and (named or (opening and any(t in _OPENING_REFERENCES for t in tokens)))


# Small talk: a greeting, thanks, praise or goodbye, and nothing asked. Messages of these words
# only ("hi", "thanks a lot!", "ok great", "bye"), or thanks with praise around a topic ("Thanks,
# that was helpful about RATS.") with no question word, request or question mark.
_GREETINGS = frozenset("hi hello hey hiya howdy greetings yo morning afternoon evening".split())  # noqa: SIM905
_THANKS = frozenset("thanks thank thx ty cheers appreciated appreciate".split())  # noqa: SIM905
_FAREWELLS = frozenset("bye goodbye farewell ciao later".split())  # noqa: SIM905
_PRAISE = frozenset(
    """great good nice cool perfect awesome excellent wonderful fantastic brilliant super fine helpful useful interesting
    informative clear amazing lovely answer answers""".split()  # noqa: SIM905
)
_CHAT_FILLER = frozenset(
    """ok okay k alright right got it i see understood makes sense sounds so much very a lot lots really that this was is
    it s all there everyone you your for the info information help day night again have care take""".split()  # noqa: SIM905
)
_SMALL_TALK_WORDS = _GREETINGS | _THANKS | _FAREWELLS | _PRAISE | _CHAT_FILLER
_ASKS = re.compile(
    r"\?|\b(?:what|which|who|whom|whose|when|where|why|how|tell|explain|list|name|describe|show|give|summari[sz]e|more|else)\b",
    re.IGNORECASE,
)


# Questions about the assistant itself: "who are you?", "what can you do?", "how does this work?".
_ABOUT_ASSISTANT = re.compile(
    r"^\s*(?:(?:hi|hello|hey|ok|okay|so)\s*[,!.]?\s+)?(?:"
    r"who\s+(?:are|r)\s+(?:you|u)|what\s+(?:are|r)\s+(?:you|u)|what\s+can\s+(?:you|u)\s+do"
    r"|what\s+can\s+i\s+ask(?:\s+(?:you|u))?|how\s+(?:does|do)\s+(?:this|it|you)\s+work|how\s+(?:do|can)\s+i\s+use\s+(?:this|it|you)"
    r"|how\s+(?:are|r)\s+(?:you|u)(?:\s+doing)?(?:\s+today)?|help|help\s+me|can\s+you\s+help(?:\s+me)?"
    r")\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def small_talk(message: str) -> str | None:
    """What a message that asks nothing says: "greeting" ("hi", "good morning"), "thanks"
    ("thanks!", "Thanks, that was helpful about RATS.", "Great answer about the exercise, thank
    you"), "farewell" ("bye"), "ack" ("ok", "got it", "great"), "about" (about the assistant
    itself: "who are you?", "what can you do?", "how does this work?"); None for anything that asks
    ("Thanks! And what about Pakistan?", "Is it good?", "Thanks. Now the budget", "Hi, RATS
    budget"): the words of small talk only, or thanks with praise, and no question word, request
    or question mark either way."""
    if _ABOUT_ASSISTANT.match(message):
        return "about"
    tokens = words(message)
    said = set(tokens)
    if not tokens or _ASKS.search(message):
        return None
    if not said <= _SMALL_TALK_WORDS and not (said & _THANKS and said & _PRAISE):
        return None
    if said & _THANKS:
        return "thanks"
    if said & _FAREWELLS:
        return "farewell"
    if said & _GREETINGS:
        return "greeting"
    return "ack"


def is_more_request(question: str) -> bool:
    """Whether the question asks for more of the last answer ("Tell me more", "Go on", "What else?")."""
    return bool(_MORE.match(question))


def split_question(question: str) -> list[str]:
    """The questions a question asks: "How many crimes were averted and how many terrorists were
    liquidated?" → ["How many crimes were averted?", "how many terrorists were liquidated?"].

    Split only where each part is a question of three words or more that opens like one, so
    "When and where was it held?" and "Which countries and organisations…" stay whole.
    """
    text = " ".join(question.split())
    if not _QUESTION_OPENING.match(text):
        return [question]
    parts = [p.strip(" ,;?") for p in _SECOND_QUESTION.split(text)]
    if len(parts) < 2 or any(len(p.split()) < 3 or not _QUESTION_OPENING.match(p) for p in parts):
        return [question]
    return [p + "?" for p in parts]


def plain_question(question: str) -> str:
    """The question without what is wrapped around it, opening with its question word and ending
    with "?" when it opens like one.

    "Hi! Can you tell me how many weapons were seized" → "how many weapons were seized?"; "whats
    its budget" → "what's its budget?" (`chat_spelling`); "Could
    you tell me if Iran is an observer" → "whether Iran is an observer?"; "According to the
    interview, who…" → "who…?" (the interview is the only source); "In 2015, how many…?" → "how
    many…, in 2015?". A wrapper is only taken off when a question of at least two words is left
    ("Tell me more" stays).
    """
    text = chat_spelling(" ".join(question.split()))
    while True:
        unwrapped = _SOURCE.sub("", text).strip(" ,")
        if (m := _WRAPPER.match(unwrapped)) and m.end() > 0 and len(unwrapped[m.end() :].split()) >= 2:
            unwrapped = unwrapped[m.end() :].strip()
            if m.group().strip().lower().endswith(("me", "us", "know", "wonder", "wondered", "explain")):
                unwrapped = re.sub(r"^if\b", "whether", unwrapped, flags=re.IGNORECASE)  # "tell me if…" asks whether
                unwrapped = _EMBEDDED.sub(r"\1 \3 \2", unwrapped)  # "tell me who the director is" asks who is
        if unwrapped == text or len(unwrapped.split()) < 2:
            break
        text = unwrapped
    if (m := _LEADING_CLAUSE.match(text)) and _QUESTION_OPENING.match(rest := text[m.end() :]):
        end = len(rest.rstrip("?.! "))
        clause = m.group(1)
        opener = clause.split()[0]
        if opener.lower() in _CLAUSE_OPENERS or _PARTICIPLE.fullmatch(opener):
            clause = clause[0].lower() + clause[1:]  # "According to…" was capitalised only as the opening
        text = f"{rest[:end]}, {clause}{rest[end:]}"
    if text and text[-1] not in "?.!" and _QUESTION_OPENING.match(text):
        text += "?"
    return text


# A request for things by name: "List the organisations…", "can you name those partners?"; not
# "Name of the exercise?" (the noun).
_LIST_REQUEST = re.compile(
    r"(?:please\s+)?(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+)?)?(?:list|name|enumerate)\b(?!\s+of\b)",
    re.IGNORECASE,
)


def asks_for_list(question: str) -> bool:
    """Whether the message asks for things to be listed ("list the observer states", "Hi, can you
    name a couple of those partners?"): its request verb is taken off what is searched
    (plain_question), so this is read from the message as written, past greetings."""
    text = " ".join(question.split())
    while (m := _WRAPPER.match(text)) and m.end() > 0 and not _LIST_REQUEST.match(text):
        text = text[m.end() :]
    return bool(_LIST_REQUEST.match(text))


@dataclass(frozen=True, slots=True)
class Query:
    """What is actually searched: the question, plus context from the conversation when needed."""

    text: str
    context: str  # the previous user question, when the question leans on it; else ""
    said: tuple[str, ...] = ()  # the assistant's earlier answers in this conversation
    listing: bool = False  # the message asks for things to be listed (asks_for_list)

    @property
    def full(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


def is_follow_up(question: str) -> bool:
    tokens = words(question)
    return bool(_ANAPHORA.intersection(tokens)) or bool(_FOLLOW_UP_OPENERS.match(question)) or len(content_terms(question)) <= 2


def build_query(question: str, history: Sequence[ChatTurn] = (), rewrite: Callable[[str], str] | None = None) -> Query:
    """What to search for `question`: the plain question (and the previous one, for a follow-up),
    each then passed through `rewrite` (Retriever.query's: spelling, attributions) when given."""
    fix = rewrite or (lambda text: text)
    asked = " ".join(question.split())
    question = fix(plain_question(question))
    previous = fix(plain_question(next((t.content for t in reversed(history) if t.role == "user" and t.content.strip()), "")))
    said = tuple(t.content for t in history if t.role == "assistant" and t.content.strip())
    # As asked too: "And in 2014, how many…?" opens like a follow-up before its clause is moved.
    listing = asks_for_list(asked)
    if previous and (is_follow_up(question) or bool(_FOLLOW_UP_OPENERS.match(asked))):
        return Query(question, previous, said, listing)
    return Query(question, "", said, listing)


# A word after which a name is an object: "before Sysoyev" is "before him".
# The interviewee by role: "the interviewee", "the person interviewed", and "Who was interviewed?".
_INTERVIEWEE = re.compile(r"\b(?:the\s+)?(?:interviewee|(?:person|man|woman|official)\s+(?:being\s+)?interviewed)\b", re.IGNORECASE)
_WHO_INTERVIEWED = re.compile(r"^(\s*who)\s+(?:was|is|got|has\s+been|is\s+being|was\s+being)\s+interviewed\b", re.IGNORECASE)
_HE = re.compile(r"\b(?:he|him|his)\b", re.IGNORECASE)
_OBJECT_AFTER = re.compile(
    r"\b(?:before|after|by|to|with|for|about|from|of|than|like|under|ask|asked|asking|interviewed|told|credit|credits)\s+$", re.IGNORECASE
)


# "last year", "this year", "the year before last": years counted from when the document appeared.
_RELATIVE_YEAR = re.compile(r"\b(?:in\s+)?(?P<which>the\s+year\s+before\s+last|last\s+year|this\s+year)\b", re.IGNORECASE)
_YEARS_BACK = {"the year before last": 2, "last year": 1, "this year": 0}


def years_for(question: str, published: int) -> str:
    """The question with a year counted from the publication year in its place: for a text of
    2016, "How many sites were shut down last year?" → "…shut down in 2015?", "this year" → "in
    2016". Asked of a document, "last year" is the document's (the interview reports 2015 in
    2016), not the reader's calendar."""

    def year(m: re.Match[str]) -> str:
        back = _YEARS_BACK[" ".join(m.group("which").lower().split())]
        return f"in {published - back}"

    return _RELATIVE_YEAR.sub(year, question)


def voice_name(names: Iterable[str]) -> str | None:
    """A pattern for the interviewees' names as a question may write them ("Sysoyev", "Mr Yevgeniy
    Sysoyev"); None when there are none."""
    words_ = "|".join(map(re.escape, sorted({w for name in names for w in name.split() if len(w) > 1}, key=len, reverse=True)))
    return rf"(?:(?:mr|mrs|ms|dr)\.?\s+)?(?:{words_})(?:\s+(?:{words_}))*" if words_ else None


def voice_attribution(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for "according to Sysoyev", "in Mr Sysoyev's view"… for the interviewees `names`.

    Every answer in an interview is the interviewee's, so attributing the question to them says
    nothing — and their name, found only in the byline, would pull the search there.
    """
    who = voice_name(names)
    if who is None:
        return None
    return re.compile(
        _ATTRIBUTION_START
        + rf"(?:according\s+to\s+{who}|in\s+{who}['’]s?\s+(?:view|words|opinion)|in\s+the\s+(?:view|words|opinion)\s+of\s+{who})"
        + r"(?=\s*[,?.!]|\s*$)\s*,?",
        re.IGNORECASE,
    )


class Retriever:
    def __init__(
        self,
        index: SearchIndex,
        embedder: Embedder,
        settings: Settings,
        interviewees: Iterable[str] = (),
        document_names: frozenset[str] = frozenset(),
        published: int | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        known = known_english(embedder.known_words()) if settings.spell_correct else frozenset()
        self.speller = Speller((chunk.text for chunk in index.chunks), known, english_frequencies()) if known else None
        self.acronyms = Acronyms(chunk.text for chunk in index.chunks)
        self.titles = Titles(chunk.text for chunk in index.chunks)
        names = [n for n in interviewees if n]
        self._attribution = voice_attribution(names)
        # The interviewee's name is no search term: it is in the byline, but every answer is theirs.
        self._voice_terms = frozenset(content_terms(" ".join(names)))
        who = voice_name(names)
        self._voice_names = re.compile(rf"\b{who}(?:['’]s)?\b", re.IGNORECASE) if who else None
        # "The interviewee" is a name only the metadata gives, and only when one person answers.
        self._interviewee = names[0] if len(set(names)) == 1 else None
        self._document_names = document_names  # for asks_overview: "Sysoyev's interview", "the TASS piece"
        self._published = published  # the year every document was published in, if one: "last year" is the one before

    def query(self, question: str, history: Sequence[ChatTurn] = ()) -> Query:
        """The question as searched: unwrapped (see plain_question), its misspellings corrected,
        names in the corpus's form ("United Nations" → "UN", see Acronyms), a leader asked about
        with the corpus's title ("Who heads RATS?" → "Who is the Director of RATS?", see Titles), dates in words
        ("17.06.2009" → "17 June 2009"), without "according to <the interviewee>". A conversation's
        first question that says "he", "him" or "his" can only mean the interviewee: "Who is he?"
        is "Who is Yevgeniy Sysoyev?" (and then the rules for his name apply). So does one after
        questions about the document as a whole only ("What is this interview about?" → "Who is
        he?"): its answer presents him and nobody else."""
        asked = [t.content for t in history if t.role == "user" and t.content.strip()]
        if (name := self._interviewee) and all(asks_overview(q, opening=i == 0, names=self._document_names) for i, q in enumerate(asked)):
            question = _HE.sub(lambda m: f"{name}'s" if m.group().lower() == "his" else name, question)
        return build_query(question, history, self._rewrite)

    def _rewrite(self, text: str) -> str:
        text = spell_out_dates(text)
        if self._published is not None:
            text = years_for(text, self._published)
        if self.speller:
            text = self.speller.correct(text)
        text = self.acronyms.rewrite(text)
        text = self.titles.rewrite(text)
        if self._interviewee:
            text = _WHO_INTERVIEWED.sub(rf"\1 is {self._interviewee}", text)
            text = _INTERVIEWEE.sub(self._interviewee, text)
        if self._attribution and self._attribution.search(text):
            text = plain_question(self._attribution.sub("", text).strip(" ,"))
        return text

    def query_vector(self, query: Query) -> np.ndarray:
        return self.embedder.encode_query(self.without_voice(query.full))

    def without_voice(self, text: str) -> str:
        """The question with the interviewee's name as a pronoun ("How does Sysoyev describe…" →
        "How does he describe…"), for the search vector: the name is only in the byline, and every
        answer is theirs. Kept when the question is about them (fewer than three other words
        worth searching: "What is Sysoyev's position?"). "He": the interviewee here is a man ("they"
        measured no better: one more false refusal on the gold set)."""
        if self._voice_names is None or len(content_terms(self._voice_names.sub("", text))) < 3:
            return text

        def pronoun(m: re.Match[str]) -> str:
            if m.group(0).endswith(("'s", "’s")):
                return "his"
            return "him" if _OBJECT_AFTER.search(text, 0, m.start()) else "he"

        return self._voice_names.sub(pronoun, text)

    def dense_ranking(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.index.dense.ntotal)
        if k <= 0:
            return []
        scores, ids = self.index.dense.search(vector.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def sentence_ranking(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunks ranked by their best sentence (max-sim): a sharp sentence in a long chunk still counts."""
        index = self.index
        n = min(k * 3, index.sentence_dense.ntotal)
        if n <= 0:
            return []
        scores, ids = index.sentence_dense.search(vector.reshape(1, -1), n)
        ranking: list[tuple[int, float]] = []
        seen: set[int] = set()
        for sid, score in zip(ids[0], scores[0], strict=True):
            if sid < 0:
                continue
            for ci in index.sentence_chunks[sid]:
                if ci not in seen:
                    seen.add(ci)
                    ranking.append((ci, float(score)))
            if len(ranking) >= k:
                break
        return ranking[:k]

    def bm25_ranking(self, terms: list[str], k: int, model: bm25s.BM25 | None = None) -> list[tuple[int, float]]:
        """The `k` chunks `model` (the word index by default) scores best for `terms`, best first;
        chunks it scores 0 are left out."""
        if not terms:
            return []
        scores = (model or self.index.bm25).get_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def pair_ranking(self, text: str, k: int) -> list[tuple[int, float]]:
        """Chunks by BM25 over the question's neighbouring terms (`term_pairs`), best first; pairs
        with the interviewee's name are left out, as their name is."""
        pairs = [p for p in term_pairs(text) if not self._voice_terms.intersection(p.split())]
        return self.bm25_ranking(pairs, k, self.index.pairs)

    def retrieve(self, question: str, top_k: int | None = None, history: Sequence[ChatTurn] = ()) -> list[Hit]:
        return self.retrieve_query(self.query(question, history), top_k)

    def retrieve_query(self, query: Query, top_k: int | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        s = self.settings
        top_k = top_k or s.top_k
        depth = max(s.candidates, top_k)
        dense: list[tuple[int, float]] = []
        sentences: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        pairs: list[tuple[int, float]] = []
        if s.retrieval in ("hybrid", "dense"):
            vector = self.query_vector(query) if vector is None else vector
            dense = self.dense_ranking(vector, depth)
            sentences = self.sentence_ranking(vector, depth)
        if s.retrieval in ("hybrid", "bm25"):
            # The follow-up's own words count twice: they say what is asked now.
            terms = [t for t in content_terms(query.text) * 2 + content_terms(query.context) if t not in self._voice_terms]
            lexical = self.bm25_ranking(terms, depth)
            if s.pair_weight > 0:
                pairs = self.pair_ranking(query.text, depth)
        # BM25 lists only the chunks that share a word with the question; the others score 0.
        scored_by_bm25 = min(depth, len(self.index.chunks))
        rankings = [
            Ranking(dense, s.dense_weight),
            Ranking(sentences, s.sentence_weight),
            Ranking(lexical, s.bm25_weight, zeros=max(0, scored_by_bm25 - len(lexical))),
            Ranking(pairs, s.pair_weight, zeros=max(0, scored_by_bm25 - len(pairs))),
        ]
        return fuse(self.index, rankings, dense, lexical, top_k, s.rrf_k, s.fusion)


class Ranking(NamedTuple):
    results: list[tuple[int, float]]  # (chunk position, score), best first
    weight: float
    zeros: int = 0  # chunks the ranking scored 0 and left out (they count in its mean and spread)


_TIE_DIGITS = 9


def fuse(
    index: SearchIndex,
    rankings: Sequence[Ranking],
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    top_k: int,
    rrf_k: int,
    method: str = "rrf",
) -> list[Hit]:
    """Reciprocal rank fusion: score = Σ weight / (rrf_k + rank) over the rankings, ranks 1-based.

    method="scores": each ranking's scores are min-max normalised and summed instead.
    method="zscores": each ranking's scores are standardised (by the mean and standard deviation
    of all the scores it gave, its zeros included) and only the part above the mean counts: a
    chunk adds weight × max(0, z). A standout (one BM25 score far ahead of the rest) then weighs
    more than the leader of a flat ranking, where min-max gives both 1.
    """
    fused: dict[int, float] = {}
    best_rank: dict[int, int] = {}  # breaks ties (z-scores give every chunk below the mean 0)
    for ranking, _, _ in rankings:
        for rank, (i, _) in enumerate(ranking):
            best_rank[i] = min(rank, best_rank.get(i, rank))
    for ranking, weight, zeros in rankings:
        if method == "zscores" and ranking:
            # Plain floats: for a few dozen scores numpy's own overhead costs more than the sums.
            n = len(ranking) + zeros
            mean = sum(score for _, score in ranking) / n
            std = math.sqrt((sum((score - mean) ** 2 for _, score in ranking) + zeros * mean * mean) / n)
            for i, score in ranking:
                fused[i] = fused.get(i, 0.0) + weight * (max(0.0, (score - mean) / std) if std > 0 else 0.0)
            continue
        if method == "scores" and ranking:
            top, low = ranking[0][1], ranking[-1][1]
            for i, score in ranking:
                fused[i] = fused.get(i, 0.0) + weight * ((score - low) / (top - low) if top > low else 1.0)
            continue
        for rank, (i, _) in enumerate(ranking, 1):
            fused[i] = fused.get(i, 0.0) + weight / (rrf_k + rank)
    dense_info = {i: (rank, score) for rank, (i, score) in enumerate(dense, 1)}
    bm25_info = {i: (rank, score) for rank, (i, score) in enumerate(lexical, 1)}
    # Scores equal but for float rounding are ties (z = √(n-1) for a ranking's lone leader whatever
    # its score, so 0.5·1.4142… and 1.0·0.7071… may differ in the last bit): then the best rank.
    order = sorted(fused, key=lambda i: (-round(fused[i], _TIE_DIGITS), best_rank[i], i))[:top_k]
    hits = []
    for i in order:
        d = dense_info.get(i)
        b = bm25_info.get(i)
        hits.append(
            Hit(
                chunk=index.chunks[i],
                score=fused[i],
                position=i,
                dense_score=d[1] if d else None,
                bm25_score=b[1] if b else None,
                dense_rank=d[0] if d else None,
                bm25_rank=b[0] if b else None,
            )
        )
    return hits
