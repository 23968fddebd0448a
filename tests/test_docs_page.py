"""The API's own docs, /docs (Swagger UI) and /redoc (Redoc), in real headless Chromium against
a real server: they render the API with every file served from here (no CDN: the machine and
the product's offline deployments have no network), under their own Content-Security-Policy.

The browser reaches the server (on 127.0.0.1) by a made-up name, docs.test, so that the pages
behave as for a real host name: both UIs skip some things for 'localhost' and '127.0.0.1'.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright

from api.app import CSP, DOCS_STATIC_URL, create_app
from rag.pipeline import Pipeline
from tests.conftest import LiveServer, free_port
from tests.test_page import CHROMIUM_ARGS, DESKTOP, QUESTION

HOST = "docs.test"
PAGES = ["/docs", "/redoc"]
ASSETS = ["swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)

expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
        )
        yield browser
        browser.close()


@dataclass
class DocsTab:
    """A docs page plus everything it did: each request's URL, console errors, script errors
    and Content-Security-Policy violations (seen by the page itself)."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__cspViolations"))

    def foreign_requests(self) -> list[str]:
        own = (f"{self.origin}/", f"blob:{self.origin}/")
        return [url for url in self.requests if not url.startswith(own)]

    def check_clean(self) -> None:
        assert self.foreign_requests() == [], "every request goes to this server"
        assert self.violations() == []
        assert self.console_errors == []
        assert self.page_errors == []


@pytest.fixture()
def open_docs(browser: Browser, live_server: LiveServer) -> Iterator[Callable[[str], DocsTab]]:
    contexts = []
    origin = live_server.url.replace("127.0.0.1", HOST)

    def open_docs(path: str) -> DocsTab:
        context = browser.new_context(viewport=DESKTOP, base_url=origin)  # type: ignore[arg-type]
        contexts.append(context)
        # Runs before the page's own scripts (and is not subject to its CSP).
        context.add_init_script(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        tab = DocsTab(context.new_page(), origin)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tab.console_errors.append(message.text)

        def on_request(request: Request) -> None:
            tab.requests.append(request.url)

        tab.page.on("request", on_request)
        tab.page.on("console", on_console)
        tab.page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
        tab.page.goto(path)
        return tab

    yield open_docs
    for context in contexts:
        context.close()


# ---------------------------------------------------------------- in the browser


@pytest.mark.browser
def test_swagger_ui_renders_the_api_and_runs_a_request(open_docs: Callable[[str], DocsTab]) -> None:
    tab = open_docs("/docs")
    page = tab.page
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sysoyev interview Q&A")
    ask = page.locator("#operations-answers-ask_ask_post")
    expect(ask.locator(".opblock-summary-method")).to_have_text("POST")
    expect(ask.locator(".opblock-summary-path")).to_have_attribute("data-path", "/ask")

    # "Try it out" sends the example question to this server and shows its answer.
    ask.locator(".opblock-summary-control").click()
    ask.get_by_role("button", name="Try it out").click()
    ask.locator("textarea.body-param__text").fill(f'{{"question": "{QUESTION}"}}')
    with page.expect_response(lambda r: r.url == f"{tab.origin}/ask") as response:
        ask.get_by_role("button", name="Execute").click()
    assert response.value.status == 200
    expect(ask.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(ask.locator(".live-responses-table .highlight-code")).to_contain_text("167 terrorist and extremist crimes")

    assert f"{tab.origin}{DOCS_STATIC_URL}/swagger-ui-bundle.js" in tab.requests
    tab.check_clean()


@pytest.mark.browser
def test_redoc_renders_the_api_and_searches_it(open_docs: Callable[[str], DocsTab]) -> None:
    tab = open_docs("/redoc")
    page = tab.page
    expect(page.locator("h1")).to_contain_text("Sysoyev interview Q&A")
    operation = page.locator("[id='tag/answers/operation/ask_ask_post']")
    expect(operation.locator("h2").first).to_have_text("Ask")
    endpoint = operation.locator("button", has=page.locator("span[type='post']")).first
    expect(endpoint).to_be_visible()
    expect(endpoint).to_contain_text("/ask")

    # The search box runs in Redoc's web worker (a blob: URL, allowed by worker-src).
    page.get_by_placeholder("Search...").fill("question")
    expect(page.locator("[data-role='search:results'] li").first).to_be_visible()
    assert any(url.startswith(f"blob:{tab.origin}/") for url in tab.requests), "the search worker started"

    assert f"{tab.origin}{DOCS_STATIC_URL}/redoc.standalone.js" in tab.requests
    tab.check_clean()


# ---------------------------------------------------------------- over HTTP (no browser needed)


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (d.strip() for d in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


def sha256_source(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


@pytest.mark.parametrize("path", [*PAGES, "/docs/oauth2-redirect"])
def test_docs_pages_load_nothing_from_elsewhere(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE), "no CDN, no Google Fonts"
    assert "https://" not in html and "http://" not in html
    for src in re.findall(r"""<script[^>]*\ssrc=["']([^"']+)""", html):
        assert src.startswith(f"{DOCS_STATIC_URL}/"), src
    if path != "/docs/oauth2-redirect":
        page_js = "swagger-ui-bundle.js" if path == "/docs" else "redoc.standalone.js"
        assert f'src="{DOCS_STATIC_URL}/{page_js}"' in html

    policy = directives(response.headers["content-security-policy"])
    sources = {source for values in policy.values() for source in values}
    allowed_keywords = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}
    hashes = {s for s in sources if s.startswith("'sha256-")}
    assert sources - hashes <= allowed_keywords, "no host in the policy"
    assert policy["default-src"] == ["'none'"]
    # The page's inline scripts, and only those, are allowed: by hash, not 'unsafe-inline'.
    assert policy["script-src"] == ["'self'", *(sha256_source(s) for s in INLINE_SCRIPT.findall(html))]
    assert len(policy["script-src"]) == (1 if path == "/redoc" else 2)
    for name, values in {"object-src": ["'none'"], "frame-ancestors": ["'none'"], "base-uri": ["'none'"]}.items():
        assert policy[name] == values
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("asset", ASSETS)
def test_docs_assets_are_served_from_here(client: httpx.Client, asset: str) -> None:
    response = client.get(f"{DOCS_STATIC_URL}/{asset}")
    assert response.status_code == 200
    assert len(response.content) > 1000
    kind = "image/png" if asset.endswith(".png") else "text/css" if asset.endswith(".css") else "text/javascript"
    assert response.headers["content-type"].startswith(kind)


def test_redoc_bundle_is_served_without_its_external_logo(client: httpx.Client) -> None:
    js = client.get(f"{DOCS_STATIC_URL}/redoc.standalone.js").text
    assert "cdn.redoc.ly" not in js
    assert "API docs by Redocly" in js  # the rest of the bundle as shipped


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/openapi.json"), ("POST", "/docs"), ("GET", "/docs/x")])
def test_other_paths_keep_the_strict_policy(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.headers["content-security-policy"] == CSP


def test_docs_under_a_root_path(pipeline: Pipeline) -> None:
    """Behind a proxy that serves the app under /api (uvicorn --root-path /api), the pages point
    at /api/... and those files answer at the paths the proxy forwards."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pipeline=pipeline), host="127.0.0.1", port=port, root_path="/api", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=30) as c:
            swagger, redoc = c.get("/docs").text, c.get("/redoc").text
            assert "url: '/api/openapi.json'" in swagger
            assert "window.location.origin + '/api/docs/oauth2-redirect'" in swagger
            assert f'href="/api{DOCS_STATIC_URL}/swagger-ui.css"' in swagger
            assert f'src="/api{DOCS_STATIC_URL}/swagger-ui-bundle.js"' in swagger
            assert 'spec-url="/api/openapi.json"' in redoc
            assert f'src="/api{DOCS_STATIC_URL}/redoc.standalone.js"' in redoc
            for asset in ASSETS:
                assert c.get(f"{DOCS_STATIC_URL}/{asset}").status_code == 200
            assert c.get("/openapi.json").json()["servers"] == [{"url": "/api"}]
    finally:
        server.should_exit = True
        thread.join(timeout=15)

