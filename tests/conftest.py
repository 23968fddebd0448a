"""Shared fixtures: the real bundled model (loaded once), a real index in a temporary folder,
and a real uvicorn server on a free 127.0.0.1 port.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from tests.llm_servers import LlamaServer

CORPUS = PROJECT_ROOT / "corpus"
INTERVIEW = CORPUS / "sysoyev-interview.txt"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_DEAD: list[socket.socket] = []


def dead_port() -> int:
    """A port nothing listens on, for the rest of the run: bound but never listening, so a
    connection to it is refused and no server started later can take it (a port `free_port`
    found free can be the one the next `start_server` gets, which then answers with HTTP 404)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _DEAD.append(s)
    return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def interview_text() -> str:
    return INTERVIEW.read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rag")


@pytest.fixture(scope="session")
def settings(session_dir: Path) -> Settings:
    """Settings for the shared pipeline: the real corpus, an index in a temporary folder, no LLM."""
    return get_settings(corpus_dir=CORPUS, index_dir=session_dir / "index", llm_backend="none")


@pytest.fixture(scope="session")
def pipeline(settings: Settings, embedder: Embedder) -> Pipeline:
    return Pipeline.load(settings, embedder=embedder)


def make_corpus(tmp: Path, extra: dict[str, str] | None = None, with_interview: bool = True) -> Path:
    """A corpus folder for a test: the interview (and its metadata) plus any extra documents."""
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    if with_interview:
        for src in CORPUS.iterdir():
            if src.is_file():
                shutil.copy(src, corpus / src.name)
    for name, text in (extra or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: object) -> httpx.Client:
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(app: object, port: int | None = None) -> LiveServer:
    """Serve `app` with a real uvicorn server in a thread; returns once /health answers."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=5)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} exited during start-up")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code in (200, 401):
                return LiveServer(url, server, thread)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.should_exit = True
    raise RuntimeError(f"uvicorn on port {port} did not answer /health within 120 s")


@pytest.fixture(scope="session")
def live_server(pipeline: Pipeline) -> Iterator[LiveServer]:
    """The chatbot behind a real uvicorn server on 127.0.0.1 (default settings, no LLM)."""
    from api.app import create_app

    server = start_server(create_app(pipeline=pipeline))
    yield server
    server.stop()


@pytest.fixture()
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as c:
        yield c


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """A real llama.cpp server (Gemma 3 270M) on a free 127.0.0.1 port, once per session."""
    from tests.llm_servers import start_llama_server

    server = start_llama_server()
    yield server
    server.stop()
