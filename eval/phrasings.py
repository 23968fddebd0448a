"""The gold set asked the way people type: does the answer depend on how the question is written?

    python -m eval.phrasings [--gold eval/gold.jsonl]

Each phrasing rewrites every gold question (ALL CAPS, lower case, Title Case, no question mark, a
greeting and a polite wrapper around it, "According to the interview", "according to" the
interviewee, two letters swapped in its longest word, "how many"/"when" asked last: "Terrorists
were liquidated in 2015: how many?") and runs the set in-process (hybrid retrieval,
extractive answers). The table shows how far each figure moves from the questions as written; a
robust system moves none. Figures for the committed system are in the README.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

from eval.gold import DEFAULT_GOLD, load_gold
from eval.runner import RunConfig, run
from eval.targets import PipelineTarget
from rag.pipeline import Pipeline
from rag.settings import get_settings


def _lower_first(q: str) -> str:
    return q[:1].lower() + q[1:]


def _typo(q: str) -> str:
    """Two letters swapped in the middle of the question's longest word (of six letters or more)."""
    longest = max(re.findall(r"[A-Za-z]{6,}", q), key=len, default="")
    if not longest:
        return q
    i = len(longest) // 2
    return q.replace(longest, longest[:i] + longest[i + 1] + longest[i] + longest[i + 2 :], 1)


_TYPED_OPENING = re.compile(r"^(how many|how much|when|(?:in )?(?:what|which) year)\s+(.+?)\?*$", re.I)


def _asked_last(q: str) -> str:
    """A "how many"/"how much"/"when"/"what year" question asked last: "How many X were Y?" →
    "X were Y: how many?". Other questions stay as they are."""
    m = _TYPED_OPENING.match(q)
    if not m:
        return q
    rest = m.group(2)
    return f"{rest[:1].upper()}{rest[1:]}: {m.group(1).lower()}?"


def phrasings(interviewee: str = "") -> dict[str, Callable[[str], str]]:
    """The rewrites, by name; with the interviewee's name, also "…, according to <them>?"."""
    rewrites = dict(PHRASINGS)
    if interviewee:
        surname = interviewee.split()[-1]
        rewrites[f"…, according to {surname}?"] = lambda q: q.rstrip("?") + f", according to {surname}?"
    return rewrites


PHRASINGS: dict[str, Callable[[str], str]] = {
    "as written": lambda q: q,
    "ALL CAPS": str.upper,
    "lower case": str.lower,
    "Title Case": str.title,
    "no question mark": lambda q: q.rstrip("?"),
    "Hi! + question": lambda q: "Hi! " + q,
    "Could you tell me …": lambda q: "Hello, could you please tell me " + _lower_first(q).rstrip("?"),
    "According to the interview, …": lambda q: "According to the interview, " + _lower_first(q),
    "one typo": _typo,
    "…: how many? (asked last)": _asked_last,
}
FIGURES = (
    ("hit@3", "hit_at_3"),
    ("key acc.", "key_accuracy"),
    ("cit. precision", "citation_precision"),
    ("refusal recall", "refusal_recall"),
    ("false ref./20", "false_refusals_per_20"),
)


def table(pipeline: Pipeline, gold_path: Path) -> str:
    gold = load_gold(gold_path)
    target = PipelineTarget(pipeline.configured(cache_size=0))
    rows = []
    interviewee = next((d.interviewee for d in pipeline.documents.values() if d.interviewee), "")
    for name, rewrite in phrasings(interviewee).items():
        items = [dataclasses.replace(item, question=rewrite(item.question)) for item in gold]
        summary = run(target, RunConfig(name, "hybrid", "extractive", None), items, []).summary
        cells = ["n/a" if (v := getattr(summary, field)) is None else f"{v:.3f}" for _, field in FIGURES]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    header = "| phrasing | " + " | ".join(label for label, _ in FIGURES) + " |"
    rule = "| --- | " + " | ".join("--:" for _ in FIGURES) + " |"
    return "\n".join([header, rule, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.phrasings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold questions (default: eval/gold.jsonl)")
    args = parser.parse_args(argv)
    print(table(Pipeline.load(get_settings()), args.gold))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
