"""Static checks are part of the suite: ruff's lint rules and mypy over every package and the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rag.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent
PATHS = ["rag", "api", "eval", "tests"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    done = _run(str(BIN / "ruff"), "check", *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    done = _run(str(BIN / "mypy"), *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr
