"""HTTP API over `rag`: `create_app(settings=None, pipeline=None)`."""

from api.app import create_app

__all__ = ["create_app"]
