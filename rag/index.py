"""Building, saving and loading the search index.

Layout of `index_dir` (no pickle anywhere):

    current -> v-<id>            symlink, swapped atomically with os.replace
    v-<id>/manifest.json         format version, model, dimension, chunker settings,
                                 SHA-256 of each corpus file and of each index file, counts
    v-<id>/chunks.jsonl          one chunk per line (offsets, text, section, sentence spans)
    v-<id>/dense.faiss           chunk vectors (exact inner product, or HNSW above a size)
    v-<id>/sections.npy          one vector per distinct section (the interviewer's question)
    v-<id>/sentences.npy         one vector per distinct sentence (for answer selection)
    v-<id>/sentences.faiss       the same vectors, searchable (sentence-level dense ranking)
    v-<id>/sentences.jsonl       which sentence each row is
    v-<id>/bm25/                 bm25s arrays (.npy) and vocabulary (.json)
    v-<id>/pairs/                the same over each two neighbouring terms (`rag.lexical.term_pairs`)

A new version is written in full beside the old one and only then made current, so a process
killed while writing leaves the previous index in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np
from tqdm import tqdm

from rag.chunking import chunk_document, embedding_text
from rag.corpus import corpus_hashes, load_corpus
from rag.embedding import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.lexical import content_terms, term_pairs
from rag.settings import Settings
from rag.types import Chunk, Document

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

FORMAT_VERSION = 9  # 9: a BM25 index of neighbouring terms (pairs/); 8: honorifics ("Mr.") are no terms; 7: "1,500" is the term "1500"; 6: a country's adjective is the country (rag.lexical)
CURRENT = "current"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


@dataclass(frozen=True, slots=True)
class SentenceKey:
    doc_id: str
    start: int
    end: int


@dataclass
class SearchIndex:
    """Everything retrieval and answering need, in memory."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    dense: faiss.Index
    bm25: bm25s.BM25
    pairs: bm25s.BM25  # over `term_pairs`: the question's words side by side, as the chunk has them
    sentence_keys: list[SentenceKey]
    sentence_vectors: np.ndarray
    sentence_dense: faiss.Index
    section_vectors: np.ndarray
    path: Path

    def __post_init__(self) -> None:
        self.sections = distinct_sections(self.chunks)
        row = {text: i for i, text in enumerate(self.sections)}
        self.chunk_section = [row.get(c.section, -1) if c.section else -1 for c in self.chunks]
        self.sentence_row = {key: i for i, key in enumerate(self.sentence_keys)}
        # Which chunks hold each sentence (two, where windows overlap), in chunk order.
        self.sentence_chunks: list[list[int]] = [[] for _ in self.sentence_keys]
        for ci, chunk in enumerate(self.chunks):
            for span in chunk.sentences:
                self.sentence_chunks[self.sentence_row[SentenceKey(chunk.doc_id, span.start, span.end)]].append(ci)

    @property
    def version(self) -> str:
        return str(self.manifest["index_id"])


@dataclass(frozen=True, slots=True)
class BuildReport:
    documents: int
    chunks: int
    seconds: float
    reused_documents: int
    path: Path


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dense_index(vectors: np.ndarray, dimension: int, ann_threshold: int) -> faiss.Index:
    index: faiss.Index
    if len(vectors) > ann_threshold:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION  # type: ignore[attr-defined]
        index.hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(vectors)
    return index


def _bm25(chunks: Sequence[Chunk], terms: Callable[[str], list[str]] = content_terms) -> bm25s.BM25:
    corpus_tokens = [terms(embedding_text(c)) or ["\x00empty"] for c in chunks]
    model = bm25s.BM25()
    model.index(corpus_tokens, show_progress=False)
    return model


def distinct_sections(chunks: Sequence[Chunk]) -> list[str]:
    return list(dict.fromkeys(c.section for c in chunks if c.section))


def _unique_sentences(chunks: Sequence[Chunk]) -> list[SentenceKey]:
    seen: dict[SentenceKey, None] = {}
    for chunk in chunks:
        for span in chunk.sentences:
            seen.setdefault(SentenceKey(chunk.doc_id, span.start, span.end), None)
    return list(seen)


def build_index(
    settings: Settings,
    embedder: Embedder,
    *,
    progress: bool = False,
    previous: SearchIndex | None = None,
    documents: Sequence[Document] | None = None,
) -> tuple[SearchIndex, BuildReport]:
    """Chunk, embed and index the corpus, then write it atomically under `settings.index_dir`.

    Documents whose file hash matches `previous` (built with the same model and chunker) keep
    their chunks and vectors: only changed documents are embedded again.
    """
    began = time.perf_counter()
    docs = list(documents) if documents is not None else load_corpus(settings.corpus_dir)
    chunker = settings.chunker_config()

    reusable: dict[str, str] = {}
    if previous is not None and _compatible(previous.manifest, embedder, chunker):
        reusable = {d["doc_id"]: d["sha256"] for d in previous.manifest.get("documents", [])}
    old_vectors: dict[str, np.ndarray] = {}
    old_sentence_vectors: dict[SentenceKey, np.ndarray] = {}
    if previous is not None and reusable:
        all_old = previous.dense.reconstruct_n(0, previous.dense.ntotal)
        old_vectors = {chunk.chunk_id: all_old[i] for i, chunk in enumerate(previous.chunks)}
        old_sentence_vectors = dict(zip(previous.sentence_keys, previous.sentence_vectors, strict=True))

    chunks = [c for doc in docs for c in chunk_document(doc, **chunker)]
    reused_ids = {d.doc_id for d in docs if reusable.get(d.doc_id) == d.sha256}
    vectors = _reuse_or_encode(
        embedder,
        # Chunk text alone: the question as a prefix blurs what the chunk itself says (measured).
        [(c.chunk_id if c.doc_id in reused_ids else None, c.text) for c in chunks],
        old_vectors,
        "embedding chunks",
        progress,
    )
    sentence_keys = _unique_sentences(chunks)
    text_of = {d.doc_id: d.text for d in docs}
    sentence_vectors = _reuse_or_encode(
        embedder,
        [(k if k.doc_id in reused_ids else None, text_of[k.doc_id][k.start : k.end]) for k in sentence_keys],
        old_sentence_vectors,
        "embedding sentences",
        progress,
    )

    sections = distinct_sections(chunks)
    old_sections = dict(zip(previous.sections, previous.section_vectors, strict=True)) if previous is not None and reusable else {}
    section_vectors = _reuse_or_encode(embedder, [(t, t) for t in sections], old_sections, "embedding sections", progress)
    dense = _dense_index(vectors, embedder.dimension, settings.ann_threshold)
    sentence_dense = _dense_index(sentence_vectors, embedder.dimension, settings.ann_threshold)
    bm25 = _bm25(chunks)
    pairs = _bm25(chunks, term_pairs)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "index_id": uuid.uuid4().hex[:12],
        "model_name": embedder.model_name,
        "dimension": embedder.dimension,
        "precision": embedder.precision,
        "chunker": chunker,
        "dense_index": "hnsw" if len(chunks) > settings.ann_threshold else "flat",
        "corpus": corpus_hashes(settings.corpus_dir) if documents is None else {},
        "documents": [{"doc_id": d.doc_id, "sha256": d.sha256, "path": d.path} for d in docs],
        "chunk_count": len(chunks),
        "sentence_count": len(sentence_keys),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    elapsed = time.perf_counter() - began
    manifest["build_seconds"] = round(elapsed, 3)
    path = save_index(
        settings.index_dir, manifest, chunks, dense, bm25, pairs, sentence_keys, sentence_vectors, sentence_dense, section_vectors
    )
    index = SearchIndex(manifest, chunks, dense, bm25, pairs, sentence_keys, sentence_vectors, sentence_dense, section_vectors, path)
    report = BuildReport(len(docs), len(chunks), time.perf_counter() - began, len(reused_ids), path)
    return index, report


def _reuse_or_encode(
    embedder: Embedder, items: list[tuple[Any, str]], old: dict[Any, np.ndarray], label: str, progress: bool
) -> np.ndarray:
    """Vectors for `(reuse_key, text)` items: the old vector where the key has one, else encoded."""
    out = np.zeros((len(items), embedder.dimension), dtype=np.float32)
    todo = []
    for i, (key, _) in enumerate(items):
        vector = old.get(key) if key is not None else None
        if vector is None:
            todo.append(i)
        else:
            out[i] = vector
    if todo:
        out[todo] = _encode_batched(embedder, [items[i][1] for i in todo], label, progress)
    return out


def _encode_batched(embedder: Embedder, texts: list[str], label: str, progress: bool) -> np.ndarray:
    batch = 256
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    with embedder.all_cores(), tqdm(total=len(texts), desc=label, unit="text", disable=not progress) as bar:
        for lo in range(0, len(texts), batch):
            out[lo : lo + batch] = embedder.encode(texts[lo : lo + batch])
            bar.update(min(batch, len(texts) - lo))
    return out


def _compatible(manifest: dict[str, Any], embedder: Embedder, chunker: dict[str, int]) -> bool:
    return (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("model_name") == embedder.model_name
        and manifest.get("dimension") == embedder.dimension
        and built_precision(manifest) == embedder.precision
        and manifest.get("chunker") == chunker
    )


def save_index(
    index_dir: Path,
    manifest: dict[str, Any],
    chunks: Sequence[Chunk],
    dense: faiss.Index,
    bm25: bm25s.BM25,
    pairs: bm25s.BM25,
    sentence_keys: Sequence[SentenceKey],
    sentence_vectors: np.ndarray,
    sentence_dense: faiss.Index,
    section_vectors: np.ndarray,
) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    version = f"v-{manifest['index_id']}"
    tmp = index_dir / f".tmp-{version}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    np.save(tmp / "sentences.npy", sentence_vectors, allow_pickle=False)
    faiss.write_index(sentence_dense, str(tmp / "sentences.faiss"))
    np.save(tmp / "sections.npy", section_vectors, allow_pickle=False)
    with (tmp / "sentences.jsonl").open("w", encoding="utf-8") as fh:
        for key in sentence_keys:
            fh.write(json.dumps([key.doc_id, key.start, key.end]) + "\n")
    bm25.save(str(tmp / "bm25"), allow_pickle=False, show_progress=False)
    pairs.save(str(tmp / "pairs"), allow_pickle=False, show_progress=False)
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {**manifest, "files": {str(p.relative_to(tmp)): _sha256_file(p) for p in files}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    for path in [*files, tmp / "manifest.json"]:
        _fsync(path)
    final = index_dir / version
    os.replace(tmp, final)
    link_tmp = index_dir / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
    os.symlink(version, link_tmp)
    os.replace(link_tmp, index_dir / CURRENT)
    _fsync(index_dir)
    _remove_old_versions(index_dir, keep=version)
    return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_versions(index_dir: Path, keep: str) -> None:
    for entry in index_dir.iterdir():
        if entry.name != keep and entry.is_dir() and not entry.is_symlink() and entry.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)


def current_index_path(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    if not link.is_symlink() and not link.exists():
        return None
    return index_dir / os.readlink(link) if link.is_symlink() else link


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / "manifest.json"
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index manifest {str(manifest_path)!r} is missing; rebuild with `rag ingest`") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"index manifest {str(manifest_path)!r} is unreadable ({exc}); rebuild with `rag ingest`") from exc
    if not isinstance(data, dict):
        raise IndexCorruptError(f"index manifest {str(manifest_path)!r} is not a JSON object; rebuild with `rag ingest`")
    return data


def built_precision(manifest: dict[str, Any]) -> str:
    """The precision of an index's vectors; indexes written before the field existed hold fp32."""
    return str(manifest.get("precision", "fp32"))


def check_compatible(manifest: dict[str, Any], model_name: str, dimension: int, path: Path, precision: str = "fp32") -> None:
    """Refuse an index built for another model, dimension, precision or format: mixing them gives wrong answers."""
    fix = "rebuild it with `rag ingest --rebuild` (or delete the folder and restart)"
    if manifest.get("format_version") != FORMAT_VERSION:
        # Our own older layout: not wrong, just outdated, so it is rebuilt like a damaged one.
        raise IndexCorruptError(
            f"index at {str(path)!r} has format version {manifest.get('format_version')!r}, "
            f"this version of rag reads {FORMAT_VERSION}; rebuild with `rag ingest`"
        )
    if manifest.get("model_name") != model_name or manifest.get("dimension") != dimension:
        raise IndexMismatchError(
            f"index at {str(path)!r} was built with model {manifest.get('model_name')!r} "
            f"(dimension {manifest.get('dimension')}), but the configured model is {model_name!r} "
            f"(dimension {dimension}); {fix}"
        )
    built = built_precision(manifest)
    if built != precision:
        raise IndexMismatchError(
            f"index at {str(path)!r} holds {built} vectors, but the configured embedding backend makes "
            f"{precision} ones (RAG_EMBED_BACKEND); {fix}, or set RAG_EMBED_BACKEND back"
        )


def verify_files(manifest: dict[str, Any], path: Path) -> None:
    expected = manifest.get("files")
    if not isinstance(expected, dict) or not expected:
        raise IndexCorruptError(f"index manifest at {str(path)!r} lists no file checksums; rebuild with `rag ingest`")
    for name, digest in expected.items():
        file = path / name
        if not file.is_file():
            raise IndexCorruptError(f"index file {str(file)!r} is missing; rebuild with `rag ingest`")
        if _sha256_file(file) != digest:
            raise IndexCorruptError(
                f"index file {str(file)!r} does not match its checksum (corrupted); rebuild with `rag ingest`"
            )


def load_index_for(index_dir: Path, embedder: Embedder) -> SearchIndex | None:
    """The current index, checked against this embedder's model, dimension and vector precision."""
    return load_index(index_dir, model_name=embedder.model_name, dimension=embedder.dimension, precision=embedder.precision)


def load_index(index_dir: Path, *, model_name: str, dimension: int, precision: str = "fp32") -> SearchIndex | None:
    """The current index, verified; None when there is none yet."""
    path = current_index_path(index_dir)
    if path is None:
        return None
    if not path.is_dir():
        raise IndexCorruptError(f"index folder {str(path)!r} is missing; rebuild with `rag ingest`")
    manifest = read_manifest(path)
    check_compatible(manifest, model_name, dimension, path, precision)
    verify_files(manifest, path)
    try:
        chunks = [Chunk.from_json(json.loads(line)) for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
        dense = _read_faiss(path / "dense.faiss")
        sentence_dense = _read_faiss(path / "sentences.faiss")
        # Memory-mapped, read-only: a version folder never changes once written, and the sentence
        # vectors are also inside sentences.faiss — mapping them keeps only the rows read resident.
        section_vectors = np.load(path / "sections.npy", allow_pickle=False, mmap_mode="r")
        sentence_vectors = np.load(path / "sentences.npy", allow_pickle=False, mmap_mode="r")
        sentence_keys = [
            SentenceKey(d, int(a), int(b))
            for d, a, b in (json.loads(line) for line in (path / "sentences.jsonl").read_text(encoding="utf-8").splitlines())
        ]
        bm25 = bm25s.BM25.load(str(path / "bm25"), allow_pickle=False, show_progress=False, verbosity=0)
        pairs = bm25s.BM25.load(str(path / "pairs"), allow_pickle=False, show_progress=False, verbosity=0)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        raise IndexCorruptError(f"index at {str(path)!r} could not be read ({exc}); rebuild with `rag ingest`") from exc
    if (
        len(chunks) != manifest.get("chunk_count")
        or dense.ntotal != len(chunks)
        or not len(sentence_keys) == len(sentence_vectors) == sentence_dense.ntotal
    ):
        raise IndexCorruptError(f"index at {str(path)!r} is inconsistent (counts differ); rebuild with `rag ingest`")
    try:
        index = SearchIndex(manifest, chunks, dense, bm25, pairs, sentence_keys, sentence_vectors, sentence_dense, section_vectors, path)
    except KeyError as exc:
        raise IndexCorruptError(f"index at {str(path)!r} is inconsistent ({exc}); rebuild with `rag ingest`") from exc
    if len(index.sections) != len(section_vectors):
        raise IndexCorruptError(f"index at {str(path)!r} is inconsistent (sections differ); rebuild with `rag ingest`")
    return index


def _read_faiss(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def is_stale(index: SearchIndex, corpus_dir: Path) -> bool:
    return bool(index.manifest.get("corpus") != corpus_hashes(corpus_dir))
