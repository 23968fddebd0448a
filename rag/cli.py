"""The `rag` command: ingest, ask, serve, eval, bench.

`serve`, `eval` and `bench` reach into the `api` and `eval` packages; they are imported inside
those commands only, so the library itself never depends on them.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import logging
import os
import sys
import textwrap
import time
from collections.abc import Sequence

from rag.errors import RagError
from rag.settings import get_settings


def _cmd_ingest(args: argparse.Namespace) -> int:
    from rag.embedding import Embedder
    from rag.index import build_index, load_index_for

    settings = get_settings(**({"corpus_dir": args.corpus} if args.corpus else {}))
    t0 = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    model_seconds = time.perf_counter() - t0
    previous = None
    if not args.rebuild:
        try:
            previous = load_index_for(settings.index_dir, embedder)
        except RagError:
            previous = None
    index, report = build_index(settings, embedder, progress=not args.quiet, previous=previous)
    print(
        f"indexed {report.documents} document(s), {report.chunks} chunks, "
        f"{index.manifest['sentence_count']} sentences in {report.seconds:.2f} s "
        f"(model load {model_seconds:.2f} s; {report.reused_documents} unchanged document(s) reused) -> {report.path}; "
        f"{report.chunks / max(report.seconds, 1e-9):.0f} chunks/s"
    )
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import Pipeline

    pipeline = Pipeline.load(get_settings(), progress=not args.json)
    answer = pipeline.ask(args.question, top_k=args.top_k, mode=args.mode)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(textwrap.fill(answer.answer, width=100))
    for c in answer.citations:
        print(f"\n[{c.n}] {c.doc_id} {c.start}-{c.end}\n    " + textwrap.fill(c.quote, width=96, subsequent_indent="    "))
    if answer.fallback_reason:
        print(f"\n(fell back to the extractive answer: {answer.fallback_reason})")
    return 0


def limit_malloc_arenas() -> int | None:
    """Caps glibc's malloc arenas at one per core (its default is eight per core), unless
    MALLOC_ARENA_MAX is set; returns the cap, or None where glibc is not there to ask.

    The server encodes in whichever thread-pool thread leads a batch (rag.embedding._QueryBatcher),
    and each thread that allocates gets an arena of its own that keeps its freed memory: peak RSS
    under the benchmark's load was 483–485 MB with the default, 307–308 MB with one per core, at the
    same throughput (README, "Performance")."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    cap = os.cpu_count() or 1
    m_arena_max = -8  # <malloc.h>
    return cap if libc.mallopt(m_arena_max, cap) == 1 else None


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    limit_malloc_arenas()
    settings = get_settings()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # Short keep-alive frees idle sockets; bounded shutdown so a stuck client cannot hold a restart.
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
    return 0


def _forward(module: str) -> int:
    main = importlib.import_module(module).main
    return int(main(sys.argv[2:]) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Cited answers about the Sysoyev interview (TASS, 2016). Settings come from RAG_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="build or update the index from corpus/", description="Chunk, embed and index the corpus.")
    p.add_argument("--rebuild", action="store_true", help="re-embed every document, ignoring the existing index")
    p.add_argument("--corpus", help="corpus folder (default: RAG_CORPUS_DIR or ./corpus)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("ask", help="answer one question", description="Answer one question with citations.")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the same JSON as POST /ask")
    p.add_argument("--top-k", type=int, default=None, choices=range(1, 21), metavar="1..20")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP API and chat page", description="Serve the API and the chat page.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=_cmd_serve)

    sub.add_parser("eval", help="run the eval suite (see `rag eval --help`)", add_help=False)
    sub.add_parser("bench", help="run the benchmark (see `rag bench --help`)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] in ("eval", "bench"):
        sys.argv = ["rag", *argv]
        return _forward("eval.runner" if argv[0] == "eval" else "eval.bench")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
