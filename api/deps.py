"""Dependencies shared by the routes; tests can override `get_pipeline`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.pipeline import Pipeline


async def get_pipeline(request: Request) -> Pipeline:
    """Async so FastAPI calls it on the event loop instead of a thread-pool hop per request."""
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
