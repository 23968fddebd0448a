"""The performance benchmark (issue #7): `python -m eval.bench` or `rag bench`.

Starts a real server (`python -m rag.cli serve`) on a free port over a temporary index, or
targets `--endpoint`, and measures over loopback HTTP:

    floor          encoding one question in-process (Embedder.encode, not the cached encode_query)
    /ask, /search  latency p50/p95/p99 over the gold questions, each asked for the first time,
                   and /ask again for the same questions (the server's answer cache)
    throughput     answers/s at concurrency 1, 4, 8, 16: distinct question variants (uncached)
                   and a few questions over and over (cached), with error counts
    start-up       seconds from process start to the first answer, with an index and without
    build          `rag ingest --rebuild` into a temporary index, model load subtracted
    memory         the server's peak RSS (VmHWM)
    scale          synthetic corpora of 1k/10k/50k chunks: build rate, /search latency over HTTP
                   and in-process, server RSS, and HNSW recall@10 against exact search

Every latency is also shown as a multiple of the floor's median. Targets are reported as
PASS/FAIL, never asserted. Reports: JSON, Markdown and a PNG under eval/reports/ (or --out).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import http.client
import itertools
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import numpy as np

from eval.synthetic import synthetic_questions, write_corpus
from rag.embedding import Embedder
from rag.settings import PROJECT_ROOT, get_settings

if TYPE_CHECKING:
    import faiss

    from rag.pipeline import Pipeline

DEFAULT_OUT = Path(__file__).resolve().parent / "reports"
GOLD = Path(__file__).resolve().parent / "gold.jsonl"
CONCURRENCY = (1, 4, 8, 16)
DEFAULT_SCALE = (1000, 10000, 50000)
QUICK_SCALE = (1000,)
RECALL_K = 10
WARM_UP = [
    "What is this interview about?",
    "Tell me something about cooperation between the member states.",
    "Which countries are mentioned?",
    "What happened last year?",
]


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Milliseconds over `n` requests that succeeded."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values; measure at least one request")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_stats(values_ms: Sequence[float]) -> LatencyStats:
    return LatencyStats(
        n=len(values_ms),
        p50=percentile(values_ms, 50),
        p95=percentile(values_ms, 95),
        p99=percentile(values_ms, 99),
        mean=sum(values_ms) / len(values_ms),
        max=max(values_ms),
    )


def ratio(value: float | None, floor: float | None) -> float | None:
    """`value` as a multiple of the floor; None when either is unknown or the floor is not positive."""
    if value is None or floor is None or floor <= 0:
        return None
    return value / floor


def recall_at_k(approximate: np.ndarray, exact: np.ndarray, k: int = RECALL_K) -> float:
    """Mean share of each query's exact top-k ids that the approximate top-k also found."""
    if approximate.shape[0] != exact.shape[0]:
        raise ValueError(f"{approximate.shape[0]} approximate rows but {exact.shape[0]} exact rows")
    shares = []
    for a, e in zip(approximate[:, :k], exact[:, :k], strict=True):
        truth = {int(i) for i in e if i >= 0}
        if truth:
            shares.append(len(truth & {int(i) for i in a if i >= 0}) / len(truth))
    return sum(shares) / len(shares) if shares else 1.0


def index_recall(index: faiss.Index, queries: np.ndarray, k: int = RECALL_K) -> float:
    """Recall@k of `index` against exact inner-product search over the vectors it holds."""
    import faiss

    vectors = index.reconstruct_n(0, index.ntotal)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    k = min(k, index.ntotal)
    _, approx_ids = index.search(queries, k)
    _, exact_ids = exact.search(queries, k)
    return recall_at_k(approx_ids, exact_ids, k)


# ---------------------------------------------------------------------------- machine


@dataclass(frozen=True, slots=True)
class Machine:
    cpu: str
    cores: int
    ram_gb: float
    python: str
    embed_threads: int  # threads per encode (RAG_EMBED_THREADS)
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    embed_backend: str = ""  # the backend the in-process embedder runs (onnx, onnx-int8, torch)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_info(embed_backend: str = "") -> Machine:
    settings = get_settings()
    return Machine(
        cpu=_cpu_model(),
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
        ram_gb=round(_ram_gb(), 1),
        python=platform.python_version(),
        embed_threads=settings.embed_threads,
        load_before=os.getloadavg(),
        embed_backend=embed_backend or settings.embed_backend,
    )


def proc_status_mb(pid: int, field_name: str = "VmHWM") -> float | None:
    """A memory figure of a process from /proc/<pid>/status, in MB (VmHWM: peak RSS)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(index_dir: Path, corpus_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked process: its own index, no LLM, no API key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_INDEX_DIR=str(index_dir),
        RAG_CORPUS_DIR=str(corpus_dir),
        RAG_LLM_BACKEND="none",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class ServerProcess:
    """`python -m rag.cli serve` on a free port, started and stopped by the benchmark."""

    def __init__(self, index_dir: Path, corpus_dir: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            env=server_env(index_dir, corpus_dir, **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_first_answer(self, timeout: float = 600.0) -> float:
        """Seconds from process start to the first 200 from /ask (the server listens once loaded)."""
        deadline = self.started + timeout
        with httpx.Client(base_url=self.url, timeout=60.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the server exited with code {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    if client.post("/ask", json={"question": "Who gave the interview?"}).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {self.log_path}:\n{self.log_tail()}")

    def peak_rss_mb(self) -> float | None:
        return proc_status_mb(self.proc.pid, "VmHWM")

    def rss_mb(self) -> float | None:
        return proc_status_mb(self.proc.pid, "VmRSS")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# ---------------------------------------------------------------------------- HTTP measurements


@dataclass(frozen=True, slots=True)
class Timed:
    stats: LatencyStats | None
    errors: int


class HttpClient:
    """POSTs one at a time over one keep-alive connection, with the standard library's http.client.

    Lighter than httpx on the client side (measured: p50 of a cached /ask 1.17 ms against 1.89 ms
    over loopback), so less of what is timed is the benchmark's own Python.
    """

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            make = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._conn = make(self.host, self.port, timeout=self.timeout)
        return self._conn

    def post(self, path: str, body: dict[str, object]) -> int:
        """The response's status; the body is read and dropped. Raises OSError or HTTPException."""
        conn = self._connection()
        try:
            conn.request("POST", self.prefix + path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()  # a fresh connection for the next request
            raise
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def time_sequential(client: HttpClient, path: str, bodies: Sequence[dict[str, object]]) -> Timed:
    """Each body once, one at a time; latency of the successful ones."""
    latencies: list[float] = []
    errors = 0
    for body in bodies:
        t0 = time.perf_counter()
        try:
            ok = client.post(path, body) == 200
        except (OSError, http.client.HTTPException):
            ok = False
        elapsed = (time.perf_counter() - t0) * 1000
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
    return Timed(latency_stats(latencies) if latencies else None, errors)


@dataclass(frozen=True, slots=True)
class Throughput:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    per_second: float
    latency: LatencyStats | None
    # CPU time per request of the load generator (this process) and of the server (when its pid is known):
    # all on the same cores, so a heavy client makes a server look slower than it is.
    client_cpu_ms: float | None = None
    server_cpu_ms: float | None = None


def process_cpu_s(pid: int | None = None) -> float | None:
    """User + system CPU seconds of a process (this one when `pid` is None), all its threads."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class _Connection:
    """One keep-alive HTTP/1.1 connection of the load generator, on asyncio streams.

    A few lines of HTTP instead of httpx.AsyncClient, which cost ~2 ms of client CPU per request
    (measured at concurrency 8): on a 2-core machine that was a quarter of a core taken from the server.
    """

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.https = parts.hostname or "127.0.0.1", parts.scheme == "https"
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict[str, object]) -> int:
        payload = json.dumps(body).encode()
        request = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        try:
            return await asyncio.wait_for(self._exchange(request), self.timeout)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, request: bytes) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port, ssl=True if self.https else None)
        reader, writer = self._streams
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip().lower() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        if "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await reader.read()  # delimited by the end of the connection
            headers["connection"] = "close"
        if headers.get("connection") == "close":
            self.close()
        return status

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _load(
    url: str, path: str, bodies: Iterator[dict[str, object]], concurrency: int, duration: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    deadline = began + duration

    async def worker() -> None:
        nonlocal errors
        connection = _Connection(url, timeout=60.0)
        try:
            while time.perf_counter() < deadline:
                body = next(bodies)
                t0 = time.perf_counter()
                try:
                    ok = await connection.post(path, body) == 200
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):  # TimeoutError is an OSError
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


def throughput(
    url: str,
    path: str,
    bodies: Iterator[dict[str, object]],
    concurrency: int,
    duration: float,
    server_pid: int | None = None,
) -> Throughput:
    """Answers per second with `concurrency` requests in flight for `duration` seconds."""
    client0, server0 = process_cpu_s(), process_cpu_s(server_pid) if server_pid else None
    latencies, errors, seconds = asyncio.run(_load(url, path, bodies, concurrency, duration))
    client1, server1 = process_cpu_s(), process_cpu_s(server_pid) if server_pid else None
    requests = len(latencies) + errors

    def per_request(a: float | None, b: float | None) -> float | None:
        return (b - a) * 1000 / requests if a is not None and b is not None and requests else None

    return Throughput(
        concurrency,
        requests,
        errors,
        seconds,
        len(latencies) / seconds,
        latency_stats(latencies) if latencies else None,
        per_request(client0, client1),
        per_request(server0, server1),
    )


def variants(questions: Sequence[str], start: int = 0) -> Iterator[dict[str, object]]:
    """Distinct questions ("… (variant 17)"), so neither the answer nor the vector cache helps."""
    for i in itertools.count(start):
        yield {"question": f"{questions[i % len(questions)]} (variant {i})"}


# ---------------------------------------------------------------------------- ingest and floor


@dataclass(frozen=True, slots=True)
class Ingest:
    build_s: float  # what `rag ingest` reports for the build, model load excluded
    model_load_s: float
    wall_s: float  # the whole command, Python start-up and imports included
    chunks: int
    sentences: int


_INGEST_LINE = re.compile(
    r"indexed (\d+) document\(s\), (\d+) chunks, (\d+) sentences in ([\d.]+) s \(model load ([\d.]+) s"
)


def parse_ingest(output: str, wall_s: float) -> Ingest:
    match = _INGEST_LINE.search(output)
    if not match:
        raise RuntimeError(f"`rag ingest` printed no summary line; its output was:\n{output[-2000:]}")
    return Ingest(float(match[4]), float(match[5]), wall_s, int(match[2]), int(match[3]))


def time_ingest(index_dir: Path, corpus_dir: Path, **env: str) -> Ingest:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--rebuild", "--quiet"],
        cwd=PROJECT_ROOT,
        env=server_env(index_dir, corpus_dir, **env),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"`rag ingest --rebuild` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return parse_ingest(done.stdout, wall)


def measure_floor(embedder: Embedder, questions: Sequence[str]) -> LatencyStats:
    """One uncached encode per question, in-process: no HTTP, no retrieval, no answer."""
    for text in WARM_UP:
        embedder.encode([text])
    latencies = []
    for q in questions:
        t0 = time.perf_counter()
        embedder.encode([q])
        latencies.append((time.perf_counter() - t0) * 1000)
    return latency_stats(latencies)


# ---------------------------------------------------------------------------- profile


@dataclass(frozen=True, slots=True)
class Profile:
    requests: int
    total_ms: float
    encode_ms: float
    encode_share: float
    inprocess: LatencyStats  # uncached Pipeline.ask, no profiler running
    text: str = field(repr=False)
    # The same questions again with their vectors cached and the answer cache off: all but the model.
    without_encode: LatencyStats | None = None


def _time_in(frame: object, function: str, file_part: str) -> float:
    """Seconds a pyinstrument frame tree spends inside `function` of a file (outermost calls only)."""
    if getattr(frame, "function", None) == function and file_part in (getattr(frame, "file_path", "") or ""):
        return float(getattr(frame, "time", 0.0))
    return sum(_time_in(child, function, file_part) for child in getattr(frame, "children", ()))


def _timed_asks(pipeline: Pipeline, questions: Sequence[str]) -> list[float]:
    latencies = []
    for q in questions:
        t0 = time.perf_counter()
        pipeline.ask(q)
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def profile_ask(pipeline: Pipeline, questions: Sequence[str]) -> Profile:
    """Uncached Pipeline.ask calls under pyinstrument: the model's share of an answer.

    The latencies come from passes without the profiler, whose sampling inflates pure-Python time
    (measured: ~6 ms of retrieval and answering per question under it, ~0.7 ms without).
    """
    from pyinstrument import Profiler

    for q in WARM_UP:
        pipeline.ask(q)
    timed = [f"{q} (timed {i})" for i, q in enumerate(questions)]
    inprocess = _timed_asks(pipeline, timed)
    # Shares the embedder and so its query-vector cache: the model is not run again.
    without_encode = _timed_asks(pipeline.configured(cache_size=0), timed)
    asked = [f"{q} (profile {i})" for i, q in enumerate(questions)]
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for q in asked:
        pipeline.ask(q)
    profiler.stop()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    total = float(root.time) if root is not None else 0.0
    encode = _time_in(root, "encode", "rag/embedding.py") if root is not None else 0.0
    text = profiler.output_text(color=False, unicode=True, show_all=False)
    return Profile(
        len(asked),
        total * 1000,
        encode * 1000,
        encode / total if total else 0.0,
        latency_stats(inprocess),
        text,
        latency_stats(without_encode),
    )


# ---------------------------------------------------------------------------- scale


DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-bench"


class CachingEmbedder(Embedder):
    """The same model, remembering every text it encodes (by SHA-1) in `store`.

    A synthetic build is model-bound (ONNX on 2 cores: ~83 chunks/s plus ~206 sentences/s, a 10k
    build 225 s, 50k about 19 minutes; torch was ~2.6x slower), and the texts are the same in every
    run (fixed seed), so the vectors are kept on disk between runs. `encoded` counts what the model
    really ran on.
    """

    def __init__(self, inner: Embedder, store: dict[str, np.ndarray]) -> None:
        # Shares the loaded model instead of calling Embedder.__init__, which would load another.
        self.__dict__.update(inner.__dict__)
        self.store = store
        self.encoded = 0
        self.reused = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k_t for k_t in zip(keys, texts, strict=True) if k_t[0] not in self.store))
        if missing:
            fresh = super().encode([t for _, t in missing], batch_size=batch_size, progress=progress)
            self.store.update((k, v) for (k, _), v in zip(missing, fresh, strict=True))
        self.encoded += len(missing)
        self.reused += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.store[k] for k in keys])


def vector_cache_name(embedder: Embedder) -> str:
    """Whose vectors a cache file holds: torch and fp32 ONNX agree to 1e-6 and share one; int8 differs."""
    backend = getattr(embedder, "backend", "torch")
    return embedder.model_name + ("" if backend in ("torch", "onnx") else f"@{backend}")


def _cache_files(cache_dir: Path, model_name: str) -> tuple[Path, Path]:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)
    return cache_dir / f"{slug}.keys.txt", cache_dir / f"{slug}.vectors.npy"


def load_vector_cache(cache_dir: Path | None, model_name: str) -> dict[str, np.ndarray]:
    if cache_dir is None:
        return {}
    keys_path, vectors_path = _cache_files(cache_dir, model_name)
    try:
        keys = keys_path.read_text(encoding="ascii").split()
        vectors = np.load(vectors_path, allow_pickle=False)
    except (OSError, ValueError):
        return {}
    if len(keys) != len(vectors):
        _say(f"warning: vector cache {vectors_path} does not match its keys; ignoring it")
        return {}
    return dict(zip(keys, vectors, strict=True))


def save_vector_cache(cache_dir: Path | None, model_name: str, store: dict[str, np.ndarray]) -> None:
    if cache_dir is None or not store:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    keys_path, vectors_path = _cache_files(cache_dir, model_name)
    tmp_keys, tmp_vectors = keys_path.with_suffix(".tmp"), vectors_path.with_suffix(".tmp.npy")
    tmp_keys.write_text("\n".join(store), encoding="ascii")
    np.save(tmp_vectors, np.stack(list(store.values())), allow_pickle=False)
    os.replace(tmp_keys, keys_path)
    os.replace(tmp_vectors, vectors_path)


@dataclass(frozen=True, slots=True)
class ScalePoint:
    chunks: int
    documents: int
    sentences: int
    corpus_mb: float
    build_s: float
    chunks_per_s: float
    texts_encoded: int  # run through the model in this build; the rest came from the vector cache
    texts_cached: int
    dense_index: str  # "flat" | "hnsw"
    search_http: LatencyStats | None  # /search over loopback HTTP (None: not served)
    search_inprocess: LatencyStats  # Pipeline.search, uncached encode included
    retrieve_only: LatencyStats  # retrieval with the question vector given: the index's own cost
    server_ready_s: float | None
    server_peak_rss_mb: float | None
    recall_at_10: float | None  # chunk index, HNSW only
    sentence_recall_at_10: float | None  # sentence index, HNSW only


def measure_scale_point(
    n_chunks: int,
    workdir: Path,
    embedder: Embedder,
    questions: Sequence[str],
    *,
    ann_threshold: int | None = None,
    serve: bool = True,
    progress: bool = True,
    server_env: dict[str, str] | None = None,
    vector_store: dict[str, np.ndarray] | None = None,
) -> ScalePoint:
    """Build a synthetic corpus of `n_chunks` chunks, index it, and time /search over it.

    `questions` must be distinct and never asked before (three disjoint slices are used).
    `vector_store`: model vectors of texts seen before (see CachingEmbedder); filled as it builds.
    """
    from rag.corpus import load_corpus
    from rag.index import build_index
    from rag.pipeline import Pipeline
    from rag.retrieval import build_query

    corpus_dir = workdir / f"corpus-{n_chunks}"
    index_dir = workdir / f"index-{n_chunks}"
    corpus = write_corpus(corpus_dir, n_chunks)
    overrides: dict[str, object] = {"corpus_dir": corpus_dir, "index_dir": index_dir, "llm_backend": "none"}
    if ann_threshold is not None:
        overrides["ann_threshold"] = ann_threshold
    settings = get_settings(**overrides)
    builder = CachingEmbedder(embedder, {} if vector_store is None else vector_store)
    index, report = build_index(settings, builder, progress=progress)
    third = len(questions) // 3
    http_q, inproc_q, recall_q = questions[:third], questions[third : 2 * third], questions[2 * third :]

    recall = sentence_recall = None
    if index.manifest["dense_index"] == "hnsw":
        vectors = embedder.encode(list(recall_q))
        recall = index_recall(index.dense, vectors)
        sentence_recall = index_recall(index.sentence_dense, vectors)

    pipeline = Pipeline(settings, embedder, index, {d.doc_id: d for d in load_corpus(corpus_dir)})
    pipeline.search(WARM_UP[0])
    inproc = []
    for q in inproc_q:
        t0 = time.perf_counter()
        pipeline.search(q)
        inproc.append((time.perf_counter() - t0) * 1000)
    retrieve = []
    for q in inproc_q:
        query = build_query(q)
        vector = embedder.encode([q])[0]
        t0 = time.perf_counter()
        pipeline.retriever.retrieve_query(query, None, vector)
        retrieve.append((time.perf_counter() - t0) * 1000)
    sentences = int(index.manifest["sentence_count"])
    dense_kind = str(index.manifest["dense_index"])
    del pipeline, index
    gc.collect()

    search_http = ready = peak = None
    if serve:
        extra = {**(server_env or {}), "RAG_ANN_THRESHOLD": str(settings.ann_threshold)}
        server = ServerProcess(index_dir, corpus_dir, workdir / f"server-{n_chunks}.log", **extra)
        try:
            ready = server.wait_first_answer()
            with HttpClient(server.url) as client:
                time_sequential(client, "/search", [{"query": q} for q in WARM_UP])
                search_http = time_sequential(client, "/search", [{"query": q, "top_k": 5} for q in http_q]).stats
            peak = server.peak_rss_mb()
        finally:
            server.stop()
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.rmtree(corpus_dir, ignore_errors=True)
    return ScalePoint(
        chunks=report.chunks,
        documents=report.documents,
        sentences=sentences,
        corpus_mb=round(corpus.bytes / 1e6, 2),
        build_s=report.seconds,
        chunks_per_s=report.chunks / report.seconds if report.seconds else float("nan"),
        texts_encoded=builder.encoded,
        texts_cached=builder.reused,
        dense_index=dense_kind,
        search_http=search_http,
        search_inprocess=latency_stats(inproc),
        retrieve_only=latency_stats(retrieve),
        server_ready_s=ready,
        server_peak_rss_mb=peak,
        recall_at_10=recall,
        sentence_recall_at_10=sentence_recall,
    )


# ---------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Check:
    target: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


@dataclass
class Results:
    command: str
    created: str
    machine: Machine
    endpoint: str | None
    questions: int
    server_env: dict[str, str] = field(default_factory=dict)
    floor: LatencyStats | None = None
    ask_cold: Timed | None = None
    ask_repeated: Timed | None = None
    search_cold: Timed | None = None
    uncached: list[Throughput] = field(default_factory=list)
    cached: list[Throughput] = field(default_factory=list)
    ready_with_index_s: float | None = None
    ready_without_index_s: float | None = None
    ingest: Ingest | None = None
    server_peak_rss_mb: float | None = None
    profile: Profile | None = None
    scale: list[ScalePoint] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0


def _p50(timed: Timed | None) -> float | None:
    return timed.stats.p50 if timed and timed.stats else None


def _check(target: str, value: float | None, unit: str, ok: Callable[[float], bool], fmt: str = "{:.1f}") -> Check:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Check(target, "–", None)
    return Check(target, fmt.format(value) + unit, ok(value))


def evaluate_targets(r: Results) -> list[Check]:
    floor = r.floor.p50 if r.floor else None
    ask = _p50(r.ask_cold)
    at8 = next((t for t in r.uncached if t.concurrency == 8), None)
    big = max((p for p in r.scale if p.chunks >= 50_000), key=lambda p: p.chunks, default=None)
    big_search = (big.search_http or big.search_inprocess).p50 if big else None
    rows = [
        _check("/ask p50 ≤ 2× floor", ratio(ask, floor), "×", lambda v: v <= 2.0, "{:.2f}"),
        _check("/ask p50 ≤ 20 ms", ask, " ms", lambda v: v <= 20.0),
        _check("repeated question p50 ≤ 3 ms", _p50(r.ask_repeated), " ms", lambda v: v <= 3.0, "{:.2f}"),
        Check(
            "≥ 100 answers/s at concurrency 8, 0 errors (uncached)",
            f"{at8.per_second:.1f}/s, {at8.errors} errors" if at8 else "–",
            None if at8 is None else at8.per_second >= 100 and at8.errors == 0,
        ),
        _check("ready ≤ 6 s with an existing index", r.ready_with_index_s, " s", lambda v: v <= 6.0),
        _check(
            "index build ≤ 2 s beyond model load",
            r.ingest.build_s if r.ingest else None,
            " s",
            lambda v: v <= 2.0,
            "{:.2f}",
        ),
        _check("server peak RSS ≤ 800 MB", r.server_peak_rss_mb, " MB", lambda v: v <= 800, "{:.0f}"),
        _check("50k chunks: /search p50 ≤ 30 ms", big_search, " ms", lambda v: v <= 30.0),
        _check(
            "50k chunks: HNSW recall@10 ≥ 0.95", big.recall_at_10 if big else None, "", lambda v: v >= 0.95, "{:.3f}"
        ),
    ]
    return rows


# ---------------------------------------------------------------------------- reports


def _profile_tree(text: str, lines: int = 30) -> list[str]:
    """The call tree of a pyinstrument text report, without its banner."""
    body = text.splitlines()
    start = next((i for i, line in enumerate(body) if line and line[0].isdigit()), len(body))
    return [line.rstrip() for line in body[start : start + lines]]


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def _x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown(r: Results, chart: str | None) -> str:
    m = r.machine
    floor = r.floor.p50 if r.floor else None
    out = [
        f"# Benchmark {r.created}",
        "",
        f"- command: `{r.command}`",
        f"- machine: {m.cpu}, {m.cores} cores, {m.ram_gb} GB RAM, Python {m.python}, "
        f"embedding backend {m.embed_backend or '?'} with {m.embed_threads} thread(s) per encode",
        f"- load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in m.load_before)}, "
        f"after: {' / '.join(f'{x:.2f}' for x in m.load_after)}",
        f"- target: {r.endpoint or 'a server started by the benchmark'}; {r.questions} gold questions; run took {r.seconds:.0f} s",
        f"- extra server environment: {' '.join(f'{k}={v}' for k, v in r.server_env.items()) or 'none'}",
        "",
        "## Targets",
        "",
        *_table(["target", "measured", "verdict"], [[c.target, c.measured, c.verdict] for c in r.checks]),
        "",
        "## Latency (ms; ×floor = multiple of the in-process encode median)",
        "",
    ]
    rows = []
    for label, timed in [
        ("floor: Embedder.encode([q]) in-process", Timed(r.floor, 0) if r.floor else None),
        ("/ask, each question the first time", r.ask_cold),
        ("/ask, the same questions again (answer cache)", r.ask_repeated),
        ("/search, each query the first time", r.search_cold),
    ]:
        s = timed.stats if timed else None
        p50, p95, p99 = (s.p50, s.p95, s.p99) if s else (None, None, None)
        rows.append(
            [
                label,
                _ms(p50),
                _ms(p95),
                _ms(p99),
                _x(ratio(p50, floor)),
                _x(ratio(p95, floor)),
                _x(ratio(p99, floor)),
                str(timed.errors) if timed else "–",
            ]
        )
    out += _table(["", "p50", "p95", "p99", "p50 ×floor", "p95 ×floor", "p99 ×floor", "errors"], rows)
    out += ["", "## Throughput (/ask, answers/s)", ""]
    trows = []
    for u, c in itertools.zip_longest(r.uncached, r.cached):
        conc = (u or c).concurrency
        trows.append(
            [
                str(conc),
                f"{u.per_second:.1f}" if u else "–",
                str(u.errors) if u else "–",
                _ms(u.latency.p50 if u and u.latency else None),
                f"{c.per_second:.1f}" if c else "–",
                str(c.errors) if c else "–",
                _ms(c.latency.p50 if c and c.latency else None),
                _ms(u.server_cpu_ms if u else None),
                _ms(u.client_cpu_ms if u else None),
            ]
        )
    out += _table(
        [
            "concurrency",
            "uncached /s",
            "errors",
            "p50 ms",
            "cached /s",
            "errors",
            "p50 ms",
            "server CPU ms/answer (uncached)",
            "client CPU ms/answer (uncached)",
        ],
        trows,
    )
    out += ["", "## Start-up, build, memory", ""]
    ing = r.ingest
    out += _table(
        ["", "value"],
        [
            ["start to first answer, existing index", f"{r.ready_with_index_s:.2f} s" if r.ready_with_index_s else "–"],
            [
                "start to first answer, no index (builds it)",
                f"{r.ready_without_index_s:.2f} s" if r.ready_without_index_s else "–",
            ],
            [
                "`rag ingest --rebuild`: build (model load excluded)",
                f"{ing.build_s:.2f} s, {ing.chunks} chunks + {ing.sentences} sentences" if ing else "–",
            ],
            [
                "`rag ingest --rebuild`: model load / whole command",
                f"{ing.model_load_s:.2f} s / {ing.wall_s:.2f} s" if ing else "–",
            ],
            [
                "server peak RSS (VmHWM) after the runs above",
                f"{r.server_peak_rss_mb:.0f} MB" if r.server_peak_rss_mb else "–",
            ],
        ],
    )
    if r.profile:
        p = r.profile
        out += [
            "",
            "## Where the time of an uncached answer goes (in-process, pyinstrument)",
            "",
            f"{p.requests} uncached `Pipeline.ask` calls: {p.total_ms:.0f} ms in all, of which the model encode "
            f"{p.encode_ms:.0f} ms ({p.encode_share:.0%}); the rest (retrieval, BM25, answer selection) "
            f"{p.total_ms - p.encode_ms:.0f} ms (the profiler's sampling inflates pure-Python time). "
            f"Without the profiler: in-process ask p50 {p.inprocess.p50:.2f} ms (vs /ask over HTTP "
            f"{_ms(_p50(r.ask_cold))} ms); the same questions with their vectors cached (all but the model) "
            f"p50 {_ms(p.without_encode.p50 if p.without_encode else None)} ms.",
            "",
            "```",
            *_profile_tree(p.text),
            "```",
        ]
    if r.scale:
        out += [
            "",
            "## Scale (synthetic corpus; /search top_k=5, each query distinct)",
            "",
            "HTTP = the benchmark's own server over loopback; in-process = `Pipeline.search` (encode included); "
            "retrieve = retrieval with the question vector given (the index's own cost). "
            "Build: `build_index` in-process; model = texts the model encoded in this run, the rest came from "
            "the vector cache (then build s and chunks/s leave the model out).",
            "",
        ]
        srows = []
        for sp in r.scale:
            srows.append(
                [
                    f"{sp.chunks:,}",
                    f"{sp.sentences:,}",
                    f"{sp.build_s:.1f}",
                    f"{sp.chunks_per_s:.0f}",
                    f"{sp.texts_encoded:,} / {sp.texts_cached:,}",
                    sp.dense_index,
                    _ms(sp.search_http.p50 if sp.search_http else None),
                    _ms(sp.search_http.p95 if sp.search_http else None),
                    _ms(sp.search_inprocess.p50),
                    _ms(sp.search_inprocess.p95),
                    _ms(sp.retrieve_only.p50),
                    f"{sp.server_peak_rss_mb:.0f}" if sp.server_peak_rss_mb else "–",
                    f"{sp.recall_at_10:.3f}" if sp.recall_at_10 is not None else "–",
                    f"{sp.sentence_recall_at_10:.3f}" if sp.sentence_recall_at_10 is not None else "–",
                ]
            )
        out += _table(
            [
                "chunks",
                "sentences",
                "build s",
                "chunks/s",
                "texts model / cache",
                "dense",
                "HTTP p50",
                "HTTP p95",
                "in-proc p50",
                "in-proc p95",
                "retrieve p50",
                "server RSS MB",
                "recall@10",
                "sentence recall@10",
            ],
            srows,
        )
    if chart:
        out += ["", f"![latency and memory against corpus size]({chart})"]
    return "\n".join(out) + "\n"


def scale_chart(points: Sequence[ScalePoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p.chunks for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for label, values in [
        ("/search HTTP p50", [p.search_http.p50 if p.search_http else float("nan") for p in points]),
        ("/search HTTP p95", [p.search_http.p95 if p.search_http else float("nan") for p in points]),
        ("in-process p50", [p.search_inprocess.p50 for p in points]),
        ("retrieve only p50", [p.retrieve_only.p50 for p in points]),
    ]:
        ax1.plot(xs, values, marker="o", label=label)
    ax1.axhline(30, color="grey", linestyle="--", linewidth=1, label="target 30 ms")
    scale = "log" if len(set(xs)) > 1 else "linear"
    ax1.set(xscale=scale, xlabel="chunks", ylabel="ms", title="/search latency")
    ax1.legend(fontsize=8)
    ax2.plot(xs, [p.server_peak_rss_mb or float("nan") for p in points], marker="o", color="tab:red")
    ax2.axhline(800, color="grey", linestyle="--", linewidth=1, label="target 800 MB")
    ax2.set(xscale=scale, xlabel="chunks", ylabel="MB", title="server peak RSS")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(r: Results, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "bench-" + r.created.replace(":", "").replace("-", "")
    chart = None
    if r.scale:
        scale_chart(r.scale, out_dir / f"{stem}.png")
        chart = f"{stem}.png"
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(r, chart), encoding="utf-8")
    data = asdict(r)
    if r.profile:
        (out_dir / f"{stem}-profile.txt").write_text(r.profile.text, encoding="utf-8")
        data["profile"].pop("text", None)
    data["checks"] = [{**asdict(c), "verdict": c.verdict} for c in r.checks]
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return md_path, json_path


# ---------------------------------------------------------------------------- the run


def load_questions(path: Path = GOLD) -> list[str]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                questions.append(str(json.loads(line)["question"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a JSON object with a 'question' field ({exc})") from exc
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _command(argv: Sequence[str]) -> str:
    prog = "rag bench" if Path(sys.argv[0]).name == "rag" else "python -m eval.bench"
    return " ".join([prog, *(shlex.quote(a) for a in argv)])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag bench", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--endpoint",
        metavar="URL",
        help="measure this running server instead of starting one (no start-up or RSS figures)",
    )
    p.add_argument(
        "--quick", action="store_true", help="fewer requests, shorter load phases, scale at 1k only (about 2 minutes)"
    )
    p.add_argument("--scale", metavar="N,N,…", help="synthetic corpus sizes in chunks (default 1000,10000,50000)")
    p.add_argument("--no-scale", action="store_true", help="skip the synthetic-corpus part")
    p.add_argument(
        "--ann-threshold",
        type=int,
        default=None,
        help="chunks above which the scale indexes use HNSW (default: the setting)",
    )
    p.add_argument("--duration", type=float, default=None, help="seconds per throughput level (default 5, quick 2)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default eval/reports)")
    p.add_argument(
        "--vector-cache",
        type=Path,
        default=DEFAULT_CACHE,
        metavar="DIR",
        help=f"keep model vectors of the synthetic texts here between runs (default {DEFAULT_CACHE})",
    )
    p.add_argument(
        "--no-vector-cache", action="store_true", help="encode every synthetic text with the model (a true build)"
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the servers it starts (repeatable), e.g. OMP_NUM_THREADS=1 or RAG_CACHE_SIZE=0",
    )
    return p


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--server-env takes NAME=VALUE, got {item!r}")
        env[name] = value
    return env


def _sizes(args: argparse.Namespace) -> list[int]:
    if args.no_scale:
        return []
    if args.scale:
        try:
            sizes = [int(s.replace("_", "")) for s in args.scale.split(",") if s.strip()]
        except ValueError:
            raise SystemExit(
                f"--scale takes sizes in chunks separated by commas, e.g. 1000,10000; got {args.scale!r}"
            ) from None
        if any(s < 1 for s in sizes):
            raise SystemExit(f"--scale sizes must be positive, got {args.scale!r}")
        return sizes
    return list(QUICK_SCALE if args.quick else DEFAULT_SCALE)


def run(args: argparse.Namespace, argv: Sequence[str]) -> Results:
    from rag.index import load_index_for
    from rag.pipeline import Pipeline

    began = time.perf_counter()
    sizes = _sizes(args)
    env = _server_env(args)
    questions = load_questions()
    duration = args.duration or (2.0 if args.quick else 5.0)
    settings = get_settings()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    r = Results(_command(argv), created, machine_info(), args.endpoint, len(questions), env)
    _say(f"machine: {r.machine.cpu}, {r.machine.cores} cores, {r.machine.ram_gb} GB RAM; load {r.machine.load_before}")
    _say(f"command: {r.command}")
    if r.machine.load_before[0] > r.machine.cores:
        _say(
            f"warning: load average {r.machine.load_before[0]:.1f} > {r.machine.cores} cores: other work competes, timings are pessimistic"
        )

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _say("loading the model in-process (for the floor and the profile)…")
        embedder = Embedder.from_settings(settings)
        r.machine = Machine(**{**asdict(r.machine), "embed_backend": embedder.backend})
        _say(f"embedding backend: {embedder.backend}")
        index_dir = tmp / "index"

        _say("timing `rag ingest --rebuild` into a temporary index…")
        r.ingest = time_ingest(index_dir, settings.corpus_dir, **env)

        server: ServerProcess | None = None
        url = args.endpoint
        try:
            if url is None:
                _say("start-up without an index…")
                cold = ServerProcess(tmp / "empty-index", settings.corpus_dir, tmp / "server-noindex.log", **env)
                try:
                    r.ready_without_index_s = cold.wait_first_answer()
                finally:
                    cold.stop()
                _say("start-up with the index…")
                server = ServerProcess(index_dir, settings.corpus_dir, tmp / "server.log", **env)
                r.ready_with_index_s = server.wait_first_answer()
                url = server.url

            with HttpClient(url) as client:
                time_sequential(client, "/ask", [{"question": q} for q in WARM_UP])
                time_sequential(client, "/search", [{"query": q} for q in WARM_UP])
                _say("floor: in-process encode of each question…")
                r.floor = measure_floor(embedder, questions)
                n = 40 if args.quick else len(questions)
                _say(f"/ask and /search latency over {n} questions…")
                r.ask_cold = time_sequential(client, "/ask", [{"question": q} for q in questions[:n]])
                r.ask_repeated = time_sequential(client, "/ask", [{"question": q} for q in questions[:n]])
                # The model is uncased: a lower-cased query costs the same work, but misses the vector cache /ask filled.
                r.search_cold = time_sequential(
                    client, "/search", [{"query": q.lower(), "top_k": 5} for q in questions[:n]]
                )

            offset = 0
            for conc in CONCURRENCY:
                _say(f"throughput at concurrency {conc} (uncached, then cached), {duration:.0f} s each…")
                pid = server.proc.pid if server is not None else None
                r.uncached.append(throughput(url, "/ask", variants(questions, offset), conc, duration, pid))
                offset += 100_000
                cached: Iterator[dict[str, object]] = itertools.cycle([{"question": q} for q in questions[:16]])
                r.cached.append(throughput(url, "/ask", cached, conc, duration, pid))
            if server is not None:
                r.server_peak_rss_mb = server.peak_rss_mb()
        finally:
            if server is not None:
                server.stop()

        _say("profiling uncached answers in-process…")
        index = load_index_for(index_dir, embedder)
        if index is not None:
            from rag.corpus import load_corpus

            pipeline = Pipeline(
                get_settings(index_dir=index_dir, llm_backend="none"),
                embedder,
                index,
                {d.doc_id: d for d in load_corpus(settings.corpus_dir)},
            )
            r.profile = profile_ask(pipeline, questions)
            del pipeline, index

        if sizes:
            cache_dir = None if args.no_vector_cache else args.vector_cache
            store = load_vector_cache(cache_dir, vector_cache_name(embedder))
            if store:
                _say(f"vector cache: {len(store):,} model vectors of synthetic texts from {cache_dir}")
            per_size = 60 if args.quick else 150
            pool = synthetic_questions(per_size * len(sizes), seed=7)
            for i, size in enumerate(sizes):
                _say(f"scale: {size:,} chunks…")
                part = pool[i * per_size : (i + 1) * per_size]
                point = measure_scale_point(
                    size, tmp, embedder, part, ann_threshold=args.ann_threshold, server_env=env, vector_store=store
                )
                r.scale.append(point)
                if point.texts_encoded:
                    save_vector_cache(cache_dir, vector_cache_name(embedder), store)
                gc.collect()

    r.machine = Machine(**{**asdict(r.machine), "load_after": os.getloadavg()})
    r.seconds = time.perf_counter() - began
    r.checks = evaluate_targets(r)
    return r


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    results = run(args, argv)
    md_path, json_path = write_reports(results, args.out)
    print(md_path.read_text(encoding="utf-8"))
    print(f"reports: {md_path} {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
