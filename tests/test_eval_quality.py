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
