"""The word layer shared by BM25 and the answer scorer, and the question as it is searched:
American spellings meet the British text; greetings, polite wrappers, misspellings and
"according to <the interviewee>" come off."""

from __future__ import annotations

import pytest

from rag.lexical import (
    _DEMONYMS,
    Acronyms,
    Speller,
    Titles,
    asks_current_holder,
    asks_former_holder,
    british,
    british_spellings,
    content_terms,
    english_frequencies,
    quantities,
    romanised_skeleton,
    spell_out_dates,
    spelt_out,
    starts_sentence,
    stem,
    term_pairs,
)
from rag.pipeline import Pipeline
from rag.retrieval import Retriever, build_query, plain_question, voice_attribution
from rag.types import ChatTurn, Document


@pytest.mark.parametrize(
    ("us", "uk"),
    [
        ("organization", "organisation"),
        ("organizations", "organisations"),
        ("organized", "organised"),
        ("finalizing", "finalising"),
        ("analyze", "analyse"),
        ("center", "centre"),
        ("centers", "centres"),
        ("centered", "centred"),
        ("defense", "defence"),
        ("dialog", "dialogue"),
        ("program", "programme"),
        ("labor", "labour"),
        ("behaviors", "behaviours"),
        ("traveled", "travelled"),
        ("canceling", "cancelling"),
        # Words that only look American stay as they are.
        ("size", "size"),
        ("seize", "seize"),
        ("citizen", "citizen"),
        ("filled", "filled"),
        ("totally", "totally"),
        ("organisation", "organisation"),
    ],
)
def test_american_spellings_fold_into_british(us: str, uk: str) -> None:
    assert british(us) == uk


def test_both_spellings_give_the_same_terms() -> None:
    assert content_terms("Which organizations are centered on dialog?") == content_terms("Which organisations are centred on dialogue?")


def test_an_american_spelling_finds_the_british_text(pipeline: Pipeline) -> None:
    # The interview writes "organisations"; BM25 alone has no other way to match "organizations".
    bm25 = pipeline.configured(retrieval="bm25")
    us = bm25.ranking("Which regional organizations does the Executive Committee work with?")
    uk = bm25.ranking("Which regional organisations does the Executive Committee work with?")
    assert [h.chunk.chunk_id for h in us] == [h.chunk.chunk_id for h in uk]
    assert [h.score for h in us] == pytest.approx([h.score for h in uk])


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1500 weapons", [1500]),
        ("1,500 weapons", [1500]),
        ("200,000 materials", [200_000]),
        ("almost 200 thousand materials", [200_000]),
        ("1.5 million dollars", [1_500_000]),
        ("two hundred improvised explosive devices", [200]),
        ("about a thousand abettors", [1000]),
        ("one hundred and fifty terrorists", [150]),
        ("twenty-five", [25]),
        ("three thousand four hundred and two", [3402]),
        ("in 2015, 167 crimes", [2015, 167]),
        ("a plan with no number", []),
    ],
)
def test_quantities_are_read_however_they_are_written(text: str, values: list[float]) -> None:
    assert [v for _, _, v in quantities(text)] == values


@pytest.mark.parametrize(
    ("written", "spelt"),
    [
        ("signed on 17.06.2009?", "signed on 17 June 2009?"),
        ("on 17/06/2009", "on 17 June 2009"),
        ("on 2009-06-17", "on 17 June 2009"),
        ("on 06/17/2009", "on 17 June 2009"),  # the month first: 17 is no month
        ("on 05/06/2009", "on 5 June 2009"),  # either way round: the day first
        ("on June 17th, 2009", "on June 17, 2009"),
        ("on the 17th of June 2009", "on the 17 June 2009"),
        # Not dates: left as written.
        ("on 32/13/2009", "on 32/13/2009"),
        ("the 1st place and the 2nd half of May", "the 1st place and the 2nd half of May"),
    ],
)
def test_dates_in_digits_are_spelt_out(written: str, spelt: str) -> None:
    assert spell_out_dates(written) == spelt


def test_a_date_written_in_digits_is_answered_as_the_interview_writes_it(pipeline: Pipeline) -> None:
    # The interview writes "17 June 2009".
    spelt = pipeline.ask("Which agreement was signed on 17 June 2009?")
    assert spelt.answerable
    for written in ("17.06.2009", "17/06/2009", "2009-06-17", "June 17th, 2009"):
        answer = pipeline.ask(f"Which agreement was signed on {written}?")
        assert [c.quote for c in answer.citations] == [c.quote for c in spelt.citations], written
    _, evidence = pipeline.evidence("Which agreement was signed on 18.06.2009?")
    assert evidence.signals.missing >= 1.0


def test_an_honorific_is_no_search_term(pipeline: Pipeline) -> None:
    # The interview's only "Mr." are its former directors': "Mr. Sysoyev" pulled the search there.
    assert content_terms("What does Mr. Sysoyev think?") == content_terms("What does Sysoyev think?")
    assert content_terms("Dr. Smith and Mrs. Jones") == content_terms("Smith and Jones")
    titled = pipeline.ask("What does Mr. Sysoyev think about Afghanistan?")
    plain = pipeline.ask("What does Sysoyev think about Afghanistan?")
    assert [c.quote for c in titled.citations] == [c.quote for c in plain.citations]


def test_term_pairs_are_neighbouring_terms_within_a_clause() -> None:
    # Stopwords are skipped, so "Partners of the Organisation" is a pair; stems as BM25 has them.
    assert term_pairs("new Dialogue Partners of the Organisation") == ["new dialogu", "dialogu partner", "partner organis"]
    # A clause ends at punctuation that ends a thought, not at a comma.
    assert term_pairs("legal aspects; technical capacities") == ["legal aspect", "technic capac"]
    assert term_pairs("legal aspects, technical capacities") == ["legal aspect", "aspect technic", "technic capac"]
    assert term_pairs("the Afghan authority: the Ministry (of Foreign Affairs)") == ["afghanistan author", "foreign affair"]
    assert term_pairs("terrorism") == [] and term_pairs("") == []


def test_an_acronym_is_spelt_out_by_capitalised_initials_or_a_bracketed_definition() -> None:
    text = (
        "Observers to the Shanghai Cooperation Organisation met. Members of international terrorist "
        "organisations (ITOs) recruit. The UN Office for Drugs and Crime and Illegal Trade. The CIS "
        "Anti-Terrorism Centre."
    )
    found = lambda acronym: [text[s:e] for s, e in spelt_out(text, acronym)]  # noqa: E731
    assert found("SCO") == ["Shanghai Cooperation Organisation"]
    assert found("ITO") == ["international terrorist organisations"]  # lower case: defined in brackets
    assert found("IT") == []  # two capitalised initials coincide too easily
    assert found("UNODC") == []  # "UN …" is not spelt out
    assert found("RATS") == []
    assert found("ATC") == ["Anti-Terrorism Centre"]  # each capitalised part of a hyphenated word


def test_thousands_separators_do_not_split_a_number_into_terms() -> None:
    assert content_terms("Were 1,500 weapons seized?") == content_terms("Were 1500 weapons seized?")
    assert content_terms("1,2 and 3,4567") == ["1", "2", "3", "4567"]


_ACRONYM_TEXT = (
    "The NATO summit met the EU. Talks with the UN Office for Drugs and Crime, and with the WHO, went on. "
    "The Information Security agreement and the SC resolution were signed in Geneva."
)


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        # A name the text writes only as an acronym becomes the acronym.
        ("Did the North Atlantic Treaty Organization meet?", "Did the NATO meet?"),
        ("What did the European Union say?", "What did the EU say?"),
        ("Is the World Health Organization's work named?", "Is the WHO work named?"),
        # Dotted: "E.U." is the text's "EU"; "U.S." is no acronym of the text and stays.
        ("What did the E.U. and the U.S. say?", "What did the EU and the U.S. say?"),
        # An acronym the text never uses becomes the name it spells out there.
        ("Did they talk with the UNODC?", "Did they talk with the UN Office for Drugs and Crime?"),
        # Two initials coincide too easily: not when a word of the name is one the text capitalises.
        ("What did the Security Council decide?", "What did the Security Council decide?"),
        # Names the text has as written, names with no acronym in the text, and Title Case stay.
        ("Was the Information Security agreement signed?", "Was the Information Security agreement signed?"),
        ("Did the Warsaw Pact meet?", "Did the Warsaw Pact meet?"),
        ("Did The North Atlantic Treaty Organization Meet In Geneva?", "Did The North Atlantic Treaty Organization Meet In Geneva?"),
        ("DID THE NORTH ATLANTIC TREATY ORGANIZATION MEET?", "DID THE NORTH ATLANTIC TREATY ORGANIZATION MEET?"),
    ],
)
def test_names_are_searched_in_the_form_the_text_uses(asked: str, searched: str) -> None:
    assert Acronyms([_ACRONYM_TEXT]).rewrite(asked) == searched


def test_an_acronym_the_text_never_uses_becomes_the_phrase_its_initials_make() -> None:
    text = "Police seized two hundred improvised explosive devices. The State Security Committee met. In every district."
    acronyms = Acronyms([text])
    assert acronyms.rewrite("How many IEDs were seized?") == "How many improvised explosive devices were seized?"
    assert acronyms.rewrite("Which SSC met?") == "Which State Security Committee met?"
    # Nothing of the text spells them ("In every district": no small word inside), or all capitals.
    for same in ("Did the FSB meet?", "Where is NATO?", "HOW MANY IEDS?"):
        assert acronyms.rewrite(same) == same
    assert Acronyms(["In every district. Improvised Explosive Devices."]).rewrite("What is IED?") == "What is Improvised Explosive Devices?"
    # Two phrases make the initials: no guess.
    assert Acronyms(["improvised explosive devices and important export duties"]).rewrite("What is an IED?") == "What is an IED?"


def test_the_interviews_spelt_out_phrase_answers_its_acronym(pipeline: Pipeline) -> None:
    # "IEDs" is nowhere in the interview: "And the IEDs? how many…" (users set) was refused.
    answer = pipeline.ask("How many IEDs were confiscated?", mode="extractive")
    assert answer.answerable and "two hundred improvised explosive devices" in answer.citations[0].quote, answer.answer


def test_a_phrase_the_text_abbreviates_in_brackets_brings_its_acronym() -> None:
    # After "…to international terrorist organisations (ITOs)…", the text writes "ITOs" alone.
    text = "Recruitment to international terrorist organisations (ITOs) grew. The use of the Internet by ITOs to raise funds grew too."
    acronyms = Acronyms([text])
    assert acronyms.rewrite("What do international terrorist organisations do online?") == (
        "What do international terrorist organisations (ITOs) do online?"
    )
    assert acronyms.rewrite("How does an international terrorist organization raise funds?") == (
        "How does an international terrorist organization (ITOs) raise funds?"  # any case, any spelling, one or many
    )
    assert acronyms.rewrite("WHAT DO INTERNATIONAL TERRORIST ORGANISATIONS DO?") == "WHAT DO INTERNATIONAL TERRORIST ORGANISATIONS (ITOs) DO?"
    for same in ("What do ITOs do online?", "What do international organisations do?", "What do terrorist organisations do?"):
        assert acronyms.rewrite(same) == same


def test_a_question_in_the_words_of_a_bracketed_acronym_finds_where_the_acronym_stands_alone(pipeline: Pipeline) -> None:
    # "…by ITOs to recruit new abettors, fundraising, coordinating terrorist acts…": the phrase
    # found only the sentence that defines ITOs, and the second citation was about the exercise.
    answer = pipeline.ask("How do international terrorist organizations raise funds?", mode="extractive")
    assert any("fundraising" in c.quote for c in answer.citations), answer.answer


_TITLE_TEXT = "Ann Lee, Director of the Bureau, spoke. Former Bureau Directors built it. Criminal charges were pressed."


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("Who heads the Bureau?", "Who is the Director of the Bureau?"),
        ("Who runs the Bureau now?", "Who is the Director of the Bureau now?"),
        ("who currently leads the bureau", "who is the Director of the bureau"),
        ("Who is in charge of the Bureau?", "Who is the Director of the Bureau?"),
        ("Who's at the helm of the Bureau?", "Who is the Director of the Bureau?"),
        ("Who is the boss of the Bureau?", "Who is the Director of the Bureau?"),
        ("Who is the Bureau's chief?", "Who is the Bureau's Director?"),
        ("Which official ran the Bureau before her?", "Which official was the Director of the Bureau before her?"),
        ("Who were the earlier heads of the Bureau?", "Who were the earlier Directors of the Bureau?"),
        # The body before its title, and requests for a name: asked as "Who is the Director of…?".
        ("Who is the current Bureau director?", "Who is the current director of Bureau?"),
        ("Who was the Bureau chief before her?", "Who was the Director of Bureau before her?"),
        ("Who is the man in charge of the Bureau?", "Who is the Director of the Bureau?"),
        ("What is the name of the man in charge of the Bureau?", "Who is the Director of the Bureau?"),
        ("What were the names of the former heads of the Bureau?", "Who were the former Directors of the Bureau?"),
        ("the previous bosses of the Bureau.", "Who were the previous Directors of the Bureau."),  # "Name the…" unwrapped
        ("Who is the top official at the Bureau?", "Who is the Director of the Bureau?"),
        ("Who was the most senior officer in the Bureau?", "Who was the Director of the Bureau?"),
        ("Who is responsible for running the Bureau today?", "Who is the Director of the Bureau today?"),
        ("and who had the job before her?", "and who was the Director before her?"),  # the text's one post
        ("Who holds that position now?", "Who is the Director now?"),
    ],
)
def test_a_question_about_who_leads_something_asks_with_the_title_the_text_uses(asked: str, searched: str) -> None:
    # "head", "charge" and "run" found other senses ("Criminal charges…"); the text says "Director".
    assert Titles([_TITLE_TEXT]).rewrite(asked) == searched


@pytest.mark.parametrize(
    "same",
    [
        "What led to the charges?",  # not a question about who
        "Who is the Secretary-General of the Bureau?",  # a post of its own, not the text's
        "Who is the President of France?",
        "Who is the head of state?",
        "Who is the Director of the Bureau?",  # the text's own title
        "Who was charged?",
        "Who was in charge of facilitating the interview?",  # a task, not a body
        "Who leads planning for the exercise?",
        "Who is the new head?",  # no body named
        "Who is responsible for the attack?",  # no leading verb
        "Who had the idea?",
        "What is the name of the exercise?",
        "Where is the Bureau's director?",
    ],
)
def test_other_questions_keep_their_words(same: str) -> None:
    assert Titles([_TITLE_TEXT]).rewrite(same) == same
    assert Titles(["A text with no titles at all."]).rewrite("Who heads the Bureau?") == "Who heads the Bureau?"


def test_who_holds_a_post_now_is_told_apart_from_who_held_it() -> None:
    for now in ("Who is the Director of RATS?", "who's the current head of the agency", "Who are the directors of it?"):
        assert asks_current_holder(now), now
    for before in ("Who was the Director of RATS?", "Who is the Director of RATS before Sysoyev?", "Who is Zhang Xinfeng?", "Who were the former directors?"):
        assert not asks_current_holder(before), before


@pytest.mark.parametrize("question", ["Who heads RATS?", "Who is in charge of RATS?", "Who is the boss of the RATS Executive Committee?", "Who is the Director of RATS?"])
def test_who_leads_rats_is_answered_with_its_director_not_another_sense_or_the_former_ones(pipeline: Pipeline, question: str) -> None:
    # Before: "Criminal charges were pressed…", "'run-in' tests…", or the former directors.
    answer = pipeline.ask(question, mode="extractive")
    assert answer.answerable
    assert "Director of the SCO RATS Executive Committee" in answer.citations[0].quote, answer.answer
    assert not any("predecessors" in c.quote for c in answer.citations), answer.answer


def test_who_held_a_post_before_is_told_apart_from_who_holds_it() -> None:
    for before in ("and who was the Director before him?", "So who was the director until 2016?"):
        assert asks_former_holder(before) and not asks_current_holder(before), before
    for before in ("Who was the Director of RATS before him?", "Who were the former directors of RATS?", "Which people were the Directors of it in the past?"):
        assert asks_former_holder(before) and not asks_current_holder(before), before
    for other in ("Who is the Director of RATS?", "Who was the Director of RATS in 2016?", "Who was Zhang Xinfeng?"):
        assert not asks_former_holder(other), other


def test_who_had_the_interviewees_job_before_him_is_answered_with_the_former_directors(pipeline: Pipeline) -> None:
    # After "Who is Yevgeniy Sysoyev?", "and who had the job before him?" got the byline again.
    first = pipeline.ask("Who is Yevgeniy Sysoyev?", mode="extractive")
    history = [ChatTurn("user", "Who is Yevgeniy Sysoyev?"), ChatTurn("assistant", first.answer)]
    answer = pipeline.ask("and who had the job before him?", history, mode="extractive")
    assert any("former SCO RATS Directors" in c.quote for c in answer.citations), answer.answer
    assert not any("Yevgeniy Sysoyev" in c.quote for c in answer.citations), answer.answer


@pytest.mark.parametrize("question", ["Who headed SCO RATS before Sysoyev?", "Who led RATS before him?"])
def test_who_led_rats_before_is_answered_with_the_former_directors(pipeline: Pipeline, question: str) -> None:
    # "Who led RATS before him?" ("him": the interviewee) got the byline, which names him.
    answer = pipeline.ask(question, mode="extractive")
    assert any("former SCO RATS Directors" in c.quote for c in answer.citations), answer.answer
    assert not any("Yevgeniy Sysoyev" in c.quote for c in answer.citations), answer.answer


@pytest.mark.parametrize("question", ["Who is the current RATS director?", "Who is the SCO RATS Director?", "What is the name of the man in charge of RATS?"])
def test_who_holds_a_post_named_before_its_body_is_answered_with_the_holder(pipeline: Pipeline, question: str) -> None:
    # All three got "My esteemed predecessors… (former SCO RATS Directors)" before.
    answer = pipeline.ask(question, mode="extractive")
    assert answer.answerable and "Director of the SCO RATS Executive Committee" in answer.citations[0].quote, answer.answer
    assert not any("predecessors" in c.quote for c in answer.citations), answer.answer


def test_a_sentence_naming_the_post_asked_about_is_preferred(pipeline: Pipeline) -> None:
    # The answer type "holder:director" counts as a sentence feature, as a date or a count does:
    # "The Shanghai Convention…" scored best and, naming no Director, the question was refused.
    for question in ("Name the previous bosses of the SCO anti-terrorism structure.", "Who were the previous directors of the SCO anti-terrorism structure?"):
        answer = pipeline.ask(question, mode="extractive")
        assert answer.answerable and "former SCO RATS Directors" in answer.citations[0].quote, (question, answer.answer)
    # Still refused: no sentence names a post of the UN.
    assert not pipeline.ask("can u tell me who the current un secretary general is", mode="extractive").answerable


def test_a_word_written_solid_that_the_corpus_hyphenates_is_hyphenated() -> None:
    speller = Speller(["The anti-terrorist structure and the Counter-Terrorism Committee. A full-fledged member."], frozenset())
    assert speller.correct("Which antiterrorist body? Counterterrorism, fullfledged") == "Which anti-terrorist body? Counter-terrorism, full-fledged"
    assert Speller(["anti-terrorist and antiterrorist"], frozenset()).correct("antiterrorist") == "antiterrorist"  # written solid too


def test_a_spelt_out_name_written_solid_is_answered_as_its_acronym(pipeline: Pipeline) -> None:
    # "Antiterrorist" made no "RATS" of "Regional Antiterrorist Structure", and the post asked
    # about was of nothing the byline names: refused.
    answer = pipeline.ask("Who is the current director of the SCO Regional Antiterrorist Structure?", mode="extractive")
    assert answer.answerable and "Director of the SCO RATS Executive Committee" in answer.citations[0].quote, answer.answer


def test_a_spelt_out_name_is_answered_as_its_acronym(pipeline: Pipeline) -> None:
    # The interview writes "UN", "CIS", "CSTO" and "RATS" only as acronyms.
    for spelt, short in (
        ("Does the Regional Anti-Terrorist Structure cooperate with the United Nations?", "Does the RATS cooperate with the UN?"),
        ("Does RATS work with the Commonwealth of Independent States?", "Does RATS work with the CIS?"),
        ("Does RATS cooperate with the Collective Security Treaty Organization?", "Does RATS cooperate with the CSTO?"),
    ):
        assert pipeline.retriever.query(spelt).text == short
        answer = pipeline.ask(spelt)
        assert answer.answerable
        assert [c.quote for c in answer.citations] == [c.quote for c in pipeline.ask(short).citations]


@pytest.mark.parametrize(
    ("adjective", "country"),
    [("Afghan", "Afghanistan"), ("Afghans", "Afghanistan"), ("Belarusian", "Belarus"), ("Chinese", "China"), ("Kyrgyz", "Kyrgyzstan"), ("Mongolian", "Mongolia")],
)
def test_a_country_adjective_is_the_country_term(adjective: str, country: str) -> None:
    assert content_terms(f"Which {adjective} ministry?") == content_terms(f"Which {country} ministry?")


def test_words_that_only_look_like_a_country_adjective_stay_apart() -> None:
    assert stem("polish") != stem("poland")
    assert stem("germane") != stem("germany")
    # No common English word outside the table shares a table word's term.
    table = {w for country, adjectives in _DEMONYMS.items() for w in (country, *adjectives.split())}
    terms = {stem(w) for w in table}
    clashes = [w for w, n in english_frequencies().items() if n >= 100 and w not in table and stem(w) in terms]
    assert clashes == []


def test_a_country_adjective_finds_the_country(pipeline: Pipeline) -> None:
    # The interview writes "Afghanistan" and "Belarus"; BM25 alone has no other way to match.
    bm25 = pipeline.configured(retrieval="bm25")
    for adjective, country in (("Afghan", "Afghanistan"), ("Belarusian", "Belarus")):
        by_adjective = [(h.chunk.chunk_id, h.score) for h in bm25.ranking(f"{adjective} authorities")]
        by_country = [(h.chunk.chunk_id, h.score) for h in bm25.ranking(f"{country} authorities")]
        assert by_adjective == by_country
        assert any(country in h.chunk.text for h in bm25.ranking(adjective))


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("Hi! How many weapons were seized?", "How many weapons were seized?"),
        ("Hey there, what does RATS do?", "what does RATS do?"),
        # Every greeting small talk knows ("yo how many terorists…" kept "yo", and with it no "how many").
        ("yo how many weapons were seized", "how many weapons were seized?"),
        ("Howdy! who leads RATS?", "who leads RATS?"),
        ("hiya, is Iran an observer", "is Iran an observer?"),
        ("Hello, could you please tell me how many weapons were seized", "how many weapons were seized?"),
        ("Please tell me: who leads the Executive Committee?", "who leads the Executive Committee?"),
        ("Do you know who the director is?", "who is the director?"),
        ("I'd like to know when the exercise took place.", "when the exercise took place."),
        ("Could you tell me if Iran is an observer", "whether Iran is an observer?"),
        ("Thanks! And what about Pakistan?", "And what about Pakistan?"),
        # The interview is the only source: saying so, set off by commas, says nothing.
        ("According to the interview, how many crimes were averted?", "how many crimes were averted?"),
        ("How many crimes were averted, according to the interview?", "How many crimes were averted?"),
        ("Hi! In this article, is Iran an observer", "is Iran an observer?"),
        ("Which partners are mentioned in the interview?", "Which partners are mentioned in the interview?"),
        ("Who, according to the text, leads RATS?", "Who leads RATS?"),
        ("How many crimes were averted according to the interview?", "How many crimes were averted?"),
        # Any other clause before the question word moves to the end, so the question opens with it.
        ("In 2015, how many crimes were averted?", "how many crimes were averted, in 2015?"),
        ("According to Sysoyev, who leads RATS?", "who leads RATS, according to Sysoyev?"),
        # A participle opening the clause was capitalised only as the first word: it is no name,
        # which the evidence would have to hold ("Asked" was, and the question was refused).
        ("Asked about his predecessors, who does Sysoyev credit?", "who does Sysoyev credit, asked about his predecessors?"),
        ("Looking back on 2015, how many terrorists were liquidated?", "how many terrorists were liquidated, looking back on 2015?"),
        ("Turning to Europe, how do the partners view RATS?", "how do the partners view RATS, turning to Europe?"),
        ("Xiaomen-2015, where was it held?", "where was it held, Xiaomen-2015?"),  # a name stays one
        ("  How  many\tcrimes were   averted? ", "How many crimes were averted?"),
        # A request's verb names no content: "list" matched "All the countries you have listed…".
        ("List all the organisations RATS cooperates with.", "all the organisations RATS cooperates with."),
        ("Could you name the former directors of RATS?", "the former directors of RATS?"),
        ("Describe the Xiaomen-2015 exercise", "the Xiaomen-2015 exercise"),
        ("Explain how RATS detects returning fighters", "how RATS detects returning fighters?"),
        ("Please explain if Iran is an observer", "whether Iran is an observer?"),
        ("Name of the director?", "Name of the director?"),  # a noun, not a request
        ("Describe RATS", "Describe RATS"),
        # An embedded question's order: the verb comes first again.
        ("can u tell me who the current un secretary general is", "who is the current un secretary general?"),
        ("Could you tell me what the objective of the exercise was?", "what was the objective of the exercise?"),
        ("Tell me what the interview is about", "what the interview is about?"),  # the verb is not last
        # A question word typed as in a chat is written out, so the question opens with it.
        ("whats its annual budget", "what's its annual budget?"),
        ("ok, wheres the headquarters", "where's the headquarters?"),
        ("WHATS THE BUDGET", "WHAT'S THE BUDGET?"),
        ("wat did the exercise teach them", "what did the exercise teach them?"),
        ("Whatsapp groups?", "Whatsapp groups?"),  # a name, not "what's"
        # Nothing to take off, or too little left: the question stays as asked.
        ("How many weapons were seized?", "How many weapons were seized?"),
        ("Tell me more", "Tell me more"),
        ("Hi", "Hi"),
        ("SCO RATS budget", "SCO RATS budget"),
    ],
)
def test_a_question_is_searched_without_its_greeting_or_polite_wrapper(asked: str, searched: str) -> None:
    assert plain_question(asked) == searched
    assert build_query(asked).text == searched


def test_a_misspelt_word_is_corrected_to_the_corpus_word_one_edit_away() -> None:
    speller = Speller(["The terrorist organisations and the Executive Committee met. Terrorist acts."], frozenset({"funded", "foil"}))
    assert speller.correct("How many terorist organiations?") == "How many terrorist organisations?"
    assert speller.correct("the EXCECUTIVE Comittee") == "the EXECUTIVE Committee"  # case kept
    # Left alone: known English words (and their inflections), short words, words one edit from nothing.
    assert speller.correct("It was funded, foiled, met") == "It was funded, foiled, met"
    assert speller.correct("tset budgett") == "tset budgett"
    # Only the first words are looked at: a long paste costs a bounded time.
    assert speller.correct("terorist terorist terorist", max_words=2) == "terrorist terrorist terorist"
    # Two different corpus words one edit away, equally frequent: no guess.
    assert Speller(["cart card"], frozenset()).correct_word("carts") == "carts"  # stem of "cart": kept
    assert Speller(["bears beard"], frozenset()).correct_word("bearx") == "bearx"


def test_a_name_spelt_another_way_is_searched_as_the_corpus_spells_it() -> None:
    text = (
        "Noting the risks, the Executive Committee met Mr. D.M.Djumanbekov and Zhang Xinfeng in "
        "Yekaterinburg. The director, Mr. Yevgeniy Borisov, spoke."
    )
    common = {"ekaterinburg": 50, "committee": 56311, "committed": 60000, "nothing": 1287588}
    speller = Speller([text], frozenset(common), common)
    # Transliterations: two edits from a long corpus name, or one from it when the word is a
    # rare English one too ("Ekaterinburg" is in the English list).
    assert speller.correct("Did Dzhumanbekov meet them?") == "Did Djumanbekov meet them?"
    assert speller.correct("What was signed in Ekaterinburg?") == "What was signed in Yekaterinburg?"
    # A name written in two words.
    assert speller.correct("Which country is Zhang Xin Feng from?") == "Which country is Zhang Xinfeng from?"
    # Not names: common words the corpus capitalises in a name, or only at a sentence's start.
    assert speller.correct("Was it Committed by Nothing?") == "Was it Committed by Nothing?"
    assert speller.correct("Did Evgeniy speak?") == "Did Yevgeniy speak?"  # one edit
    # Two edits only for a word of seven letters or more, but another romanisation of a name the
    # corpus writes capitalised only (even one that only opens sentences) is that name, whatever
    # its length: "Evgeny" and "Evgenii" romanise "Yevgeniy" ("Yevgeniy Borisov, …" below).
    starts = Speller(["Yevgeniy Borisov spoke. Yevgeniy Borisov left."], frozenset(common), common)
    assert starts.correct("Did Evgeny speak?") == "Did Yevgeniy speak?"
    assert starts.correct("Did Evgenii speak?") == "Did Yevgeniy speak?"
    assert starts.correct("Did Evans speak?") == "Did Evans speak?"  # no name of the corpus romanises so


@pytest.mark.parametrize(
    ("one", "other"),
    [("Yevgeniy", "Evgeny"), ("Yevgeniy", "Evgenii"), ("Sysoyev", "Sysoev"), ("Djumanbekov", "Dzhumanbekov"), ("Kasymov", "Kasimov"), ("Yekaterinburg", "Ekaterinburg")],
)
def test_romanisations_of_a_russian_name_share_a_skeleton(one: str, other: str) -> None:
    assert romanised_skeleton(one) == romanised_skeleton(other)
    assert romanised_skeleton(one) != romanised_skeleton("Evans") != romanised_skeleton("Ivanov")


def test_the_interviewee_romanised_another_way_is_found(pipeline: Pipeline) -> None:
    name = pipeline.document("sysoyev-interview").interviewee  # "Yevgeniy Sysoyev"
    for question in ("Who is Evgeny Sysoev?", "who is evgenii sysoev"):
        answer = pipeline.ask(question)
        assert answer.answerable and name in answer.citations[0].quote, question


def test_a_misspelt_question_is_searched_as_if_spelt_right(pipeline: Pipeline) -> None:
    right = "Which organisations has SCO RATS executed cooperation acts with?"
    typed = "Which organsations has SCO RATS exceuted cooperation acts with?"
    assert pipeline.retriever.query(typed).text == right
    ranking = [(h.chunk.chunk_id, round(h.score, 6)) for h in pipeline.search(right)]
    assert [(h.chunk.chunk_id, round(h.score, 6)) for h in pipeline.search(typed)] == ranking
    # RAG_SPELL_CORRECT=false searches what was typed, and ranks other passages.
    off = pipeline.configured(spell_correct=False)
    assert off.retriever.query(typed).text == typed
    assert [(h.chunk.chunk_id, round(h.score, 6)) for h in off.search(typed)] != ranking


def test_a_misspelt_english_word_the_interview_lacks_is_corrected_into_english() -> None:
    common = {"attacks": 900, "attach": 50, "according": 5000, "absence": 80, "criminalize": 3}
    known = frozenset(common) | british_spellings(common)
    speller = Speller(["The terrorist crimes were averted."], known, common)
    assert speller.correct("How many attcaks were averted, accodring to him?") == "How many attacks were averted, according to him?"
    # The interview's own word comes first ("terorist" is not an English word of the list either).
    assert speller.correct("terorist attcaks") == "terrorist attacks"
    # A capitalised word inside a question may be a name: only a corpus word corrects it. The
    # first word, or a question in capitals, tells nothing by its capital.
    assert speller.correct("What did Abience say?") == "What did Abience say?"
    assert speller.correct("Attcaks averted?") == "Attacks averted?"
    assert speller.correct("HOW MANY ATTCAKS?") == "HOW MANY ATTACKS?"
    # A British spelling of a known American word is no typo ("criminalise": not "criminalist").
    assert speller.correct_word("criminalise") == "criminalise"
    # Without English frequencies, only the corpus's words correct.
    assert Speller(["The terrorist crimes."], known).correct("attcaks") == "attcaks"


def test_british_spellings_of_the_english_word_list_are_known(pipeline: Pipeline) -> None:
    speller = pipeline.retriever.speller
    assert speller is not None
    for word in ("prioritise", "criminalise", "radicalisation", "defence", "favour", "programme", "travelling"):
        assert speller.correct_word(word) == word


def test_a_typo_in_a_word_the_interview_does_not_use_is_searched_as_spelt_right(pipeline: Pipeline) -> None:
    right = "How many accomplices were arrested in 2015?"
    typed = "How many accomlpices were arrested in 2015?"
    assert pipeline.retriever.query(typed).text == right
    assert [c.quote for c in pipeline.ask(typed).citations] == [c.quote for c in pipeline.ask(right).citations]


def test_the_interviewee_comes_from_the_metadata() -> None:
    meta = {"speakers": {"interviewee": "Yevgeniy Sysoyev, Director of the SCO RATS Executive Committee"}}
    assert Document("d", "d.txt", "text", "0" * 64, meta).interviewee == "Yevgeniy Sysoyev"
    assert Document("d", "d.txt", "text", "0" * 64, {}).interviewee == ""
    assert Document("d", "d.txt", "text", "0" * 64, {"speakers": "someone"}).interviewee == ""


@pytest.mark.parametrize(
    ("asked", "attributed"),
    [
        ("how many crimes were averted, according to Sysoyev?", True),
        ("According to Mr. Sysoyev, who leads?", True),
        ("In Yevgeniy Sysoyev's view, what matters?", True),
        ("What, in the opinion of Sysoyev, matters?", True),
        ("How many crimes were averted according to Sysoyev?", True),  # closing it, no comma needed
        ("What does Sysoyev say about India?", False),  # asks what he says: his name is the subject
        ("According to Putin, who leads?", False),  # someone else's view is a question of its own
    ],
)
def test_attributing_a_question_to_the_interviewee_is_told_apart(asked: str, attributed: bool) -> None:
    pattern = voice_attribution(["Yevgeniy Sysoyev"])
    assert pattern is not None
    assert bool(pattern.search(asked)) is attributed
    assert voice_attribution([""]) is None


def test_the_interviewee_is_no_search_term(pipeline: Pipeline) -> None:
    # Every answer in the interview is Sysoyev's: naming him points at no passage. Without this his
    # name, found only in the byline, pulled the search there.
    plain = "How many terrorists were liquidated in 2015?"
    attributed = "According to Sysoyev, how many terrorists were liquidated in 2015?"
    assert pipeline.retriever.query(attributed).text.lower() == plain.lower()
    assert [c.quote for c in pipeline.ask(attributed).citations] == [c.quote for c in pipeline.ask(plain).citations]
    bm25 = pipeline.configured(retrieval="bm25")
    named = [h.chunk.chunk_id for h in bm25.ranking("What does Sysoyev say about the Xiaomen-2015 exercise?")]
    assert named == [h.chunk.chunk_id for h in bm25.ranking("What does he say about the Xiaomen-2015 exercise?")]
    # A retriever that is not told who the interviewee is searches his name like any other word.
    blind = Retriever(pipeline.index, pipeline.embedder, bm25.settings)
    assert [h.chunk.chunk_id for h in blind.retrieve("What does Sysoyev say about the Xiaomen-2015 exercise?")] != named


def test_rare_english_words_are_not_typos(pipeline: Pipeline) -> None:
    # Not in the embedding model's 22k-word vocabulary, one edit from an interview word, yet real:
    # the English word list (pyspellchecker's) keeps them as typed.
    assert len(english_frequencies()) > 100_000 and "abettors" in english_frequencies()
    speller = pipeline.retriever.speller
    assert speller is not None
    for word in ("censure", "belated", "derision", "affective", "resent", "defection"):
        assert speller.correct_word(word) == word
    assert speller.correct_word("terorist") == "terrorist"
    # Nor is a word turned into a short or common one ("sever" → "ever").
    assert speller.correct_word("abort") == "abort"


def test_a_follow_up_keeps_its_context_when_its_opening_clause_moves() -> None:
    history = (
        ChatTurn("user", "How many terrorists were liquidated in 2015?"),
        ChatTurn("assistant", "150 terrorists were liquidated. [1]"),
    )
    query = build_query("And in 2014, how many terrorists were liquidated?", history)
    assert query.text == "how many terrorists were liquidated, and in 2014?"
    assert query.context == "How many terrorists were liquidated in 2015?"
    assert build_query("Which convention was adopted in 2001?", history).context == ""


def test_the_interviewee_named_in_passing_is_searched_as_a_pronoun(pipeline: Pipeline) -> None:
    retriever = pipeline.retriever
    assert retriever.without_voice("How does Sysoyev see the European partners?") == "How does he see the European partners?"
    assert retriever.without_voice("What are Yevgeniy Sysoyev's hopes for new members?") == "What are his hopes for new members?"
    assert retriever.without_voice("Who led the RATS Executive Committee before Mr. Sysoyev?") == "Who led the RATS Executive Committee before him?"
    # A question about the interviewee keeps the name: the byline answers it.
    for about in ("Who is Yevgeniy Sysoyev?", "What is Sysoyev's position?"):
        assert retriever.without_voice(about) == about
        assert "has told in its interview" in pipeline.ask(about).citations[0].quote
    # Named in passing, the name no longer pulls the answer to the byline, its only place.
    text = pipeline.document("sysoyev-interview").text
    for question in (
        "What are Sysoyev's hopes for new members?",
        "How does Sysoyev see the European partners?",
        "Which exercise does Sysoyev mention?",
        "What has Sysoyev said about the convention?",
    ):
        _, evidence = pipeline.evidence(question)
        top = evidence.scored[0].key
        assert "has told in its interview" not in text[top.start : top.end], question


@pytest.mark.parametrize(
    ("before", "opens"),
    [
        ("", True),
        ("crimes. ", True),
        ("asked: ", True),
        ('alone." ', True),
        ("including Mr. ", False),  # a title's full stop
        ("Mr. D.M.", False),  # an initial's
        ("Internet (", False),  # a bracket inside a sentence
        ("alone. (", True),  # a bracket after a sentence's end
        ("met the ", False),
    ],
)
def test_what_opens_a_sentence(before: str, opens: bool) -> None:
    assert starts_sentence(before) is opens
