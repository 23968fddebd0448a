"""Quality gates: floors and ceilings for summary figures, read from eval/thresholds.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from eval.runner import Summary

DEFAULT_PATH = Path(__file__).resolve().parent / "thresholds.toml"


class ThresholdError(ValueError):
    """The thresholds file names an unknown figure or gives a non-number."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    floors: dict[str, float] = field(default_factory=dict)  # figure must be >= floor
    ceilings: dict[str, float] = field(default_factory=dict)  # figure must be <= ceiling


def _table(data: dict[str, object], name: str, path: Path) -> dict[str, float]:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise ThresholdError(f"{path}: [{name}] must be a table of figure = number")
    known = {f.name for f in fields(Summary)}
    table: dict[str, float] = {}
    for key, value in raw.items():
        if key not in known:
            raise ThresholdError(f"{path}: unknown figure {key!r} in [{name}]; use one of: {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ThresholdError(f"{path}: [{name}] {key} must be a number, got {value!r}")
        table[key] = float(value)
    return table


def load(path: Path = DEFAULT_PATH) -> Thresholds:
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ThresholdError(f"{path}: not valid TOML ({exc})") from exc
    return Thresholds(floors=_table(data, "floors", path), ceilings=_table(data, "ceilings", path))


def check(summary: Summary, thresholds: Thresholds) -> list[str]:
    """One line per figure outside its bound; a figure that could not be computed fails."""
    failures = []
    for name, floor in thresholds.floors.items():
        value = getattr(summary, name)
        if value is None or value < floor:
            failures.append(f"{name} = {value if value is None else round(value, 4)} is below its floor {floor}")
    for name, ceiling in thresholds.ceilings.items():
        value = getattr(summary, name)
        if value is None or value > ceiling:
            failures.append(f"{name} = {value if value is None else round(value, 4)} is above its ceiling {ceiling}")
    return failures
