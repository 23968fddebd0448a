"""The one retry layer: exponential backoff on transient failures, never past the deadline.

Transient means the request can safely be sent again: the connection could not be made,
or the server said 429 / 5xx. A read timeout is not retried (the server is busy on our
request; asking again only adds load), and a stream is never retried once it has begun.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from rag.errors import LLMError

log = logging.getLogger(__name__)

T = TypeVar("T")

BASE_DELAY = 0.25
MAX_DELAY = 4.0


class TransientLLMError(LLMError):
    """An LLMError worth retrying; `retry_after` is the server's hint in seconds, if any."""

    def __init__(self, message: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based): 0.25, 0.5, 1, … capped at 4 s."""
    delay = min(BASE_DELAY * 2.0**attempt, MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


def call_with_retries(
    call: Callable[[], T],
    *,
    retries: int,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, retried up to `retries` times on TransientLLMError while the deadline allows."""
    attempt = 0
    while True:
        try:
            return call()
        except TransientLLMError as exc:
            if attempt >= retries:
                raise
            delay = backoff_delay(attempt, exc.retry_after)
            if time.monotonic() + delay >= deadline:
                log.warning("LLM call failed (%s); no time left before the deadline to retry", exc)
                raise
            log.info("LLM call failed (%s); retry %d/%d in %.2fs", exc, attempt + 1, retries, delay)
            sleep(delay)
            attempt += 1
