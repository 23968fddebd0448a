"""The chat page in real headless Chromium against a real server: streaming answers, citation
panel, history, refusals, hostile documents, API-key prompt, phone width, keyboard use."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Locator, Page, expect, sync_playwright

from api.app import STATIC_DIR, create_app
from rag.embedding import Embedder
from rag.llm import ChatMessage
from rag.llm.prompt import SYSTEM_PROMPT
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, get_settings
from tests.conftest import ARTIFACTS, LiveServer, dead_port, make_corpus, start_server
from tests.test_stream import ScriptedChatBackend

QUESTION = "How many terrorist crimes were averted in 2015?"
TOPIC = "What was the Xiaomen-2015 exercise?"
FOLLOW_UP = "What was its objective?"
OFF_TOPIC = "What is the best recipe for lasagna?"
README_SCREENSHOT = PROJECT_ROOT / "tests" / "screenshots" / "chat-desktop.png"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page plus what it reported: script errors, console errors, dialogs."""

    page: Page
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def check_clean(self, allow: Callable[[str], bool] = lambda _: False) -> None:
        assert self.page_errors == []
        assert self.dialogs == []
        assert [m for m in self.console_errors if not allow(m)] == []


@pytest.fixture()
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    contexts = []

    def open_tab(server: LiveServer, viewport: dict[str, int] = DESKTOP) -> Tab:
        context = browser.new_context(viewport=viewport, base_url=server.url)  # type: ignore[arg-type]
        contexts.append(context)
        tab = Tab(context.new_page())

        def on_dialog(dialog: Dialog) -> None:
            tab.dialogs.append(dialog.message)
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tab.console_errors.append(message.text)

        tab.page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
        tab.page.on("console", on_console)
        tab.page.on("dialog", on_dialog)
        tab.page.goto("/")
        return tab

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture()
def start() -> Iterator[Callable[..., LiveServer]]:
    """Starts extra servers for one test (a hostile corpus, an unreachable LLM, an API key)."""
    servers: list[LiveServer] = []

    def start(app: FastAPI) -> LiveServer:
        servers.append(start_server(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ask(page: Page, question: str) -> Locator:
    """Types the question, presses Enter, and returns the finished answer's list item."""
    box = page.locator("#question")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".message--assistant").last
    expect(answer).not_to_have_class(re.compile(r"\bis-pending\b"))
    return answer


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


# ---------------------------------------------------------------- the main path


@pytest.mark.browser
def test_answer_with_citation_opens_the_highlighted_passage(
    open_tab: Callable[..., Tab], live_server: LiveServer, client: httpx.Client
) -> None:
    expected = client.post("/ask", json={"question": QUESTION}).json()
    [citation] = expected["citations"]
    document = client.get(f"/documents/{citation['doc_id']}").json()
    tab = open_tab(live_server)
    page = tab.page

    answer = ask(page, QUESTION)
    expect(answer.locator(".answer")).to_contain_text("167 terrorist and extremist crimes")
    expect(answer).not_to_have_class(re.compile("message--refusal"))
    expect(answer.locator(".backend")).to_contain_text("extractive")
    cite = answer.locator(".answer .cite")
    expect(cite).to_have_count(1)
    assert cite.text_content() == "[1]"
    expect(cite).to_have_attribute("aria-label", re.compile("Source 1"))
    expect(answer.locator(".source")).to_have_count(1)
    expect(answer.locator(".source__quote")).to_have_text(citation["quote"])

    cite.click()
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    mark = panel.locator("#panel-passage mark")
    expect(mark).to_have_count(1)
    assert mark.text_content() == citation["quote"] == document["text"][citation["start"] : citation["end"]]
    # The mark sits inside its whole paragraph, and the interviewer's question is shown above.
    passage = panel.locator("#panel-passage").text_content() or ""
    paragraph_start = document["text"].rfind("\n\n", 0, citation["start"]) + 2
    assert passage.startswith(document["text"][paragraph_start : citation["start"]])
    assert len(passage) > len(citation["quote"])
    [section] = [s for s in document["sections"] if s["start"] <= citation["start"] < s["end"]]
    expect(panel.locator("#panel-question-text")).to_have_text(section["question"])
    expect(panel.locator("#panel-title")).to_have_text(document["title"])
    shoot(page, "chat-desktop-panel.png")

    # The whole interview, still highlighted, and back.
    panel.locator("#panel-toggle").click()
    assert panel.locator("#panel-passage").text_content() == document["text"]
    assert mark.text_content() == citation["quote"]
    panel.locator("#panel-toggle").click()

    # Escape closes the panel and gives focus back to the marker that opened it.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(cite).to_be_focused()

    # The numbered source list opens the same passage.
    answer.locator(".source").click()
    expect(panel).to_be_visible()
    assert panel.locator("#panel-passage mark").text_content() == citation["quote"]
    panel.locator("#panel-close").click()
    expect(panel).to_be_hidden()
    tab.check_clean()


@pytest.mark.browser
def test_the_first_example_asks_what_the_interview_is_about(
    open_tab: Callable[..., Tab], live_server: LiveServer, client: httpx.Client
) -> None:
    tab = open_tab(live_server)
    page = tab.page
    example = page.locator(".example").first
    question = example.text_content() or ""
    expected = client.post("/ask", json={"question": question}).json()
    document = client.get(f"/documents/{expected['citations'][0]['doc_id']}").json()
    headline = document["text"].splitlines()[0]
    assert expected["answerable"] and expected["citations"][0]["quote"] == headline
    example.click()
    answer = page.locator(".message--assistant").last
    expect(answer).not_to_have_class(re.compile(r"\bis-pending\b"))
    expect(answer.locator(".answer .cite")).to_have_count(len(expected["citations"]))
    expect(answer.locator(".source__quote").first).to_have_text(headline)
    # The headline is cited from above the first question: the passage opens with no question shown.
    answer.locator(".answer .cite").first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator("#panel-passage mark")).to_have_text(headline)
    expect(panel.locator("#panel-question")).to_be_hidden()
    tab.check_clean()


@pytest.mark.browser
def test_follow_up_sends_history_and_new_chat_clears_it(
    open_tab: Callable[..., Tab], live_server: LiveServer, client: httpx.Client
) -> None:
    first = client.post("/ask", json={"question": TOPIC}).json()
    page = open_tab(live_server).page
    ask(page, TOPIC)

    with page.expect_request(lambda r: r.url.endswith("/ask/stream") and r.method == "POST") as request:
        answer = ask(page, FOLLOW_UP)
    sent = request.value.post_data_json or {}
    assert sent["question"] == FOLLOW_UP
    assert sent["history"] == [
        {"role": "user", "content": TOPIC},
        {"role": "assistant", "content": first["answer"]},
    ]
    expect(answer).not_to_have_class(re.compile("message--refusal"))
    expect(answer.locator(".answer .cite").first).to_be_visible()
    expect(answer.locator(".answer")).to_contain_text(re.compile("exercise", re.IGNORECASE))

    page.get_by_role("button", name=re.compile("New chat")).click()
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("#question")).to_be_focused()
    with page.expect_request(lambda r: r.url.endswith("/ask/stream")) as request:
        ask(page, QUESTION)
    assert (request.value.post_data_json or {})["history"] == []


@pytest.mark.browser
def test_tell_me_more_continues_the_answer_on_the_page(
    open_tab: Callable[..., Tab], live_server: LiveServer, client: httpx.Client
) -> None:
    first = client.post("/ask", json={"question": TOPIC}).json()
    history = [{"role": "user", "content": TOPIC}, {"role": "assistant", "content": first["answer"]}]
    expected = client.post("/ask", json={"question": "Tell me more.", "history": history}).json()
    assert expected["answerable"] and expected["citations"]
    page = open_tab(live_server).page
    ask(page, TOPIC)
    more = ask(page, "Tell me more.")
    expect(more).not_to_have_class(re.compile("message--refusal"))
    expect(more.locator(".answer .cite")).to_have_count(len(expected["citations"]))
    # The sentences after those of the first answer, not those again.
    expect(more.locator(".answer")).to_contain_text(expected["citations"][0]["quote"][:40])
    expect(more.locator(".answer")).not_to_contain_text(first["citations"][0]["quote"][:40])


@pytest.mark.browser
def test_small_talk_gets_a_plain_reply_not_the_refusal_style(
    open_tab: Callable[..., Tab], live_server: LiveServer
) -> None:
    tab = open_tab(live_server)
    reply = ask(tab.page, "Hi!")
    expect(reply.locator(".answer")).to_contain_text("Ask me anything about the interview")
    expect(reply).not_to_have_class(re.compile("message--refusal"))
    expect(reply.locator(".refusal-label")).to_be_hidden()
    expect(reply.locator(".note--fallback")).to_have_count(0)
    expect(reply.locator(".sources")).to_have_count(0)
    tab.check_clean()


@pytest.mark.browser
def test_off_topic_question_gets_the_refusal_style(open_tab: Callable[..., Tab], live_server: LiveServer) -> None:
    tab = open_tab(live_server)
    answer = ask(tab.page, OFF_TOPIC)
    expect(answer).to_have_class(re.compile("message--refusal"))
    expect(answer.locator(".refusal-label")).to_be_visible()
    expect(answer.locator(".answer")).to_have_text("The interview does not say.")
    expect(answer.locator(".cite")).to_have_count(0)
    expect(answer.locator(".sources")).to_have_count(0)
    # Visibly different from an answer.
    refusal_bg = answer.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    normal = ask(tab.page, QUESTION)
    assert normal.locator(".bubble").evaluate("e => getComputedStyle(e).backgroundColor") != refusal_bg
    tab.check_clean()


@pytest.mark.browser
def test_keyboard_only(open_tab: Callable[..., Tab], live_server: LiveServer) -> None:
    page = open_tab(live_server).page
    box = page.locator("#question")
    expect(box).to_be_focused()
    page.keyboard.type("How many terrorist crimes")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("were averted in 2015?")
    assert box.input_value() == "How many terrorist crimes\nwere averted in 2015?"
    expect(page.locator(".message")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator(".message--assistant .cite")).to_have_count(1)

    for _ in range(30):  # Tab to the first citation marker
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cite')"):
            break
    cite = page.locator(".message--assistant .answer .cite")
    expect(cite).to_be_focused()
    outline = cite.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "focused controls show a focus ring"
    page.keyboard.press("Enter")
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel).to_be_focused()
    expect(panel.locator("mark")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(cite).to_be_focused()


# ---------------------------------------------------------------- screenshots and phone width


@pytest.mark.browser
def test_screenshots_desktop_and_phone(open_tab: Callable[..., Tab], live_server: LiveServer) -> None:
    desktop = open_tab(live_server, DESKTOP)
    shoot(desktop.page, "chat-desktop-empty.png")
    ask(desktop.page, QUESTION)
    ask(desktop.page, OFF_TOPIC)
    ask(desktop.page, TOPIC)
    desktop.page.locator(".message--assistant .answer .cite").last.click()
    expect(desktop.page.locator("#panel-passage mark")).to_have_count(1)
    desktop.page.locator("#conversation").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    saved = shoot(desktop.page, "chat-desktop.png")
    # The README's copy is tracked: refreshed on request, so a test run leaves the tree clean.
    if not README_SCREENSHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, README_SCREENSHOT)
    desktop.check_clean()

    phone = open_tab(live_server, PHONE)
    page = phone.page
    ask(page, QUESTION)
    ask(page, OFF_TOPIC)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
    shoot(page, "chat-phone.png")
    page.locator(".message--assistant .answer .cite").first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator("mark")).to_have_count(1)
    box = panel.bounding_box()
    assert box is not None and box["width"] == PHONE["width"], "the panel fills a phone screen"
    expect(page.locator("#panel-close")).to_be_in_viewport()
    shoot(page, "chat-phone-panel.png")
    page.locator("#panel-close").click()
    expect(panel).to_be_hidden()
    phone.check_clean()


# ---------------------------------------------------------------- hostile text, fallback, API key

HOSTILE_TEXT = """Greenhouse log

The greenhouse tomato harvest <img src=x onerror="window.__pwned='img'; alert('img')"> weighed forty-two kilograms in August.

The gardener pencilled <script>window.__pwned='script'; alert('script')</script> beside the greenhouse tomato harvest entry.
"""
HOSTILE_TITLE = "Log <img src=x onerror=\"window.__pwned='title'\"><script>window.__pwned='title'</script>"


@pytest.mark.browser
def test_hostile_document_is_shown_as_text_and_runs_nothing(
    tmp_path: Path, embedder: Embedder, start: Callable[..., LiveServer], open_tab: Callable[..., Tab]
) -> None:
    corpus = make_corpus(
        tmp_path, {"hostile.txt": HOSTILE_TEXT, "hostile.meta.json": json.dumps({"title": HOSTILE_TITLE})}
    )
    hostile = Pipeline.load(
        get_settings(corpus_dir=corpus, index_dir=tmp_path / "index", llm_backend="none"), embedder=embedder
    )
    server = start(create_app(pipeline=hostile))
    tab = open_tab(server)
    page = tab.page

    img_answer = ask(page, "How much did the greenhouse tomato harvest weigh in August?")
    expect(img_answer.locator(".answer")).to_contain_text(
        """<img src=x onerror="window.__pwned='img'; alert('img')">"""
    )
    script_answer = ask(page, "What did the gardener pencil beside the tomato harvest entry?")
    expect(script_answer.locator(".answer")).to_contain_text(
        "<script>window.__pwned='script'; alert('script')</script>"
    )

    script_answer.locator(".answer .cite").first.click()
    panel = page.locator("#source-panel")
    mark = panel.locator("#panel-passage mark")
    expect(mark).to_have_count(1)
    assert "<script>window.__pwned='script'" in (mark.text_content() or "")
    expect(panel.locator("#panel-title")).to_have_text(HOSTILE_TITLE)
    panel.locator("#panel-toggle").click()
    expect(panel.locator("#panel-passage")).to_contain_text("<img src=x onerror=")
    expect(page.get_by_text("weighed forty-two kilograms", exact=False).first).to_be_visible()
    shoot(page, "chat-hostile.png")

    page.wait_for_timeout(500)  # an injected <img> would have failed to load and fired onerror by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#messages img, #messages script, #source-panel img, #source-panel script").count() == 0
    assert page.evaluate("document.scripts.length") == 1
    tab.check_clean()


@pytest.mark.browser
def test_fallback_note_and_backend_are_shown(
    pipeline: Pipeline, start: Callable[..., LiveServer], open_tab: Callable[..., Tab]
) -> None:
    unreachable = pipeline.configured(
        llm_backend="openai", llm_base_url=f"http://127.0.0.1:{dead_port()}/v1", llm_retries=0, llm_connect_timeout=0.5
    )
    tab = open_tab(start(create_app(pipeline=unreachable)))
    answer = ask(tab.page, QUESTION)
    expect(answer.locator(".note--fallback")).to_contain_text("could not be reached")
    expect(answer.locator(".note--fallback")).to_contain_text("connection_error")
    expect(answer.locator(".backend")).to_contain_text("extractive")
    expect(answer.locator(".answer .cite")).to_have_count(1)
    tab.check_clean()


@pytest.mark.browser
def test_llm_answer_streams_in_and_is_replaced_by_the_checked_answer(
    pipeline: Pipeline, start: Callable[..., LiveServer], open_tab: Callable[..., Tab]
) -> None:
    llm = Pipeline(pipeline.settings, pipeline.embedder, pipeline.index, pipeline.documents, llm=ScriptedChatBackend())
    tab = open_tab(start(create_app(pipeline=llm)))
    answer = ask(tab.page, QUESTION)
    expect(answer.locator(".backend")).to_contain_text("language model scripted")
    cite = answer.locator(".answer .cite")
    expect(cite).to_have_count(1)
    cite.click()
    expect(tab.page.locator("#panel-passage mark")).to_have_count(1)
    tab.check_clean()


class FixedReplyBackend(ScriptedChatBackend):
    """A fake chat backend that always gives one reply (a real model gives these on no demand)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def reply(self, messages: Sequence[ChatMessage]) -> str:
        return self.text


@pytest.mark.browser
@pytest.mark.parametrize(
    ("reply", "note"),
    [
        (
            "They averted 9999 crimes [1].",
            "stated a number the passages it cited do not have (ungrounded_number: 9999)",
        ),
        (SYSTEM_PROMPT, "repeated its instructions instead of answering (prompt_echo)"),
    ],
)
def test_a_rejected_llm_answer_says_why_on_the_page(
    pipeline: Pipeline, start: Callable[..., LiveServer], open_tab: Callable[..., Tab], reply: str, note: str
) -> None:
    """ "ungrounded_number: 9999" read as a reason unknown to the page, which said "The language
    model was not used" of an answer it wrote and the grounding check turned down."""
    llm = Pipeline(
        pipeline.settings, pipeline.embedder, pipeline.index, pipeline.documents, llm=FixedReplyBackend(reply)
    )
    tab = open_tab(start(create_app(pipeline=llm)))
    answer = ask(tab.page, QUESTION)
    expect(answer.locator(".note--fallback")).to_contain_text(note)
    expect(answer.locator(".note--fallback")).not_to_contain_text("not used")
    expect(answer.locator(".backend")).to_contain_text("extractive")
    expect(answer.locator(".answer")).not_to_contain_text("9999")
    tab.check_clean()


API_KEY = "s3cret-key"


@pytest.mark.browser
def test_api_key_is_asked_once_and_retried(
    pipeline: Pipeline, start: Callable[..., LiveServer], open_tab: Callable[..., Tab]
) -> None:
    keyed = pipeline.settings.model_copy(update={"api_key": API_KEY})
    tab = open_tab(start(create_app(settings=keyed, pipeline=pipeline)))
    page = tab.page
    page.locator("#question").fill(QUESTION)
    page.locator("#question").press("Enter")
    dialog = page.get_by_role("dialog", name="API key required")
    expect(dialog).to_be_visible()
    expect(page.locator("#api-key")).to_be_focused()
    shoot(page, "chat-api-key.png")

    page.locator("#api-key").fill("wrong")
    page.keyboard.press("Enter")
    expect(dialog.locator(".key-dialog__error")).to_contain_text("not accepted")
    page.locator("#api-key").fill(API_KEY)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    answer = page.locator(".message--assistant").last
    expect(answer.locator(".answer")).to_contain_text("167")
    assert page.evaluate("sessionStorage.getItem('sysoyev-rag.api-key')") == API_KEY

    # Asked once: later requests (the document, the next question) carry the key.
    answer.locator(".answer .cite").click()
    expect(page.locator("#panel-passage mark")).to_have_count(1)
    with page.expect_request(lambda r: r.url.endswith("/ask/stream")) as request:
        ask(page, OFF_TOPIC)
    assert request.value.headers["authorization"] == f"Bearer {API_KEY}"
    expect(dialog).to_be_hidden()
    tab.check_clean(allow=lambda m: "401" in m)


# ---------------------------------------------------------------- headers and static rules (no browser needed)


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/app.css", "/health"])
def test_security_headers(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = {d.strip().split(" ", 1)[0]: d.strip() for d in response.headers["content-security-policy"].split(";")}
    assert csp["default-src"] == "default-src 'self'"
    assert csp["script-src"] == "script-src 'self'"
    assert csp["object-src"] == "object-src 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["base-uri"] == "base-uri 'none'"


def test_page_is_plain_files_with_no_inline_code_or_html_injection() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL)
    assert scripts == [""], "one external script, nothing inline"
    assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handlers"
    assert not re.search(r"\sstyle\s*=", html), "no inline styles"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no CDN: everything is served from here"
    js = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
