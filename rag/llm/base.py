"""The contract every chat backend meets, and the one message type they all take.

A backend is anything with a `name`, `complete` and `stream`: the OpenAI-compatible and
Ollama clients here, or a test double. Both calls take an absolute `deadline` on the
`time.monotonic()` clock and raise `rag.errors.LLMError` (with a `reason` from `REASONS`)
instead of any transport exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

MessageRole = Literal["system", "user", "assistant"]

# The `LLMError.reason` tags a backend may raise.
REASONS = frozenset(
    {
        "connection_error",
        "timeout",
        "http_error",
        "malformed_response",
        "stream_interrupted",
        "empty_answer",
    }
)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: MessageRole
    content: str


@runtime_checkable
class ChatBackend(Protocol):
    name: str

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> str:
        """The whole reply, non-empty; raises LLMError."""
        ...

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> Iterator[str]:
        """The reply in pieces as they arrive; raises LLMError (also mid-stream)."""
        ...
