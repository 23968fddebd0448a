"""The FastAPI application factory. Thin: parse -> call `rag` -> shape the response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", lambda: FileResponse(STATIC_DIR / "index.html"), include_in_schema=False)
    # FastAPI's own /docs and /redoc pages load Swagger/ReDoc from a CDN with inline scripts.
    docs_paths = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    app.add_middleware(SecurityHeadersMiddleware, csp=csp, no_csp_paths=frozenset(p for p in docs_paths if p))
    return app


class SecurityHeadersMiddleware:
    """Security headers on every HTTP response. Pure ASGI: `@app.middleware("http")` (BaseHTTPMiddleware)
    cost about 1 ms a request, half of a cached answer's time in the server (measured, eval/bench.py).
    """

    def __init__(self, app: ASGIApp, csp: str, no_csp_paths: frozenset[str]) -> None:
        self.app = app
        self.csp = csp
        self.no_csp_paths = no_csp_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = scope["path"] not in self.no_csp_paths

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if with_csp:
                    headers.setdefault("Content-Security-Policy", self.csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _validation_model() -> type:
    from api.schemas import ValidationErrorResponse

    return ValidationErrorResponse
