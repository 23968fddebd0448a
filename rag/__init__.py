"""rag: answers questions about a corpus with citations to exact spans of its text.

    from rag import Pipeline
    pipeline = Pipeline.load()                       # builds index/ on first use
    answer = pipeline.ask("How many crimes were averted in 2015?")
    answer.answer, answer.citations[0].quote
"""

from rag.errors import (
    ConfigError,
    CorpusError,
    DocumentNotFoundError,
    IndexCorruptError,
    IndexMismatchError,
    InputError,
    LLMError,
    RagError,
)
from rag.pipeline import Pipeline, StreamEvent
from rag.settings import Settings, get_settings
from rag.types import Answer, ChatTurn, Chunk, Citation, Document, Hit, Span

__all__ = [
    "Answer",
    "ChatTurn",
    "Chunk",
    "Citation",
    "ConfigError",
    "CorpusError",
    "Document",
    "DocumentNotFoundError",
    "Hit",
    "IndexCorruptError",
    "IndexMismatchError",
    "InputError",
    "LLMError",
    "Pipeline",
    "RagError",
    "Settings",
    "Span",
    "StreamEvent",
    "get_settings",
]
