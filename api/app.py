"""The FastAPI application factory. Thin: parse -> call `rag` -> shape the response."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import (
    ConfigError,
    DocumentNotFoundError,
    IndexCorruptError,
    IndexMismatchError,
    InputError,
    RagError,
)
from rag.pipeline import Pipeline
from rag.settings import Settings, get_settings

log = logging.getLogger("api")

STATIC_DIR = Path(__file__).parent / "static"

# The chat page's policy, and the default for every response: nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# /docs (Swagger UI 5) and /redoc (Redoc 2), with their JavaScript and CSS served from here
# (the fastapi-offline package's copies), never a CDN: the API's users deploy offline.
DOCS_STATIC_URL = "/static/docs"
# The docs pages' own policy (see `docs_csp`): still nothing from another host, but the inline
# script a page carries (allowed by its hash), the inline styles both UIs set, the data: images
# in their CSS and Redoc's search worker (a blob: URL). Each source is needed: tests/test_docs_page.py.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src blob:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
# The one thing either bundle loads from elsewhere by itself: the logo beside Redoc's "API docs by
# Redocly" link. Served without it, Redoc hides the <img> (its onError), as it does offline.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)

# Domain errors -> HTTP status, in one place.
ERROR_STATUS: dict[type[RagError], int] = {
    InputError: 422,
    DocumentNotFoundError: 404,
    IndexMismatchError: 503,
    IndexCorruptError: 503,
    ConfigError: 503,
}


def _field_of(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]  # the location, not the field
    return ".".join(parts) or "body"


def validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    detail = [
        {"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    message = "; ".join(f"{_field_of(d['loc'])}: {d['msg']}" for d in detail) or "invalid request"
    return JSONResponse(status_code=422, content={"message": message, "detail": detail})


def invalid_field(field: str, msg: str) -> JSONResponse:
    return validation_response([{"loc": ["body", field], "msg": msg, "type": "value_error"}])


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app. The pipeline is loaded once, at start-up, unless one is given."""
    settings = settings or (pipeline.settings if pipeline else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "pipeline", None) is None:
            from starlette.concurrency import run_in_threadpool

            app.state.pipeline = await run_in_threadpool(Pipeline.load, settings)
        yield

    app = FastAPI(
        title="Sysoyev interview Q&A",
        version="1.0.0",
        summary="Answers questions about the 2016 TASS interview with Yevgeniy Sysoyev (SCO RATS), "
        "citing the exact words of the source.",
        lifespan=lifespan,
        responses={422: {"model": _validation_model()}},
        docs_url=None,  # /docs and /redoc are added below, with their assets served from here
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    # Body size, API key, concurrency limit (issue #6); added first so later middleware wraps them.
    from api.security import install_security

    install_security(app, settings)

    @app.exception_handler(RequestValidationError)
    async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        for e in errors:
            if e.get("type") == "json_invalid":
                e["loc"] = ("body",)
                e["msg"] = f"request body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')})"
            e["msg"] = str(e.get("msg", "")).removeprefix("Value error, ")
        return validation_response(errors)

    @app.exception_handler(RagError)
    async def _on_rag_error(_: Request, exc: RagError) -> JSONResponse:
        status = next((code for cls, code in ERROR_STATUS.items() if isinstance(exc, cls)), 500)
        if isinstance(exc, InputError):
            field = str(exc).split(" ", 1)[0]
            return invalid_field(field, str(exc))
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)

    from api.routes import router

    app.include_router(router)

    # The chat page at `/`, its streaming endpoint and the OpenAI-compatible API (issue #5).
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    from api.openai_compat import CHAT_STREAM
    from api.openai_compat import router as openai_router
    from api.schemas import ASK_STREAM, document_schemas
    from api.streaming import router as streaming_router

    app.include_router(streaming_router)
    app.include_router(openai_router)
    document_schemas(app, [*ASK_STREAM.models, *CHAT_STREAM.models])  # the streams' events
    add_docs(app)  # mounts /static/docs, so before /static (the first matching mount wins)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", lambda: FileResponse(STATIC_DIR / "index.html"), include_in_schema=False)

    app.add_middleware(SecurityHeadersMiddleware, csp=CSP)
    return app


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Swagger UI at `docs_url` and Redoc at `redoc_url`, as FastAPI's own pages but with their
    assets from the fastapi-offline package, mounted at DOCS_STATIC_URL, and their own CSP."""
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"

    async def redoc_bundle(_: Request) -> Response:
        return Response(_redoc_bundle(assets), media_type="text/javascript; charset=utf-8")

    # Added before the mount, so it answers for the package's file of that name.
    app.add_route(f"{DOCS_STATIC_URL}/redoc.standalone.js", redoc_bundle, include_in_schema=False)
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=assets), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    def root_of(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")  # as FastAPI's own pages do

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = root_of(request)
        return docs_csp(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{DOCS_STATIC_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{DOCS_STATIC_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
                oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    async def redoc(request: Request) -> HTMLResponse:
        root = root_of(request)
        return docs_csp(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{DOCS_STATIC_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
                with_google_fonts=False,
            )
        )

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        return docs_csp(get_swagger_ui_oauth2_redirect_html())

    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_route(redoc_url, redoc, include_in_schema=False)
    if oauth2_redirect_url:
        app.add_route(oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False)


@functools.cache
def _redoc_bundle(assets: Path) -> bytes:
    """Redoc's bundle without its external logo, read on first request (not at every app start)."""
    return (assets / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"")


def docs_csp(page: HTMLResponse) -> HTMLResponse:
    """Gives a docs page DOCS_CSP, allowing exactly the inline scripts it carries by their sha256
    (not 'unsafe-inline': an injected script would not match). SecurityHeadersMiddleware keeps it."""
    html = bytes(page.body).decode("utf-8")
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = DOCS_CSP.format(scripts=hashes)
    return page


class SecurityHeadersMiddleware:
    """Security headers on every HTTP response; `csp` unless the response set its own (the docs
    pages, `docs_csp`). Pure ASGI: `@app.middleware("http")` (BaseHTTPMiddleware) cost about
    1 ms a request, half of a cached answer's time in the server (measured, eval/bench.py).
    """

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _validation_model() -> type:
    from api.schemas import ValidationErrorResponse

    return ValidationErrorResponse
