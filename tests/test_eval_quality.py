"""The quality gate: the whole gold set through the in-process pipeline (hybrid retrieval,
extractive answers), every figure checked against the floors in eval/thresholds.toml."""

from __future__ import annotations

from eval import thresholds
from eval.gold import load_conversations, load_gold
from eval.runner import RunConfig, run
from eval.targets import PipelineTarget
from rag.pipeline import Pipeline


def test_gold_set_meets_the_floors(pipeline: Pipeline) -> None:
    fresh = pipeline.configured(cache_size=0)  # every question computed, none served from the cache
    result = run(PipelineTarget(fresh), RunConfig("hybrid", "hybrid", "extractive", None), load_gold(), load_conversations())
    failures = thresholds.check(result.summary, thresholds.load())
    assert not failures, "below the floors of eval/thresholds.toml:\n" + "\n".join(failures)
    assert result.summary.citation_invariant_violations == 0


def _decision(pipeline: Pipeline, question: str) -> tuple[bool, list[tuple[int, int]]]:
    answer = pipeline.ask(question)
    return answer.answerable, [(c.start, c.end) for c in answer.citations]


def test_a_greeting_or_polite_wrapper_changes_no_answer(pipeline: Pipeline) -> None:
    """Every gold question, asked as people type it, gets the answer it gets when asked plainly."""
    fresh = pipeline.configured(cache_size=0)
    wrappers = (
        lambda q: "Hello! Could you please tell me " + q[0].lower() + q[1:].rstrip("?"),
        lambda q: "Tell me: " + q,
    )
    changed = [
        (item.id, wrap(item.question))
        for item in load_gold()
        for wrap in wrappers
        if _decision(fresh, wrap(item.question)) != _decision(fresh, item.question)
    ]
    assert not changed


def test_capitals_that_say_nothing_refuse_no_answerable_question(pipeline: Pipeline) -> None:
    """ALL CAPS, all lower case or Title Case: every word capitalised alike would read as a name the
    interview lacks. Answerable gold questions asked so are answered with the same citations."""
    fresh = pipeline.configured(cache_size=0)
    changed = []
    for item in load_gold():
        if not item.answerable:
            continue
        plain = _decision(fresh, item.question)
        for variant in (item.question.upper(), item.question.lower(), item.question.title()):
            answerable, citations = _decision(fresh, variant)
            if not answerable or (plain[0] and citations != plain[1]):
                changed.append((item.id, variant))
    assert not changed
