"""Client for Ollama's native `/api/chat`.

`base_url` is the server root, e.g. `http://127.0.0.1:11434` (a trailing `/api` is tolerated).
Streaming replies are JSON lines, each with `message.content`, the last with `"done": true`.
`max_tokens` is sent as `options.num_predict`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Unpack

from rag.errors import LLMError
from rag.llm.base import ChatMessage
from rag.llm.http import ClientOptions, HttpChatBackend
from rag.settings import Settings


class OllamaBackend(HttpChatBackend):
    name = "ollama"

    def __init__(self, base_url: str, model: str, **options: Unpack[ClientOptions]) -> None:
        base_url = base_url.rstrip("/")
        if base_url.endswith("/api"):
            base_url = base_url[: -len("/api")]
        super().__init__(base_url, model, **options)

    @classmethod
    def from_settings(cls, settings: Settings) -> OllamaBackend:
        return cls(settings.llm_base_url, settings.llm_model, **cls.options(settings))

    def _body(self, messages: Sequence[ChatMessage], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": stream,
            "options": {"num_predict": max_tokens, "temperature": self.temperature},
        }

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> str:
        reply = self.http.post_json("/api/chat", self._body(messages, max_tokens, False), deadline=deadline)
        content = _message_content(reply)
        if not content.strip():
            raise LLMError(f"the model {self.model!r} returned an empty answer", reason="empty_answer")
        return content

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> Iterator[str]:
        lines = self.http.post_lines("/api/chat", self._body(messages, max_tokens, True), deadline=deadline)
        got_text = False
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                raise LLMError(f"invalid stream line: {line[:300]!r}", reason="malformed_response") from exc
            piece = _message_content(event)
            if piece:
                got_text = True
                yield piece
            if event.get("done") is True:
                if not got_text:
                    raise LLMError(f"the model {self.model!r} streamed an empty answer", reason="empty_answer")
                return
        raise LLMError(f"the stream from {self.http.base_url} ended without a `done` line", reason="stream_interrupted")


def _message_content(event: Any) -> str:
    if isinstance(event, dict) and "error" in event:
        raise LLMError(f"the Ollama server reported an error: {event['error']}", reason="http_error")
    try:
        content = event["message"]["content"]
    except (KeyError, TypeError) as exc:
        if isinstance(event, dict) and event.get("done") is True:
            return ""  # a final line may carry only statistics
        raise LLMError(f"reply has no message.content: {str(event)[:300]}", reason="malformed_response") from exc
    if not isinstance(content, str):
        raise LLMError(f"message.content is not text: {content!r}", reason="malformed_response")
    return content
