"""Load test: N questions at concurrency C against a running server, every answer checked.

    python -m eval.load --requests 2000 --concurrency 16 --endpoint http://127.0.0.1:8000

Sends the gold questions (round robin) to POST /ask from C concurrent connections and
checks each reply: status 200, and every citation quotes its document exactly
(`quote == text[start:end]`, the document fetched once from /documents/{doc_id}) with a
matching `[n]` in the answer. Prints throughput and latency percentiles; exits 1 on any
error or broken citation.

The server caches answers (RAG_CACHE_SIZE): once every gold question has been asked, the
rest are cache hits. Start the server with RAG_CACHE_SIZE=0 to measure the uncached path.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

MARKER = re.compile(r"\[(\d+)\]")
MAX_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class LoadReport:
    requests: int
    concurrency: int
    seconds: float
    ok: int  # 200 with every citation exact
    errors: int  # transport failures and non-200 replies
    broken: int  # 200 replies whose citations do not quote the document
    statuses: dict[int, int]
    latencies_ms: tuple[float, ...] = field(repr=False)
    samples: tuple[str, ...]  # the first few problems, for the message

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies of all requests, in ms."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
        return ordered[rank - 1]

    def summary(self) -> str:
        lines = [
            f"{self.requests} requests at concurrency {self.concurrency} in {self.seconds:.1f} s: "
            f"{self.throughput:.1f} requests/s",
            f"latency ms: p50 {self.percentile(50):.1f}  p95 {self.percentile(95):.1f}  "
            f"p99 {self.percentile(99):.1f}  max {self.percentile(100):.1f}",
            f"ok {self.ok}, errors {self.errors}, broken citations {self.broken}, "
            f"statuses {dict(sorted(self.statuses.items()))}",
            *(f"  {sample}" for sample in self.samples),
        ]
        return "\n".join(lines)


def ask_url(endpoint: str) -> tuple[str, str]:
    """(base URL, /ask URL) from either of them."""
    endpoint = endpoint.rstrip("/")
    if endpoint.endswith("/ask"):
        return endpoint.removesuffix("/ask"), endpoint
    return endpoint, f"{endpoint}/ask"


def gold_questions() -> list[str]:
    from eval.gold import load_gold

    return [item.question for item in load_gold()]


def citation_problem(answer: dict[str, Any], texts: dict[str, str]) -> str | None:
    """What is wrong with an answer's citations, or None."""
    citations = answer.get("citations")
    if not isinstance(citations, list) or not isinstance(answer.get("answer"), str):
        return f"not an answer: {str(answer)[:200]}"
    for c in citations:
        text = texts[c["doc_id"]]
        if c["quote"] != text[c["start"] : c["end"]]:
            return f"citation [{c['n']}] {c['doc_id']} {c['start']}-{c['end']} does not quote the document"
    markers = {int(n) for n in MARKER.findall(answer["answer"])}
    if markers != {c["n"] for c in citations}:
        return f"markers {sorted(markers)} do not match citations {[c['n'] for c in citations]}"
    return None


class Documents:
    """Each cited document's text, fetched once however many requests cite it at the same time."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client = client
        self.base = base
        self.pending: dict[str, asyncio.Task[str]] = {}

    async def texts_for(self, answer: dict[str, Any]) -> dict[str, str]:
        ids = {c["doc_id"] for c in answer.get("citations") or []}
        return {doc_id: await self.text(doc_id) for doc_id in ids}

    async def text(self, doc_id: str) -> str:
        if doc_id not in self.pending:
            self.pending[doc_id] = asyncio.ensure_future(self.fetch(doc_id))
        return await self.pending[doc_id]

    async def fetch(self, doc_id: str) -> str:
        response = await self.client.get(f"{self.base}/documents/{doc_id}")
        response.raise_for_status()
        return str(response.json()["text"])


async def run_load_async(
    endpoint: str,
    requests: int,
    concurrency: int,
    questions: Sequence[str] | None = None,
    api_key: str = "",
    timeout: float = 120.0,
) -> LoadReport:
    if requests < 1 or concurrency < 1:
        raise ValueError(f"requests and concurrency must be at least 1 (got {requests} and {concurrency})")
    questions = list(questions or gold_questions())
    base, url = ask_url(endpoint)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    samples: list[str] = []
    counts = Counter[str]()
    next_index = iter(range(requests))

    def problem(kind: str, message: str) -> None:
        counts[kind] += 1
        if len(samples) < MAX_SAMPLES:
            samples.append(message)

    async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:
        documents = Documents(client, base)

        async def worker() -> None:
            for i in next_index:  # shared: each index is taken by one worker
                question = questions[i % len(questions)]
                began = time.perf_counter()
                try:
                    response = await client.post(url, json={"question": question})
                except httpx.HTTPError as exc:
                    latencies.append((time.perf_counter() - began) * 1000)
                    problem("errors", f"request {i}: {type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status_code] += 1
                if response.status_code != 200:
                    problem("errors", f"request {i}: {response.status_code} {response.text[:200]}")
                    continue
                try:
                    body = response.json()
                    found = citation_problem(body, await documents.texts_for(body))
                except (ValueError, httpx.HTTPError, KeyError, TypeError) as exc:
                    found = f"could not check the answer: {type(exc).__name__}: {exc}"
                if found:
                    problem("broken", f"request {i} ({question!r}): {found}")
                else:
                    counts["ok"] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began

    return LoadReport(
        requests=requests,
        concurrency=concurrency,
        seconds=seconds,
        ok=counts["ok"],
        errors=counts["errors"],
        broken=counts["broken"],
        statuses=dict(statuses),
        latencies_ms=tuple(latencies),
        samples=tuple(samples),
    )


def run_load(
    endpoint: str,
    requests: int,
    concurrency: int,
    questions: Sequence[str] | None = None,
    api_key: str = "",
    timeout: float = 120.0,
) -> LoadReport:
    """Sends `requests` questions to `endpoint` (base or /ask URL) from `concurrency` connections."""
    return asyncio.run(run_load_async(endpoint, requests, concurrency, questions, api_key, timeout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000", help="the server's base URL or its /ask URL")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--api-key", default=os.environ.get("RAG_API_KEY", ""), help="default: $RAG_API_KEY")
    args = parser.parse_args(argv)
    try:
        report = run_load(args.endpoint, args.requests, args.concurrency, api_key=args.api_key, timeout=args.timeout)
    except ValueError as exc:
        parser.error(str(exc))
    print(report.summary())
    return 0 if report.ok == report.requests else 1


if __name__ == "__main__":
    sys.exit(main())
