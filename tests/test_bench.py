"""The benchmark's pieces: the synthetic corpus, the statistics, the scale step, the report.

No timing assertions: only that each piece measures what it says it does.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from eval import bench
from eval.synthetic import synthetic_documents, synthetic_questions, write_corpus
from rag.chunking import chunk_document, split_sentences
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.types import Document
from tests.conftest import dead_port

MONTHS = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b")


def chunk_count(docs: list[tuple[str, str]], **chunker: int) -> int:
    return sum(len(chunk_document(Document(d, "", text, ""), **chunker)) for d, text in docs)


# ---------------------------------------------------------------------------- synthetic corpus


def test_synthetic_corpus_is_deterministic() -> None:
    assert synthetic_documents(300, seed=3) == synthetic_documents(300, seed=3)
    assert synthetic_documents(300, seed=3) != synthetic_documents(300, seed=4)
    assert synthetic_questions(50, seed=2) == synthetic_questions(50, seed=2)


@pytest.mark.parametrize("n", [1, 2, 99, 100, 101, 300, 1234])
def test_synthetic_corpus_chunks_into_exactly_n(n: int) -> None:
    assert chunk_count(synthetic_documents(n)) == n


@pytest.mark.parametrize(
    "chunker", [{"chunk_sentences": 4, "chunk_overlap": 1}, {"chunk_sentences": 2, "chunk_overlap": 0}]
)
def test_synthetic_corpus_follows_other_chunker_settings(chunker: dict[str, int]) -> None:
    full = {**chunker, "chunk_max_words": 120}
    assert chunk_count(synthetic_documents(250, chunker=full), **full) == 250


def test_synthetic_text_reads_like_english_prose() -> None:
    docs = synthetic_documents(300)
    text = "\n".join(t for _, t in docs)
    sentences = [
        t[s.start : s.end] for _, t in docs for s in split_sentences(t) if not t[s.start : s.end].startswith("#")
    ]
    assert len(sentences) > 500
    for sentence in sentences:
        assert sentence[0].isupper() or sentence[0].isdigit(), sentence
        assert sentence.endswith((".", "?")), sentence
        assert 5 <= len(sentence.split()) <= 40, sentence
    words = re.findall(r"[A-Za-z']+", text)
    assert len({w.lower() for w in words}) > 400  # vocabulary-rich, not a handful of repeated words
    assert MONTHS.search(text) and re.search(r"\b(19|20)\d\d\b", text) and re.search(r"\d+\.\d per cent", text)
    assert "lorem" not in text.lower()
    assert len(set(sentences)) > 0.95 * len(sentences)  # sentences hardly ever repeat


def test_write_corpus_writes_txt_files(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c", 250)
    files = sorted((tmp_path / "c").glob("*.txt"))
    assert corpus.documents == len(files) == 3 and corpus.chunks == 250
    assert corpus.bytes == sum(f.stat().st_size for f in files)


def test_synthetic_questions_are_distinct_questions() -> None:
    questions = synthetic_questions(300)
    assert len(set(questions)) == 300
    assert all(q.endswith("?") and q[0].isupper() for q in questions)


# ---------------------------------------------------------------------------- statistics


def test_percentile_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 100, 1001):
        values = rng.exponential(10, size).tolist()
        for q in (0, 50, 95, 99, 100):
            assert bench.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="no values"):
        bench.percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        bench.percentile([1.0], 101)


def test_latency_stats_and_ratio() -> None:
    stats = bench.latency_stats([float(i) for i in range(1, 101)])
    assert stats.n == 100 and stats.p50 == pytest.approx(50.5) and stats.max == 100
    assert bench.ratio(14.0, 7.0) == 2.0
    assert bench.ratio(None, 7.0) is None and bench.ratio(3.0, None) is None and bench.ratio(3.0, 0.0) is None


def test_recall_at_k() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert bench.recall_at_k(exact, exact, 4) == 1.0
    approx = np.array([[1, 2, 9, 9], [8, 7, 6, 5]])
    assert bench.recall_at_k(approx, exact, 4) == pytest.approx((0.5 + 1.0) / 2)
    assert bench.recall_at_k(np.array([[1, -1]]), np.array([[1, -1]]), 2) == 1.0  # -1: fewer than k hits


def test_parse_ingest_reads_the_cli_summary() -> None:
    line = (
        "indexed 1 document(s), 32 chunks, 59 sentences in 0.84 s "
        "(model load 3.10 s; 0 unchanged document(s) reused) -> /tmp/x/index/v-1"
    )
    ingest = bench.parse_ingest("progress…\n" + line + "\n", wall_s=6.0)
    assert (ingest.build_s, ingest.model_load_s, ingest.chunks, ingest.sentences, ingest.wall_s) == (
        0.84,
        3.10,
        32,
        59,
        6.0,
    )
    with pytest.raises(RuntimeError, match="no summary"):
        bench.parse_ingest("Traceback …", 1.0)


def test_variants_never_repeat() -> None:
    it = bench.variants(["a?", "b?"])
    bodies = [next(it)["question"] for _ in range(10)]
    assert len(set(bodies)) == 10 and bodies[0] == "a? (variant 0)"


def test_scale_sizes_from_arguments() -> None:
    parse = bench.build_parser().parse_args
    assert bench._sizes(parse([])) == [1000, 10000, 50000]
    assert bench._sizes(parse(["--quick"])) == [1000]
    assert bench._sizes(parse(["--scale", "300,2_000"])) == [300, 2000]
    assert bench._sizes(parse(["--no-scale"])) == []
    with pytest.raises(SystemExit):
        bench._sizes(parse(["--scale", "ten"]))
    assert bench._server_env(parse(["--server-env", "OMP_NUM_THREADS=1", "--server-env", "RAG_CACHE_SIZE=0"])) == {
        "OMP_NUM_THREADS": "1",
        "RAG_CACHE_SIZE": "0",
    }
    with pytest.raises(SystemExit):
        bench._server_env(parse(["--server-env", "NOVALUE"]))


def test_targets_say_pass_fail_or_not_measured() -> None:
    machine = bench.Machine("cpu", 2, 4.0, "3.11", 2, (0.0, 0.0, 0.0))
    r = bench.Results("cmd", "2026-01-01T00:00:00+00:00", machine, None, 10)
    r.floor = bench.latency_stats([7.0, 7.0])
    r.ask_cold = bench.Timed(bench.latency_stats([10.0, 12.0]), 0)
    r.ask_repeated = bench.Timed(bench.latency_stats([4.0]), 0)
    r.uncached = [bench.Throughput(8, 900, 0, 5.0, 180.0, None)]
    verdicts = {c.target: c.verdict for c in bench.evaluate_targets(r)}
    assert verdicts["/ask p50 ≤ 2× floor"] == "PASS"  # 11 ms against a 7 ms floor
    assert verdicts["/ask p50 ≤ 20 ms"] == "PASS"
    assert verdicts["repeated question p50 ≤ 3 ms"] == "FAIL"
    assert verdicts["≥ 100 answers/s at concurrency 8, 0 errors (uncached)"] == "PASS"
    assert verdicts["server peak RSS ≤ 800 MB"] == "n/a"
    assert verdicts["50k chunks: HNSW recall@10 ≥ 0.95"] == "n/a"


# ---------------------------------------------------------------------------- the scale step


@pytest.fixture(scope="module")
def small_scale_point(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> bench.ScalePoint:
    """The smallest scale run: 300 chunks, HNSW forced by a low threshold, searched in-process only."""
    work = tmp_path_factory.mktemp("scale")
    questions = synthetic_questions(30, seed=11)
    return bench.measure_scale_point(300, work, embedder, questions, ann_threshold=100, serve=False, progress=False)


def test_scale_step_builds_hnsw_and_computes_recall(small_scale_point: bench.ScalePoint) -> None:
    p = small_scale_point
    assert p.chunks == 300 and p.documents == 3 and p.sentences > p.chunks
    assert p.dense_index == "hnsw"
    assert p.recall_at_10 is not None and 0.0 <= p.recall_at_10 <= 1.0
    assert p.sentence_recall_at_10 is not None and 0.0 <= p.sentence_recall_at_10 <= 1.0
    assert p.search_inprocess.n == 10 and p.retrieve_only.n == 10
    assert p.search_http is None and p.server_peak_rss_mb is None  # not served in this test
    assert p.chunks_per_s > 0
    # Chunks, sentences and sections all encoded; only texts repeated within this corpus come from the cache.
    assert p.texts_encoded > p.chunks and p.texts_cached < p.texts_encoded // 10


def test_vector_cache_serves_a_second_build(tmp_path: Path, embedder: Embedder) -> None:
    store: dict[str, np.ndarray] = {}
    first = bench.CachingEmbedder(embedder, store)
    texts = ["The Baltic Water Authority opened a laboratory in Riga.", "Revenue rose by 4.1 per cent."]
    vectors = first.encode(texts)
    assert first.encoded == 2 and first.reused == 0
    np.testing.assert_allclose(vectors, embedder.encode(texts), atol=1e-5)
    bench.save_vector_cache(tmp_path, embedder.model_name, store)
    again = bench.CachingEmbedder(embedder, bench.load_vector_cache(tmp_path, embedder.model_name))
    np.testing.assert_array_equal(again.encode([texts[1], texts[0], texts[1]]), vectors[[1, 0, 1]])
    assert again.encoded == 0 and again.reused == 3
    assert again.encode([]).shape == (0, embedder.dimension)
    assert bench.load_vector_cache(tmp_path / "nothing-here", embedder.model_name) == {}


def test_hnsw_recall_against_exact_search() -> None:
    import faiss

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((500, 16)).astype("float32")
    faiss.normalize_L2(vectors)
    flat = faiss.IndexFlatIP(16)
    flat.add(vectors)
    assert bench.index_recall(flat, vectors[:20]) == 1.0  # exact against exact
    hnsw = faiss.IndexHNSWFlat(16, 4, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = 10
    hnsw.add(vectors)
    assert 0.0 < bench.index_recall(hnsw, vectors[:20]) <= 1.0


def test_reports_are_written(tmp_path: Path, small_scale_point: bench.ScalePoint) -> None:
    machine = bench.Machine("cpu", 2, 4.0, "3.11", 2, (0.5, 0.4, 0.3), (0.6, 0.5, 0.4))
    r = bench.Results("python -m eval.bench --quick", "2026-01-01T00:00:00+00:00", machine, None, 10)
    r.floor = bench.latency_stats([7.0, 8.0])
    r.ask_cold = bench.Timed(bench.latency_stats([10.0, 12.0]), 0)
    r.scale = [small_scale_point]
    r.checks = bench.evaluate_targets(r)
    md_path, json_path = bench.write_reports(r, tmp_path)
    md = md_path.read_text(encoding="utf-8")
    assert "| /ask p50 ≤ 20 ms | 11.0 ms | PASS |" in md
    assert "1.47×" in md  # 11 ms / 7.5 ms floor
    assert "| 300 |" in md and "hnsw" in md
    assert md_path.with_suffix(".png").stat().st_size > 1000
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["scale"][0]["dense_index"] == "hnsw" and data["checks"][1]["verdict"] == "PASS"


@pytest.mark.slow
def test_scale_step_over_http(tmp_path: Path, embedder: Embedder) -> None:
    """The served path: a real `rag serve` subprocess over the synthetic index, its RSS read from /proc."""
    point = bench.measure_scale_point(60, tmp_path, embedder, synthetic_questions(15, seed=12), progress=False)
    assert point.dense_index == "flat" and point.recall_at_10 is None
    assert point.search_http is not None and point.search_http.n == 5
    assert point.server_peak_rss_mb is not None and point.server_peak_rss_mb > 50
    assert point.server_ready_s is not None and point.server_ready_s > 0


# ---------------------------------------------------------------------------- the load generator's HTTP


class _Responder(BaseHTTPRequestHandler):
    """Answers POSTs the three ways HTTP/1.1 delimits a body; /fail answers 500."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert json.loads(body)["question"]
        payload = b'{"answer": "' + b"x" * 300 + b'"}'
        status = 500 if self.path == "/fail" else 200
        self.send_response(status)
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (payload[:100], payload[100:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


@pytest.fixture(scope="module")
def responder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/length", "/chunked", "/close"])
def test_load_generator_reads_every_kind_of_response(responder: str, path: str) -> None:
    bodies: Iterator[dict[str, object]] = itertools.cycle([{"question": "q"}])
    result = bench.throughput(responder, path, bodies, concurrency=3, duration=0.5)
    assert result.errors == 0 and result.requests > 10 and result.latency is not None
    assert result.client_cpu_ms is not None and result.client_cpu_ms > 0 and result.server_cpu_ms is None
    with bench.HttpClient(responder) as client:
        timed = bench.time_sequential(client, path, [{"question": "a"}, {"question": "b"}, {"question": "c"}])
    assert timed.errors == 0 and timed.stats is not None and timed.stats.n == 3


def test_load_generator_counts_errors(responder: str) -> None:
    failing = bench.throughput(responder, "/fail", itertools.cycle([{"question": "q"}]), 2, 0.3)
    assert failing.requests > 0 and failing.errors == failing.requests and failing.latency is None
    dead = f"http://127.0.0.1:{dead_port()}"  # nothing listens there
    assert bench.throughput(dead, "/ask", itertools.cycle([{"question": "q"}]), 2, 0.2).errors > 0
    with bench.HttpClient(dead) as client:
        assert bench.time_sequential(client, "/ask", [{"question": "q"}]).errors == 1
    assert bench.process_cpu_s() is not None and bench.process_cpu_s(os.getpid()) is not None


def test_profile_splits_the_model_from_the_rest(pipeline: Pipeline) -> None:
    questions = ["Who gave the interview?", "How many crimes were averted?", "What is RATS?"]
    profile = bench.profile_ask(pipeline, questions)
    assert profile.requests == 3 and profile.inprocess.n == 3
    assert profile.without_encode is not None and profile.without_encode.n == 3
    assert 0.0 < profile.encode_share < 1.0 and 0.0 < profile.encode_ms < profile.total_ms
    assert "Pipeline.ask" in profile.text
