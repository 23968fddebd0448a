"""Gold data: question/answer items and multi-turn conversations, loaded from JSONL.

Each answerable item carries `keys` (facts, each a list of alternative strings that must
appear in an answer) and `evidence` (exact substrings of the document). Evidence is turned
into character spans with `str.find`, the same offsets citations and chunks use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import TextSpan

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_GOLD = EVAL_DIR / "gold.jsonl"
DEFAULT_CONVERSATIONS = EVAL_DIR / "conversations.jsonl"
DEFAULT_DOC_ID = "sysoyev-interview"
ITEM_TYPES = ("factual", "paraphrase", "list", "context", "unanswerable")

Keys = tuple[tuple[str, ...], ...]


class GoldFormatError(ValueError):
    """A gold file line is malformed; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class GoldItem:
    id: str
    question: str
    type: str
    answerable: bool
    answer: str
    keys: Keys
    evidence: tuple[str, ...]
    doc_id: str = DEFAULT_DOC_ID


@dataclass(frozen=True, slots=True)
class Turn:
    question: str
    answerable: bool
    keys: Keys
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]
    doc_id: str = DEFAULT_DOC_ID


def _keys(raw: Any, where: str) -> Keys:
    if not isinstance(raw, list) or not all(
        isinstance(fact, list) and fact and all(isinstance(a, str) and a for a in fact) for fact in raw
    ):
        raise GoldFormatError(f"{where}: 'keys' must be a list of non-empty lists of strings, got {raw!r}")
    return tuple(tuple(fact) for fact in raw)


def _strings(raw: Any, field: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, str) and s for s in raw):
        raise GoldFormatError(f"{where}: {field!r} must be a list of non-empty strings, got {raw!r}")
    return tuple(raw)


def _require(data: dict[str, Any], field: str, kind: type, where: str) -> Any:
    value = data.get(field)
    if not isinstance(value, kind):
        raise GoldFormatError(f"{where}: field {field!r} must be {kind.__name__}, got {value!r}")
    return value


def _read_jsonl(path: Path) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFormatError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise GoldFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
        rows.append((where, data))
    return rows


def parse_item(data: dict[str, Any], where: str = "<item>") -> GoldItem:
    item_type = _require(data, "type", str, where)
    if item_type not in ITEM_TYPES:
        raise GoldFormatError(f"{where}: type {item_type!r} is not one of {', '.join(ITEM_TYPES)}")
    return GoldItem(
        id=_require(data, "id", str, where),
        question=_require(data, "question", str, where),
        type=item_type,
        answerable=_require(data, "answerable", bool, where),
        answer=_require(data, "answer", str, where),
        keys=_keys(data.get("keys"), where),
        evidence=_strings(data.get("evidence"), "evidence", where),
        doc_id=str(data.get("doc_id", DEFAULT_DOC_ID)),
    )


def parse_conversation(data: dict[str, Any], where: str = "<conversation>") -> Conversation:
    raw_turns = _require(data, "turns", list, where)
    turns = []
    for i, raw in enumerate(raw_turns, start=1):
        turn_where = f"{where} turn {i}"
        if not isinstance(raw, dict):
            raise GoldFormatError(f"{turn_where}: expected an object, got {raw!r}")
        turns.append(
            Turn(
                question=_require(raw, "question", str, turn_where),
                answerable=bool(raw.get("answerable", True)),
                keys=_keys(raw.get("keys", []), turn_where),
                evidence=_strings(raw.get("evidence", []), "evidence", turn_where),
            )
        )
    return Conversation(
        id=_require(data, "id", str, where),
        turns=tuple(turns),
        doc_id=str(data.get("doc_id", DEFAULT_DOC_ID)),
    )


def load_gold(path: Path = DEFAULT_GOLD) -> list[GoldItem]:
    return [parse_item(data, where) for where, data in _read_jsonl(path)]


def load_conversations(path: Path = DEFAULT_CONVERSATIONS) -> list[Conversation]:
    return [parse_conversation(data, where) for where, data in _read_jsonl(path)]


def evidence_spans(text: str, evidence: tuple[str, ...]) -> tuple[TextSpan, ...]:
    """Character spans of the evidence strings in `text`; evidence not found is skipped."""
    spans = []
    for quote in evidence:
        start = text.find(quote)
        if start >= 0:
            spans.append(TextSpan(start, start + len(quote)))
    return tuple(spans)
