"""Guards in front of the API (issue #6), as pure ASGI middleware, outermost first:

    ApiKeyMiddleware            401 unless the request carries the key (only when RAG_API_KEY is set)
    BodyGuardMiddleware         413 for a body over RAG_MAX_BODY_BYTES, counted as it arrives;
                                422 for a JSON body that is not UTF-8
    ConcurrencyLimitMiddleware  503 + Retry-After beyond RAG_MAX_CONCURRENCY answers in flight
    SettingsContextMiddleware   lets request-body validators see the app's limits

`install_security(app, settings)` adds them all. Pure ASGI (no BaseHTTPMiddleware) so a body
is judged chunk by chunk as it is received, never buffered here, and a refusal is sent
without waiting for the rest of it.
"""

from __future__ import annotations

import codecs
import hmac
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import request_settings
from rag.settings import Settings

# The endpoints that run retrieval and answering: the only ones the concurrency limit counts.
ANSWER_PATHS = frozenset({"/ask", "/ask/stream", "/search", "/v1/chat/completions"})
# Reachable without the API key, by GET or HEAD: the health probe and the chat page's files
# (the page itself asks for the key when an answer endpoint says 401).
PUBLIC_PATHS = frozenset({"/", "/health", "/favicon.ico", "/app.js", "/app.css"})
PUBLIC_PREFIXES = ("/static/",)

KEY_HOWTO = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (the server's key is RAG_API_KEY)"


def install_security(app: Any, settings: Settings) -> None:
    """Adds the guards to a Starlette/FastAPI app. Call before any middleware that should wrap them."""
    # add_middleware puts each new one outside the previous: add innermost first.
    app.add_middleware(SettingsContextMiddleware, settings=settings)
    app.add_middleware(ConcurrencyLimitMiddleware, max_concurrency=settings.max_concurrency)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key)
    document_guards(app, settings)


def document_guards(app: Any, settings: Settings) -> None:
    """Adds the guards' answers (401, 413, 503) and the key's security schemes to the app's OpenAPI schema."""
    build = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema: dict[str, Any] = build()
        if not done:
            add_guard_responses(schema, settings)
            done = True
        return schema

    app.openapi = openapi


def add_guard_responses(schema: dict[str, Any], settings: Settings) -> None:
    detail = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}

    def response(description: str, *headers: str, required: bool = True, body_schema: dict[str, Any] | None = None) -> dict[str, Any]:
        content = {"application/json": {"schema": body_schema or detail}}
        body: dict[str, Any] = {"description": description, "content": content}
        if headers:
            body["headers"] = {name: {"schema": {"type": "string"}, "required": required} for name in headers}
        return body

    openai_error = schema.get("components", {}).get("schemas", {}).get("OpenAIError")
    # On the answer paths 503 comes from the concurrency guard (with Retry-After), or from the
    # pipeline when the index or model is unusable (without it).
    busy_or_unusable = (
        "Too many answers in flight (RAG_MAX_CONCURRENCY): retry after the Retry-After seconds. "
        "The index or the embedding model is unusable; the message says what to fix."
    )

    if settings.api_key:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearerKey"] = {"type": "http", "scheme": "bearer", "description": "The server's RAG_API_KEY"}
        schemes["headerKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault(
                    "413", response(f"The request body is over {settings.max_body_bytes} bytes (RAG_MAX_BODY_BYTES).")
                )
            if path in ANSWER_PATHS:
                body_schema = {"anyOf": [detail, {"$ref": "#/components/schemas/OpenAIError"}]} if path.startswith("/v1/") and openai_error else None
                responses.setdefault(
                    "503",
                    response(
                        busy_or_unusable,
                        "Retry-After",
                        required=False,
                        body_schema=body_schema,
                    ),
                )
            public = method in ("get", "head") and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))
            if settings.api_key and not public:
                operation["security"] = [{"bearerKey": []}, {"headerKey": []}]
                responses.setdefault("401", response("The API key is missing or wrong.", "WWW-Authenticate"))


def route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


async def send_json(
    scope: Scope, receive: Receive, send: Send, status: int, content: object, headers: Mapping[str, str] | None = None
) -> None:
    await JSONResponse(content, status_code=status, headers=dict(headers or {}))(scope, receive, send)


async def refuse_unread(
    scope: Scope, receive: Receive, send: Send, status: int, content: object, headers: dict[str, str]
) -> None:
    """A refusal sent before the app reads the body: with a body on its way, close the connection
    after it, so the server does not go on receiving (and discarding) what nobody will read."""
    request = Headers(scope=scope)
    if request.get("content-length", "0") != "0" or "transfer-encoding" in request:
        headers = {**headers, "Connection": "close"}
    await send_json(scope, receive, send, status, content, headers)


# ---------------------------------------------------------------------------- API key


class ApiKeyMiddleware:
    """Every request but GETs of the public paths needs the key, in either header.

    Compared in constant time (hmac.compare_digest) on the raw header bytes, so a non-ASCII
    header is a wrong key, not an error.
    """

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        if not api_key:
            raise ValueError("ApiKeyMiddleware needs a non-empty key; leave RAG_API_KEY unset to turn the check off")
        self.app = app
        self.key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_public(scope):
            await self.app(scope, receive, send)
            return
        offered = self.offered_keys(scope)
        if any(hmac.compare_digest(key, self.key) for key in offered):
            await self.app(scope, receive, send)
            return
        if offered:
            detail = f"the API key was not accepted; check it and {KEY_HOWTO}"
            challenge = 'Bearer error="invalid_token"'
        else:
            detail = f"this server needs an API key: {KEY_HOWTO}"
            challenge = "Bearer"
        await refuse_unread(scope, receive, send, 401, {"detail": detail}, {"WWW-Authenticate": challenge})

    @staticmethod
    def is_public(scope: Scope) -> bool:
        if scope["method"] not in ("GET", "HEAD"):
            return False
        path = route_path(scope)
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)

    @staticmethod
    def offered_keys(scope: Scope) -> list[bytes]:
        keys: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                keys.append(value.strip())
            elif name == b"authorization":
                scheme, _, token = value.strip().partition(b" ")
                if scheme.lower() == b"bearer":
                    keys.append(token.strip())
        return keys


# ---------------------------------------------------------------------------- body size and encoding


class RequestRejected(Exception):
    """Raised from `receive` when the body breaks a limit; the guard answers for the app."""


class BodyGuardMiddleware:
    """Refuses a body over `max_body_bytes` (413) and a JSON body that is not UTF-8 (422).

    A declared Content-Length over the limit is refused before the app runs. Otherwise the
    bytes are counted as the app receives them, so a chunked upload, or a server that passes
    on more than the declared length, is stopped at the limit too. Either way the body is
    never read in full and the connection is closed after the refusal.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            await self.refuse(scope, receive, send, *self.too_large(declared))
            return
        await BodyGuard(self, scope, receive, send, _is_json(headers)).run()

    def too_large(self, declared: int | None = None) -> tuple[int, dict[str, Any]]:
        size = f"is {declared} bytes" if declared is not None else "is larger than that"
        return 413, {
            "detail": f"the request body may be at most {self.max_body_bytes} bytes (RAG_MAX_BODY_BYTES) and {size}: "
            "send a shorter question or history"
        }

    @staticmethod
    async def refuse(scope: Scope, receive: Receive, send: Send, status: int, content: dict[str, Any]) -> None:
        # The rest of the body is never read: close rather than receive it for nothing.
        await send_json(scope, receive, send, status, content, {"Connection": "close"})


class BodyGuard:
    """One request's pass through BodyGuardMiddleware."""

    def __init__(self, owner: BodyGuardMiddleware, scope: Scope, receive: Receive, send: Send, is_json: bool) -> None:
        self.owner = owner
        self.scope = scope
        self.receive = receive
        self.send = send
        self.received = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")() if is_json else None
        self.rejection: tuple[int, dict[str, Any]] | None = None
        self.response_started = False

    async def run(self) -> None:
        try:
            await self.owner.app(self.scope, self.guarded_receive, self.guarded_send)
        except RequestRejected:
            if self.response_started:
                raise
        if self.rejection is not None and not self.response_started:
            await self.owner.refuse(self.scope, self.receive, self.send, *self.rejection)

    async def guarded_receive(self) -> Message:
        if self.rejection is not None:
            raise RequestRejected(self.rejection[1])
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        body: bytes = message.get("body", b"")
        self.received += len(body)
        if self.received > self.owner.max_body_bytes:
            self.rejection = self.owner.too_large()
        elif self.decoder is not None:
            self.rejection = self.check_utf8(body, final=not message.get("more_body", False))
        if self.rejection is not None:
            raise RequestRejected(self.rejection[1])
        return message

    async def guarded_send(self, message: Message) -> None:
        # Whatever the app makes of a refused body (FastAPI turns the error into a 400), the refusal is the answer.
        if self.rejection is not None:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.send(message)

    def check_utf8(self, body: bytes, final: bool) -> tuple[int, dict[str, Any]] | None:
        assert self.decoder is not None
        pending = len(self.decoder.getstate()[0])
        try:
            self.decoder.decode(body, final=final)
        except UnicodeDecodeError as exc:
            offset = self.received - len(body) - pending + exc.start
            bad = exc.object[exc.start : exc.end].hex(" ")
            msg = (
                f"the request body is not valid UTF-8 (bytes {bad} at offset {offset}: {exc.reason}); "
                "send the JSON encoded as UTF-8"
            )
            return 422, {"message": f"body: {msg}", "detail": [{"loc": ["body"], "msg": msg, "type": "utf8_invalid"}]}
        return None


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _is_json(headers: Headers) -> bool:
    """Whether FastAPI will parse the body as JSON: no content type, application/json or application/*+json."""
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not content_type:
        return True
    main, _, sub = content_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


# ---------------------------------------------------------------------------- concurrency


class ConcurrencyLimitMiddleware:
    """At most `max_concurrency` requests to the answer endpoints at once; the next gets 503 at once.

    Counted from the request head to the last byte of the response (a stream holds its slot
    until it ends). No queue: a client told `Retry-After: 1` comes back, a queue would only
    grow. The counter lives on one event loop, so the check and the increment cannot interleave.
    """

    def __init__(self, app: ASGIApp, max_concurrency: int, paths: frozenset[str] = ANSWER_PATHS) -> None:
        self.app = app
        self.max_concurrency = max_concurrency
        self.paths = paths
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrency:
            detail = (
                f"the server is already answering {self.max_concurrency} requests (RAG_MAX_CONCURRENCY); "
                "retry in a second"
            )
            await refuse_unread(scope, receive, send, 503, {"detail": detail}, {"Retry-After": "1"})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


# ---------------------------------------------------------------------------- settings for validators


class SettingsContextMiddleware:
    """Sets `api.schemas.request_settings` for the request, so body validators apply this app's limits."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = request_settings.set(self.settings)
        try:
            await self.app(scope, receive, send)
        finally:
            request_settings.reset(token)


__all__ = [
    "ANSWER_PATHS",
    "PUBLIC_PATHS",
    "ApiKeyMiddleware",
    "BodyGuardMiddleware",
    "ConcurrencyLimitMiddleware",
    "SettingsContextMiddleware",
    "install_security",
]
