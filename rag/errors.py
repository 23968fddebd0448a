"""Errors raised by the library.

    RagError                      base: every message says what went wrong and how to fix it
    ├── ConfigError               a setting has a bad value
    ├── CorpusError               the corpus folder is missing, empty or unreadable
    ├── IndexMismatchError        the index was built with another model / dimension / format
    ├── IndexCorruptError         an index file is missing or fails its checksum
    ├── DocumentNotFoundError     no document with that id
    ├── InputError                a question or parameter the library cannot accept
    └── LLMError                  the LLM backend failed (connection, timeout, HTTP, malformed reply)
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of all errors raised by `rag`."""


class ConfigError(RagError):
    pass


class CorpusError(RagError):
    pass


class IndexMismatchError(RagError):
    pass


class IndexCorruptError(RagError):
    pass


class DocumentNotFoundError(RagError):
    pass


class InputError(RagError):
    pass


class LLMError(RagError):
    """The LLM backend could not give an answer. `reason` is a short machine-readable tag."""

    def __init__(self, message: str, reason: str = "backend_error") -> None:
        super().__init__(message)
        self.reason = reason
