"""HTTP plumbing shared by the backends: timeouts bounded by the deadline, retries, and the
single place where httpx exceptions and bad statuses become `LLMError`s.

The deadline is enforced two ways: every connect/read waits at most the time left when the
request starts, and the body is abandoned as soon as a read returns after the deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any, TypedDict

import httpx

from rag.errors import ConfigError, LLMError
from rag.llm.retry import TransientLLMError, call_with_retries
from rag.settings import Settings

MAX_BODY_BYTES = 8 * 1024 * 1024
ERROR_BODY_CHARS = 300


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; ConfigError if it is not an http(s) URL."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid RAG_LLM_BASE_URL {base_url!r}: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"invalid RAG_LLM_BASE_URL {base_url!r}: expected e.g. http://127.0.0.1:8080/v1")
    return base_url.rstrip("/")


def map_httpx_error(exc: httpx.HTTPError, url: str, *, mid_stream: bool = False) -> LLMError:
    """The LLMError for an httpx failure (the caller raises it `from exc`)."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return TransientLLMError(
            f"could not connect to the LLM server at {url}: {exc or type(exc).__name__}; "
            "is it running? Check RAG_LLM_BASE_URL",
            reason="connection_error",
        )
    if isinstance(exc, httpx.TimeoutException):
        return LLMError(
            f"the LLM server at {url} did not answer in time ({type(exc).__name__}); "
            "raise RAG_LLM_READ_TIMEOUT / RAG_LLM_DEADLINE or use a faster model",
            reason="timeout",
        )
    if mid_stream and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return LLMError(
            f"the LLM server at {url} broke off its reply: {exc or type(exc).__name__}",
            reason="stream_interrupted",
        )
    if isinstance(exc, httpx.DecodingError):
        return LLMError(f"undecodable reply from the LLM server at {url}: {exc}", "malformed_response")
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
        return TransientLLMError(
            f"connection to the LLM server at {url} failed: {exc or type(exc).__name__}",
            reason="connection_error",
        )
    return LLMError(f"request to the LLM server at {url} failed: {exc}", reason="connection_error")


def _status_error(response: httpx.Response, body: str) -> LLMError:
    status = response.status_code
    message = f"the LLM server at {response.request.url} answered HTTP {status}: {body[:ERROR_BODY_CHARS]!r}"
    if status in (401, 403):
        message += "; check RAG_LLM_API_KEY"
    elif status == 404:
        message += "; check RAG_LLM_BASE_URL and RAG_LLM_MODEL"
    if status == 429 or status >= 500:
        return TransientLLMError(message, "http_error", _retry_after(response))
    return LLMError(message, reason="http_error")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None  # absent, or an HTTP date: use our own backoff


def _timeout(connect: float, read: float, deadline: float) -> httpx.Timeout:
    left = deadline - time.monotonic()
    if left <= 0:
        raise LLMError("the LLM deadline passed before the request was sent", reason="timeout")
    return httpx.Timeout(
        connect=min(connect, left), read=min(read, left), write=min(read, left), pool=min(connect, left)
    )


def _past(deadline: float, url: str) -> None:
    if time.monotonic() > deadline:
        raise LLMError(
            f"the LLM server at {url} did not finish before the deadline; raise RAG_LLM_DEADLINE",
            reason="timeout",
        )


class JsonHttp:
    """POSTs JSON to one server and reads back JSON or streamed lines, within a deadline."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        # trust_env=False: a proxy from the environment must not sit between us and a local server.
        self._client = httpx.Client(headers=dict(headers or {}), transport=transport, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def post_json(self, path: str, body: Mapping[str, Any], *, deadline: float) -> Any:
        """The parsed JSON reply; retried on transient failures."""
        url = self.base_url + path

        def attempt() -> Any:
            response = self._open(url, body, deadline)
            try:
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw += chunk
                    _past(deadline, url)
                    if len(raw) > MAX_BODY_BYTES:
                        raise LLMError(f"reply from {url} is larger than {MAX_BODY_BYTES} bytes", "malformed_response")
            except httpx.HTTPError as exc:
                raise map_httpx_error(exc, url) from exc
            finally:
                response.close()
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise LLMError(
                    f"the LLM server at {url} sent invalid JSON: {bytes(raw[:ERROR_BODY_CHARS])!r}",
                    reason="malformed_response",
                ) from exc

        return call_with_retries(attempt, retries=self.retries, deadline=deadline)

    def post_lines(self, path: str, body: Mapping[str, Any], *, deadline: float) -> Iterator[str]:
        """The reply body line by line as it arrives; retried only until the reply has begun."""
        url = self.base_url + path
        response = call_with_retries(lambda: self._open(url, body, deadline), retries=self.retries, deadline=deadline)
        try:
            for line in response.iter_lines():
                _past(deadline, url)
                yield line
        except httpx.HTTPError as exc:
            raise map_httpx_error(exc, url, mid_stream=True) from exc
        finally:
            response.close()

    def _open(self, url: str, body: Mapping[str, Any], deadline: float) -> httpx.Response:
        """A response with a 2xx status whose body is still to be read."""
        request = self._client.build_request(
            "POST", url, json=body, timeout=_timeout(self.connect_timeout, self.read_timeout, deadline)
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise map_httpx_error(exc, url) from exc
        if response.is_success:
            return response
        try:
            text = response.read().decode("utf-8", "replace")
        except httpx.HTTPError:
            text = ""
        finally:
            response.close()
        raise _status_error(response, text)


class ClientOptions(TypedDict, total=False):
    """What every HTTP chat client may be given besides its URL and model (all have defaults)."""

    connect_timeout: float
    read_timeout: float
    retries: int
    temperature: float
    transport: httpx.BaseTransport | None


class HttpChatBackend:
    """What the HTTP chat clients share: the model, its temperature and one pooled JSON client."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        retries: int = 2,
        temperature: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self.temperature = temperature
        self.http = JsonHttp(
            base_url,
            headers=headers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            transport=transport,
        )

    @staticmethod
    def options(settings: Settings) -> ClientOptions:
        """The options every client takes from settings."""
        return ClientOptions(
            connect_timeout=settings.llm_connect_timeout,
            read_timeout=settings.llm_read_timeout,
            retries=settings.llm_retries,
            temperature=settings.llm_temperature,
        )

    def close(self) -> None:
        self.http.close()
