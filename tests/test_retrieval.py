"""Fusing the rankings (chunk vectors, best sentence, BM25 over words and over word pairs) into one:
z-score fusion by hand, and what it changes on the real index."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rag.embedding import Embedder
from rag.lexical import content_terms, term_pairs, words
from rag.pipeline import Pipeline
from rag.retrieval import (
    Ranking,
    asked_characterisation,
    asked_definition,
    asked_expansion,
    asks_document_date,
    asks_document_title,
    asks_for_list,
    asks_founding,
    asks_overview,
    asks_provenance,
    build_query,
    founds_a_body,
    fuse,
    is_more_request,
    names_document,
    provenance_terms,
    small_talk,
    split_question,
    voice_name,
    years_for,
)
from rag.settings import get_settings
from rag.types import ChatTurn
from tests.conftest import make_corpus


def test_z_score_fusion_by_hand(pipeline: Pipeline) -> None:
    # BM25 found one word in chunk 0 only; the three other chunks scored 0 there: scores 5, 0, 0, 0,
    # mean 1.25, standard deviation √4.6875 = 2.165, so chunk 0 adds z = 3.75 / 2.165 = 1.732.
    bm25 = Ranking([(0, 5.0)], 1.0, zeros=3)
    # A flat dense ranking: .80 .79 .78 .77, mean .785, deviation √.000125 = .01118.
    # Chunk 1 adds 1.342 and chunk 2 .447; chunks 0 and 3, below the mean, add nothing.
    dense = Ranking([(1, 0.80), (2, 0.79), (0, 0.78), (3, 0.77)], 1.0)
    hits = fuse(pipeline.index, [dense, bm25], dense.results, bm25.results, 4, 60, "zscores")
    assert [h.position for h in hits] == [0, 1, 2, 3]
    assert [h.score for h in hits] == pytest.approx([1.732, 1.342, 0.447, 0.0], abs=1e-3)
    # Weights scale each ranking's share.
    half = fuse(pipeline.index, [dense, bm25._replace(weight=0.5)], dense.results, bm25.results, 4, 60, "zscores")
    assert [h.position for h in half] == [1, 0, 2, 3]
    # Min-max gives BM25's only result and the dense leader 1 each: no standout counts more.
    minmax = fuse(pipeline.index, [dense, bm25], dense.results, bm25.results, 4, 60, "scores")
    assert [h.score for h in minmax] == pytest.approx([1.0 + 1 / 3, 1.0, 2 / 3, 0.0])


def test_chunks_below_every_mean_keep_their_order(pipeline: Pipeline) -> None:
    # Z-scores give every chunk below the mean 0; ties go to the better rank in any ranking.
    flat = Ranking([(5, 0.9), (3, 0.1), (7, 0.09), (1, 0.08)], 1.0)
    hits = fuse(pipeline.index, [flat], flat.results, [], 4, 60, "zscores")
    assert [h.position for h in hits] == [5, 3, 7, 1]
    # So BM25 alone comes out in its own order, well past the chunks above its mean.
    question = "How many terrorists were liquidated in 2015?"
    bm25 = pipeline.configured(retrieval="bm25").retriever
    terms = content_terms(question) * 2
    assert [h.position for h in bm25.retrieve(question, 20)] == [i for i, _ in bm25.bm25_ranking(terms, 20)]


def test_a_word_only_one_chunk_has_brings_that_chunk_first(pipeline: Pipeline) -> None:
    # Every word of six letters or more that a single chunk holds, asked about. With min-max
    # fusion that chunk came first for 63 of 163 such words: BM25's only hit counted no more than
    # the leader of a flat dense ranking. With z-scores, 113.
    chunks = pipeline.index.chunks
    df = Counter(w for c in chunks for w in {w for w in words(c.text) if len(w) > 5 and content_terms(w)})
    rare = sorted(w for w, n in df.items() if n == 1)
    assert len(rare) > 100
    first = sum(w in words(pipeline.retriever.retrieve(f"What does the interview say about {w}?", 1)[0].chunk.text) for w in rare)
    assert first / len(rare) >= 0.6


def test_words_side_by_side_bring_the_chunk_that_has_them_so(pipeline: Pipeline) -> None:
    # Every two neighbouring words (no stopword between) that one chunk alone has side by side,
    # while another chunk has both apart, asked about. The ranking over term pairs should bring the
    # chunk with the phrase first more often than BM25 over single words and the vectors do alone.
    chunks = pipeline.index.chunks
    chunk_pairs = [set(term_pairs(c.text)) for c in chunks]
    chunk_terms = [set(content_terms(c.text)) for c in chunks]
    pair_df = Counter(p for ps in chunk_pairs for p in ps)
    phrases: dict[str, str] = {}
    for ci, chunk in enumerate(chunks):
        for a, b in re.findall(r"\b([A-Za-z]{3,})\s+([A-Za-z]{3,})\b", chunk.text):
            pair = term_pairs(f"{a} {b}")
            if len(pair) != 1 or pair_df[pair[0]] != 1:
                continue
            terms = set(pair[0].split())
            if any(terms <= chunk_terms[j] for j in range(len(chunks)) if j != ci):
                phrases.setdefault(pair[0], f"{a} {b}".lower())
    assert len(phrases) >= 25

    def first(weight: float) -> int:
        retriever = pipeline.configured(pair_weight=weight).retriever
        asked = ((p, retriever.retrieve(f"What does the interview say about {phrase}?", 1)[0]) for p, phrase in phrases.items())
        return sum(p in chunk_pairs[hit.position] for p, hit in asked)

    with_pairs, without = first(pipeline.settings.pair_weight), first(0.0)
    assert with_pairs >= without + 4  # measured: 21 and 15 of 32
    assert with_pairs / len(phrases) >= 0.6


def test_a_request_to_list_is_not_answered_by_the_word_list(pipeline: Pipeline) -> None:
    # "List all the organisations…" once matched "All the countries you have listed are Observers…"
    # on "list" (BM25) alone; the request's verb is no search word now.
    answer = pipeline.ask("List all the organisations RATS cooperates with.")
    assert answer.citations and not any("listed" in c.quote for c in answer.citations)
    assert any("organisations" in c.quote for c in answer.citations)


@pytest.mark.parametrize(
    ("asked", "acronym"),
    [
        ("What does SCO stand for?", "SCO"),
        ("what does rats stand for", "RATS"),
        ("What are ITOs short for?", "ITO"),
        ("What is the full name of the CSTO?", "CSTO"),
        ("What does the abbreviation U.N. mean?", "UN"),
        ("what SCO stands for?", "SCO"),  # as a wrapper leaves it: "Could you tell me what…"
        ("What does it mean?", None),
        ("What does that stand for?", None),
        ("What does cooperation mean?", None),
        ("What is the full name of Sysoyev?", None),
        ("What does RATS do?", None),
    ],
)
def test_a_question_asking_what_an_acronym_stands_for_is_told_apart(asked: str, acronym: str | None) -> None:
    assert asked_expansion(asked) == acronym


def test_what_an_acronym_stands_for_is_quoted_where_the_interview_spells_it_out(pipeline: Pipeline) -> None:
    # "stand" once found "…no single state… is able to stand against…".
    text = pipeline.document("sysoyev-interview").text
    for question, name in (("What does SCO stand for?", "Shanghai Cooperation Organisation"), ("Could you tell me what ITOs stand for?", "international terrorist organisations")):
        answer = pipeline.ask(question)
        assert answer.answerable and len(answer.citations) == 1
        cited = answer.citations[0]
        assert name in cited.quote and cited.quote == text[cited.start : cited.end]
        assert answer.answer.endswith(f"{cited.quote} [1]") and name in answer.answer.split(". ")[0]
    # The interview never spells out RATS, the CSTO or NATO: it does not say.
    for question in ("What does RATS stand for?", "What is the full name of the CSTO?", "What does NATO stand for?"):
        assert not pipeline.ask(question).answerable


@pytest.mark.parametrize(
    ("asked", "acronym"),
    [
        ("What is the SCO?", "SCO"),
        ("what is the sco", "SCO"),
        ("What's the SCO?", "SCO"),
        ("What are ITOs?", "ITO"),
        ("What is an ITO?", "ITO"),
        ("What is terrorism?", None),  # too long for an acronym
        ("What is it?", None),
        ("What is the SCO celebrating?", None),
        # An acronym before the word: the name's head is asked about ("SCO RATS" is RATS).
        ("What is SCO RATS?", "RATS"),
        ("what is the sco rats", "RATS"),
        ("What is Iran doing?", None),
    ],
)
def test_a_question_asking_what_a_word_is_may_ask_about_an_acronym(asked: str, acronym: str | None) -> None:
    assert asked_definition(asked) == acronym


def test_what_an_acronym_is_is_answered_by_the_sentence_that_spells_it_out(pipeline: Pipeline) -> None:
    # "What is the SCO?" got "My esteemed predecessors… (former SCO RATS Directors)…" before.
    for question, name in (("What is the SCO?", "Shanghai Cooperation Organisation"), ("What are ITOs?", "international terrorist organisations")):
        answer = pipeline.ask(question, mode="extractive")
        assert answer.answerable and name in answer.citations[0].quote, answer.answer
    # Where it spells nothing out, the sentence that says what it is: RATS as a subject, then "is a…".
    answer = pipeline.ask("What is RATS?", mode="extractive")
    assert answer.answerable and len(answer.citations) == 1, answer.answer
    assert answer.citations[0].quote.startswith("RATS today, metaphorically speaking, is a framework"), answer.answer
    # Asked by its whole name too ("What is SCO RATS?" got "And SCO RATS is no exception.").
    for question in ("What is SCO RATS?", "what is sco rats"):
        assert pipeline.ask(question, mode="extractive").citations[0].quote.startswith("RATS today, metaphorically speaking"), question
    # Neither: answered as any other question, not refused ("…SCO RATS is a…" says nothing of the SCO).
    for question in ("What is the CSTO?", "What is TASS?"):
        answer = pipeline.ask(question, mode="extractive")
        assert answer.answerable and not answer.answer.startswith(("CSTO:", "TASS:")), answer.answer
    assert pipeline.extractive.definition("CSTO", pipeline.retriever.query_vector(pipeline.retriever.query("What is the CSTO?"))).answerable is False


@pytest.mark.parametrize(
    ("asked", "acronym"),
    [
        ("How does Sysoyev describe RATS?", "RATS"),
        ("how does mr yevgeniy sysoyev characterize rats", "RATS"),
        ("How would you describe SCO RATS today?", "RATS"),  # the name's head, not "today"
        ("How does the Director see the SCO?", "SCO"),
        ("How is RATS described in the interview?", "RATS"),
        ("What kind of body is RATS?", "RATS"),
        ("What is RATS like nowadays?", "RATS"),
        ("Define ITOs", "ITO"),
        ("What does Sysoyev call RATS?", "RATS"),
        ("What does he compare SCO RATS to?", "RATS"),
        ("What does he compare RATS to?", "RATS"),  # not "to"
        ("What do the partners call RATS?", None),
        ("How do the European partners view RATS?", None),  # someone else's view
        ("How is RATS seen by its partners?", None),
        ("How does Sysoyev describe the Xiaomen-2015 exercise?", None),
        ("What kind of work is RATS doing?", None),
        ("How does he view it?", None),
    ],
)
def test_a_question_asking_how_the_interviewee_describes_a_word_asks_what_it_is(asked: str, acronym: str | None) -> None:
    assert asked_characterisation(asked, voice_name(["Yevgeniy Sysoyev"])) == acronym


def test_how_the_interviewee_describes_something_is_answered_by_the_sentence_that_says_what_it_is(pipeline: Pipeline) -> None:
    # "How does Sysoyev describe RATS?" got "My esteemed predecessors…" before: his name and "RATS".
    for question in ("How does Sysoyev describe RATS?", "What kind of organisation is RATS?", "How would you characterise SCO RATS?"):
        answer = pipeline.ask(question, mode="extractive")
        assert answer.answerable and len(answer.citations) == 1, (question, answer.answer)
        assert answer.citations[0].quote.startswith("RATS today, metaphorically speaking, is a framework"), (question, answer.answer)
    # Another's view is searched as usual: the partners' own words.
    answer = pipeline.ask("How do the European partners view RATS?", mode="extractive")
    assert "European partners view our structure" in answer.citations[0].quote, answer.answer
    # Nothing says what it is: answered as any other question, not refused.
    answer = pipeline.ask("How does Sysoyev describe the CSTO?", mode="extractive")
    assert answer.answerable and not answer.citations[0].quote.startswith("RATS today"), answer.answer


@pytest.mark.parametrize(
    ("question", "founding"),
    [
        ("When was RATS set up?", True),
        ("what year was it founded", True),
        ("In what year was the Regional Anti-Terrorist Structure formed?", True),
        ("When did RATS start operating?", True),
        ("When was the establishment of RATS?", True),
        ("When was the agreement signed?", False),
        ("What was RATS set up to fight?", False),
        ("Who founded RATS?", False),
    ],
)
def test_a_question_asking_when_something_came_to_be_is_told_apart(question: str, founding: bool) -> None:
    assert asks_founding(question) is founding


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("hi", "greeting"),
        ("Good morning!", "greeting"),
        ("Thanks!", "thanks"),
        ("thank you so much", "thanks"),
        ("Thanks, that was helpful about RATS.", "thanks"),  # a topic word, but thanks and praise
        ("Great answer about the exercise, thank you", "thanks"),
        ("ok got it", "ack"),
        ("bye", "farewell"),
        ("who are you?", "about"),
        ("Hi, what can you do?", "about"),
        ("how does this work?", "about"),
        ("help", "about"),
        ("what can you do about terrorism?", None),
        ("how does RATS work?", None),
        ("Who are you, Sysoyev?", None),
        ("Thanks! And what about Pakistan?", None),  # it asks
        ("Thanks. Now the budget", None),  # thanks, then a topic: a terse question
        ("Is it good?", None),
        ("Hi, RATS budget", None),
        ("Nice work by RATS in 2015", None),
        ("yes", None),
        ("Tell me more", None),
    ],
)
def test_small_talk_is_told_from_a_question(message: str, said: str | None) -> None:
    assert small_talk(message) == said


@pytest.mark.parametrize(
    ("question", "body"),
    [
        ("what year was it founded", True),
        ("When was the organisation established?", True),
        ("When was the anti-terror agency set up?", True),
        ("When was the exercise launched?", False),
        ("When did that process start?", False),
        ("When did the cooperation start?", False),
        ("When was the agreement signed?", False),  # no founding question at all
    ],
)
def test_a_founding_question_that_names_nothing_asks_about_a_body_or_not(question: str, body: bool) -> None:
    assert founds_a_body(question) is body


def test_the_start_of_something_other_than_a_body_is_not_its_inception(pipeline: Pipeline) -> None:
    # "when did that process start?" after "Are India and Pakistan joining the SCO?" got "…since the
    # first days of its inception in 2004…", RATS's; the process began at the Ufa Summit.
    first = "Are India and Pakistan joining the SCO?"
    history = [ChatTurn("user", first), ChatTurn("assistant", pipeline.ask(first).answer)]
    answer = pipeline.ask("when did that process start?", history, mode="extractive")
    assert answer.answerable and "Ufa Summit" in answer.answer and "inception" not in answer.answer, answer.answer
    assert "inception in 2004" not in pipeline.ask("When was the exercise launched?", mode="extractive").answer
    # A body, or a pronoun for one, still gets it.
    for question in ("When was the organisation established?", "what year was it founded"):
        assert "inception in 2004" in pipeline.ask(question, mode="extractive").answer, question


def test_when_something_came_to_be_is_answered_by_the_sentence_dating_its_inception(pipeline: Pipeline) -> None:
    # "When was RATS set up?" was refused: no word of it is in "…since the first days of its
    # inception in 2004…".
    for question in ("When was RATS set up?", "In what year was the Regional Anti-Terrorist Structure formed?", "when did rats start operating"):
        answer = pipeline.ask(question, mode="extractive")
        assert answer.answerable and "inception in 2004" in answer.citations[0].quote, (question, answer.answer)
    history = [ChatTurn("user", "What is RATS?"), ChatTurn("assistant", pipeline.ask("What is RATS?").answer)]
    assert "inception in 2004" in pipeline.ask("When was it founded?", history, mode="extractive").answer
    # That sentence dates SCO RATS, which only starts with "SCO": the SCO's founding is not in the
    # interview ("When did the SCO start?" got the sentence before).
    for question in ("When did the SCO start?", "When was the SCO founded?"):
        assert not pipeline.ask(question, mode="extractive").answerable, question
    # What no such sentence names is answered as any other question.
    answer = pipeline.ask("When was the Xiaomen-2015 exercise launched?", mode="extractive")
    assert answer.answerable and "In October 2015" in answer.citations[0].quote, answer.answer


@pytest.mark.parametrize(
    ("question", "opening", "about_it"),
    [
        ("What year was the interview conducted?", True, True),
        ("When did TASS publish this?", True, True),
        ("on what date was it published?", False, True),  # only a document is published
        ("When was it held?", True, True),  # "it" opening a conversation is the document
        ("When was it held?", False, False),  # later, what was just talked about
        ("When was the Xiaomen-2015 exercise conducted?", True, False),
        ("Who conducted the interview?", True, False),
        ("When was RATS set up?", True, False),
    ],
)
def test_a_question_about_when_the_document_was_made_is_told_apart(question: str, opening: bool, about_it: bool) -> None:
    assert asks_document_date(question, opening, frozenset({"tass", "sysoyev"})) is about_it


def test_when_the_document_was_made_is_answered_from_its_own_dated_lines_or_refused(pipeline: Pipeline, embedder: Embedder, tmp_path: Path) -> None:
    # "What year was the interview conducted?" got "…the first ever joint anti-terrorist exercise…
    # was conducted in China"; the interview's own lines give no date.
    assert not pipeline.ask("What year was the interview conducted?", mode="extractive").answerable
    history = [ChatTurn("user", "what news agency was it for"), ChatTurn("assistant", pipeline.ask("what news agency was it for").answer)]
    assert not pipeline.ask("on what date was it published?", history, mode="extractive").answerable
    # A text that dates itself is answered from that line.
    article = "Wind farms produced a record share of power last winter.\n\nThis article was published on 3 March 2021 by the Harbour Gazette."
    configured = get_settings(corpus_dir=make_corpus(tmp_path, {"wind.txt": article}, with_interview=False), index_dir=tmp_path / "index")
    answer = Pipeline.load(configured, embedder=embedder).ask("When was this article published?", mode="extractive")
    assert [c.quote for c in answer.citations] == ["This article was published on 3 March 2021 by the Harbour Gazette."], answer.answer


@pytest.mark.parametrize(
    ("question", "opening", "about_it"),
    [
        ("What's the headline of this interview?", True, True),
        ("What is the TASS piece titled?", False, True),
        ("what is the interview called?", False, True),
        ("What's the headline?", True, True),  # as a conversation opens, the document's
        ("What's the headline?", False, False),  # later, maybe what was just talked about
        ("What is the title?", True, True),
        ("What is his title?", True, False),  # his post
        ("What is the title of Sysoyev?", True, False),
        ("What is the title of the Shanghai Convention?", True, False),  # something the document names
        ("What is the name of the exercise?", True, False),
        ("What is the name of the interviewer?", True, False),
        ("What is the interview about?", True, False),
    ],
)
def test_a_question_about_what_the_document_is_called_is_told_apart(question: str, opening: bool, about_it: bool) -> None:
    assert asks_document_title(question, opening, frozenset({"tass", "sysoyev"})) is about_it


def test_what_the_document_is_called_is_answered_with_its_headline_or_refused(pipeline: Pipeline, embedder: Embedder, tmp_path: Path) -> None:
    # "What's the headline of this interview?" got a sentence about the conferences in Tashkent.
    text = pipeline.document("sysoyev-interview").text
    headline = text.splitlines()[0]
    for question, history in (
        ("What's the headline of this interview?", []),
        ("what is the interview called?", [ChatTurn("user", "Who is Sysoyev?"), ChatTurn("assistant", pipeline.ask("Who is Sysoyev?").answer)]),
    ):
        answer = pipeline.ask(question, history, mode="extractive")
        assert answer.answerable and [c.quote for c in answer.citations] == [headline], answer.answer
        assert all(text[c.start : c.end] == c.quote for c in answer.citations)
    # His title is his post, and a text that opens with a sentence has no headline to give.
    assert headline not in pipeline.ask("What is his title?", mode="extractive").answer
    article = "Wind farms produced a record share of power last winter.\n\nOperators expect more next year."
    configured = get_settings(corpus_dir=make_corpus(tmp_path, {"wind.txt": article}, with_interview=False), index_dir=tmp_path / "index")
    assert not Pipeline.load(configured, embedder=embedder).ask("What is the title of this article?", mode="extractive").answerable


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("How many sites were shut down last year?", "How many sites were shut down in 2015?"),
        ("what happened this year", "what happened in 2016"),
        ("In the year before last, what happened?", "in 2014, what happened?"),
        ("What happened that year?", "What happened that year?"),  # a year the conversation named
        ("What were the last 10-15 years like?", "What were the last 10-15 years like?"),
    ],
)
def test_a_year_counted_from_now_is_counted_from_the_publication(asked: str, searched: str) -> None:
    assert years_for(asked, 2016) == searched


def test_last_year_is_the_year_before_the_interview(pipeline: Pipeline) -> None:
    # "…achieve last year?" matched "The global developments of the last 10-15 years…".
    first = "What does RATS do against terrorist websites?"
    history = [ChatTurn("user", first), ChatTurn("assistant", pipeline.ask(first).answer)]
    answer = pipeline.ask("and what did that achieve last year?", history, mode="extractive")
    assert answer.answerable and "500 websites" in answer.citations[0].quote, answer.answer
    # The interview reports 2015, not the year it appeared in.
    assert not pipeline.ask("What was averted this year?", mode="extractive").answerable


_SCORES = st.lists(st.floats(min_value=-1.0, max_value=10.0, allow_nan=False), min_size=2, max_size=12)


@settings(max_examples=200, deadline=None)
@given(dense=_SCORES, bm25=_SCORES, zeros=st.integers(min_value=0, max_value=10), boost=st.floats(min_value=0.01, max_value=5.0))
# Found by this test: a lone leader's z is √(n-1) whatever its score, so 0.5·√2 against 1.0·√½
# is a tie that float rounding broke one way, then the other, once the leader scored higher.
@example(dense=[2.0, 0.0, 0.0], bm25=[0.0, 2.0, 2.0], zeros=0, boost=1.0)
def test_a_better_score_never_costs_a_chunk_its_place(dense: list[float], bm25: list[float], zeros: int, boost: float) -> None:
    """Raising one chunk's score in one ranking never moves it down the fused order, and every
    fused score is at least 0 (Samuelson: no z is above √(n-1), so a chunk's own z grows with its
    score while the others' can only fall)."""
    chunks = [object()] * 32
    index = SimpleNamespace(chunks=chunks)  # fuse reads only the chunk list

    def ranking(scores: list[float], offset: int) -> list[tuple[int, float]]:
        return sorted(((offset + i, s) for i, s in enumerate(scores)), key=lambda x: -x[1])

    def order(d: list[float]) -> list[int]:
        rankings = [Ranking(ranking(d, 0), 0.5), Ranking(ranking(bm25, 3), 1.0, zeros=zeros)]
        hits = fuse(index, rankings, rankings[0].results, rankings[1].results, 32, 60, "zscores")  # type: ignore[arg-type]
        assert all(h.score >= 0 for h in hits)
        return [h.position for h in hits]

    before = order(dense)
    raised = [dense[0] + boost, *dense[1:]]
    after = order(raised)
    if 0 in before:
        assert after.index(0) <= before.index(0)


@pytest.mark.parametrize(
    ("asked", "parts"),
    [
        (
            "How many crimes were averted and how many terrorists were liquidated in 2015?",
            ["How many crimes were averted?", "how many terrorists were liquidated in 2015?"],
        ),
        ("Who are the Observers, and what do they do?", ["Who are the Observers?", "what do they do?"]),
        ("How many crimes were averted? And how many weapons were seized?", ["How many crimes were averted?", "how many weapons were seized?"]),
        ("What did the exercise study; what did it result in?", ["What did the exercise study?", "what did it result in?"]),
        # One question: "and" joins words, or a part would be too short to be a question.
        ("When and where was the exercise held?", ["When and where was the exercise held?"]),
        ("What are the roles of India and Pakistan?", ["What are the roles of India and Pakistan?"]),
        ("Was the convention adopted and when?", ["Was the convention adopted and when?"]),
        ("Tell me about India and what it does", ["Tell me about India and what it does"]),
    ],
)
def test_a_question_that_asks_two_is_split(asked: str, parts: list[str]) -> None:
    assert split_question(asked) == parts


def test_each_part_of_a_two_part_question_is_answered(pipeline: Pipeline) -> None:
    first, second = "How many crimes were averted in 2015?", "How many weapons were forfeited?"
    both = pipeline.ask(f"{first[:-1]} and {second[0].lower()}{second[1:]}")
    quotes = [c.quote for c in both.citations]
    for part in (first, second):
        assert pipeline.ask(part).citations[0].quote in quotes
    assert [c.n for c in both.citations] == list(range(1, len(quotes) + 1))
    assert len(set(quotes)) == len(quotes)
    # A part the interview does not answer is said to be so; the other is still answered.
    mixed = pipeline.ask(f"What is the annual budget of SCO RATS and {second[0].lower()}{second[1:]}")
    assert mixed.answerable
    assert mixed.answer.startswith("The interview does not say: what is the annual budget of SCO RATS?")
    assert pipeline.ask(second).citations[0].quote in [c.quote for c in mixed.citations]


@pytest.mark.parametrize(
    ("asked", "more"),
    [
        ("Tell me more.", True),
        ("tell me more about that", True),
        ("Go on", True),
        ("What else?", True),
        ("Can you elaborate on that?", True),
        ("OK, more details please", True),
        ("Anything else?", True),
        ("Tell me more about India", False),  # a new subject
        ("What else does RATS do?", False),
        ("More weapons were seized?", False),
    ],
)
def test_a_request_for_more_is_told_apart(asked: str, more: bool) -> None:
    assert is_more_request(asked) is more


@pytest.mark.parametrize(
    ("asked", "overview"),
    [
        ("What is the interview about?", True),
        ("what's this TASS interview all about", True),
        ("What is Sysoyev's interview about?", True),
        ("What was the interview given to TASS about?", True),
        ("What topics does the article cover?", True),
        ("What are the key takeaways from this interview?", True),
        ("Can you summarize the interview for me, please?", True),
        ("Give me a short overview of the text", True),
        ("What does the interview say?", True),
        ("What does the interview say about Afghanistan?", False),  # something in it
        ("What is the exercise in the interview about?", False),
        ("What is the Shanghai Convention about?", False),
        ("Who gave the interview?", False),
        ("When was the interview published?", False),
        ("Summarise what he said about India", False),
        ("What is the main topic of the Xiaomen-2015 exercise?", False),
        ("What's the main threat he mentions?", False),
        ("What is RATS about?", False),
        ("main points of the article?", True),
        ("Which topics does the interview cover?", True),
        ("Why was the interview given?", False),
        ("What is TASS?", False),  # a name of the document's source, not the document
        ("What is this document?", True),
    ],
)
def test_a_question_about_the_whole_document_is_told_apart(asked: str, overview: bool) -> None:
    names = frozenset({"yevgeniy", "sysoyev", "tass"})  # the interviewee's and the source's, from the metadata
    assert asks_overview(asked, names=names) is overview
    assert asks_overview(asked, opening=False, names=names) is overview  # naming the document, it means it anywhere
    if "Sysoyev" in asked or "TASS" in asked:
        assert not asks_overview(asked)  # without those names, a name of something in it


@pytest.mark.parametrize("asked", ["What is this about?", "What's it all about?", "Summarise it", "Give me a summary", "tl;dr"])
def test_what_it_is_about_means_the_document_only_at_the_start(asked: str) -> None:
    # After "What was Xiaomen-2015?", "What is it about?" asks about the exercise.
    assert asks_overview(asked, opening=True)
    assert not asks_overview(asked, opening=False)


def test_a_question_about_the_document_that_wants_a_date_count_or_language_is_no_request_for_its_gist(pipeline: Pipeline) -> None:
    # "english" and "language" are filler of a summary request ("…in plain English"), so "What
    # language is the interview in?" got the headline and the opening lines.
    for question in ("What language is the interview in?", "When was the interview published?", "How many words does the interview have?"):
        assert not pipeline.ask(question, mode="extractive").answerable, question
    overview = pipeline.ask("Give me the gist of the interview in plain English", mode="extractive")
    assert overview.answerable
    assert [c.quote for c in overview.citations] == [c.quote for c in pipeline.ask("What is the interview about?", mode="extractive").citations]


@pytest.mark.parametrize(
    ("asked", "provenance"),
    [
        ("Who conducted this interview?", True),
        ("Which news agency was the interview given to?", True),
        ("What news agency published the article?", True),
        ("who's the reporter", True),
        ("Who wrote the piece?", True),
        ("Who did the interview with Sysoyev?", True),
        ("whose interview is this?", True),
        ("Who was the interview with?", True),
        ("interviewer name?", True),
        ("What is the source of this text?", True),
        ("Who gave the TASS interview?", True),
        ("Who conducted the Xiaomen-2015 exercise?", False),  # something in it
        ("Which agency does Sysoyev head?", False),
        ("Which agencies does RATS work with?", False),
        ("Who published the Shanghai Convention?", False),
        ("What did the interviewer ask about India?", False),
        ("What news did he give about Afghanistan?", False),
        ("What is the interview about?", False),  # an overview
        ("When was the interview published?", False),  # a date, which the interview does not give
        ("What is TASS?", False),
        ("Who is Sysoyev?", False),
    ],
)
def test_a_question_about_who_made_the_document_is_told_apart(asked: str, provenance: bool) -> None:
    names = frozenset({"yevgeniy", "sysoyev", "tass"})
    assert asks_provenance(asked, names=names) is provenance


@pytest.mark.parametrize(
    ("asked", "terms"),
    [
        ("Who conducted the interview?", {"conduct"}),  # no line has it: every line answers
        ("who's the reporter", set()),
        ("Which news agency was the interview given to?", {"tass", "given"}),  # an organisation: the source
        ("What outlet is this from?", {"tass"}),
        ("Where was it published?", {"tass"}),
        ("Who facilitated the interview?", {"facilit"}),
        ("Who facilitated this interview with Sysoyev for TASS?", {"facilit"}),  # the document's names say nothing
        ("Who arranged the interview?", {"arrang"}),
    ],
)
def test_what_a_question_about_who_made_the_document_asks_of_its_lines(asked: str, terms: set[str]) -> None:
    names = frozenset({"yevgeniy", "sysoyev", "tass"})
    assert asks_provenance(asked, names=names)
    assert provenance_terms(asked, "TASS", names) == terms


def test_it_means_the_document_only_at_the_start() -> None:
    # After "What was Xiaomen-2015?", "Who conducted it?" asks who held the exercise.
    assert asks_provenance("Who conducted it?", opening=True)
    assert not asks_provenance("Who conducted it?", opening=False)
    assert asks_provenance("Who conducted the interview?", opening=False)


def test_a_sentence_about_the_document_names_it() -> None:
    assert names_document("Interview facilitated by Alexander Shashkov")
    assert names_document("He has told in its interview to TASS how successful it has been.")
    assert not names_document("The Executive Committee conducted the exercise.")


@pytest.mark.parametrize(
    ("message", "listing"),
    [
        ("list the observer states", True),
        ("Hi, can you name a couple of those partners?", True),
        ("please enumerate the members", True),
        ("could u list them", True),
        ("Name of the exercise?", False),  # the noun
        ("Which partners does RATS have?", False),  # read from its opening instead
        ("tell me the names of the partners", False),
        ("listed organisations?", False),
    ],
)
def test_a_request_to_list_things_is_read_from_the_message_as_written(message: str, listing: bool) -> None:
    assert asks_for_list(message) is listing
    assert build_query(message).listing is listing

