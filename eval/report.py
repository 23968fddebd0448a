"""Reports of eval runs: the summary table, JSON and Markdown files, and the comparison chart."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from eval.runner import MISS_CAUSES, FollowUpResult, ItemResult, RunResult, Summary

DEFAULT_DIR = Path(__file__).resolve().parent / "reports"
LATEST_MD = "latest.md"
LATEST_CHART = "latest-compare.png"


def _ratio(value: float | int | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _count(value: float | int | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _one_decimal(value: float | int | None) -> str:
    return "–" if value is None else f"{value:.1f}"


# (label, Summary field, formatter): the rows of every summary table, in order.
ROWS: list[tuple[str, str, Callable[[float | int | None], str]]] = [
    ("hit@1", "hit_at_1", _ratio),
    ("hit@3", "hit_at_3", _ratio),
    ("hit@5", "hit_at_5", _ratio),
    ("MRR@10", "mrr_at_10", _ratio),
    ("nDCG@5", "ndcg_at_5", _ratio),
    ("hit@3, ranking alone", "ranking_hit_at_3", _ratio),
    ("MRR@10, ranking alone", "ranking_mrr_at_10", _ratio),
    ("key accuracy", "key_accuracy", _ratio),
    ("F1", "f1", _ratio),
    ("EM", "em", _ratio),
    ("mean answer length (chars)", "mean_answer_chars", _count),
    ("citation precision", "citation_precision", _ratio),
    ("citation recall", "citation_recall", _ratio),
    ("citation invariant violations", "citation_invariant_violations", _count),
    ("refusal precision", "refusal_precision", _ratio),
    ("refusal recall", "refusal_recall", _ratio),
    ("false refusals", "false_refusals", _count),
    ("false refusals per 20 answerable", "false_refusals_per_20", _one_decimal),
    ("follow-ups answered", "followups_answered", _ratio),
    ("latency p50 (ms)", "latency_p50_ms", _one_decimal),
    ("latency p95 (ms)", "latency_p95_ms", _one_decimal),
]

# The figures drawn in the comparison chart (all on a 0..1 scale).
CHART_FIELDS = [
    ("hit@3", "hit_at_3"),
    ("MRR@10", "mrr_at_10"),
    ("nDCG@5", "ndcg_at_5"),
    ("key acc.", "key_accuracy"),
    ("F1", "f1"),
    ("cit. prec.", "citation_precision"),
    ("cit. recall", "citation_recall"),
    ("refusal recall", "refusal_recall"),
    ("follow-ups", "followups_answered"),
]


def _value(summary: Summary, name: str) -> float | int | None:
    value = getattr(summary, name)
    assert value is None or isinstance(value, (int, float)), name
    return value


def summary_table(results: Sequence[RunResult]) -> str:
    """A Markdown table, one column per run, that also reads well in a terminal."""
    header = ["metric"] + [r.config.name for r in results]
    body = [[label] + [fmt(_value(r.summary, name)) for r in results] for label, name, fmt in ROWS]
    counts = ["items (answerable / follow-ups)"] + [
        f"{r.summary.n_items} ({r.summary.n_answerable} / {r.summary.n_followups})" for r in results
    ]
    rows = [header, *body, counts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows[1:])])


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cause(r: ItemResult) -> str:
    cause = MISS_CAUSES[r.cause or ""]
    rank = r.evidence_rank
    return f"{cause} at rank {rank}" if rank is not None and r.cause in ("refused", "other_sentences") else cause


def causes_line(misses: Sequence[ItemResult]) -> str:
    """How many misses each cause has, in MISS_CAUSES order, the empty ones left out."""
    counts = Counter(r.cause for r in misses)
    return "By cause: " + " · ".join(f"{text} {counts[key]}" for key, text in MISS_CAUSES.items() if counts[key])


def _item_miss(r: ItemResult) -> list[str]:
    if r.gold_answerable:
        keys = "; ".join(" / ".join(alts) for alts in r.keys)
        expected = f"{r.expected} (keys: {keys})"
        got = _clip(r.answer) if r.answerable else f"(refused) {_clip(r.answer)}"
    else:
        expected = "a refusal (the interview does not say)"
        got = _clip(r.answer)
    return [f"- **{r.id}** ({r.type}) {r.question}", f"  - expected: {expected}", f"  - got: {got}", f"  - why: {_cause(r)}"]


def _followup_miss(f: FollowUpResult) -> list[str]:
    keys = "; ".join(" / ".join(alts) for alts in f.keys) if f.gold_answerable else "a refusal"
    history = " → ".join(_clip(h, 120) for h in f.history)
    got = _clip(f.answer) if f.answerable else f"(refused) {_clip(f.answer)}"
    return [
        f"- **{f.conversation_id}** {f.question}",
        f"  - history: {history}",
        f"  - expected: {keys}",
        f"  - got: {got}",
    ]


def markdown(results: Sequence[RunResult], created: str, setup: dict[str, object], chart: str | None) -> str:
    lines = [f"# Eval report {created}", ""]
    if "endpoint" in setup:
        lines.append(f"Endpoint: `{setup['endpoint']}`")
    else:
        settings = setup.get("settings")
        if isinstance(settings, dict):
            picked = {
                k: settings.get(k)
                for k in ("model_name", "chunk_sentences", "chunk_overlap", "top_k", "candidates", "fusion", "spell_correct", "llm_backend")
            }
            lines.append("Settings: " + ", ".join(f"{k}={v}" for k, v in picked.items()))
    lines += ["", summary_table(results), ""]
    if chart:
        lines += [f"![key metrics per configuration]({chart})", ""]
    for r in results:
        misses, missed_followups = r.misses(), r.missed_followups()
        lines += [f"## Misses: {r.config.name} ({len(misses)} questions, {len(missed_followups)} follow-ups)", ""]
        if misses:
            lines += [causes_line(misses), ""]
        for item in misses:
            lines += _item_miss(item)
        for followup in missed_followups:
            lines += _followup_miss(followup)
        lines.append("")
    return "\n".join(lines)


def comparison_chart(results: Sequence[RunResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in CHART_FIELDS]
    width = 0.8 / max(1, len(results))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, result in enumerate(results):
        values = [float(_value(result.summary, name) or 0.0) for _, name in CHART_FIELDS]
        positions = [x + (i - (len(results) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(positions, values, width, label=result.config.name)
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_ylim(0, 1.15)  # headroom for the legend above the bars
    ax.set_ylabel("score")
    ax.set_title("Eval: key metrics per configuration")
    ax.legend(loc="upper right", ncol=len(results), fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _stamp(report_dir: Path) -> str:
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    suffix = 1
    candidate = stamp
    while (report_dir / f"{candidate}.json").exists():
        suffix += 1
        candidate = f"{stamp}-{suffix}"
    return candidate


def write_reports(
    results: Sequence[RunResult], setup: dict[str, object], report_dir: Path, compare: bool
) -> list[Path]:
    """Write <stamp>.json, <stamp>.md (+ <stamp>-compare.png) and refresh latest.md."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = _stamp(report_dir)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    written: list[Path] = []

    runs = [asdict(r) for r in results]
    for run_data, result in zip(runs, results, strict=True):
        for item_data, item in zip(run_data["items"], result.items, strict=True):
            item_data["cause"] = item.cause
    data = {"created_utc": created, "setup": setup, "runs": runs}
    json_path = report_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    written.append(json_path)

    chart_name: str | None = None
    if compare:
        chart_name = f"{stamp}-compare.png"
        comparison_chart(results, report_dir / chart_name)
        shutil.copyfile(report_dir / chart_name, report_dir / LATEST_CHART)
        written.append(report_dir / chart_name)

    md_path = report_dir / f"{stamp}.md"
    md_path.write_text(markdown(results, created, setup, chart_name), encoding="utf-8")
    written.append(md_path)
    latest = markdown(results, created, setup, LATEST_CHART if compare else None)
    (report_dir / LATEST_MD).write_text(latest, encoding="utf-8")
    return written
