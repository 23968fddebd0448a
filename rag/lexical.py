"""Word-level text handling shared by BM25 and the answer scorer: one tokenizer, one stemmer."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Set
from functools import cached_property, lru_cache
from importlib import resources

import Stemmer

_TOKEN = re.compile(r"\w+", re.UNICODE)
_OPENS_UPPER = re.compile(r"\b[^\W\d_a-z]\w*")  # a token of _TOKEN that may open with a capital
_ALPHABETIC = re.compile(r"(?<!\w)[^\W\d_]+(?!\w)")  # a token of _TOKEN made of letters only
_STEMMER = Stemmer.Stemmer("english")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "also", "did", "does", "tell", "say", "said", "says", "please", "according", "interview", "mr", "mrs", "ms", "dr"]
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


# What an American spelling that british() changes starts with, or holds.
_MAYBE_AMERICAN = re.compile(r"^(?:" + "|".join(sorted([*_US_STEMS, *_DOUBLED_L], key=len, reverse=True)) + r")|.{3,}(?:iz|yz)")


def british_spellings(american: Iterable[str]) -> frozenset[str]:
    """The British spellings of the words that have one ("criminalize" → "criminalise")."""
    return frozenset(uk for word in american if _MAYBE_AMERICAN.match(word) and (uk := british(word)) != word)


# A people's or country's adjective and the country's name are one term ("Afghan" finds
# "Afghanistan", "Belarusian" finds "Belarus"). Single words only; none that is also a common
# word ("Polish", "Turkey"; "German" would take "germane" along, "French" the "francs" that "France"
# stems with) or a language that names more than one country ("English", "Arabic").
_DEMONYMS = {
    "afghanistan": "afghan afghans",
    "africa": "african africans",
    "albania": "albanian albanians",
    "algeria": "algerian algerians",
    "america": "american americans americas",
    "argentina": "argentine argentines argentinian argentinians",
    "armenia": "armenian armenians",
    "asia": "asian asians",
    "australia": "australian australians",
    "austria": "austrian austrians",
    "azerbaijan": "azerbaijani azerbaijanis azeri azeris",
    "bangladesh": "bangladeshi bangladeshis",
    "belarus": "belarusian belarusians belarusan byelorussian",
    "belgium": "belgian belgians",
    "brazil": "brazilian brazilians",
    "britain": "british briton britons",
    "bulgaria": "bulgarian bulgarians",
    "cambodia": "cambodian cambodians",
    "canada": "canadian canadians",
    "chechnya": "chechen chechens",
    "china": "chinese",
    "croatia": "croatian croatians",
    "denmark": "danish dane danes",
    "egypt": "egyptian egyptians",
    "estonia": "estonian estonians",
    "ethiopia": "ethiopian ethiopians",
    "europe": "european europeans",
    "finland": "finnish finn finns",
    "georgia": "georgian georgians",
    "greece": "greek greeks",
    "hungary": "hungarian hungarians",
    "india": "indian indians",
    "indonesia": "indonesian indonesians",
    "iran": "iranian iranians",
    "iraq": "iraqi iraqis",
    "ireland": "irish",
    "israel": "israeli israelis",
    "italy": "italian italians",
    "japan": "japanese",
    "jordan": "jordanian jordanians",
    "kazakhstan": "kazakh kazakhs kazakhstani kazakhstanis",
    "kenya": "kenyan kenyans",
    "korea": "korean koreans",
    "kuwait": "kuwaiti kuwaitis",
    "kyrgyzstan": "kyrgyz kirghiz",
    "latvia": "latvian latvians",
    "lebanon": "lebanese",
    "libya": "libyan libyans",
    "lithuania": "lithuanian lithuanians",
    "malaysia": "malaysian malaysians",
    "mexico": "mexican mexicans",
    "moldova": "moldovan moldovans",
    "mongolia": "mongolian mongolians",
    "morocco": "moroccan moroccans",
    "nepal": "nepalese nepali nepalis",
    "netherlands": "dutch",
    "nigeria": "nigerian nigerians",
    "norway": "norwegian norwegians",
    "pakistan": "pakistani pakistanis",
    "palestine": "palestinian palestinians",
    "philippines": "filipino filipinos philippine",
    "portugal": "portuguese",
    "qatar": "qatari qataris",
    "romania": "romanian romanians",
    "russia": "russian russians",
    "serbia": "serbian serbians serb serbs",
    "somalia": "somali somalis",
    "spain": "spanish spaniard spaniards",
    "sudan": "sudanese",
    "sweden": "swedish swede swedes",
    "switzerland": "swiss",
    "syria": "syrian syrians",
    "tajikistan": "tajik tajiks tajikistani",
    "thailand": "thai thais",
    "tibet": "tibetan tibetans",
    "tunisia": "tunisian tunisians",
    "turkmenistan": "turkmen turkmens",
    "ukraine": "ukrainian ukrainians",
    "uzbekistan": "uzbek uzbeks uzbekistani",
    "vietnam": "vietnamese",
    "yemen": "yemeni yemenis",
}


# The other countries, by their one-word names: not in the table above, as their adjectives are
# common words or stem with them ("Turkish", "French", "Polish"), or they need none here.
_OTHER_COUNTRY_NAMES = (
    "andorra angola bahamas bahrain barbados belize benin bhutan bolivia bosnia botswana brunei burundi cameroon "
    "chad chile colombia comoros congo cuba cyprus czechia djibouti dominica ecuador eritrea eswatini fiji france "
    "gabon gambia germany ghana grenada guatemala guyana haiti honduras iceland jamaica kiribati kosovo laos lesotho "
    "liberia liechtenstein luxembourg madagascar malawi maldives mali malta mauritania mauritius micronesia monaco "
    "montenegro mozambique myanmar namibia nauru nicaragua niger oman palau panama paraguay peru poland rwanda samoa "
    "senegal seychelles singapore slovakia slovenia suriname tanzania togo tonga trinidad turkey tuvalu uganda uruguay "
    "vanuatu venezuela zambia zimbabwe usa uk uae saudi"
)
_OTHER_COUNTRIES = frozenset(_OTHER_COUNTRY_NAMES.split())
# Countries and their peoples, in lower case: names whatever case a question is typed in.
PLACE_NAMES = frozenset(_DEMONYMS) | frozenset(w for ds in _DEMONYMS.values() for w in ds.split()) | _OTHER_COUNTRIES


def _stem_word(word: str) -> str:
    return str(_STEMMER.stemWord(british(word)))


_DEMONYM_STEMS = {_stem_word(d): _stem_word(country) for country, ds in _DEMONYMS.items() for d in ds.split()}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The word's search term: British spelling, Snowball stem, and a country for its adjective."""
    term = _stem_word(word)
    return _DEMONYM_STEMS.get(term, term)


def word_spans(text: str) -> list[re.Match[str]]:
    """The word tokens of `words`, with their positions in the text, in order."""
    return list(_TOKEN.finditer(text))


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits), in order, stopwords kept."""
    return [w.lower() for w in _TOKEN.findall(text)]


_DIGIT_GROUP = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords: what BM25 indexes and what coverage counts. A number's
    thousands separators go ("1,500" is the term "1500")."""
    return [stem(w) for w in words(_DIGIT_GROUP.sub("", text)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_CLAUSE_BREAK = re.compile(r"[.?!;:\n()–—]+")


def term_pairs(text: str) -> list[str]:
    """Each two neighbouring search terms of a clause, stopwords skipped: "new Dialogue Partners of
    the Organisation" → "new dialogu", "dialogu partner", "partner organis". A BM25 index of these
    (`rag.index`) ranks a chunk that has the question's words together above one that has them apart
    ("…European partners… a constructive dialogue…")."""
    pairs: list[str] = []
    for clause in _CLAUSE_BREAK.split(text):
        pairs += [f"{a} {b}" for a, b in itertools.pairwise(content_terms(clause))]
    return pairs


@lru_cache(maxsize=1)
def english_frequencies() -> dict[str, int]:
    """pyspellchecker's English word list (~160,000 words, rare ones too: "censure", "abettors")
    with how often each occurs, read once per process. Empty if the package is missing."""
    try:
        data = resources.files("spellchecker").joinpath("resources/en.json.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    return {w: int(n) for w, n in json.loads(gzip.decompress(data)).items() if w.isalpha()}


@lru_cache(maxsize=4)
def known_english(model_words: frozenset[str]) -> frozenset[str]:
    """The embedding model's whole words and the English word list (`english_frequencies`): words
    the speller must not "correct", with the British spellings of their American ones
    ("prioritise", "defence"; cached per model)."""
    known = model_words.union(english_frequencies())
    return known | british_spellings(known)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ment", "ments", "ness", "ies", "ied")


def _edits(word: str) -> set[str]:
    """Every string one edit from `word`: a letter dropped, added, changed, or two swapped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
        | {a + c + b for a, b in splits for c in _LETTERS}
    )


def _most_frequent(candidates: Iterable[str], counts: Mapping[str, int], stopwords: bool = False) -> str | None:
    """The most frequent of the candidates that `counts` holds (5 letters or more; a stopword only
    with `stopwords`); None when there is none, or when two different words (not two forms of one) tie."""
    ranked = sorted(
        ((counts[c], c) for c in candidates if c in counts and len(c) >= 5 and (stopwords or c not in STOPWORDS)), reverse=True
    )
    if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0] and stem(ranked[0][1]) != stem(ranked[1][1])):
        return None
    return ranked[0][1]


_SPLIT_NAME = re.compile(r"\b([A-Z][a-z]+) (?=([A-Z][a-z]+)\b)")
# What comes right before a sentence's first word (an opening quote or bracket only after a
# sentence's end: "(Xiamen-2015)" inside one is not); but not a title's or an initial's full stop.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n–—-])[\s\"“‘(]*$")
_NO_SENTENCE_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|St|[A-Z])\.[\s\"“‘(]*$")


def starts_sentence(before: str) -> bool:
    """Whether a word after `before` (the text before it; 8 characters are enough) opens a
    sentence: not after "Mr." or "Dr.", nor after an initial ("D.M.Djumanbekov")."""
    return bool(_SENTENCE_START.search(before)) and not _NO_SENTENCE_END.search(before)


def _distance(a: str, b: str, most: int) -> int:
    """Edits (a letter dropped, added, changed, or two neighbours swapped) from `a` to `b`;
    anything above `most` is reported as most + 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        if min(row) > most:
            return most + 1
        previous2, previous = previous, row
    return min(previous[-1], most + 1)


# Russian names are romanised many ways: "Yevgeniy", "Evgeny", "Evgenii"; "Sysoyev", "Sysoev";
# "Djumanbekov", "Dzhumanbekov". Their skeletons are one: the letters that vary between the
# systems folded together (a iotated vowel's "y"/"j", "-iy"/"-ii"/"-y" at the end, "dzh"/"dj").
_ROMANISED = (
    (re.compile(r"dzh|dj"), "j"),
    (re.compile(r"kh"), "h"),
    (re.compile(r"y(?=[eaou])"), ""),
    (re.compile(r"(?:iy|ii|yi|ij|y)"), "i"),
    (re.compile(r"(.)\1"), r"\1"),
)


def romanised_skeleton(word: str) -> str:
    """`word` with what varies between romanisations of a Russian name folded: "Yevgeniy",
    "Evgeny" and "Evgenii" → "evgeni"; "Sysoyev" and "Sysoev" → "sisoev"."""
    word = word.lower()
    for pattern, replacement in _ROMANISED:
        word = pattern.sub(replacement, word)
    return word


_HYPHENATED = re.compile(r"(?<![\w-])([^\W\d_]+)-([^\W\d_]+)(?![\w-])")


class Speller:
    """Corrects a question's misspelt words to the corpus's own ("terorist" → "terrorist"), or
    else to English words (`common`: word → how often it occurs; "attcaks" → "attacks").

    A word is corrected only when it is long enough to judge (5 letters or more); neither the
    corpus nor the `known` words (an English vocabulary: `known_english`) hold it, its stem or the
    word it inflects ("foiled": "foil"); and one edit turns it into a corpus word of 5 letters or
    more — the most frequent one, unless two different words tie — or, failing that, into an
    English word of `common` the same way. So "funded" stays "funded" (a known word) though
    "founded" is one edit away, and a capitalised word inside a question (maybe a name) stays as
    typed unless it is one edit from one of the corpus's ("Tashkemt" → "Tashkent").

    Names are spelt many ways ("Dzhumanbekov", "Ekaterinburg" for "Djumanbekov",
    "Yekaterinburg"): a capitalised word inside a question also becomes the corpus name (a word of
    six letters or more the corpus capitalises inside sentences only, and no common English
    word) one edit away, even when the word is a (rare) English one, or two edits away when it is
    no word and has seven letters or more; and two capitalised words that the corpus writes as one
    name are joined ("Zhang Xin Feng" → "Zhang Xinfeng"). A word the corpus only writes with a
    hyphen is hyphenated ("antiterrorist" → "anti-terrorist", "Counterterrorism" →
    "Counter-terrorism"), so it matches the corpus's two words.
    """

    def __init__(self, texts: Iterable[str], known: Set[str], common: Mapping[str, int] | None = None) -> None:
        self._counts: Counter[str] = Counter()
        capitalised: set[str] = set()  # inside a sentence, where a capital marks a name
        lower_case: set[str] = set()
        tokens: Counter[str] = Counter()
        hyphenated: dict[str, int] = {}  # "antiterrorist" → 4: the corpus writes "anti-terrorist"
        for text in texts:
            for m in _HYPHENATED.finditer(text):
                hyphenated.setdefault((m.group(1) + m.group(2)).lower(), len(m.group(1)))
            # The words at the regex engine's speed, counted as written; positions only for those
            # that open with a capital (a large corpus is read at start: at 50,000 chunks this
            # took 15 s).
            tokens.update(_ALPHABETIC.findall(text))
            for m in _OPENS_UPPER.finditer(text):
                w = m.group()
                lower = w.lower()
                if w.isalpha() and w[0].isupper() and lower not in capitalised and not starts_sentence(text[max(0, m.start() - 8) : m.start()]):
                    capitalised.add(lower)
        for w, n in tokens.items():
            self._counts[w.lower()] += n
            if w[0].islower():
                lower_case.add(w)
        # Names: words of six letters or more that the corpus writes capitalised inside sentences,
        # never in lower case, and that are no common English words ("Djumanbekov",
        # "Yekaterinburg"; not "Committee" of "Executive Committee").
        common_words = common or {}
        self._names = sorted(w for w in capitalised - lower_case if len(w) >= 6 and common_words.get(w, 0) < 100)
        # Any word the corpus writes capitalised only, even one that only ever opens a sentence
        # ("Yevgeniy"), is a name another romanisation can spell alike (see _romanised).
        self._capitalised_only = [
            w.lower() for w in tokens if len(w) >= 5 and w[0].isupper() and w.lower() not in lower_case and common_words.get(w.lower(), 0) < 100
        ]
        self._skeletons: dict[str, str] | None = None
        self._hyphenated = {w: at for w, at in hyphenated.items() if w not in self._counts}
        self._stems = {stem(w) for w in self._counts}
        self._known = known
        self._common = common or {}
        self._cache: dict[tuple[str, bool], str] = {}

    def correct_word(self, word: str, english: bool = True) -> str:
        """`word` corrected into a corpus word, or else, with `english`, into an English word of
        `common` (how often each occurs: the most frequent one edit away wins)."""
        cached = self._cache.get((word, english))
        if cached is None:
            if len(self._cache) >= 4096:  # what people type has no end: start over rather than grow
                self._cache.clear()
            cached = self._cache[word, english] = self._correct(word, english)
        return cached

    def _correct(self, word: str, english: bool) -> str:
        lower = word.lower()
        if len(lower) < 5 or not lower.isalpha() or lower in self._counts or lower in STOPWORDS:
            return word
        if at := self._hyphenated.get(lower):  # written solid, hyphenated in the corpus
            return f"{word[:at]}-{word[at:]}"
        # A capitalised word inside a question may be a name spelt another way ("Ekaterinburg",
        # "Evgeny", "Dzhumanbekov" for the corpus's "Yekaterinburg", "Yevgeniy", "Djumanbekov").
        name = not english and word[0].isupper()
        if self._is_known(lower) or stem(lower) in self._stems:
            best = self._name_near(lower, 1) if name and stem(lower) not in self._stems else None
        else:
            edits = _edits(lower)
            # Only into a word worth finding: "sever" is not turned into "ever", nor "abort" into "about".
            best = _most_frequent(edits, self._counts)
            if best is None and name:
                best = self._name_near(lower, 2) or self._romanised(lower)
            if best is None and english:
                # Not a corpus word: an English one still tells the search what was meant ("attcaks").
                best = _most_frequent(edits, self._common, stopwords=True)  # "accodring" → "according"
        if best is None:
            return word
        return best.upper() if word.isupper() else best.capitalize() if word[0].isupper() else best

    def _name_near(self, word: str, most: int) -> str | None:
        """The corpus name at most `most` edits from `word` (six letters or more), if only one is
        closest; for two edits, only a word of seven letters or more."""
        if len(word) < (6 if most < 2 else 7):
            return None
        found: dict[int, list[str]] = {}
        for name in self._names:
            if abs(len(name) - len(word)) <= most:
                d = _distance(word, name, most)
                if d <= most:
                    found.setdefault(d, []).append(name)
        if not found:
            return None
        closest = found[min(found)]
        return closest[0] if len(closest) == 1 else None

    def _romanised(self, word: str) -> str | None:
        """The corpus name that `word` romanises another way ("Evgeny" → "yevgeniy"), when only one
        does; the skeletons are worked out the first time one is needed (100,000 words take 0.4 s)."""
        if self._skeletons is None:
            found: dict[str, set[str]] = {}
            for name in self._capitalised_only:
                found.setdefault(romanised_skeleton(name), set()).add(name)
            self._skeletons = {k: next(iter(v)) for k, v in found.items() if len(v) == 1}
        return self._skeletons.get(romanised_skeleton(word))

    def _is_known(self, word: str) -> bool:
        """An English word, or one inflected from one ("foiled" from "foil", "stopped" from "stop")."""
        if word in self._known:
            return True
        for suffix in _INFLECTIONS:
            base = word[: -len(suffix)]
            if not word.endswith(suffix) or len(base) < 3:
                continue
            if base in self._known or base + "e" in self._known or (base[-1] == base[-2] and base[:-1] in self._known):
                return True
        return False

    def correct(self, text: str, max_words: int = 64) -> str:
        """`text` with its misspelt words corrected; only its first `max_words` words are looked
        at (a question is shorter; a 2,000-character paste of nonsense would cost ~60 ms).

        A capitalised word inside the text may be a name: it is corrected only into a corpus word
        ("Tashkemt" → "Tashkent"), never into an English one, unless the whole text is in capitals.
        """
        seen = 0
        shouting = text.isupper()

        def fix(m: re.Match[str]) -> str:
            nonlocal seen
            seen += 1
            if seen > max_words:
                return m.group()
            word = m.group()
            return self.correct_word(word, english=seen == 1 or word.islower() or shouting)

        return _TOKEN.sub(fix, self._join_split_names(text))

    def _join_split_names(self, text: str) -> str:
        """Two capitalised words that the corpus writes as one name, neither a corpus word itself:
        "Zhang Xin Feng" → "Zhang Xinfeng"."""

        joined_at = len(text)
        for m in reversed(list(_SPLIT_NAME.finditer(text))):
            first, second = m.group(1), m.group(2)
            end = m.start() + len(first) + 1 + len(second)
            if end > joined_at:
                continue  # overlaps the pair joined after it
            if (first + second).lower() in self._names and not {first.lower(), second.lower()} & self._counts.keys():
                text = text[: m.start()] + first + second.lower() + text[end:]
                joined_at = m.start()
        return text


# Quantities, however they are written: "1500", "1,500", "two hundred", "about a thousand",
# "200 thousand", "1.5 million", "one hundred and fifty".
_UNITS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()  # noqa: SIM905
    )
}
_TENS = {w: 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}  # noqa: SIM905
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "a"], key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?:(?P<digits>{_DIGITS})(?:[\s-]+(?P<scale>hundred|thousand|million|billion)s?\b)?"
    rf"|(?P<spelt>(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*)\b)",
    re.IGNORECASE,
)


def _spelt_value(phrase: str) -> float | None:
    """The value of spelt-out number words ("one hundred and fifty" → 150); None for "a" alone."""
    total, current, seen = 0, 0, False
    for word in re.findall(r"[a-z]+", phrase.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word in _SCALES:
            scale = _SCALES[word]
            current = max(current, 1) * scale  # "a thousand", "hundred"
            if scale > 100:
                total, current = total + current, 0
        else:
            continue  # "a", "and"
        seen = True
    return float(total + current) if seen else None


def quantities(text: str) -> list[tuple[int, int, float]]:
    """Every quantity in `text` as (start, end, value): "1,500" and "1500" are 1500.0, "200
    thousand" 200000.0, "about a thousand" 1000.0 (the "about" is not part of it)."""
    found = []
    for m in _QUANTITY.finditer(text):
        if m.group("digits"):
            value = float(m.group("digits").replace(",", ""))
            if m.group("scale"):
                value *= _SCALES[m.group("scale").lower()]
        else:
            spelt = _spelt_value(m.group("spelt"))
            if spelt is None:
                continue
            value = spelt
        found.append((m.start(), m.end(), value))
    return found


@lru_cache(maxsize=65536)
def quantity_values(text: str) -> frozenset[float]:
    """The values of `quantities(text)`, computed once per distinct text."""
    return frozenset(value for _, _, value in quantities(text))


# Names and their acronyms: "Regional Anti-Terrorist Structure" is the corpus's "RATS", "United
# Nations" its "UN", and "UNODC" its "UN Office for Drugs and Crime".
_CAPITALISED = r"(?:[A-Z][\w’'\-]*)"
_JOINERS = ("of", "and", "for", "the", "on", "in", "&")  # small words a name may have between its capitalised ones
_JOINER = "(?:" + "|".join(_JOINERS) + ")"
_NAME_RUN = re.compile(rf"{_CAPITALISED}(?: +(?:{_JOINER} +)*{_CAPITALISED})*")  # one line, no comma
_NAME_RUN3 = re.compile(rf"{_CAPITALISED}(?: +(?:{_JOINER} +)*{_CAPITALISED}){{2,}}")
_LEADING = re.compile(r"^(?:(?:The|A|An|And|But|Or|In|On|Of|For|As|At|By|With|To|From)\s+)+")
_ACRONYM = re.compile(r"\b[A-Z]{2,}s?\b")
_DEFINED = re.compile(r"\(([A-Z]{2,})(s?)\)")  # "(ITOs)": an acronym defined in brackets
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")


@lru_cache(maxsize=65536)
def _initials(word: str) -> str:
    """What a capitalised word gives an acronym: an acronym itself ("UN"), each capitalised part
    of a hyphenated word ("Anti-Terrorist": "AT"), or its first letter."""
    word = re.sub(r"['’]s?$", "", word)
    if len(word) > 1 and word.isupper():
        return word
    return "".join(part[0] for part in word.split("-") if part[:1].isupper())


def _runs(text: str) -> list[tuple[int, int, str]]:
    """Every span of two or more capitalised words in a row (with "of", "and"… between them) and
    the acronym their initials make: (start, end, acronym)."""
    out = []
    for run in _NAME_RUN.finditer(text):
        caps = list(re.finditer(_CAPITALISED, run.group()))
        for i, j in itertools.combinations(range(len(caps) + 1), 2):
            if j - i >= 2:
                start, end = run.start() + caps[i].start(), run.start() + caps[j - 1].end()
                out.append((start, end, "".join(_initials(m.group()) for m in caps[i:j])))
    return out


def spelt_out(text: str, acronym: str) -> list[tuple[int, int]]:
    """Where `text` spells out `acronym` (spans, in order): capitalised words whose initials make it
    ("Shanghai Cooperation Organisation" for SCO; each capitalised part of "Anti-Terrorist" counts;
    "of", "and"… may stand between; no acronym among them), or the words, in any case, just
    before the acronym in brackets ("international terrorist organisations (ITOs)"). One regular
    expression per acronym, so a large corpus is read at the regex engine's speed."""
    acronym = acronym.upper()
    if not acronym.isalpha():
        return []
    spans: set[tuple[int, int]] = set()
    if len(acronym) > 2:  # two capitalised initials coincide too easily ("IT": "Illegal Trade")
        between = rf"(?:-|\s+(?:{_JOINER}\s+)*)"
        pattern = r"\b" + between.join(rf"{letter}[a-z’']*" for letter in acronym) + r"(?![\w’'\-])"
        spans |= {m.span() for m in re.finditer(pattern, text)}
    for m in re.finditer(rf"\({re.escape(acronym)}s?\)", text):
        if (span := _bracketed(text, m.start(), acronym)) is not None:
            spans.add(span)
    return sorted(spans)


def _bracketed(text: str, bracket: int, acronym: str) -> tuple[int, int] | None:
    """The words, in any case, just before the bracket at `bracket` whose initials make `acronym`
    ("international terrorist organisations (ITOs)"), or None."""
    offset = max(0, bracket - 300)
    before = list(re.finditer(r"[\w’'\-]+", text[offset:bracket]))
    letters = ""
    for w in reversed(before):
        if letters and w.group().lower() in _JOINERS:
            continue
        letters = "".join(part[0] for part in w.group().split("-") if part).upper() + letters
        if not acronym.endswith(letters):
            return None
        if letters == acronym:
            return offset + w.start(), offset + before[-1].end()
    return None


class Acronyms:
    """Rewrites a question's names into the form the corpus uses: a name the corpus writes only
    as an acronym becomes the acronym ("United Nations" → "UN"), and an acronym the corpus never
    uses becomes the name it abbreviates there ("UNODC" → "UN Office for Drugs and Crime"), or the
    phrase in any case that it abbreviates ("IEDs" → "improvised explosive devices").

    Only whole words in capitals count. A two-letter acronym stands for a name only when none of
    the name's words is one the corpus writes capitalised ("Security Council" stays, as the
    interview has "Information Security"): two initials coincide too easily. An acronym is spelt
    out only into a whole name of three words or more that no other name of the corpus shares
    the initials of, and only when it has four letters or more.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        texts = list(texts)
        # The corpus's acronyms, a plural's "s" off ("ITOs": "ITO").
        self._acronyms = {m.group().removesuffix("s") for t in texts for m in _ACRONYM.finditer(t)}
        self._capitalised = {w.lower() for t in texts for w in re.findall(_CAPITALISED, t)}
        self._texts = texts
        # What the corpus's whole names (not parts of one) abbreviate to, when only one name does.
        names: dict[str, set[str]] = {}
        for t in texts:
            for run in _NAME_RUN3.finditer(t):  # runs of three capitalised words or more
                name = _LEADING.sub("", run.group())
                words_in = re.findall(_CAPITALISED, name)
                if len(words_in) >= 3:
                    names.setdefault("".join(_initials(w) for w in words_in), set()).add(name)
        self._names = {a: next(iter(n)) for a, n in names.items() if len(n) == 1 and len(a) >= 4}
        self._phrases: dict[str, str | None] = {}  # acronyms the corpus spells out in any case (_phrase_for)
        # Phrases the corpus abbreviates in brackets, in any case ("international terrorist
        # organisations (ITOs)"), by their words' stems: after that, the corpus writes the acronym
        # alone ("…by ITOs to recruit new abettors…"), which the phrase in a question never finds.
        defined: dict[tuple[str, ...], str] = {}
        for t in texts:
            for m in _DEFINED.finditer(t):
                if (span := _bracketed(t, m.start(), m.group(1))) is not None:
                    defined[tuple(stem(w) for w in words(t[span[0] : span[1]]))] = m.group(1) + m.group(2)
        # By the phrase's first stem: a question is read once, not once per phrase of the corpus.
        self._defined: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, acronym in defined.items():
            self._defined.setdefault(phrase[0], []).append((phrase, acronym))

    def _in_corpus(self, phrase: str) -> bool:
        return any(phrase in t for t in self._texts)

    def rewrite(self, text: str) -> str:
        """`text` with its names in the corpus's form (the text is searched, never quoted)."""
        # Dotted acronyms: "U.N." is "UN" when the corpus writes it so.
        text = _DOTTED.sub(lambda m: dotted if (dotted := m.group().replace(".", "")) in self._acronyms else m.group(), text)
        rest = re.findall(r"[^\W\d_][\w’'\-]*", text)[1:]
        if text.isupper() or (len(rest) >= 3 and sum(w[0].isupper() for w in rest) >= 0.8 * len(rest)):
            return self._with_defined(text)  # In Title Case ("How Many Crimes In Syria…") capitals mark no name.
        spans: list[tuple[int, int, str]] = []
        for start, end, acronym in sorted(_runs(text), key=lambda r: r[0] - r[1]):  # longest first
            if acronym not in self._acronyms or any(s < end and start < e for s, e, _ in spans):
                continue
            phrase = " ".join(text[start:end].split())
            if self._in_corpus(phrase):
                continue
            if len(acronym) == 2 and any(w.lower() in self._capitalised for w in re.findall(_CAPITALISED, phrase)):
                continue
            spans.append((start, end, acronym))
        for m in _ACRONYM.finditer(text):
            if m.group().removesuffix("s") in self._acronyms or any(s < m.end() and m.start() < e for s, e, _ in spans):
                continue
            if m.group() in self._names:
                spans.append((m.start(), m.end(), self._names[m.group()]))
            elif spelt := self._phrase_for(m.group()):  # "IEDs" → "improvised explosive devices"
                spans.append((m.start(), m.end(), spelt))
        for start, end, replacement in sorted(spans, reverse=True):
            text = text[:start] + replacement + text[end:]
        return self._with_defined(text)

    def _phrase_for(self, acronym: str) -> str | None:
        """The phrase of the corpus, in any case, whose words' initials make an acronym it never
        uses, when only one does (by stems: "device" and "devices" are one): "IEDs" → "improvised
        explosive devices", "SSC" → "State Security Committee". Three letters or more; no small
        word inside ("In Every Day" is none). Looked up once per acronym."""
        key = acronym.removesuffix("s") if len(acronym) > 3 and acronym.endswith("s") else acronym
        if key in self._phrases:
            return self._phrases[key]
        found: dict[tuple[str, ...], str] = {}
        if len(key) >= 3:
            pattern = re.compile(r"(?<![\w-])" + r"\s+".join(rf"{c}[^\W\d_][\w’'-]*" for c in key.lower()) + r"(?![\w-])", re.IGNORECASE)
            for t in self._texts:
                for m in pattern.finditer(t):
                    said = m.group().split()
                    if not any(w.lower() in STOPWORDS for w in said):
                        found.setdefault(tuple(stem(w.lower()) for w in said), " ".join(said))
        phrase = next(iter(found.values())) if len(found) == 1 else None
        if len(self._phrases) >= 1024:
            self._phrases.clear()
        self._phrases[key] = phrase
        return phrase

    def _with_defined(self, text: str) -> str:
        """`text` with the acronym the corpus defines for a phrase of it after that phrase, in
        brackets as the corpus writes it: "What do international terrorist organisations use the
        Internet for?" → "…international terrorist organisations (ITOs) use…"."""
        if not self._defined:
            return text
        tokens = word_spans(text)
        stems = [stem(t.group().lower()) for t in tokens]
        inserts: list[tuple[int, str]] = []
        seen: set[tuple[str, ...]] = set()
        for i, first in enumerate(stems):
            for phrase, acronym in self._defined.get(first, ()):
                if phrase in seen or tuple(stems[i : i + len(phrase)]) != phrase:
                    continue
                seen.add(phrase)  # its first place only
                if not re.search(rf"\b{re.escape(acronym.removesuffix('s'))}s?\b", text):  # not when the question has the acronym
                    inserts.append((tokens[i + len(phrase) - 1].end(), f" ({acronym})"))
        for at, inserted in sorted(inserts, reverse=True):
            text = text[:at] + inserted + text[at:]
        return text


# Titles of whoever leads something, and words that say someone leads something. A document
# calls its leaders by one title ("Director"); people ask with a word that names no particular post
# ("Who heads RATS?", "Who is the boss of…?", "Who is in charge of…?"), and "head", "charge" or "run"
# then find other senses of the word ("Criminal charges were pressed…", "'run-in' tests"). A title
# that names a post of its own ("Secretary-General", "President") is another post: left as typed.
_TITLES = (
    "director-general", "director general", "secretary-general", "secretary general", "chief executive",
    "chairman", "chairwoman", "chairperson", "president", "director", "commander", "governor",
    "manager", "chair", "ceo", "leader", "chief", "head", "boss",
)  # fmt: skip


def _title_pattern(title: str) -> str:
    """A title as a pattern, any spacing between its words ("secretary  general")."""
    return re.escape(title).replace(r"\ ", r"\s+")


def _title_key(written: str) -> str:
    """A title as compared: lower case, single spaces ("Secretary General" → "secretary general")."""
    return " ".join(written.lower().split())


_TITLE = "|".join(_title_pattern(t) for t in _TITLES)
_GENERIC_TITLE = "leader|chief|head|boss"
_LEADS = {
    "runs": "is", "leads": "is", "heads": "is", "directs": "is", "manages": "is", "chairs": "is", "commands": "is",
    "oversees": "is", "run": "is", "lead": "is", "head": "is", "direct": "is", "manage": "is", "chair": "is",
    "ran": "was", "led": "was", "headed": "was", "directed": "was", "managed": "was", "chaired": "was",
    "commanded": "was", "oversaw": "was",
}  # fmt: skip
# "Who heads…", "Which official ran…", "Who is in charge of…", "who's at the helm of…".
_PERSON = r"(?:person|people|official|officials|man|woman|one)"
_THEN = r"(?:(?:and|so|but|ok|okay|then)\s*,?\s+)?"  # a follow-up's opening: "and who was…"
_WHO_LEADS = re.compile(
    rf"(\b(?:who|which\s+{_PERSON}|{_PERSON}\s+who))(?:\s+(?:currently|now|actually))?"
    rf"(?:\s+(?P<verb>{'|'.join(_LEADS)})|(?:\s+(?P<be>is|was|are|were)|['’]s)\s+(?:(?:currently|now)\s+)?"
    r"(?:in\s+charge|at\s+the\s+helm|responsible\s+for\s+(?:running|leading|heading|managing|directing)))"
    r"(?:\s+of)?\s+(?=\S)(?!(?:of\s+)?\w+ing\b)",  # "in charge of facilitating the interview": a task, not a body
    re.IGNORECASE,
)
# "Who had the job before him?", "who held that post until 2016": the post the text's title names.
_HELD_POST = re.compile(
    rf"^(\s*{_THEN}(?:who|which\s+{_PERSON}))\s+(?P<verb>had|held|occupied|filled|has|holds|occupies|fills)"
    r"\s+(?:the|this|that|his|her|their)\s+(?:job|post|position|role|office)\b",
    re.IGNORECASE,
)
_WHO_IS_THE = re.compile(r"\s*who\s+(?:is|was|are|were)\s+the\s+", re.IGNORECASE)
_IN_CHARGE = re.compile(rf"\b({_PERSON})\s+(?:(?:currently|now)\s+)?in\s+charge\s+of\s+(?=\S)(?!\w+ing\b)", re.IGNORECASE)
# "the head of…", "the current boss of…", "RATS's chief", "the earlier heads of…"; not "heads of state".
_TITLE_OF = re.compile(rf"\b(?P<title>{_GENERIC_TITLE})(?P<plural>s|es)?(?=\s+of\b(?!\s+(?:state|government)s?\b))", re.IGNORECASE)
# "the top official at…", "the most senior officer of…": the head of it, by another name.
_TOP_PERSON = re.compile(
    r"\b(?:top|most\s+senior|highest[-\s]ranking|senior-most)\s+(?:official|officer|person|man|woman)(?P<plural>s)?\s+(?:of|at|in)\b",
    re.IGNORECASE,
)
_POSSESSIVE_TITLE = re.compile(rf"(?<=['’]s\s)(?P<title>{_GENERIC_TITLE})(?P<plural>s|es)?\b", re.IGNORECASE)


# "Who is the current RATS Director?", "Who was the Bureau chief before her?": the post's body before
# its title, which the rules below read after it ("…the current Director of RATS?").
_HOLDER_MODIFIER = r"(?:current|present|new|acting|former|previous|earlier|past|first|last)"
_TITLE_LAST = re.compile(
    rf"^(?P<ask>\s*(?:who|which\s+{_PERSON})(?:\s+(?:is|are|was|were)|['’]s)\s+the\s+(?:{_HOLDER_MODIFIER}\s+)?)"
    rf"(?P<of>(?!{_HOLDER_MODIFIER}\b)(?:[\w.&-]+\s+){{0,3}}?[\w.&-]+)\s+"
    rf"(?P<title>{_TITLE})(?P<plural>s|es)?\b"
    r"(?P<rest>(?:\s+(?:now|today|currently|then|before|prior|until|in|earlier|previously|formerly)\b[^?,;]*)?\s*[?.!]*\s*)$",
    re.IGNORECASE,
)


# "What is the name of the Director of RATS?", "What were the names of the former heads…?", and what
# is left of "Name the previous bosses of…" once its request is taken off ("the previous bosses
# of…", rag.retrieval.plain_question): who holds the post, asked as such.
_HOLDER_NP = rf"the\s+(?:{_HOLDER_MODIFIER}\s+)?(?:[\w.&-]+\s+){{0,3}}?(?:{_TITLE}|{_PERSON})(?:s|es)?\b"
_NAME_OF = re.compile(rf"^\s*what(?:\s+(?P<be>is|was|are|were)|['’]s)\s+the\s+name(?P<names>s)?\s+of\s+(?={_HOLDER_NP})", re.IGNORECASE)
_BARE_HOLDER = re.compile(
    rf"^\s*(?=the\s+(?:(?P<mod>{_HOLDER_MODIFIER})\s+)?(?:{_TITLE})(?P<plural>s|es)?\s+of\b)",
    re.IGNORECASE,
)
_PAST_MODIFIERS = ("former", "previous", "earlier", "past", "first")


def who_holds(question: str) -> str:
    """A request for the name of a post's holder as the question "who…": "What is the name of the
    man in charge of RATS?" → "Who is the man in charge of RATS?", "the previous bosses of RATS"
    ("Name the previous bosses…" without its request) → "Who were the previous bosses of RATS".
    Others as typed."""
    if m := _NAME_OF.match(question):
        be = (m.group("be") or "is").lower()
        be = {"is": "are", "was": "were"}.get(be, be) if m.group("names") else be
        return f"Who {be} {question[m.end():]}"
    if m := _BARE_HOLDER.match(question):
        past = (m.group("mod") or "").lower() in _PAST_MODIFIERS
        be = ("were" if past else "are") if m.group("plural") else ("was" if past else "is")
        return f"Who {be} {question[m.end():]}"
    return question


def title_first(question: str) -> str:
    """The question with the title of the post it asks about before the body the post is of: "Who
    is the current RATS Director?" → "Who is the current Director of RATS?", "Who was the Bureau
    chief before her?" → "Who was the chief of Bureau before her?". Others as typed."""
    if not (m := _TITLE_LAST.match(question)) or m.group("of").lower() in ("state", "government"):
        return question
    return f"{m.group('ask')}{m.group('title')}{m.group('plural') or ''} of {m.group('of')}{m.group('rest')}"


# "Who is the Director of…?" asks who holds the post now: not answered by a sentence about those
# who held it before ("My esteemed predecessors… (former SCO RATS Directors)").
_CURRENT_HOLDER = re.compile(
    rf"^\s*{_THEN}(?:who|which\s+{_PERSON})(?:\s+(?:is|are)|['’]?s)\s+(?:the\s+)?(?:(?:current|present|new|acting)\s+)?(?:{_TITLE})s?\s+of\b(?!.*\b(?:before|until|prior|previously|formerly)\b)",
    re.IGNORECASE,
)
_FORMER = re.compile(r"\b(?:former|formerly|predecessors?|previous|outgoing|ex-\w+)\b", re.IGNORECASE)


# "Who is the Director of…?", "Who were the former presidents of…?": who holds a post the question
# names. "head of state" is no post of something.
_ASKED_TITLE = re.compile(
    rf"^\s*{_THEN}(?:who|which\s+{_PERSON})(?:\s+(?:is|are|was|were)|['’]?s)\s+(?:the\s+)?"
    rf"(?:(?:current|present|new|acting|former|previous|earlier|past|first|last)\s+)?(?P<title>{_TITLE})(?:s|es)?\s+of\b(?!\s+(?:state|government)s?\b)",
    re.IGNORECASE,
)


def asked_title(question: str) -> str | None:
    """The title of the post a question asks the holder of ("Who is the Director of RATS?":
    "director"), or None."""
    m = _ASKED_TITLE.match(question)
    return _title_key(m.group("title")) if m else None


def has_title(text: str, title: str) -> bool:
    """Whether the text names the title (any case, one or many: "former SCO RATS Directors")."""
    return bool(re.search(rf"\b{_title_pattern(title)}(?:s|es)?\b", text, re.IGNORECASE))


# "Who was the Director of RATS before Sysoyev?", "Who were the former heads of…?": who held it before.
_FORMER_HOLDER = re.compile(
    rf"^\s*{_THEN}(?:who|which\s+{_PERSON})\s+(?:(?:was|were)\s+(?:the\s+)?(?:(?:former|previous|earlier|past|first)\s+)?(?:{_TITLE})s?\b(?:\s+of\b)?.*\b(?:before|prior|until|earlier|previously|formerly|past)\b"
    rf"|(?:is|are|was|were)\s+(?:the\s+)?(?:former|previous|earlier|past)\s+(?:{_TITLE})s?\s+of\b)",
    re.IGNORECASE,
)


def asks_former_holder(question: str) -> bool:
    """Whether the question asks who held a post before ("Who was the Director of RATS before
    him?", "Who are the former heads of RATS?")."""
    return bool(_FORMER_HOLDER.match(question))


def asks_current_holder(question: str) -> bool:
    """Whether the question asks who holds a post now ("Who is the Director of RATS?")."""
    return bool(_CURRENT_HOLDER.match(question))


def speaks_of_former(sentence: str) -> bool:
    """Whether the sentence speaks of those who held a post before ("former…", "predecessors")."""
    return bool(_FORMER.search(sentence))


class Titles:
    """Asks about a leader with the title the corpus uses: "Who heads RATS?" → "Who is the Director
    of RATS?", "Who is the boss of the Executive Committee?" → "…the Director of…", "Who ran it
    before Sysoyev?" → "Who was the Director of it before Sysoyev?". The corpus's title is the one of
    _TITLES it writes most often (as written: "Director"); a title it writes itself is left as typed.
    Only questions asking who: "What led to the exercise?" stays. The corpus is read when the first
    question is (0.08 s a megabyte), not at start."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = list(texts)

    @cached_property
    def _found(self) -> tuple[str | None, frozenset[str]]:
        """The corpus's title as it writes it, and every title it writes (as `_title_key`s)."""
        found: Counter[str] = Counter()
        written: dict[str, str] = {}
        for t in self._texts:
            for m in re.finditer(rf"\b(?:{_TITLE})(?=(?:s|es)?\b)", t, re.IGNORECASE):
                key = _title_key(m.group())
                found[key] += 1
                written.setdefault(key, m.group())
        return (written[found.most_common(1)[0][0]] if found else None), frozenset(found)

    def rewrite(self, text: str) -> str:
        title, used = self._found
        if title is None:
            return text
        text = _TOP_PERSON.sub(lambda t: f"{title}{'s' if t.group('plural') else ''} of", title_first(who_holds(text)))
        text = _HELD_POST.sub(lambda t: f"{t.group(1)} {'is' if t.group('verb').lower().endswith('s') else 'was'} the {title}", text)
        m = _WHO_LEADS.search(text)
        if m and (m.group("verb") or "").lower() not in used:
            be = _LEADS[m.group("verb").lower()] if m.group("verb") else m.group("be") or "is"
            many = m.group(1).lower().split()[-1] in ("people", "officials") or be in ("are", "were")
            be, titled = ({"is": "are", "was": "were"}.get(be, be), title + "s") if many else (be, title)
            text = f"{text[: m.end(1)]} {be} the {titled} of {text[m.end():]}"
        elif (m := _IN_CHARGE.search(text)) and _WHO_IS_THE.fullmatch(text, 0, m.start()):  # "Who is the man in charge of RATS?"
            text = f"{text[: m.start()]}{title} of {text[m.end():]}"
        elif m:  # "the man in charge of RATS"
            text = f"{text[: m.end(1)]} who is the {title} of {text[m.end():]}"

        def retitled(t: re.Match[str]) -> str:
            if _title_key(t.group("title")) in used:
                return t.group()
            return title + ("s" if t.group("plural") else "")

        return _POSSESSIVE_TITLE.sub(retitled, _TITLE_OF.sub(retitled, text))


_MONTH_NAMES = "January February March April May June July August September October November December".split()  # noqa: SIM905
_NUMERIC_DATE = re.compile(r"\b(?:(\d{1,2})([./-])(\d{1,2})\2(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2}))\b")
_MONTH = "|".join(_MONTH_NAMES)
_ORDINAL_DAY = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)(?:\s+of)?(?=\s+(?:{_MONTH})\b)|\b({_MONTH})(\s+)(\d{{1,2}})(?:st|nd|rd|th)\b", re.IGNORECASE
)


def spell_out_dates(text: str) -> str:
    """Dates written in digits, in words: "17.06.2009", "17/06/2009", "2009-06-17" and
    "06/17/2009" become "17 June 2009"; "17th of June" becomes "17 June". A date whose day and
    month could be either way round ("05/06/2009") is read day first, as most of the world writes it."""

    def spell(m: re.Match[str]) -> str:
        if m.group(5):
            year, month, day = int(m.group(5)), int(m.group(6)), int(m.group(7))
        else:
            day, month, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
            if month > 12 >= day:
                day, month = month, day  # "06/17/2009"
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return m.group()
        return f"{day} {_MONTH_NAMES[month - 1]} {year}"

    return _ORDINAL_DAY.sub(lambda m: m.group(1) or m.group(2) + m.group(3) + m.group(4), _NUMERIC_DATE.sub(spell, text))
