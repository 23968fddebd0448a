"""The guards of issue #6 over real uvicorn servers: body size, encoding, history caps,
control characters, the optional API key and the concurrency limit.

Where a client must misbehave in ways httpx will not (stop half-way through a body, declare
a length it never sends), the request is written by hand on a raw socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.schemas import clean_text
from api.security import BodyGuardMiddleware
from rag.pipeline import Pipeline
from tests.conftest import LiveServer, start_server

API_KEY = "test-key-7f3a9c"
LIMIT = 64 * 1024
QUESTION = "How many terrorist crimes were averted in 2015?"


@pytest.fixture(scope="module")
def server(pipeline: Pipeline) -> Iterator[LiveServer]:
    """Default limits except small history caps (4 turns, 500 characters)."""
    live = start_server(create_app(pipeline=pipeline.configured(max_history_turns=4, max_history_chars=500)))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def keyed(pipeline: Pipeline) -> Iterator[LiveServer]:
    live = start_server(create_app(pipeline=pipeline.configured(api_key=API_KEY)))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def single(pipeline: Pipeline) -> Iterator[LiveServer]:
    """One answer at a time."""
    live = start_server(create_app(pipeline=pipeline.configured(max_concurrency=1)))
    yield live
    live.stop()


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


# ---------------------------------------------------------------------------- raw HTTP/1.1


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@contextmanager
def raw_connection(server: LiveServer, timeout: float = 20.0) -> Iterator[socket.socket]:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def read_response(sock: socket.socket) -> RawResponse:
    """One response with a Content-Length body (what every guard sends), read off the socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response body"
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body[:length])


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# ---------------------------------------------------------------------------- body size


def assert_too_large(status: int, headers: Any, body: Any) -> None:
    assert status == 413
    assert "RAG_MAX_BODY_BYTES" in body["detail"] and str(LIMIT) in body["detail"]
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"


def test_body_over_the_limit_is_413(http: httpx.Client) -> None:
    body = json.dumps({"question": "x" * (LIMIT + 100)}).encode()
    response = http.post("/ask", content=body, headers={"content-type": "application/json"})
    assert_too_large(response.status_code, response.headers, response.json())


def test_body_at_the_limit_is_read(http: httpx.Client) -> None:
    body = json.dumps({"question": "x" * (LIMIT - 20)}).encode().ljust(LIMIT)
    assert len(body) == LIMIT
    response = http.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422  # read and parsed: the question is over RAG_MAX_QUESTION_CHARS
    assert response.json()["message"].startswith("question")


def test_declared_length_over_the_limit_is_refused_without_waiting_for_the_body(server: LiveServer) -> None:
    # The client claims 10 MB and sends none of it: the answer must not wait for the body.
    with raw_connection(server, timeout=10) as sock:
        sock.sendall(request_head("POST", "/ask", {"Content-Type": "application/json", "Content-Length": "10000000"}))
        response = read_response(sock)
    assert_too_large(response.status, response.headers, response.json())
    assert "10000000 bytes" in response.json()["detail"]


def test_chunked_upload_is_stopped_at_the_limit(server: LiveServer) -> None:
    # No Content-Length at all; the upload is cut off by counting, before it is complete.
    with raw_connection(server) as sock:
        sock.sendall(request_head("POST", "/ask", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        sock.sendall(chunk(b'{"question": "' + b"x" * 1000))
        for _ in range(LIMIT // 8192):
            sock.sendall(chunk(b"x" * 8192))
        # Over the limit now; the terminating chunk is never sent.
        response = read_response(sock)
    assert_too_large(response.status, response.headers, response.json())


def test_chunked_upload_with_httpx_is_413(http: httpx.Client) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 8192
        yield b'"}'

    response = http.post("/ask", content=pieces(), headers={"content-type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response.status_code, response.headers, response.json())


def test_understated_content_length_cannot_smuggle_a_larger_body(server: LiveServer) -> None:
    # Claims 100 bytes, sends 70 KiB: uvicorn frames the body by the declared length, so the app
    # sees at most 100 bytes (not JSON: 422) and the rest is a malformed next request (400, close).
    # Whichever comes first, nothing is answered 200 and nothing fails with a 5xx.
    payload = b'{"question": "' + b"x" * (LIMIT + 4000) + b'"}'
    statuses = []
    with raw_connection(server) as sock:
        sock.sendall(request_head("POST", "/ask", {"Content-Type": "application/json", "Content-Length": "100"}))
        sock.sendall(payload)
        try:
            while True:
                statuses.append(read_response(sock).status)
        except (AssertionError, ConnectionError):
            pass  # closed
    assert statuses and all(400 <= status < 500 for status in statuses), statuses


@dataclass
class GuardRun:
    sent: list[dict[str, Any]]  # what the guard sent back
    app_read: int | None  # the body bytes the app read, or None when it never read them all


def through_guard(body_messages: list[bytes], headers: list[tuple[bytes, bytes]], limit: int = 2048) -> GuardRun:
    """BodyGuardMiddleware driven by a stand-in ASGI server (a fake: it delivers exactly the
    body messages given, whatever the headers declare) in front of an app that reads it all."""
    run = GuardRun([], None)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        total, more = 0, True
        while more:
            message = await receive()
            total += len(message.get("body", b""))
            more = message.get("more_body", False)
        run.app_read = total
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    incoming = [
        {"type": "http.request", "body": body, "more_body": i < len(body_messages) - 1}
        for i, body in enumerate(body_messages)
    ]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        run.sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": "/ask", "headers": headers}
    asyncio.run(BodyGuardMiddleware(app, max_body_bytes=limit)(scope, receive, send))
    return run


def test_guard_counts_bytes_and_ignores_an_understated_length() -> None:
    run = through_guard([b"x" * 1500] * 4, [(b"content-length", b"10"), (b"content-type", b"application/json")])
    assert run.sent[0]["status"] == 413
    assert b"RAG_MAX_BODY_BYTES" in run.sent[1]["body"]
    assert run.app_read is None  # the app never got the whole body


def test_guard_decodes_utf8_across_messages() -> None:
    json_type = [(b"content-type", b"application/json; charset=utf-8")]
    text = '{"question": "Что?"}'.encode()
    cut = text.index("Ч".encode()) + 1  # between the two bytes of one character
    assert through_guard([text[:cut], text[cut:]], json_type).app_read == len(text)
    refused = through_guard([text[:cut], b'"}'], json_type)
    assert refused.sent[0]["status"] == 422 and refused.app_read is None
    truncated = through_guard([text[:cut]], json_type)  # the body ends inside a character
    assert truncated.sent[0]["status"] == 422 and b"unexpected end of data" in truncated.sent[1]["body"]
    binary = through_guard([b"\xff\xfe"], [(b"content-type", b"application/octet-stream")])
    assert binary.sent[0]["status"] == 200


# ---------------------------------------------------------------------------- UTF-8


def test_body_that_is_not_utf8_is_422(http: httpx.Client) -> None:
    response = http.post("/ask", content=b'{"question": "caf\xe9?"}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("body: the request body is not valid UTF-8")
    assert "e9 at offset 17" in body["message"]
    assert body["detail"] == [{"loc": ["body"], "msg": body["message"].removeprefix("body: "), "type": "utf8_invalid"}]


def test_utf8_is_checked_across_chunks(http: httpx.Client) -> None:
    text = "Что сказал Сысоев о 2015 годе?".encode()
    split = text.index("Ч".encode()) + 1  # inside the first two-byte character

    def good() -> Iterator[bytes]:
        yield b'{"query": "' + text[:split]
        yield text[split:] + b'"}'

    def truncated() -> Iterator[bytes]:
        yield b'{"query": "' + text[:split]
        yield b'"}'

    headers = {"content-type": "application/json"}
    assert http.post("/search", content=good(), headers=headers).status_code == 200
    response = http.post("/search", content=truncated(), headers=headers)
    assert response.status_code == 422
    assert "not valid UTF-8" in response.json()["message"]


def test_other_content_types_are_not_decoded(http: httpx.Client) -> None:
    response = http.post("/ask", content=b"\xff\xfe", headers={"content-type": "application/octet-stream"})
    assert response.status_code == 422
    assert "UTF-8" not in response.json()["message"]  # FastAPI's own complaint about the body, not the guard's


# ---------------------------------------------------------------------------- history caps


def turns(n: int, size: int) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": "y" * size} for i in range(n)]


@pytest.mark.parametrize("path", ["/ask", "/ask/stream"])
def test_too_many_history_turns_is_422_naming_history(http: httpx.Client, path: str) -> None:
    response = http.post(path, json={"question": QUESTION, "history": turns(5, 10)})
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("history: has 5 turns; the limit is 4 (RAG_MAX_HISTORY_TURNS)")
    assert body["detail"][0]["loc"] == ["body", "history"]


def test_too_much_history_text_is_422_naming_history(http: httpx.Client) -> None:
    response = http.post("/ask", json={"question": QUESTION, "history": turns(4, 130)})
    assert response.status_code == 422
    assert response.json()["message"].startswith(
        "history: has 520 characters; the limit is 500 (RAG_MAX_HISTORY_CHARS)"
    )


def test_history_within_the_caps_is_answered(http: httpx.Client) -> None:
    response = http.post("/ask", json={"question": QUESTION, "history": turns(4, 125)})
    assert response.status_code == 200


def test_top_k_is_bounded(http: httpx.Client) -> None:
    for top_k in (0, 21):
        response = http.post("/ask", json={"question": QUESTION, "top_k": top_k})
        assert response.status_code == 422 and response.json()["message"].startswith("top_k")


# ---------------------------------------------------------------------------- control characters


def test_clean_text_drops_controls_and_keeps_tab_and_newline() -> None:
    assert clean_text("a\tb\nc") == "a\tb\nc"
    assert clean_text("a\r\nb\rc") == "a\nb\nc"
    assert clean_text("x\x00y\x07z\x1b[1m\x7f\x9b") == "xyz[1m"
    assert clean_text("one\x0btwo\x0cthree\x85four\x1ffive") == "one two three four five"
    assert clean_text("Сысоев — ШОС ☃") == "Сысоев — ШОС ☃"


def without_timings(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timings_ms"}


def test_control_characters_are_removed_before_answering(http: httpx.Client) -> None:
    noisy = "\x00How many terrorist\x07 crimes were\r\naverted in\x1b 2015?\x9b"
    clean = "How many terrorist crimes were\naverted in 2015?"
    assert without_timings(http.post("/ask", json={"question": noisy}).json()) == without_timings(
        http.post("/ask", json={"question": clean}).json()
    )
    found = http.post("/search", json={"query": "Xiamen-2015\x00 exercise\x07"}).json()
    assert found == http.post("/search", json={"query": "Xiamen-2015 exercise"}).json()


@pytest.mark.parametrize(("path", "field"), [("/ask", "question"), ("/search", "query")])
def test_only_control_characters_is_422(http: httpx.Client, path: str, field: str) -> None:
    response = http.post(path, json={field: "\x00\x07\x1b\x9b"})
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}: must not be empty")


def test_lone_surrogate_is_422(http: httpx.Client) -> None:
    body = b'{"question": "why \\ud800?"}'  # valid JSON, not valid Unicode
    response = http.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("question")


# ---------------------------------------------------------------------------- API key


def test_answer_endpoints_need_the_key(keyed: LiveServer) -> None:
    with keyed.client() as c:
        response = c.post("/ask", json={"question": QUESTION})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    detail = response.json()["detail"]
    assert "Authorization: Bearer <key>" in detail and "X-API-Key: <key>" in detail
    assert response.headers["connection"] == "close"  # its body is never read


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {API_KEY}"}, {"Authorization": f"bearer  {API_KEY}"}, {"X-API-Key": API_KEY}],
    ids=["bearer", "bearer-lowercase", "x-api-key"],
)
def test_either_header_carries_the_key(keyed: LiveServer, headers: dict[str, str]) -> None:
    with keyed.client(headers=headers) as c:
        assert c.post("/ask", json={"question": QUESTION}).status_code == 200
        assert c.post("/search", json={"query": "Xiamen-2015"}).status_code == 200
        assert c.get("/documents/sysoyev-interview").status_code == 200
        assert c.get("/v1/models").status_code == 200
        assert c.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {API_KEY}"},
        {"X-API-Key": API_KEY[:-1]},
        {"X-API-Key": API_KEY + "0"},
        {"X-API-Key": "ключ".encode()},
    ],
    ids=["wrong-bearer", "basic-scheme", "prefix", "longer", "non-ascii"],
)
def test_a_wrong_key_is_401(keyed: LiveServer, headers: dict[str, Any]) -> None:
    with keyed.client(headers=headers) as c:
        response = c.post("/ask", json={"question": QUESTION})
    assert response.status_code == 401
    if "X-API-Key" in headers or headers["Authorization"].startswith("Bearer"):
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["detail"].startswith("the API key was not accepted")
    else:
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/health", "/", "/static/app.js", "/static/app.css"])
def test_health_and_the_page_are_public(keyed: LiveServer, path: str) -> None:
    with keyed.client() as c:
        assert c.get(path).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/documents/sysoyev-interview"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/ask/stream"),
        ("POST", "/health"),
        ("GET", "/no-such-page"),
    ],
)
def test_everything_else_is_protected(keyed: LiveServer, method: str, path: str) -> None:
    with keyed.client() as c:
        response = c.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert ("connection" in response.headers) == (method == "POST")  # only a body to skip closes the connection


def test_without_the_key_the_body_is_not_read(keyed: LiveServer) -> None:
    with raw_connection(keyed, timeout=10) as sock:
        sock.sendall(request_head("POST", "/ask", {"Content-Type": "application/json", "Content-Length": "50000"}))
        response = read_response(sock)  # answered with none of the 50,000 bytes sent
    assert response.status == 401
    assert response.headers["connection"] == "close"


def test_the_schema_documents_the_key(keyed: LiveServer) -> None:
    with keyed.client(headers={"X-API-Key": API_KEY}) as c:
        schema = c.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"bearerKey", "headerKey"}
    ask = schema["paths"]["/ask"]["post"]
    assert ask["security"] and "401" in ask["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_no_key_configured_means_no_check(http: httpx.Client) -> None:
    assert http.post("/search", json={"query": "Xiamen-2015"}, headers={"X-API-Key": "anything"}).status_code == 200


# ---------------------------------------------------------------------------- concurrency


@dataclass
class HeldRequest:
    sock: socket.socket
    rest: bytes

    def finish(self) -> RawResponse:
        self.sock.sendall(self.rest)
        return read_response(self.sock)


@contextmanager
def held_slot(server: LiveServer, path: str = "/v1/chat/completions") -> Iterator[HeldRequest]:
    """A request whose body is still coming: it holds an answer slot until the body is finished."""
    body = json.dumps({"messages": [{"role": "user", "content": QUESTION}]}).encode()
    with raw_connection(server, timeout=30) as sock:
        sock.sendall(request_head("POST", path, {"Content-Type": "application/json", "Content-Length": str(len(body))}))
        sock.sendall(body[:10])
        yield HeldRequest(sock, body[10:])


def wait_for_status(client: httpx.Client, status: int, timeout: float = 10.0) -> httpx.Response:
    """Polls /search until it answers `status` (the held request reaches the app a moment after its head)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.post("/search", json={"query": "Xiamen-2015"})
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


def test_beyond_the_limit_answers_are_503_at_once(single: LiveServer) -> None:
    with single.client() as c, held_slot(single) as held:
        refused = wait_for_status(c, 503)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "RAG_MAX_CONCURRENCY" in refused.json()["detail"]
        for path, body in [
            ("/ask", {"question": QUESTION}),
            ("/ask/stream", {"question": QUESTION}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION}]}),
        ]:
            started = time.monotonic()
            response = c.post(path, json=body)
            assert response.status_code == 503, path
            assert time.monotonic() - started < 5  # refused, not queued
        assert c.get("/health").status_code == 200  # not an answer endpoint
        assert c.get("/documents/sysoyev-interview").status_code == 200

        answered = held.finish()
        assert answered.status == 200 and "167" in answered.json()["choices"][0]["message"]["content"]

        assert c.post("/ask", json={"question": QUESTION}).status_code == 200  # the slot is free again


def test_a_client_that_goes_away_frees_its_slot(single: LiveServer) -> None:
    with single.client() as c:
        with held_slot(single):
            assert wait_for_status(c, 503).status_code == 503
        # The socket is closed mid-body; the request ends and gives its slot back.
        assert wait_for_status(c, 200).status_code == 200


def test_the_schema_documents_the_guards(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/ask", "/ask/stream", "/search", "/v1/chat/completions"):
        responses = paths[path]["post"]["responses"]
        assert "413" in responses
        # Documented, not required: an unusable index answers 503 without it.
        assert responses["503"]["headers"]["Retry-After"]["required"] is False
    assert "503" not in paths["/health"]["get"]["responses"]
    assert "401" not in paths["/ask"]["post"]["responses"]  # no key configured here
