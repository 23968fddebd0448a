// The chat page: asks /ask/stream, renders the streamed answer with [n] citation buttons,
// and shows a cited passage in its paragraph of the document (GET /documents/{doc_id}).
// Every piece of text from the server is inserted with textContent or createTextNode.
"use strict";

(() => {
  const KEY_STORAGE = "sysoyev-rag.api-key";
  // The server's default history limits (RAG_MAX_HISTORY_TURNS / RAG_MAX_HISTORY_CHARS).
  const MAX_HISTORY_TURNS = 20;
  const MAX_HISTORY_CHARS = 8000;
  const MARKER = /\[(\d{1,3})\]/g;
  const FALLBACK_REASONS = {
    llm_not_configured: "No language model is configured on this server",
    connection_error: "The language model could not be reached",
    timeout: "The language model took too long",
    http_error: "The language model returned an error",
    malformed_response: "The language model sent a malformed reply",
    stream_interrupted: "The language model’s reply was cut off",
    empty_answer: "The language model gave an empty reply",
    prompt_echo: "The language model repeated its instructions instead of answering",
    no_citations: "The language model’s answer cited no passage of the interview",
    ungrounded: "The language model’s answer was not supported by the interview",
    ungrounded_number: "The language model stated a number the passages it cited do not have",
    ungrounded_name: "The language model stated a name the passages it cited do not have",
    unsafe_output: "The language model’s answer held a link or an image",
    no_passages: "No passages fit the language model’s context",
    off_topic: "The question is about nothing in the interview, and the language model was not asked",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const state = {
    history: [], // [{role, content}] of finished exchanges, oldest first
    busy: false,
    controller: null,
    chat: 0, // bumped by New chat so a late answer is not added to the new history
    documents: new Map(), // doc_id -> Promise<document JSON>
    panelTrigger: null,
    panelView: null, // {citation, doc} shown in the panel
  };

  // ------------------------------------------------------------------ API key (401)

  let pendingKey = null;

  function askForKey(message) {
    if (pendingKey) return pendingKey;
    const dialog = $("key-dialog");
    const form = $("key-form");
    const input = $("api-key");
    const previousFocus = document.activeElement;
    $("key-error").textContent = message || "";
    input.value = "";
    dialog.hidden = false;
    input.focus();
    pendingKey = new Promise((resolve) => {
      const finish = (value) => {
        dialog.hidden = true;
        form.removeEventListener("submit", onSubmit);
        $("key-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("keydown", onKey);
        pendingKey = null;
        if (previousFocus && previousFocus.focus) previousFocus.focus();
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (key) finish(key);
      };
      const onCancel = () => finish(null);
      const onKey = (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          finish(null);
        }
      };
      form.addEventListener("submit", onSubmit);
      $("key-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("keydown", onKey);
    });
    return pendingKey;
  }

  async function apiFetch(url, options = {}) {
    let rejected = false;
    for (;;) {
      const key = sessionStorage.getItem(KEY_STORAGE);
      const headers = { ...(options.headers || {}) };
      if (key) headers.Authorization = `Bearer ${key}`;
      const response = await fetch(url, { ...options, headers });
      if (response.status !== 401) return response;
      if (key) sessionStorage.removeItem(KEY_STORAGE);
      const entered = await askForKey(rejected || key ? "That key was not accepted. Check it and try again." : "");
      if (entered === null) throw new Error("This server needs an API key. Send your question again to enter it.");
      sessionStorage.setItem(KEY_STORAGE, entered);
      rejected = true;
    }
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && typeof body.message === "string") return body.message;
      if (body && typeof body.detail === "string") return body.detail;
    } catch (_) {
      // not JSON: fall through to the status line
    }
    return `The server answered ${response.status} ${response.statusText}.`.trim();
  }

  // Server-Sent Events over fetch: calls onEvent(name, data) for each complete event.
  async function readEvents(response, onEvent) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  // ------------------------------------------------------------------ conversation

  const messages = $("messages");
  const conversation = $("conversation");
  const question = $("question");

  function nearBottom() {
    return conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 120;
  }

  function scrollToEnd(force) {
    if (force || nearBottom()) conversation.scrollTop = conversation.scrollHeight;
  }

  function addUserMessage(text) {
    const item = el("div", "message message--user");
    item.append(el("span", "visually-hidden", "You asked: "));
    item.append(el("p", "bubble bubble--user", text));
    messages.append(item);
    scrollToEnd(true);
  }

  // Text with every [n] that has a citation turned into a button.
  function renderAnswerText(container, text, citations) {
    container.replaceChildren();
    const byNumber = new Map(citations.map((c) => [c.n, c]));
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      const citation = byNumber.get(Number(match[1]));
      if (!citation) continue;
      if (match.index > last) container.append(document.createTextNode(text.slice(last, match.index)));
      container.append(citeButton(citation));
      last = match.index + match[0].length;
    }
    if (last < text.length) container.append(document.createTextNode(text.slice(last)));
  }

  function citeButton(citation) {
    const button = el("button", "cite");
    button.type = "button";
    button.dataset.n = String(citation.n);
    button.setAttribute("aria-label", `Source ${citation.n}: show the cited passage`);
    button.append(el("span", "visually-hidden", "["), document.createTextNode(String(citation.n)), el("span", "visually-hidden", "]"));
    button.addEventListener("click", () => openSource(citation, button));
    return button;
  }

  function describeFallback(reason) {
    // "ungrounded_number: 170": the kind of reason, then what it found.
    const known = FALLBACK_REASONS[reason.split(":")[0]];
    const why = known ? `${known} (${reason})` : `The language model’s answer was not used (${reason})`;
    return `${why}, so this answer was extracted directly from the interview.`;
  }

  function describeBackend(backend) {
    if (backend === "extractive") return "extractive (quoted from the interview, no language model)";
    if (backend.startsWith("llm:")) return `language model ${backend.slice(4).replace(":", " · ")}`;
    return backend;
  }

  function addAssistantMessage() {
    const item = el("div", "message message--assistant is-pending");
    item.setAttribute("aria-busy", "true");
    const bubble = el("div", "bubble bubble--assistant");
    const label = el("p", "refusal-label", "Not in the interview");
    label.hidden = true;
    const status = el("p", "typing");
    status.append(el("span", "typing__dots"), document.createTextNode("Searching the interview…"));
    const answer = el("p", "answer");
    const extra = el("div", "answer__extra");
    bubble.append(label, status, answer, extra);
    item.append(el("span", "visually-hidden", "Answer: "), bubble);
    messages.append(item);
    scrollToEnd(true);

    let text = "";
    let citations = [];
    return {
      setCitations(list) {
        citations = list;
      },
      appendToken(piece) {
        if (!text) status.remove();
        text += piece;
        renderAnswerText(answer, text, citations);
        scrollToEnd(false);
      },
      finish(result) {
        status.remove();
        item.classList.remove("is-pending");
        item.removeAttribute("aria-busy");
        renderAnswerText(answer, result.answer, result.citations);
        // Small talk ("hi", "thanks") gets a reply of its own: no refusal, and no language model was due.
        const smallTalk = result.fallback_reason === "small_talk";
        if (!result.answerable && !smallTalk) {
          item.classList.add("message--refusal");
          label.hidden = false;
        }
        extra.replaceChildren();
        if (result.fallback_reason && !smallTalk) extra.append(el("p", "note note--fallback", describeFallback(result.fallback_reason)));
        if (result.citations.length) extra.append(sourceList(result.citations));
        const meta = el("p", "meta");
        meta.append(el("span", "meta__label", "Backend: "), el("span", "backend", describeBackend(result.backend)));
        const timings = result.timings_ms || {};
        if (timings.cached) meta.append(document.createTextNode(" · from cache"));
        else if (typeof timings.total === "number") meta.append(document.createTextNode(` · ${Math.round(timings.total)} ms`));
        extra.append(meta);
        scrollToEnd(false);
      },
      fail(message, retry) {
        status.remove();
        item.classList.remove("is-pending");
        item.removeAttribute("aria-busy");
        item.classList.add("message--error");
        extra.replaceChildren();
        const note = el("p", "note note--error", message);
        note.setAttribute("role", "alert");
        extra.append(note);
        if (retry) {
          const again = el("button", "button button--ghost button--small", "Try again");
          again.type = "button";
          again.addEventListener("click", () => {
            item.remove();
            retry();
          });
          extra.append(again);
        }
      },
    };
  }

  function sourceList(citations) {
    const wrap = el("div", "sources");
    const heading = el("p", "sources__title", "Sources");
    const list = el("ol", "sources__list");
    for (const citation of citations) {
      const button = el("button", "source");
      button.type = "button";
      button.setAttribute("aria-label", `Source ${citation.n}: ${citation.quote}`);
      button.append(el("span", "source__n", String(citation.n)), el("span", "source__quote", citation.quote));
      button.addEventListener("click", () => openSource(citation, button));
      const item = el("li", "sources__item");
      item.append(button);
      list.append(item);
    }
    wrap.append(heading, list);
    return wrap;
  }

  function historyToSend() {
    const turns = [];
    let chars = 0;
    for (let i = state.history.length - 1; i >= 0 && turns.length < MAX_HISTORY_TURNS; i -= 1) {
      chars += state.history[i].content.length;
      if (chars > MAX_HISTORY_CHARS) break;
      turns.unshift(state.history[i]);
    }
    return turns;
  }

  function setBusy(busy) {
    state.busy = busy;
    $("send").disabled = busy;
    $("ask-form").classList.toggle("is-busy", busy);
  }

  async function ask(text) {
    const q = text.trim();
    if (!q || state.busy) return;
    $("intro").hidden = true;
    const chat = state.chat;
    const history = historyToSend();
    addUserMessage(q);
    const view = addAssistantMessage();
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    try {
      const response = await apiFetch("/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question: q, history }),
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      let result = null;
      let failure = null;
      await readEvents(response, (name, data) => {
        if (name === "citations") view.setCitations(data.citations || []);
        else if (name === "token") view.appendToken(data.text || "");
        else if (name === "done") result = data;
        else if (name === "error") failure = data.message || "The answer failed.";
      });
      if (failure) throw new Error(failure);
      if (!result) throw new Error("The connection closed before the answer was complete.");
      view.finish(result);
      if (chat === state.chat) {
        state.history.push({ role: "user", content: q }, { role: "assistant", content: result.answer });
      }
    } catch (err) {
      if (err && err.name === "AbortError") return;
      const message = err instanceof TypeError ? "The server could not be reached. Check that it is running." : err.message;
      view.fail(message, () => {
        const previous = messages.lastElementChild;
        if (previous && previous.classList.contains("message--user")) previous.remove();
        ask(q);
      });
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        setBusy(false);
      }
    }
  }

  function newChat() {
    if (state.controller) state.controller.abort();
    state.controller = null;
    state.chat += 1;
    state.history = [];
    setBusy(false);
    closePanel(false);
    messages.replaceChildren();
    $("intro").hidden = false;
    question.value = "";
    resizeQuestion();
    question.focus();
  }

  // ------------------------------------------------------------------ source panel

  const panel = $("source-panel");

  function loadDocument(docId) {
    if (!state.documents.has(docId)) {
      const request = apiFetch(`/documents/${encodeURIComponent(docId)}`, { headers: { Accept: "application/json" } }).then(
        async (response) => {
          if (!response.ok) throw new Error(await errorMessage(response));
          return response.json();
        },
      );
      request.catch(() => state.documents.delete(docId));
      state.documents.set(docId, request);
    }
    return state.documents.get(docId);
  }

  // The paragraph(s) around [start, end): from the blank line before to the blank line after.
  function paragraphAround(text, start, end) {
    const before = start > 0 ? text.lastIndexOf("\n\n", start - 1) : -1;
    const after = text.indexOf("\n\n", end);
    return [before < 0 ? 0 : before + 2, after < 0 ? text.length : after];
  }

  function renderPassage(whole) {
    const { citation, doc } = state.panelView;
    const passage = $("panel-passage");
    const text = doc.text;
    const toggle = $("panel-toggle");
    passage.replaceChildren();
    if (text.slice(citation.start, citation.end) !== citation.quote) {
      // The document changed after the answer was given: show the quote on its own.
      $("panel-status").textContent = "The document has changed since this answer; showing the quoted words only.";
      passage.append(el("mark", "", citation.quote));
      toggle.hidden = true;
      return;
    }
    const [from, to] = whole ? [0, text.length] : paragraphAround(text, citation.start, citation.end);
    const mark = el("mark", "", citation.quote);
    passage.append(document.createTextNode(text.slice(from, citation.start)), mark, document.createTextNode(text.slice(citation.end, to)));
    passage.classList.toggle("passage--whole", whole);
    toggle.hidden = false;
    toggle.textContent = whole ? "Show only this paragraph" : "Show the whole interview";
    toggle.setAttribute("aria-expanded", String(whole));
    mark.scrollIntoView({ block: whole ? "center" : "nearest" });
  }

  function markActive(trigger) {
    if (state.panelTrigger) state.panelTrigger.classList.remove("is-active");
    if (trigger) trigger.classList.add("is-active");
  }

  async function openSource(citation, trigger) {
    markActive(trigger);
    state.panelTrigger = trigger;
    state.panelView = null;
    panel.hidden = false;
    $("panel-number").textContent = `Source ${citation.n}`;
    $("panel-title").textContent = citation.doc_id;
    $("panel-status").textContent = "Loading the passage…";
    $("panel-question").hidden = true;
    $("panel-passage").replaceChildren();
    $("panel-toggle").hidden = true;
    panel.focus();
    try {
      const doc = await loadDocument(citation.doc_id);
      if (panel.hidden || state.panelTrigger !== trigger) return;
      state.panelView = { citation, doc };
      $("panel-title").textContent = doc.title || doc.doc_id;
      $("panel-status").textContent = "";
      const section = (doc.sections || []).find((s) => s.start <= citation.start && citation.start < s.end);
      if (section && section.question) {
        $("panel-question-text").textContent = section.question;
        $("panel-question").hidden = false;
      }
      renderPassage(false);
    } catch (err) {
      if (state.panelTrigger === trigger) $("panel-status").textContent = `Could not load the document: ${err.message}`;
    }
  }

  function closePanel(restoreFocus = true) {
    if (panel.hidden) return;
    panel.hidden = true;
    const trigger = state.panelTrigger;
    markActive(null);
    state.panelTrigger = null;
    state.panelView = null;
    if (restoreFocus && trigger && trigger.isConnected) trigger.focus();
    else if (restoreFocus) question.focus();
  }

  // ------------------------------------------------------------------ wiring

  function resizeQuestion() {
    question.style.height = "auto";
    question.style.height = `${Math.min(question.scrollHeight, 200)}px`;
  }

  function submitQuestion() {
    if (state.busy) return;
    const text = question.value;
    if (!text.trim()) return;
    question.value = "";
    resizeQuestion();
    ask(text);
  }

  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitQuestion();
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitQuestion();
    }
  });
  question.addEventListener("input", resizeQuestion);
  $("new-chat").addEventListener("click", newChat);
  $("panel-close").addEventListener("click", () => closePanel());
  $("panel-toggle").addEventListener("click", () => {
    if (state.panelView) renderPassage($("panel-toggle").getAttribute("aria-expanded") !== "true");
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => ask(example.textContent));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden && $("key-dialog").hidden) {
      event.preventDefault();
      closePanel();
    }
  });
  question.focus();
})();
