"""A synthetic corpus for the scale benchmark: N chunks' worth of plain English.

Sentences are filled-in templates about organisations, people, places, dates and figures, drawn
with a fixed seed, so the same (n_chunks, seed) always gives the same bytes. Each document is one
organisation's "annual review": a `# heading` line and sentences of 12-35 words, so the chunker
cuts them like any prose (3-sentence windows, 1 sentence overlap, never over the word cap).

    write_corpus(Path("corpus-10k"), 10_000)   -> SyntheticCorpus(path, documents, chunks, ...)
    synthetic_questions(200, seed=1)           -> questions in the same vocabulary, for /search
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

CHUNKS_PER_DOCUMENT = 100
T = TypeVar("T")


def _phrases(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


_PREFIXES = _phrases(
    """Northern, Southern, Eastern, Western, Central, Baltic, Pacific, Atlantic, Alpine, Coastal, Highland,
    Lowland, Continental, Maritime, Danube, Caspian, Andean, Nordic, Mediterranean, Sahel, Arctic,
    Caucasus, Balkan, Carpathian, Siberian, Anatolian, Iberian, Adriatic, Pannonian, Mekong"""
)
_KINDS = _phrases(
    """Water Authority, Trade Council, Railway Company, Institute of Geology, Development Bank,
    Port Authority, Grain Cooperative, Energy Agency, Border Service, Health Foundation, Aviation Board,
    Textile Association, Mining Corporation, Forestry Commission, Shipping Line, Statistics Office,
    Research Centre, Chamber of Commerce, Broadcasting Union, Customs Service, Fisheries Agency,
    Housing Trust, Telecom Operator, Insurance Group, Teachers' Union"""
)
_FIRST = _phrases(
    """Anna, Boris, Carmen, Dmitri, Elena, Farid, Galina, Hiroshi, Irina, Jamal, Karin, Leila, Marco, Nadia,
    Oleg, Priya, Rustam, Sofia, Tomasz, Ulla, Viktor, Wen, Yusuf, Zarina, Aigerim, Bakyt, Chen, Daniyar,
    Erlan, Fatima, Gulnara, Ivan, Jasur, Kamila, Lars, Madina, Nurlan, Olga, Pavel, Rashid, Saule, Timur,
    Umid, Vera, Xenia, Yerlan, Zhanna"""
)
_LAST = _phrases(
    """Abdullaev, Berg, Castillo, Dvorak, Ershova, Fischer, Gromov, Hansen, Ibragimov, Jensen, Karimova,
    Lindqvist, Morozov, Nazarbekova, Ortega, Petrov, Qasimov, Rahimova, Sokolov, Tanaka, Usmanov, Volkova,
    Wagner, Yakubov, Zhukov, Aliyev, Bekova, Chernov, Demirci, Esenova, Fedorov, Gasparyan, Haidarov,
    Ismailova, Kovacs, Li, Mamyrov, Novak, Orlova, Popescu, Rakhimov, Saidov, Tursunova, Valiev, Wong,
    Zaitsev"""
)
_TITLES = _phrases(
    """director, chief economist, deputy chair, head of operations, senior analyst, chief engineer,
    spokesperson, treasurer, regional coordinator, head of research, legal adviser, president"""
)
_CITIES = _phrases(
    """Almaty, Astana, Bishkek, Tashkent, Dushanbe, Ashgabat, Baku, Tbilisi, Yerevan, Ankara, Istanbul,
    Tehran, Kabul, Islamabad, Lahore, Delhi, Mumbai, Kathmandu, Dhaka, Colombo, Beijing, Shanghai, Xiamen,
    Ulaanbaatar, Novosibirsk, Yekaterinburg, Kazan, Samara, Moscow, Minsk, Kyiv, Warsaw, Prague, Vienna,
    Budapest, Bucharest, Sofia, Belgrade, Zagreb, Ljubljana, Helsinki, Tallinn, Riga, Vilnius, Oslo,
    Stockholm, Copenhagen, Hamburg, Rotterdam, Antwerp, Lyon, Marseille, Porto, Seville, Valencia, Genoa,
    Naples, Athens, Izmir, Cairo, Casablanca, Nairobi, Lagos, Accra, Dakar, Lima, Quito, Bogota, Santiago,
    Montevideo, Auckland, Perth, Osaka, Busan, Hanoi, Jakarta, Manila, Chennai"""
)
_COUNTRIES = _phrases(
    """Kazakhstan, Kyrgyzstan, Uzbekistan, Tajikistan, Mongolia, Georgia, Armenia, Azerbaijan, Turkey, Iran,
    Pakistan, India, Nepal, China, Russia, Belarus, Poland, Czechia, Austria, Hungary, Romania, Bulgaria,
    Serbia, Croatia, Finland, Estonia, Latvia, Lithuania, Norway, Sweden, Denmark, Germany, France,
    Portugal, Spain, Italy, Greece, Egypt, Morocco, Kenya, Nigeria, Ghana, Senegal, Peru, Ecuador,
    Colombia, Chile, Uruguay, Japan, Vietnam, Indonesia"""
)
_MONTHS = _phrases(
    """January, February, March, April, May, June, July, August, September, October, November, December"""
)
_TOPICS = _phrases(
    """renewable energy, cross-border logistics, public health, water management, grain exports,
    digital payments, rail freight, coastal protection, vocational training, air quality, urban housing,
    cold-chain storage, seismic monitoring, tourism statistics, customs clearance, rural broadband,
    pension reform, flood forecasting, wind power, maternal care, textile exports, fishing quotas,
    copper mining, forest fires, port dredging, road safety, satellite mapping"""
)
_FACILITIES = _phrases(
    """a regional office, a testing laboratory, a training centre, a logistics hub, a data centre,
    a repair depot, a field station, a customer service centre, a desalination plant, a warehouse"""
)
_DOCUMENTS = _phrases(
    """memorandum of understanding, five-year framework agreement, joint research programme, supply contract,
    data-sharing protocol, loan agreement, technical assistance plan, licence"""
)
_ADJECTIVES = _phrases(
    """modest, steady, sharp, unexpected, gradual, record, seasonal, significant, slight, sustained,
    temporary, considerable"""
)
_CAUSES = _phrases(
    """higher fuel prices, a dry summer, new customs rules, a longer shipping season, lower interest rates,
    stronger demand from neighbouring markets, a shortage of qualified staff, delays at the border,
    a change in the exchange rate, the completion of a new pipeline, heavy spring floods, a cold winter"""
)
_CURRENCIES = _phrases("""dollars, euros, yuan, roubles, tenge, rupees""")


class _Draw:
    """The seeded random choices the templates draw from."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: Sequence[T]) -> T:
        return self.rng.choice(items)

    def org(self) -> str:
        return f"{self.pick(_PREFIXES)} {self.pick(_KINDS)}"

    def person(self) -> str:
        return f"{self.pick(_FIRST)} {self.pick(_LAST)}"

    def date(self) -> str:
        return f"{self.rng.randint(1, 28)} {self.pick(_MONTHS)} {self.rng.randint(1991, 2024)}"

    def year(self) -> str:
        return str(self.rng.randint(1991, 2024))

    def count(self) -> str:
        return f"{self.rng.randint(12, 98_000):,}"

    def amount(self) -> str:
        return f"{self.rng.randint(2, 950)} million {self.pick(_CURRENCIES)}"

    def percent(self) -> str:
        return f"{self.rng.randint(1, 45)}.{self.rng.randint(0, 9)} per cent"


# Each template: one sentence, a capital first letter, a full stop, no abbreviations.
_TEMPLATES: list[Callable[[_Draw, str], str]] = [
    lambda d, o: f"On {d.date()} the {o} signed a {d.pick(_DOCUMENTS)} with the {d.org()} covering {d.pick(_TOPICS)}.",
    lambda d, o: (
        f"The {o} opened {d.pick(_FACILITIES)} in {d.pick(_CITIES)} in {d.pick(_MONTHS)} {d.year()}, employing {d.rng.randint(12, 900)} people."
    ),
    lambda d, o: f"Revenue of the {o} rose by {d.percent()} to {d.amount()}, mainly because of {d.pick(_CAUSES)}.",
    lambda d, o: (
        f"Spending on {d.pick(_TOPICS)} fell by {d.percent()} after {d.pick(_CAUSES)} forced the {o} to postpone two projects."
    ),
    lambda d, o: (
        f"{d.person()}, the {d.pick(_TITLES)} of the {o}, said that {d.pick(_TOPICS)} would remain the priority until {d.year()}."
    ),
    lambda d, o: (
        f"In {d.year()} the {o} processed {d.count()} applications from firms in {d.pick(_COUNTRIES)} and {d.pick(_COUNTRIES)}."
    ),
    lambda d, o: (
        f"A delegation led by {d.person()} visited {d.pick(_CITIES)} to discuss {d.pick(_TOPICS)} with officials from {d.pick(_COUNTRIES)}."
    ),
    lambda d, o: (
        f"The board of the {o} approved a budget of {d.amount()} for {d.pick(_TOPICS)} at its meeting on {d.date()}."
    ),
    lambda d, o: (
        f"Auditors found that {d.count()} invoices issued by the {o} in {d.year()} had been paid more than ninety days late."
    ),
    lambda d, o: (
        f"There was a {d.pick(_ADJECTIVES)} increase in {d.pick(_TOPICS)} projects, which now account for {d.percent()} of all contracts."
    ),
    lambda d, o: (
        f"Together with the {d.org()}, the {o} trained {d.count()} specialists in {d.pick(_CITIES)} between {d.year()} and {d.year()}."
    ),
    lambda d, o: (
        f"Its office in {d.pick(_CITIES)} was moved to {d.pick(_CITIES)} on {d.date()} to be closer to partners in {d.pick(_COUNTRIES)}."
    ),
    lambda d, o: (
        f"{d.person()} was appointed {d.pick(_TITLES)} on {d.date()}, replacing {d.person()}, who had served for {d.rng.randint(2, 19)} years."
    ),
    lambda d, o: (
        f"According to its annual report, the {o} owns {d.rng.randint(3, 240)} buildings and leases another {d.rng.randint(1, 90)} in {d.pick(_COUNTRIES)}."
    ),
    lambda d, o: (
        f"The dispute between the {o} and the {d.org()} over {d.pick(_TOPICS)} was settled in {d.pick(_MONTHS)} {d.year()}."
    ),
    lambda d, o: (
        f"Membership grew from {d.count()} to {d.count()} organisations after the {o} cut its annual fee by {d.percent()}."
    ),
    lambda d, o: (
        f"A {d.pick(_ADJECTIVES)} drop in {d.pick(_TOPICS)} was blamed on {d.pick(_CAUSES)} rather than on the policies of the {o}."
    ),
    lambda d, o: (
        f"Researchers at the {o} published {d.rng.randint(3, 180)} papers on {d.pick(_TOPICS)} and filed {d.rng.randint(1, 40)} patents in {d.year()}."
    ),
    lambda d, o: (
        f"The {o} expects to finish its new headquarters in {d.pick(_CITIES)} by {d.pick(_MONTHS)} {d.year()} at a cost of {d.amount()}."
    ),
    lambda d, o: (
        f"Inspectors from {d.pick(_COUNTRIES)} reviewed {d.count()} shipments handled by the {o} and rejected {d.rng.randint(0, 400)} of them."
    ),
    lambda d, o: (
        f"Why did the {o} cancel its plans for {d.pick(_TOPICS)} in {d.pick(_CITIES)}? The official answer cited {d.pick(_CAUSES)}."
    ),
    lambda d, o: f"Since {d.year()} the {o} has lent {d.amount()} to small businesses working on {d.pick(_TOPICS)}.",
]

_QUESTIONS: list[Callable[[_Draw], str]] = [
    lambda d: f"When did the {d.org()} open an office in {d.pick(_CITIES)}?",
    lambda d: f"How much did the {d.org()} spend on {d.pick(_TOPICS)}?",
    lambda d: f"Who is the {d.pick(_TITLES)} of the {d.org()}?",
    lambda d: f"Which agreement did the {d.org()} sign about {d.pick(_TOPICS)}?",
    lambda d: f"Why did revenue at the {d.org()} change in {d.year()}?",
    lambda d: f"How many specialists were trained in {d.pick(_CITIES)}?",
    lambda d: f"What did {d.person()} say about {d.pick(_TOPICS)}?",
    lambda d: f"Which firms from {d.pick(_COUNTRIES)} worked with the {d.org()}?",
]


@dataclass(frozen=True, slots=True)
class SyntheticCorpus:
    path: Path
    documents: int
    chunks: int  # as the chunker cuts them
    bytes: int


def _document_text(draw: _Draw, org: str, sentences: int) -> str:
    """A heading and paragraphs holding exactly `sentences` sentences (the heading is one more)."""
    lines = [f"# {org}: review of {draw.year()}", ""]
    paragraph: list[str] = []
    made = 0
    while made < sentences:
        sentence = draw.pick(_TEMPLATES)(draw, org)
        pieces = sentence.count("? ") + 1
        if made + pieces > sentences:
            continue
        paragraph.append(sentence)
        made += pieces
        if len(paragraph) >= draw.rng.randint(3, 6):
            lines += [" ".join(paragraph), ""]
            paragraph = []
    if paragraph:
        lines += [" ".join(paragraph), ""]
    return "\n".join(lines)


def synthetic_documents(
    n_chunks: int,
    seed: int = 0,
    *,
    chunks_per_document: int = CHUNKS_PER_DOCUMENT,
    chunker: dict[str, int] | None = None,
) -> list[tuple[str, str]]:
    """(doc_id, text) pairs that chunk into exactly `n_chunks` chunks under `chunker`.

    A document of S sentences (heading included) in one block cuts into ceil((S - overlap) / step)
    windows, step = chunk_sentences - chunk_overlap, as long as no window reaches the word cap
    (the templates keep three sentences well under 120 words).
    """
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be at least 1, got {n_chunks}")
    chunker = chunker or {"chunk_sentences": 3, "chunk_overlap": 1, "chunk_max_words": 120}
    overlap = chunker["chunk_overlap"]
    step = max(chunker["chunk_sentences"] - overlap, 1)
    draw = _Draw(random.Random(seed))
    docs: list[tuple[str, str]] = []
    remaining = n_chunks
    while remaining > 0:
        want = min(chunks_per_document, remaining)
        total = want * step + overlap if want > 1 else 1
        doc_id = f"synthetic-{len(docs) + 1:05d}"
        docs.append((doc_id, _document_text(draw, draw.org(), max(total - 1, 0))))
        remaining -= want
    return docs


def write_corpus(path: Path, n_chunks: int, seed: int = 0, *, chunker: dict[str, int] | None = None) -> SyntheticCorpus:
    """Writes the synthetic documents as `<doc_id>.txt` files into `path` (created if missing)."""
    path.mkdir(parents=True, exist_ok=True)
    docs = synthetic_documents(n_chunks, seed, chunker=chunker)
    size = 0
    for doc_id, text in docs:
        data = text.encode("utf-8")
        (path / f"{doc_id}.txt").write_bytes(data)
        size += len(data)
    return SyntheticCorpus(path, len(docs), n_chunks, size)


def synthetic_questions(n: int, seed: int = 1) -> list[str]:
    """`n` distinct questions in the corpus's vocabulary (distinct, so no cache answers them)."""
    draw = _Draw(random.Random(seed))
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(draw.pick(_QUESTIONS)(draw), None)
    return list(seen)
