"""The persisted index: round trip, stale rebuild, model mismatch refusal, corruption detection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index import build_index, current_index_path, load_index_for
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings, get_settings
from tests.conftest import make_corpus, start_server


def assert_server_starts_and_answers(settings: Settings) -> None:
    """A real uvicorn server over this index directory loads (or rebuilds) it and answers."""
    from api.app import create_app

    server = start_server(create_app(settings=settings))
    try:
        with server.client() as http:
            health = http.get("/health").json()
            response = http.post("/ask", json={"question": "How many terrorists were liquidated?"})
            assert response.status_code == 200, response.text
            body = response.json()
            text = http.get("/documents/sysoyev-interview").json()["text"]
        assert current_index_path(settings.index_dir).name.endswith(health["index_id"])  # type: ignore[union-attr]
        assert body["answerable"] and body["citations"]
        assert all(c["quote"] == text[c["start"] : c["end"]] for c in body["citations"])
    finally:
        server.stop()


@pytest.fixture()
def fresh(tmp_path: Path) -> Settings:
    return get_settings(corpus_dir=make_corpus(tmp_path), index_dir=tmp_path / "index")


def test_round_trip(fresh: Settings, embedder: Embedder) -> None:
    built, report = build_index(fresh, embedder)
    assert report.documents == 1 and report.chunks == len(built.chunks) > 10
    loaded = load_index_for(fresh.index_dir, embedder)
    assert loaded is not None
    assert loaded.chunks == built.chunks
    assert loaded.version == built.version
    assert loaded.dense.ntotal == len(built.chunks)
    np.testing.assert_allclose(loaded.sentence_vectors, built.sentence_vectors)
    query = embedder.encode_query("How many websites were blocked?").reshape(1, -1)
    assert loaded.dense.search(query, 3)[1].tolist() == built.dense.search(query, 3)[1].tolist()
    manifest = json.loads((current_index_path(fresh.index_dir) / "manifest.json").read_text())  # type: ignore[operator]
    for key in ("format_version", "model_name", "dimension", "chunker", "corpus", "chunk_count", "files"):
        assert key in manifest
    assert manifest["chunker"] == fresh.chunker_config()
    assert set(manifest["corpus"]) == {"sysoyev-interview.txt", "sysoyev-interview.meta.json"}
    # No pickle anywhere: every array loads with allow_pickle=False.
    for npy in current_index_path(fresh.index_dir).rglob("*.npy"):  # type: ignore[union-attr]
        np.load(npy, allow_pickle=False)


def test_missing_index_is_built_on_first_load(fresh: Settings, embedder: Embedder) -> None:
    assert load_index_for(fresh.index_dir, embedder) is None
    pipeline = Pipeline.load(fresh, embedder=embedder)
    assert pipeline.build_report is not None
    assert pipeline.ask("How many terrorists were liquidated?").answerable


def test_stale_index_is_rebuilt_and_unchanged_documents_reused(fresh: Settings, embedder: Embedder) -> None:
    first = Pipeline.load(fresh, embedder=embedder)
    version = first.index.version
    (fresh.corpus_dir / "extra.txt").write_text(
        "The Tashkent office keeps a small library. Its reading room opens at nine.", encoding="utf-8"
    )
    second = Pipeline.load(fresh, embedder=embedder)
    assert second.index.version != version
    assert second.build_report is not None and second.build_report.reused_documents == 1
    assert {c.doc_id for c in second.index.chunks} == {"sysoyev-interview", "extra"}
    hits = second.search("When does the reading room open?", top_k=1)
    assert hits[0].chunk.doc_id == "extra"
    # Loading again without changes reuses the index as it is.
    third = Pipeline.load(fresh, embedder=embedder)
    assert third.index.version == second.index.version and third.build_report is None


def _smaller_model(path: Path) -> str:
    """A real, different sentence-transformers model: MiniLM plus a projection to 64 dimensions."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense

    base = SentenceTransformer(Embedder().model_path, device="cpu")
    dense = Dense(in_features=384, out_features=64)
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(path))
    return str(path)


def test_index_from_another_model_is_refused(fresh: Settings, embedder: Embedder, tmp_path: Path) -> None:
    build_index(fresh, embedder)
    other = Embedder(_smaller_model(tmp_path / "small-model"), model_name="minilm-64")
    assert other.dimension == 64
    with pytest.raises(IndexMismatchError, match=r"rag ingest --rebuild") as err:
        Pipeline.load(fresh, embedder=other)
    assert "minilm-64" in str(err.value) and "384" in str(err.value)
    # The refused index is left as it was.
    assert load_index_for(fresh.index_dir, embedder) is not None


@pytest.mark.parametrize("victim", ["dense.faiss", "chunks.jsonl", "sentences.npy", "bm25/vocab.index.json"])
def test_flipped_byte_is_detected_and_rebuilt(fresh: Settings, embedder: Embedder, victim: str) -> None:
    _built, _ = build_index(fresh, embedder)
    path = current_index_path(fresh.index_dir)
    assert path is not None
    target = path / victim
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum"):
        load_index_for(fresh.index_dir, embedder)
    pipeline = Pipeline.load(fresh, embedder=embedder)
    assert pipeline.build_report is not None, "a corrupt index must be rebuilt, not served"
    answer = pipeline.ask("How many terrorists were liquidated?")
    assert answer.answerable and all(c.quote == pipeline.documents[c.doc_id].text[c.start : c.end] for c in answer.citations)
    if victim == "dense.faiss":  # one real server start is enough to show the path end to end
        corrupt = current_index_path(fresh.index_dir) / victim  # type: ignore[operator]
        data = bytearray(corrupt.read_bytes())
        data[len(data) // 2] ^= 0x01
        corrupt.write_bytes(bytes(data))
        assert_server_starts_and_answers(fresh)


def test_missing_file_is_detected_and_rebuilt(fresh: Settings, embedder: Embedder) -> None:
    build_index(fresh, embedder)
    path = current_index_path(fresh.index_dir)
    assert path is not None
    (path / "sentences.npy").unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        load_index_for(fresh.index_dir, embedder)
    assert Pipeline.load(fresh, embedder=embedder).build_report is not None
    (current_index_path(fresh.index_dir) / "chunks.jsonl").unlink()  # type: ignore[operator]
    assert_server_starts_and_answers(fresh)


def test_killed_while_writing_leaves_previous_index_loadable(fresh: Settings, embedder: Embedder) -> None:
    built, _ = build_index(fresh, embedder)
    (fresh.corpus_dir / "extra.txt").write_text("A new document arrives. " * 200, encoding="utf-8")
    # A real process, killed (SIGKILL) inside save_index after some files are written.
    script = textwrap.dedent(
        f"""
        import os, signal
        import rag.index as ix
        from rag.embedding import Embedder
        from rag.settings import get_settings
        real_save = ix.np.save
        def dying_save(*a, **k):
            real_save(*a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        ix.np.save = dying_save
        s = get_settings(corpus_dir={str(fresh.corpus_dir)!r}, index_dir={str(fresh.index_dir)!r})
        ix.build_index(s, Embedder())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env={**os.environ}, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    leftovers = [p.name for p in fresh.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers, "the killed build should have left its temporary folder behind"
    loaded = load_index_for(fresh.index_dir, embedder)
    assert loaded is not None and loaded.version == built.version
    # The next start notices the corpus change, rebuilds, and clears the debris.
    pipeline = Pipeline.load(fresh, embedder=embedder)
    assert pipeline.index.version != built.version
    assert not [p for p in fresh.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert_server_starts_and_answers(fresh)
