"""Evaluation suite: gold questions, metrics, and the runner behind `python -m eval` / `rag eval`."""
