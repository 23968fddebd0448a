"""Optional LLM answering: chat backends (OpenAI-compatible, Ollama), prompt, citation and
grounding checks, and the answerer that falls back to the extractive answer."""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import ConfigError
from rag.llm.answerer import answer_with_llm, stream_with_llm
from rag.llm.base import ChatBackend, ChatMessage
from rag.llm.citations import CitedText, extract_citations
from rag.llm.grounding import Grounding, check_grounding
from rag.llm.ollama import OllamaBackend
from rag.llm.openai import OpenAIBackend
from rag.llm.prompt import REFUSAL, Prompt, build_prompt
from rag.settings import Settings

BACKENDS: dict[str, Callable[[Settings], ChatBackend]] = {
    "openai": OpenAIBackend.from_settings,
    "ollama": OllamaBackend.from_settings,
}

__all__ = [
    "BACKENDS",
    "REFUSAL",
    "ChatBackend",
    "ChatMessage",
    "CitedText",
    "Grounding",
    "OllamaBackend",
    "OpenAIBackend",
    "Prompt",
    "answer_with_llm",
    "build_prompt",
    "check_grounding",
    "extract_citations",
    "make_backend",
    "stream_with_llm",
]


def make_backend(settings: Settings) -> ChatBackend | None:
    """The backend named by `settings.llm_backend`, or None for "none"."""
    name = settings.llm_backend.strip().lower()
    if name == "none":
        return None
    backend = BACKENDS.get(name)
    if backend is None:
        valid = ", ".join(["none", *BACKENDS])
        raise ConfigError(f"unknown LLM backend {settings.llm_backend!r}; set RAG_LLM_BACKEND to one of: {valid}")
    return backend(settings)
