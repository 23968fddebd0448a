"""Reading the corpus folder: every `.txt`/`.md` file is a document, `doc_id` is its stem.

An optional `<stem>.meta.json` beside a document holds its metadata (title, source, date,
speakers). Text is decoded from bytes, so offsets index the file exactly as stored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rag.errors import CorpusError
from rag.types import Document

DOCUMENT_SUFFIXES = (".txt", ".md")


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"corpus folder {str(corpus_dir)!r} does not exist; "
            "create it and put .txt or .md files in it, or set RAG_CORPUS_DIR"
        )
    files = sorted(p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
    if not files:
        raise CorpusError(
            f"corpus folder {str(corpus_dir)!r} holds no .txt or .md files; add at least one document"
        )
    stems = [p.stem for p in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise CorpusError(
            f"two files share the document id(s) {duplicates} in {str(corpus_dir)!r}; "
            "rename one so each stem is unique"
        )
    return files


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_document(path: Path) -> Document:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{str(path)!r} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8") from exc
    meta_path = path.with_name(path.stem + ".meta.json")
    meta: dict[str, object] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{str(meta_path)!r} is not valid JSON: {exc}; fix or remove it") from exc
    return Document(
        doc_id=path.stem,
        path=str(path),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        meta=meta,
    )


def load_corpus(corpus_dir: Path) -> list[Document]:
    return [load_document(p) for p in corpus_files(corpus_dir)]


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """SHA-256 of every document file (and its meta file, which changes what is indexed)."""
    hashes: dict[str, str] = {}
    for path in corpus_files(corpus_dir):
        hashes[path.name] = file_sha256(path)
        meta = path.with_name(path.stem + ".meta.json")
        if meta.is_file():
            hashes[meta.name] = file_sha256(meta)
    return hashes
