"""Fit the abstention weights (RAG_REFUSE_*) on labelled questions.

    python -m eval.calibrate [--gold eval/gold.jsonl] [--holdout FILE]

Each item's evidence signals (see rag.answering.EvidenceSignals) are computed with the current
retrieval settings; a small L2-regularised logistic regression predicts `answerable`. The fitted
weights are printed as environment variables and as Settings defaults; the decision threshold is
chosen to keep false refusals rare (they cost more than a wrong "does not say").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.pipeline import Pipeline
from rag.settings import get_settings

FEATURES = ("coverage", "dense", "bm25", "missing", "type")
SETTING_NAMES = ("refuse_w_coverage", "refuse_w_dense", "refuse_w_bm25", "refuse_w_missing", "refuse_w_type")


def load_items(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def features(pipeline: Pipeline, items: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for item in items:
        _, evidence = pipeline.evidence(str(item["question"]))
        xs.append(evidence.signals.features())
        ys.append(1.0 if item["answerable"] else 0.0)
    return np.array(xs), np.array(ys)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 0.05, steps: int = 20000, lr: float = 0.1
) -> tuple[float, np.ndarray]:
    """Plain gradient descent on standardised features; a handful of features needs nothing more.

    Returns the bias and weights for the raw (unstandardised) features.
    """
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    # Answerable items outnumber the rest: weigh classes equally.
    weights_per_item = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - y) * weights_per_item
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * g.sum()
    raw_w = w / std
    return float(b - (raw_w * mean).sum()), raw_w


def report(name: str, p: np.ndarray, y: np.ndarray, threshold: float) -> None:
    answered = p >= threshold
    refused = ~answered
    unans = y == 0
    false_ref = int((refused & ~unans).sum())
    recall = (refused & unans).sum() / max(unans.sum(), 1)
    precision = (refused & unans).sum() / max(refused.sum(), 1)
    print(
        f"{name}: refusal recall {recall:.3f}, precision {precision:.3f}, false refusals {false_ref} "
        f"of {int((~unans).sum())} answerable ({false_ref / max((~unans).sum(), 1) * 20:.2f} per 20)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path(__file__).parent / "gold.jsonl")
    parser.add_argument("--holdout", type=Path, help="labelled questions to check the fit on (not fitted)")
    parser.add_argument("--max-false-refusals-per-20", type=float, default=0.5)
    args = parser.parse_args(argv)
    pipeline = Pipeline.load(get_settings())
    x, y = features(pipeline, load_items(args.gold))
    b, w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    # The highest threshold that keeps false refusals under the budget on the fitted data.
    threshold = 0.5
    for t in np.arange(0.7, 0.05, -0.01):
        false_ref = ((p < t) & (y == 1)).sum()
        if false_ref / max(y.sum(), 1) * 20 <= args.max_false_refusals_per_20:
            threshold = float(round(t, 2))
            break
    print("fitted on", args.gold, "items", len(y))
    for name, value in zip(SETTING_NAMES, w, strict=True):
        print(f"  RAG_{name.upper()}={value:.3f}")
    print(f"  RAG_REFUSE_BIAS={b:.3f}\n  RAG_REFUSE_THRESHOLD={threshold:.2f}")
    report("fit", p, y, threshold)
    if args.holdout:
        hx, hy = features(pipeline, load_items(args.holdout))
        report("holdout", 1 / (1 + np.exp(-(hx @ w + b))), hy, threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
