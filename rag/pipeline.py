"""The pipeline: corpus + index + model + answerers, loaded once, asked many times.

    Pipeline.load(settings)      loads the index (building it when missing, stale or corrupt)
    pipeline.search(query)       hybrid retrieval -> hits
    pipeline.ask(question)       hits -> extractive (or LLM) answer with exact-span citations
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answering import (
    NOT_IN_INTERVIEW,
    Evidence,
    EvidenceSignals,
    ExtractiveAnswerer,
    asks_cause,
    cites,
    combine_answers,
    expected_type,
    has_type,
    quoted,
    refusal,
)
from rag.chunking import Section, document_sections
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import DocumentNotFoundError, IndexCorruptError, InputError
from rag.index import BuildReport, SearchIndex, build_index, is_stale, load_index_for
from rag.lexical import STOPWORDS, words
from rag.retrieval import (
    Query,
    Retriever,
    asked_characterisation,
    asked_definition,
    asked_expansion,
    asks_document_date,
    asks_document_title,
    asks_founding,
    asks_overview,
    asks_provenance,
    is_more_request,
    plain_question,
    provenance_terms,
    small_talk,
    split_question,
    voice_name,
)
from rag.settings import Settings, get_settings
from rag.types import Answer, ChatTurn, Document, Hit, Mode

if TYPE_CHECKING:
    from rag.llm.base import ChatBackend

log = logging.getLogger("rag.pipeline")

LLM_NOT_CONFIGURED = "llm_not_configured"
# No passage is near the question at all (the cosine floor, EvidenceSignals.refuses): the refusal
# is the answer, and an LLM is not asked ("How do I change a flat tire?" took it 10–35 s here).
OFF_TOPIC = "off_topic"
# A greeting, thanks or goodbye asks nothing (rag.retrieval.small_talk): it gets a reply of its own,
# no quote, and no LLM is asked. `fallback_reason` says so, so a client can tell it from a refusal.
SMALL_TALK = "small_talk"
SMALL_TALK_REPLIES = {
    "greeting": "Hello! Ask me anything about the interview: every answer quotes it, with citations.",
    "thanks": "You're welcome. Ask me anything else about the interview.",
    "ack": "Ask me anything about the interview: every answer quotes it, with citations.",
    "farewell": "Goodbye!",
    "about": "I answer questions about the interview with its own sentences, each one cited, and say so when it does not answer.",
}


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One step of a streamed answer: `citations` first, then `token`s, then `done` with the Answer."""

    kind: str  # "token" | "done"
    text: str = ""
    answer: Answer | None = None


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        index: SearchIndex,
        documents: dict[str, Document],
        build_report: BuildReport | None = None,
        llm: ChatBackend | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.documents = documents
        self.build_report = build_report
        interviewees = [d.interviewee for d in documents.values() if d.interviewee]
        # Words that name a document in "Sysoyev's interview", "the TASS piece": its interviewee's, its source's.
        self._document_names = frozenset(
            w for d in documents.values() for w in words(f"{d.interviewee} {d.meta.get('source') or ''}") if w not in STOPWORDS
        )
        years = {doc.year for doc in documents.values()}
        self.retriever = Retriever(index, embedder, settings, interviewees, self._document_names, next(iter(years)) if len(years) == 1 else None)
        self._speaker = voice_name(interviewees)  # "How does Sysoyev describe RATS?" asks for his own view
        self.extractive = ExtractiveAnswerer(
            index,
            {d: doc.text for d, doc in documents.items()},
            settings,
            published={d: doc.year for d, doc in documents.items() if doc.year is not None},
            interviewees=interviewees,
        )
        self.llm = llm
        self.loaded_at = time.time()
        self._cache: OrderedDict[tuple[object, ...], Answer] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Settings do not change under a pipeline (`configured` makes a new one): hash them once.
        self._fingerprint = settings.answer_fingerprint()

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        rebuild: bool = False,
        progress: bool = False,
        embedder: Embedder | None = None,
    ) -> Pipeline:
        """Load the index, building it first when it is missing, stale (corpus changed) or corrupt.

        An index built with another model is refused (IndexMismatchError), never rebuilt silently.
        """
        settings = settings or get_settings()
        embedder = embedder or Embedder.from_settings(settings)
        index: SearchIndex | None = None
        report: BuildReport | None = None
        previous: SearchIndex | None = None
        if not rebuild:
            try:
                index = load_index_for(settings.index_dir, embedder)
            except IndexCorruptError as exc:
                log.warning("index is unusable, rebuilding: %s", exc)
            if index is not None and is_stale(index, settings.corpus_dir):
                log.info("corpus changed since the index was built; rebuilding changed documents")
                previous, index = index, None
        if index is None:
            index, report = build_index(settings, embedder, progress=progress, previous=previous)
        documents = {d.doc_id: d for d in load_corpus(settings.corpus_dir)}
        return cls(settings, embedder, index, documents, report, llm=_make_llm(settings))

    def configured(self, **overrides: object) -> Pipeline:
        """The same index and model under other settings (e.g. retrieval="bm25")."""
        settings = self.settings.model_copy(update=overrides)
        Settings.model_validate(settings.model_dump())
        llm = self.llm if settings.llm_backend == self.settings.llm_backend else _make_llm(settings)
        return Pipeline(settings, self.embedder, self.index, self.documents, self.build_report, llm)

    # ---------------------------------------------------------------- asking

    def document(self, doc_id: str) -> Document:
        try:
            return self.documents[doc_id]
        except KeyError:
            known = ", ".join(sorted(self.documents)) or "none"
            raise DocumentNotFoundError(f"no document {doc_id!r}; known documents: {known}") from None

    def sections(self, doc_id: str) -> list[Section]:
        return document_sections(self.document(doc_id).text)

    def evidence(self, question: str, history: Sequence[ChatTurn] = (), top_k: int | None = None) -> tuple[list[Hit], Evidence]:
        """What the extractive answerer sees and weighs for a question (for calibration and debugging)."""
        self._check_question(question, "question")
        query, vector, hits, _ = self._retrieve(question, tuple(history), top_k)
        return hits, self.extractive.analyse(query, vector, hits)

    def search(self, query: str, top_k: int | None = None, history: Sequence[ChatTurn] = ()) -> list[Hit]:
        """The passages `ask` reads for the question, best first: those hybrid retrieval finds, a
        chunk that holds a name asked about among the first three (`ExtractiveAnswerer.anchor`), and
        for a question about the document itself ("Who conducted this interview?", "What is the
        interview about?") its passages that answer it first. Any other question's passages come
        in the order its extractive answer puts them (`ExtractiveAnswerer.reranked`): those it
        quotes, then the others it was drawn from by the best score it gave a sentence of theirs, then
        the rest."""
        self._check_question(query, "query")
        history = tuple(history)
        wanted = top_k or self.settings.top_k
        # Deep enough for the passages `ask` reads too (the first `top_k` of any deeper search), so
        # fewer results are the first of more.
        read, vector, deeper, _ = self._retrieve(query, history, max(wanted, self.settings.top_k))
        asked = deeper[: self.settings.top_k]
        if about := self._about_document(query, read, history, vector, deeper[:wanted]):
            return about[1][:wanted]
        answer, evidence = self.extractive.answer_with_evidence(read, vector, asked)
        answer = self._extractive(query, read, history, vector, asked, answer, None)
        return self.extractive.reranked(answer, evidence, deeper, len(asked))[:wanted]

    def ranking(self, query: str, top_k: int | None = None, history: Sequence[ChatTurn] = ()) -> list[Hit]:
        """The passages retrieval alone finds for the question, best first (hybrid, or as
        configured, with the name anchor): what `search` and `ask` start from."""
        self._check_question(query, "query")
        return self._retrieve(query, tuple(history), top_k)[2]

    def ask(
        self,
        question: str,
        history: Sequence[ChatTurn] = (),
        top_k: int | None = None,
        mode: Mode = "auto",
    ) -> Answer:
        began = time.perf_counter()
        self._check_question(question, "question")
        history = tuple(history)
        key = self._cache_key(question, history, top_k, mode)
        cached = self._cache_get(key)
        if cached is not None:
            return _from_cache(cached, began)
        if said := small_talk(question):  # "hi", "thanks!": nothing to search
            total = round((time.perf_counter() - began) * 1000, 3)
            answer = Answer(SMALL_TALK_REPLIES[said], False, (), "extractive", SMALL_TALK, {"retrieve": 0.0, "generate": 0.0, "total": total})
            self._log(question, (), answer, None)
            return answer
        query, vector, hits, t_retrieve = self._retrieve(question, history, top_k)
        t0 = time.perf_counter()
        extractive, signals, hits, about = self._answered(question, query, history, vector, hits, top_k, self._use_llm(mode))
        answer = extractive
        if self._use_llm(mode) and not about and self._off_topic(extractive, signals):
            answer = dataclasses.replace(extractive, fallback_reason=OFF_TOPIC)
        elif self._use_llm(mode):
            answer = self._llm_answer(question, history, hits, extractive, mode)
        elif mode == "llm":
            answer = dataclasses.replace(extractive, fallback_reason=LLM_NOT_CONFIGURED)
        t_generate = (time.perf_counter() - t0) * 1000
        total = (time.perf_counter() - began) * 1000
        answer = dataclasses.replace(
            answer,
            timings_ms={"retrieve": round(t_retrieve, 3), "generate": round(t_generate, 3), "total": round(total, 3)},
        )
        self._log(question, hits, answer, signals)
        if answer.fallback_reason in (None, LLM_NOT_CONFIGURED, OFF_TOPIC):
            self._cache_put(key, answer)
        return answer

    def cached_answer(
        self,
        question: str,
        history: Sequence[ChatTurn] = (),
        top_k: int | None = None,
        mode: Mode = "auto",
    ) -> Answer | None:
        """The answer `ask` would return from its cache, or None; never computes (cheap enough for
        an event loop). A question `ask` would refuse as input is never cached, so it gives None."""
        began = time.perf_counter()
        cached = self._cache_get(self._cache_key(question, tuple(history), top_k, mode))
        return None if cached is None else _from_cache(cached, began)

    def ask_stream(
        self,
        question: str,
        history: Sequence[ChatTurn] = (),
        top_k: int | None = None,
        mode: Mode = "auto",
    ) -> Iterator[StreamEvent]:
        """Tokens as they come (an LLM's, or the extractive answer in one piece), then `done`."""
        if not self._use_llm(mode) or small_talk(question):
            answer = self.ask(question, history, top_k, mode)
            yield StreamEvent("token", text=answer.answer)
            yield StreamEvent("done", answer=answer)
            return
        from rag.llm.answerer import stream_with_llm

        began = time.perf_counter()
        self._check_question(question, "question")
        history = tuple(history)
        query, vector, hits, t_retrieve = self._retrieve(question, history, top_k)
        extractive, signals, hits, about = self._answered(question, query, history, vector, hits, top_k, True)
        if not about and self._off_topic(extractive, signals):  # the refusal, timed, logged and cached as `ask` gives it
            answer = self.ask(question, history, top_k, mode)
            yield StreamEvent("token", text=answer.answer)
            yield StreamEvent("done", answer=answer)
            return
        assert self.llm is not None
        final: Answer | None = None
        for item in stream_with_llm(
            question, history, hits, self.llm, self.settings, lambda reason: dataclasses.replace(extractive, fallback_reason=reason)
        ):
            if isinstance(item, Answer):
                final = item
            else:
                yield StreamEvent("token", text=item)
        assert final is not None
        total = (time.perf_counter() - began) * 1000
        final = dataclasses.replace(
            final, timings_ms={"retrieve": round(t_retrieve, 3), "generate": round(total - t_retrieve, 3), "total": round(total, 3)}
        )
        self._log(question, hits, final, signals)
        yield StreamEvent("done", answer=final)

    # ---------------------------------------------------------------- internals

    def _answered(
        self, question: str, query: Query, history: Sequence[ChatTurn], vector: np.ndarray, hits: list[Hit], top_k: int | None, for_llm: bool
    ) -> tuple[Answer, EvidenceSignals, list[Hit], bool]:
        """The answer extractive mode gives (also what a failing LLM falls back to), the signals
        it was weighed on, the passages an LLM reads, and whether the question is about the
        document itself. An LLM reads the passages in the order `search` gives them, the order
        the answer puts them (`ExtractiveAnswerer.reranked`); for a question about the document,
        its passages that answer it first."""
        answer, evidence = self.extractive.answer_with_evidence(query, vector, hits)
        if about := self._about_document(question, query, history, vector, hits):
            return about[0], evidence.signals, about[1], True
        answer = self._extractive(question, query, history, vector, hits, answer, top_k)
        return answer, evidence.signals, self.extractive.reranked(answer, evidence, hits, len(hits)) if for_llm else hits, False

    def _extractive(
        self,
        question: str,
        query: Query,
        history: Sequence[ChatTurn],
        vector: np.ndarray,
        hits: list[Hit],
        answer: Answer,
        top_k: int | None,
    ) -> Answer:
        """The extractive answer `ask` gives without an LLM, `answer` (the answer from the
        passages) unless the question is one that is answered its own way."""
        plain = plain_question(question)
        if len(parts := split_question(plain)) > 1:
            return self._answer_parts(parts, history, top_k)  # "How many…, and how many…?"
        if is_more_request(question) and (previous := _last_answer(history)):
            return self.extractive.continuation(previous, vector)  # "Tell me more"
        if asks_cause(plain) and (quoting := _last_answer(history, quoting=True)) and (cause := self.extractive.cause(quoting, vector)).answerable:
            return cause  # "What made that possible?" after "Thus, … averted 167 … crimes…"
        if acronym := asked_expansion(plain):
            return self.extractive.expansion(acronym, vector)  # "What does SCO stand for?"
        if (acronym := asked_definition(plain)) and (
            (named := self.extractive.expansion(acronym, vector)).answerable
            or (named := self.extractive.definition(acronym, vector)).answerable
        ):
            return named  # "What is the SCO?": the sentence that names it, or says what it is
        if (acronym := asked_characterisation(plain, self._speaker)) and (
            named := self.extractive.definition(acronym, vector)
        ).answerable:
            return named  # "How does Sysoyev describe RATS?": the sentence that says what it is
        if asks_founding(plain) and (dated := self.extractive.founding(query, vector)) is not None:
            return dated  # "When was RATS set up?": the sentence that dates its inception
        return answer

    def _answer_parts(self, parts: Sequence[str], history: Sequence[ChatTurn], top_k: int | None) -> Answer:
        """A question that asks several, answered one part at a time: each part is searched on its
        own, with the parts before it as its history ("…and what do they do?" leans on the first),
        so a sentence quoted for one part is not quoted again for the next."""
        said = list(history)
        answers = []
        for part in parts:
            query, vector, hits, _ = self._retrieve(part, said, top_k)
            answer, _ = self.extractive.answer(query, vector, hits)
            answers.append(answer)
            said += [ChatTurn("user", part), ChatTurn("assistant", answer.answer)]
        return combine_answers(parts, answers)

    def _about_document(
        self, question: str, query: Query, history: Sequence[ChatTurn], vector: np.ndarray, hits: list[Hit]
    ) -> tuple[Answer, list[Hit]] | None:
        """For a question about "the interview" as a whole (`asks_overview`): the answer that opens
        the document, and the hits led by its opening passages (what an LLM reads). For one about
        who made it (`asks_provenance`): its sentences that speak of the document, and the hits led
        by theirs. For what it is called (`asks_document_title`): its headline; for when it was
        made (`asks_document_date`): its own dated lines about it, or a refusal. The document is
        the only one, or else the one the best passage comes from. None for any other question."""
        doc_id = next(iter(self.documents)) if len(self.documents) == 1 else hits[0].chunk.doc_id if hits else None
        # "it" and "this" mean the document as a conversation opens, and right after a question
        # about it ("what's the exact publication date?" → "who facilitated it").
        opening = not history or self._asked_about_document(history)
        if doc_id is not None and asks_document_title(query.text, opening=opening, names=self._document_names):
            return self.extractive.headline(doc_id, vector), self.extractive.opening_first(doc_id, vector, hits)
        # When the document was made: what its own lines say of it with a date, or nothing ("What
        # year was the interview conducted?" got "In October 2015 the first ever joint…exercise…
        # was conducted in China").
        if asks_document_date(query.text, opening=opening, names=self._document_names):
            made = self.extractive.provenance(doc_id, vector, hits) if doc_id is not None else None
            dated = [c for c in made[0].citations if has_type(c.quote, "date")] if made else []
            if made and dated:
                return quoted([dataclasses.replace(c, n=n) for n, c in enumerate(dated, 1)]), made[1]
            return refusal(), hits
        # A question that wants a date, a count, a language… asks something specific, not for the
        # gist ("What language is the interview in?", "When was the interview published?").
        overview = asks_overview(question, opening=opening, names=self._document_names) and expected_type(query.text) is None
        # Read as searched: greetings and wrappers gone, typos corrected ("who conducted the interveiw").
        if not overview and not asks_provenance(query.text, opening=opening, names=self._document_names):
            return None
        if doc_id is None:
            return None
        if not overview:  # "Who conducted this interview?"; "Which news agency…?" wants the line naming the source
            source = str(self.documents[doc_id].meta.get("source") or "") if doc_id in self.documents else ""
            return self.extractive.provenance(doc_id, vector, hits, provenance_terms(query.text, source, self._document_names))
        return self.extractive.overview(doc_id, vector), self.extractive.opening_first(doc_id, vector, hits)

    def _asked_about_document(self, history: Sequence[ChatTurn]) -> bool:
        """Whether the conversation's last question was about the document itself: its gist,
        who made it, its title or its date (read as searched; "it" in it meaning the document
        only when it opened the conversation)."""
        asked = [turn.content for turn in history if turn.role == "user"]
        if not asked:
            return False
        text, opening, names = self.retriever.query(asked[-1]).text, len(asked) == 1, self._document_names
        return (
            asks_overview(text, opening=opening, names=names)
            or asks_provenance(text, opening=opening, names=names)
            or asks_document_title(text, opening=opening, names=names)
            or asks_document_date(text, opening=opening, names=names)
        )

    def _retrieve(
        self, question: str, history: Sequence[ChatTurn], top_k: int | None
    ) -> tuple[Query, np.ndarray, list[Hit], float]:
        t0 = time.perf_counter()
        query = self.retriever.query(question, history)
        vector = self.retriever.query_vector(query)
        hits = self.extractive.anchor(query, self.retriever.retrieve_query(query, top_k, vector))
        return query, vector, hits, (time.perf_counter() - t0) * 1000

    def _check_question(self, text: str, field: str) -> None:
        if not text or not text.strip():
            raise InputError(f"{field} is empty; send a non-empty {field}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"{field} holds a character that is not valid Unicode (position {exc.start}); send UTF-8 text") from None
        if len(text) > self.settings.max_question_chars:
            raise InputError(
                f"{field} is {len(text)} characters long; the limit is {self.settings.max_question_chars} "
                "(RAG_MAX_QUESTION_CHARS)"
            )

    def _off_topic(self, extractive: Answer, signals: EvidenceSignals) -> bool:
        """Whether the question is refused because nothing in the corpus is near it at all (and it
        names nothing the corpus names: see EvidenceSignals.named)."""
        return not extractive.answerable and signals.dense < self.settings.refuse_min_dense and not signals.named

    def _use_llm(self, mode: Mode) -> bool:
        return self.llm is not None and mode in ("llm", "auto")

    def _llm_answer(self, question: str, history: Sequence[ChatTurn], hits: list[Hit], extractive: Answer, mode: Mode) -> Answer:
        from rag.llm.answerer import answer_with_llm

        assert self.llm is not None
        return answer_with_llm(
            question,
            history,
            hits,
            self.llm,
            self.settings,
            lambda reason: dataclasses.replace(extractive, fallback_reason=reason),
        )

    def _cache_key(
        self, question: str, history: tuple[ChatTurn, ...], top_k: int | None, mode: Mode
    ) -> tuple[object, ...]:
        """Question, history, settings and index version: a new index or other settings miss."""
        return (question, history, top_k, mode, self._fingerprint, self.index.version)

    def _cache_get(self, key: tuple[object, ...]) -> Answer | None:
        if self.settings.cache_size <= 0:
            return None
        with self._cache_lock:
            answer = self._cache.get(key)
            if answer is not None:
                self._cache.move_to_end(key)
            return answer

    def _cache_put(self, key: tuple[object, ...], answer: Answer) -> None:
        if self.settings.cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[key] = answer
            while len(self._cache) > self.settings.cache_size:
                self._cache.popitem(last=False)

    def _log(self, question: str, hits: Sequence[Hit], answer: Answer, signals: EvidenceSignals | None) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            json.dumps(
                {
                    "event": "answer",
                    "question_chars": len(question),
                    "chunks": [h.chunk.chunk_id for h in hits],
                    "backend": answer.backend,
                    "answerable": answer.answerable,
                    "fallback_reason": answer.fallback_reason,
                    "signals": {k: round(v, 4) for k, v in dataclasses.asdict(signals).items()} if signals else {},
                    "timings_ms": answer.timings_ms,
                }
            )
        )


def _last_answer(history: Sequence[ChatTurn], quoting: bool = False) -> str:
    """The assistant's last answer in the conversation ("" when there is none); with `quoting`, the
    last that quotes the document (marks "[1]"), past any refusal since."""
    return next((t.content for t in reversed(history) if t.role == "assistant" and t.content.strip() and (not quoting or cites(t.content))), "")


def _make_llm(settings: Settings) -> ChatBackend | None:
    if settings.llm_backend == "none":
        return None
    from rag.llm import make_backend

    return make_backend(settings)


def _from_cache(cached: Answer, began: float) -> Answer:
    """A cached answer, with this call's total time and a `cached` mark."""
    total = (time.perf_counter() - began) * 1000
    return dataclasses.replace(cached, timings_ms={**cached.timings_ms, "total": round(total, 3), "cached": 1.0})


__all__ = ["NOT_IN_INTERVIEW", "Pipeline", "StreamEvent"]
