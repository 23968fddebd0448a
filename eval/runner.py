"""Run the gold set and the conversations against a target and summarise the results.

`main()` is the CLI behind `python -m eval` and `rag eval`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, cast

from tqdm import tqdm

from eval import metrics as m
from eval.gold import (
    DEFAULT_CONVERSATIONS,
    DEFAULT_GOLD,
    Conversation,
    GoldFormatError,
    GoldItem,
    evidence_spans,
    load_conversations,
    load_gold,
)
from eval.targets import EndpointError, HttpTarget, PipelineTarget, Retrieved, Target
from rag.errors import RagError
from rag.types import Answer, ChatTurn, Mode

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

RETRIEVAL_DEPTH = 10  # retrieval metrics always look at search(question, top_k=10)
MODES = ("extractive", "llm", "auto")


@dataclass(frozen=True, slots=True)
class RunConfig:
    name: str
    retrieval: str  # "hybrid" | "dense" | "bm25" | "endpoint" (whatever the server is set to)
    mode: Mode
    top_k: int | None


@dataclass(slots=True)
class CitationResult:
    n: int
    doc_id: str
    start: int
    end: int
    quote: str
    supports: bool
    quote_exact: bool


@dataclass(slots=True)
class ItemResult:
    id: str
    type: str
    question: str
    gold_answerable: bool
    expected: str
    keys: list[list[str]]
    answer: str
    answerable: bool
    backend: str
    fallback_reason: str | None
    keys_ok: bool
    f1: float
    em: float
    relevance: list[bool]  # per search result, top 10; empty for unanswerable items
    # The same for the ranking alone, before the answer orders it (None: the target cannot show it).
    ranking_relevance: list[bool] | None
    n_gold_spans: int
    citations: list[CitationResult]
    latency_ms: float

    @property
    def correct(self) -> bool:
        return self.keys_ok if self.gold_answerable else not self.answerable

    @property
    def evidence_rank(self) -> int | None:
        """Rank (1-based) of the first search result that overlaps the gold evidence, within the top 10."""
        return self.relevance.index(True) + 1 if True in self.relevance else None

    @property
    def cause(self) -> str | None:
        """Where a miss went wrong (a key of MISS_CAUSES); None when the item is correct."""
        if self.correct:
            return None
        if not self.gold_answerable:
            return "answered"
        if self.evidence_rank is None:
            return "not_retrieved"
        if not self.answerable:
            return "refused"
        if not any(c.supports for c in self.citations):
            return "other_sentences"
        return "key_missing"


# Why an item was missed, in the order a question travels through the system.
MISS_CAUSES = {
    "not_retrieved": "evidence not in the top 10 search results",
    "refused": "refused; the evidence was in the search results",
    "other_sentences": "quoted other sentences; the evidence was in the search results",
    "key_missing": "quoted the evidence, but a key is missing",
    "answered": "answered what the interview does not say",
}


@dataclass(slots=True)
class FollowUpResult:
    conversation_id: str
    history: list[str]  # the earlier turns' questions and answers, in order
    question: str
    gold_answerable: bool
    keys: list[list[str]]
    answer: str
    answerable: bool
    answered: bool  # answerable follow-up: keys found or a supporting citation; else: refused
    latency_ms: float


@dataclass(slots=True)
class Summary:
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr_at_10: float | None
    ndcg_at_5: float | None
    # hit@3 and MRR@10 of the ranking alone, before the answer orders /search (None over HTTP).
    ranking_hit_at_3: float | None
    ranking_mrr_at_10: float | None
    key_accuracy: float | None
    f1: float | None
    em: float | None
    mean_answer_chars: float | None
    citation_precision: float | None
    citation_recall: float | None
    citation_invariant_violations: int
    refusal_precision: float | None
    refusal_recall: float | None
    false_refusals: int
    false_refusals_per_20: float | None
    followups_answered: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    n_items: int
    n_answerable: int
    n_followups: int


@dataclass(slots=True)
class RunResult:
    config: RunConfig
    summary: Summary
    items: list[ItemResult] = field(default_factory=list)
    followups: list[FollowUpResult] = field(default_factory=list)

    def misses(self) -> list[ItemResult]:
        return [r for r in self.items if not r.correct]

    def missed_followups(self) -> list[FollowUpResult]:
        return [f for f in self.followups if not f.answered]


def summary_fields() -> list[str]:
    return [f.name for f in fields(Summary)]


# ---- running ----------------------------------------------------------------------------


class _Documents:
    """Document texts fetched once per run."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.texts: dict[str, str] = {}

    def text(self, doc_id: str) -> str:
        if doc_id not in self.texts:
            self.texts[doc_id] = self.target.document_text(doc_id)
        return self.texts[doc_id]


def _timed_ask(target: Target, question: str, history: Sequence[ChatTurn], config: RunConfig) -> tuple[Answer, float]:
    started = time.perf_counter()
    answer = target.ask(question, history, config.top_k, config.mode)
    return answer, (time.perf_counter() - started) * 1000


def _citation_results(
    answer: Answer, doc_id: str, gold: Sequence[m.TextSpan], keys: m.Keys, docs: _Documents
) -> list[CitationResult]:
    results = []
    for c in answer.citations:
        cited = m.CitedSpan(c.doc_id, c.start, c.end, c.quote)
        try:
            texts = {c.doc_id: docs.text(c.doc_id)}
        except (RagError, KeyError, EndpointError):
            texts = {}  # a citation of an unknown document breaks the invariant
        results.append(
            CitationResult(
                n=c.n,
                doc_id=c.doc_id,
                start=c.start,
                end=c.end,
                quote=c.quote,
                supports=m.citation_supports(cited, doc_id, gold, keys),
                quote_exact=m.invariant_violations([cited], texts) == 0,
            )
        )
    return results


def evaluate_item(target: Target, item: GoldItem, config: RunConfig, docs: _Documents) -> ItemResult:
    gold = evidence_spans(docs.text(item.doc_id), item.evidence)
    # Ask first: a search before it would warm the query-embedding cache and flatter the latency.
    answer, latency = _timed_ask(target, item.question, (), config)
    relevance: list[bool] = []
    ranking_relevance: list[bool] | None = []

    def relevant(hits: Sequence[Retrieved]) -> list[bool]:
        return [h.doc_id == item.doc_id and m.overlaps_any(m.TextSpan(h.start, h.end), gold) for h in hits]

    if item.answerable:
        relevance = relevant(target.search(item.question, RETRIEVAL_DEPTH))
        ranked = target.ranking(item.question, RETRIEVAL_DEPTH)
        ranking_relevance = None if ranked is None else relevant(ranked)
    plain = m.strip_markers(answer.answer)
    return ItemResult(
        id=item.id,
        type=item.type,
        question=item.question,
        gold_answerable=item.answerable,
        expected=item.answer,
        keys=[list(k) for k in item.keys],
        answer=answer.answer,
        answerable=answer.answerable,
        backend=answer.backend,
        fallback_reason=answer.fallback_reason,
        keys_ok=answer.answerable and item.answerable and m.all_keys_match(plain, item.keys),
        f1=m.token_f1(plain, item.answer) if item.answerable else 0.0,
        em=m.exact_match(plain, item.answer) if item.answerable else 0.0,
        relevance=relevance,
        ranking_relevance=ranking_relevance,
        n_gold_spans=len(gold),
        citations=_citation_results(answer, item.doc_id, gold, item.keys, docs),
        latency_ms=latency,
    )


@dataclass(slots=True)
class ConversationResult:
    followups: list[FollowUpResult]  # turns 2+
    latencies_ms: list[float]  # every turn
    invariant_violations: int  # citations whose quote is not text[start:end]


def evaluate_conversation(
    target: Target, conversation: Conversation, config: RunConfig, docs: _Documents
) -> ConversationResult:
    """Ask the turns in order, each with the questions and answers before it as history."""
    history: list[ChatTurn] = []
    result = ConversationResult([], [], 0)
    text = docs.text(conversation.doc_id)
    for index, turn in enumerate(conversation.turns):
        answer, latency = _timed_ask(target, turn.question, tuple(history), config)
        result.latencies_ms.append(latency)
        gold = evidence_spans(text, turn.evidence)
        cites = _citation_results(answer, conversation.doc_id, gold, turn.keys, docs)
        result.invariant_violations += sum(1 for c in cites if not c.quote_exact)
        if index > 0:
            if turn.answerable:
                answered = answer.answerable and (
                    m.all_keys_match(m.strip_markers(answer.answer), turn.keys) or any(c.supports for c in cites)
                )
            else:
                answered = not answer.answerable
            result.followups.append(
                FollowUpResult(
                    conversation_id=conversation.id,
                    history=[t.content for t in history],
                    question=turn.question,
                    gold_answerable=turn.answerable,
                    keys=[list(k) for k in turn.keys],
                    answer=answer.answer,
                    answerable=answer.answerable,
                    answered=answered,
                    latency_ms=latency,
                )
            )
        history += [ChatTurn("user", turn.question), ChatTurn("assistant", answer.answer)]
    return result


def summarize(
    items: Sequence[ItemResult],
    followups: Sequence[FollowUpResult],
    extra_latencies: Sequence[float],
    extra_violations: int,
) -> Summary:
    answerable = [r for r in items if r.gold_answerable]
    rel = [r.relevance for r in answerable]
    ranked = None if any(r.ranking_relevance is None for r in answerable) else [r.ranking_relevance or [] for r in answerable]
    # Citation quality is judged where a citation can be right: answered, answerable questions.
    support = [[c.supports for c in r.citations] for r in answerable if r.answerable]
    refusals = m.refusal_scores([r.gold_answerable for r in items], [not r.answerable for r in items])
    latencies = [r.latency_ms for r in items] + list(extra_latencies)
    return Summary(
        hit_at_1=m.mean([m.hit_at_k(x, 1) for x in rel]),
        hit_at_3=m.mean([m.hit_at_k(x, 3) for x in rel]),
        hit_at_5=m.mean([m.hit_at_k(x, 5) for x in rel]),
        mrr_at_10=m.mean([m.reciprocal_rank(x, 10) for x in rel]),
        ndcg_at_5=m.mean([m.ndcg_at_k(r.relevance, r.n_gold_spans, 5) for r in answerable]),
        ranking_hit_at_3=None if ranked is None else m.mean([m.hit_at_k(x, 3) for x in ranked]),
        ranking_mrr_at_10=None if ranked is None else m.mean([m.reciprocal_rank(x, 10) for x in ranked]),
        key_accuracy=m.mean([1.0 if r.keys_ok else 0.0 for r in answerable]),
        f1=m.mean([r.f1 for r in answerable]),
        em=m.mean([r.em for r in answerable]),
        mean_answer_chars=m.mean([float(len(r.answer)) for r in items]),
        citation_precision=m.citation_precision(support),
        citation_recall=m.citation_recall(support),
        citation_invariant_violations=sum(1 for r in items for c in r.citations if not c.quote_exact)
        + extra_violations,
        refusal_precision=refusals.precision,
        refusal_recall=refusals.recall,
        false_refusals=refusals.false_refusals,
        false_refusals_per_20=refusals.false_refusals_per_20,
        followups_answered=m.mean([1.0 if f.answered else 0.0 for f in followups]),
        latency_p50_ms=m.percentile(latencies, 50),
        latency_p95_ms=m.percentile(latencies, 95),
        n_items=len(items),
        n_answerable=len(answerable),
        n_followups=len(followups),
    )


def run(
    target: Target, config: RunConfig, gold: Sequence[GoldItem], conversations: Sequence[Conversation]
) -> RunResult:
    docs = _Documents(target)
    total = len(gold) + sum(len(c.turns) for c in conversations)
    items: list[ItemResult] = []
    followups: list[FollowUpResult] = []
    conv_latencies: list[float] = []
    conv_violations = 0
    with tqdm(total=total, desc=config.name, unit="q", file=sys.stderr, leave=False) as bar:
        for item in gold:
            items.append(evaluate_item(target, item, config, docs))
            bar.update(1)
        for conversation in conversations:
            found = evaluate_conversation(target, conversation, config, docs)
            followups += found.followups
            conv_latencies += found.latencies_ms
            conv_violations += found.invariant_violations
            bar.update(len(conversation.turns))
    summary = summarize(items, followups, conv_latencies, conv_violations)
    return RunResult(config, summary, items, followups)


# ---- configurations ---------------------------------------------------------------------


class UsageError(ValueError):
    """Options that cannot be combined."""


@dataclass(frozen=True, slots=True)
class PlannedRun:
    config: RunConfig
    target: Target


@dataclass(frozen=True, slots=True)
class Plan:
    runs: list[PlannedRun]
    setup: dict[str, object]  # what was evaluated, for the report (settings or endpoint)


def plan_runs(args: argparse.Namespace) -> Plan:
    mode = cast(Mode, args.mode)
    if args.endpoint:
        if args.compare:
            raise UsageError(
                "--compare switches retrieval settings in-process and cannot reconfigure a server; "
                "drop --endpoint (or run one configuration against the server)"
            )
        config = RunConfig(f"endpoint/{mode}", "endpoint", mode, args.top_k)
        return Plan([PlannedRun(config, HttpTarget(args.endpoint))], {"endpoint": args.endpoint})

    from rag.settings import get_settings

    settings = get_settings()
    setup: dict[str, object] = {"settings": settings.model_dump(mode="json", exclude={"api_key", "llm_api_key"})}
    if not args.compare:
        config = RunConfig(f"{settings.retrieval}/{mode}", settings.retrieval, mode, args.top_k)
        return Plan([PlannedRun(config, PipelineTarget(_fresh_pipeline(settings.retrieval)))], setup)
    runs = [
        PlannedRun(RunConfig(name, name, "extractive", args.top_k), PipelineTarget(_fresh_pipeline(name)))
        for name in ("bm25", "dense", "hybrid")
    ]
    if settings.llm_backend != "none":
        runs.append(
            PlannedRun(RunConfig("llm", "hybrid", "llm", args.top_k), PipelineTarget(_fresh_pipeline("hybrid")))
        )
    return Plan(runs, setup)


def _fresh_pipeline(retrieval: str) -> Pipeline:
    """A pipeline of its own per configuration, without the answer cache.

    Not `configured()`: that shares the embedder and its query-vector cache, so every
    configuration after the first would be timed with warm query encodings.
    """
    from rag.pipeline import Pipeline
    from rag.settings import get_settings

    return Pipeline.load(get_settings(retrieval=retrieval, cache_size=0), progress=True)


def threshold_run(results: Sequence[RunResult]) -> RunResult:
    """The run thresholds apply to: hybrid retrieval with extractive answers if present."""
    for result in results:
        if result.config.retrieval in ("hybrid", "endpoint") and result.config.mode == "extractive":
            return result
    return results[0]


# ---- CLI --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eval", description="Evaluate retrieval, answers, citations and refusals on the gold set."
    )
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold questions (JSONL)")
    parser.add_argument("--conversations", type=Path, default=DEFAULT_CONVERSATIONS, help="multi-turn cases (JSONL)")
    parser.add_argument("--endpoint", metavar="URL", help="evaluate a running server over HTTP instead")
    parser.add_argument(
        "--compare", action="store_true", help="run bm25, dense, hybrid (and llm if configured) side by side"
    )
    parser.add_argument("--mode", choices=MODES, default="extractive", help="answer mode (default: extractive)")
    parser.add_argument("--top-k", type=int, default=None, help="passages per answer (default: the setting)")
    parser.add_argument(
        "--check-thresholds",
        action="store_true",
        help="exit 1 if the hybrid/extractive figures miss eval/thresholds.toml",
    )
    parser.add_argument("--thresholds", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--report-dir", type=Path, default=None, help="where reports go (default: eval/reports)")
    parser.add_argument("--no-report", action="store_true", help="print the table only, write no files")
    return parser


def main(argv: list[str] | None = None) -> int:
    from eval import report, thresholds

    args = build_parser().parse_args(argv)
    try:
        gold = load_gold(args.gold)
        conversations = load_conversations(args.conversations)
    except (OSError, GoldFormatError) as exc:
        print(f"eval: cannot read the gold data: {exc}", file=sys.stderr)
        return 2
    floors = None
    if args.check_thresholds:
        try:
            floors = thresholds.load(args.thresholds or thresholds.DEFAULT_PATH)
        except (OSError, thresholds.ThresholdError) as exc:
            print(f"eval: cannot read thresholds: {exc}", file=sys.stderr)
            return 2
    try:
        plan = plan_runs(args)
        results = [run(p.target, p.config, gold, conversations) for p in plan.runs]
    except (RagError, EndpointError, UsageError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2

    print(report.summary_table(results))
    print(f"misses: {', '.join(f'{r.config.name} {len(r.misses()) + len(r.missed_followups())}' for r in results)}")
    for r in results:
        if r.misses():
            print(f"  {r.config.name}: {report.causes_line(r.misses())}")
    if not args.no_report:
        paths = report.write_reports(results, plan.setup, args.report_dir or report.DEFAULT_DIR, compare=args.compare)
        for path in paths:
            print(f"wrote {path}")
    if floors is not None:
        checked = threshold_run(results)
        failures = thresholds.check(checked.summary, floors)
        if failures:
            print(f"thresholds missed ({checked.config.name}):", file=sys.stderr)
            for failure in failures:
                print(f"  {failure}", file=sys.stderr)
            return 1
        print(f"thresholds met ({checked.config.name})")
    return 0
