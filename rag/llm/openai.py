"""Client for any OpenAI-compatible `/chat/completions` endpoint (llama.cpp server, vLLM, OpenAI…).

`base_url` is what the OpenAI client takes, e.g. `http://127.0.0.1:8080/v1`.
Streaming uses server-sent events: `data: {json}` lines ending with `data: [DONE]`.

`complete` streams too, and joins the pieces: when the deadline passes we close the
connection, and a server that streams notices and stops generating. A non-streamed request
abandoned at its deadline keeps llama.cpp's server busy until it has written the whole reply
(measured: 27 s of a 400-token reply), and every request after it waits in line. A server
that ignores `"stream": true` and sends one JSON body is accepted as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Unpack

from rag.errors import LLMError
from rag.llm.base import ChatMessage
from rag.llm.http import ClientOptions, HttpChatBackend
from rag.settings import Settings


class OpenAIBackend(HttpChatBackend):
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str = "", **options: Unpack[ClientOptions]) -> None:
        super().__init__(base_url, model, headers={"Authorization": f"Bearer {api_key}"} if api_key else {}, **options)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        return cls(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key, **cls.options(settings))

    def _body(self, messages: Sequence[ChatMessage], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, deadline=deadline))

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, deadline: float) -> Iterator[str]:
        lines = self.http.post_lines("/chat/completions", self._body(messages, max_tokens, True), deadline=deadline)
        got_text = False
        plain: list[str] = []  # the body, if the server sent one JSON object instead of events
        for line in lines:
            if plain or (line.strip() and not line.startswith(_SSE_FIELDS)):
                plain.append(line)
                continue
            if not line.startswith("data:"):
                continue  # blank separators, `event:` / `id:` fields and `:` comments
            data = line[5:].strip()
            if data == "[DONE]":
                if not got_text:
                    raise LLMError(f"the model {self.model!r} streamed an empty answer", reason="empty_answer")
                return
            piece = _delta_content(data)
            got_text = got_text or bool(piece.strip())
            if piece:
                yield piece
        if plain:
            content = _completion_content("\n".join(plain), self.http.base_url)
            if not content.strip():
                raise LLMError(f"the model {self.model!r} returned an empty answer", reason="empty_answer")
            yield content
            return
        raise LLMError(
            f"the stream from {self.http.base_url} ended without `data: [DONE]`", reason="stream_interrupted"
        )


_SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")


def _completion_content(body: str, url: str) -> str:
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except ValueError as exc:
        raise LLMError(f"the LLM server at {url} sent invalid JSON: {body[:300]!r}", "malformed_response") from exc
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(
            f"reply from {url} has no choices[0].message.content: {body[:300]!r}", reason="malformed_response"
        ) from exc
    if not isinstance(content, str):
        raise LLMError(f"choices[0].message.content is not text: {content!r}", reason="malformed_response")
    return content


def _delta_content(data: str) -> str:
    try:
        event = json.loads(data)
        if "error" in event:
            raise LLMError(f"the LLM server reported an error mid-stream: {event['error']}", "stream_interrupted")
        choices = event["choices"]
        if not choices:  # e.g. a final usage-only event
            return ""
        content = choices[0].get("delta", {}).get("content") or ""
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LLMError(f"invalid stream event: {data[:300]!r}", reason="malformed_response") from exc
    if not isinstance(content, str):
        raise LLMError(f"delta.content is not text: {content!r}", reason="malformed_response")
    return content
