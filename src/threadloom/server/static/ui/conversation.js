// The open session: its newest page of messages, older pages loaded as the reader scrolls
// up (cursor pagination, never the whole thread), and the reply being streamed.

import { viewImage } from "./dialogs.js";
import { h, icon, safeImageUrl, shortTime } from "./dom.js";
import { renderMarkdown, renderPlain } from "./markdown.js";

const PAGE_SIZE = 50;
const NEAR_TOP_PX = 300;
const NEAR_BOTTOM_PX = 140;

const $ = (id) => document.getElementById(id);

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function problemBox(problem) {
  return h(
    "div",
    { class: "msg-problem", role: "alert" },
    icon("warning"),
    h(
      "div",
      {},
      h("strong", {}, problem.title || "The reply failed"),
      problem.detail && problem.detail !== problem.title ? h("p", {}, problem.detail) : null,
    ),
  );
}

function addCopyButtons(body) {
  if (!navigator.clipboard) return; // only in secure contexts (https or localhost)
  for (const pre of body.querySelectorAll("pre")) {
    const label = { type: "button", class: "copy-btn", "aria-label": "Copy code" };
    const button = h("button", label, icon("copy"));
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(pre.querySelector("code")?.textContent ?? "");
      button.classList.add("copied");
      setTimeout(() => button.classList.remove("copied"), 1200);
    });
    pre.append(button);
  }
}

export class Conversation {
  constructor({ api, onError }) {
    this.api = api;
    this.onError = onError;
    this.scroller = $("conversation");
    this.list = $("messages");
    this.older = $("older-status");
    this.threadEmpty = $("thread-empty");
    this.thread = null;
    this.cursor = null;
    this.loadingOlder = false;
    this.generation = 0;
    this.assistantNames = new Map();
    this.scroller.addEventListener("scroll", () => this.#maybeLoadOlder(), { passive: true });
  }

  get isNearBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Shows `thread` (or nothing, for null) with its newest page of messages. */
  async open(thread) {
    const generation = ++this.generation;
    this.thread = thread;
    this.cursor = null;
    this.list.replaceChildren();
    this.#setOlderStatus("");
    this.threadEmpty.hidden = true;
    if (!thread) return;
    this.list.setAttribute("aria-live", "off"); // announce new messages, not the history
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await this.api.listMessages(thread.id, { limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      this.list.append(...page.data.slice().reverse().map((message) => this.render(message)));
      this.cursor = page.has_more ? page.last_id : null;
      this.#setOlderStatus(this.cursor || !page.data.length ? "" : "Start of the conversation");
      this.#refreshEmpty();
      this.scrollToBottom();
      requestAnimationFrame(() => this.#maybeLoadOlder());
    } catch (error) {
      if (generation === this.generation) this.onError(error);
    } finally {
      if (generation === this.generation) {
        this.list.removeAttribute("aria-busy");
        this.list.setAttribute("aria-live", "polite");
      }
    }
  }

  #setOlderStatus(text) {
    this.older.textContent = text;
    this.older.classList.toggle("visible", Boolean(text));
  }

  #refreshEmpty() {
    this.threadEmpty.hidden = !this.thread || this.list.children.length > 0;
  }

  #maybeLoadOlder() {
    if (this.cursor && !this.loadingOlder && this.scroller.scrollTop < NEAR_TOP_PX) {
      this.#loadOlder();
    }
  }

  async #loadOlder() {
    const generation = this.generation;
    this.loadingOlder = true;
    this.#setOlderStatus("Loading older messages…");
    this.list.setAttribute("aria-live", "off");
    try {
      const page = await this.api.listMessages(this.thread.id, { after: this.cursor, limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      // Keep what the reader is looking at in place: same distance from the bottom.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.list.prepend(...page.data.slice().reverse().map((message) => this.render(message)));
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
      this.cursor = page.has_more ? page.last_id : null;
      this.#setOlderStatus(this.cursor ? "" : "Start of the conversation");
    } catch (error) {
      this.#setOlderStatus("");
      if (generation === this.generation) this.onError(error);
      return;
    } finally {
      this.loadingOlder = false;
      this.list.setAttribute("aria-live", "polite");
    }
    requestAnimationFrame(() => this.#maybeLoadOlder());
  }

  #author(message) {
    if (message.role === "user") return "You";
    if (message.role === "assistant") {
      return this.assistantNames.get(message.metadata?.assistant) || "Assistant";
    }
    if (message.role === "tool") return message.name ? `Tool · ${message.name}` : "Tool";
    return message.name ? `${capitalize(message.role)} · ${message.name}` : capitalize(message.role);
  }

  /** An assistant's tool calls and which call a tool result answers, as text. */
  #tools(message) {
    const rows = (message.tool_calls || []).map((call) =>
      h(
        "div",
        { class: "tool-call" },
        h("span", { class: "tool-label" }, "Calls"),
        h("code", {}, `${call.function?.name ?? "?"}(${call.function?.arguments ?? ""})`),
      ),
    );
    if (message.tool_call_id) {
      rows.push(
        h(
          "div",
          { class: "tool-call tool-result" },
          h("span", { class: "tool-label" }, "Result of"),
          h("code", {}, message.tool_call_id),
        ),
      );
    }
    return rows.length ? h("div", { class: "msg-tools" }, rows) : null;
  }

  #images(message) {
    const urls = (message.images || []).map(safeImageUrl).filter(Boolean);
    if (!urls.length) return null;
    return h(
      "div",
      { class: "msg-images" },
      urls.map((src, index) => {
        const alt = `Image ${index + 1} of ${urls.length}`;
        const open = () => viewImage(src, alt);
        const label = `View image ${index + 1}`;
        return h(
          "button",
          { type: "button", class: "thumb", "aria-label": label, onclick: open },
          h("img", { src, alt, loading: "lazy", decoding: "async", referrerpolicy: "no-referrer" }),
        );
      }),
    );
  }

  #details(message) {
    const meta = message.metadata || {};
    const usage = meta.usage?.total_tokens;
    const parts = [meta.model, usage ? `${usage} tokens` : null].filter(Boolean);
    return parts.length ? h("div", { class: "msg-details" }, parts.join(" · ")) : null;
  }

  /** The element of one message; people's text is shown as typed, the rest as Markdown. */
  render(message) {
    const role = message.role;
    const kind = role === "user" ? "user" : role === "assistant" ? "assistant" : "other";
    const body = h("div", { class: kind === "user" ? "msg-body" : "msg-body markdown" });
    body.append(kind === "user" ? renderPlain(message.content) : renderMarkdown(message.content));
    addCopyButtons(body);
    const author = this.#author(message);
    const when = message.created_at;
    const head = h(
      "div",
      { class: "msg-head" },
      h("span", { class: "msg-author" }, author),
      when ? h("time", { datetime: when, title: new Date(when).toLocaleString() }, shortTime(when)) : null,
      message.metadata?.incomplete
        ? h(
            "span",
            { class: "badge badge-warn", title: "The reply was stopped before it was finished" },
            icon("warning"),
            "Incomplete",
          )
        : null,
    );
    const face = icon(kind === "user" ? "user" : "bot");
    const avatar = h("div", { class: "msg-avatar", "aria-hidden": "true" }, face);
    const details = kind === "user" ? null : this.#details(message);
    const tools = this.#tools(message);
    const main = h(
      "div",
      { class: "msg-main" },
      head,
      tools,
      message.content || !tools ? body : null,
      this.#images(message),
      details,
    );
    return h("article", { class: `msg msg-${kind}`, dataset: { id: message.id || "", role } }, avatar, main);
  }

  /** Shows the person's message at once; confirm() swaps in the stored one. */
  addPending(content) {
    let element = this.render({ role: "user", content, created_at: new Date().toISOString() });
    element.classList.add("msg-pending");
    this.list.append(element);
    this.#refreshEmpty();
    this.scrollToBottom();
    return {
      confirm: (message) => {
        const stored = this.render(message);
        element.replaceWith(stored);
        element = stored;
      },
      sent: () => element.classList.remove("msg-pending"),
      fail: () => {
        element.classList.remove("msg-pending");
        element.classList.add("msg-failed");
        element.querySelector(".msg-head").append(h("span", { class: "badge badge-error" }, "Not sent"));
      },
    };
  }

  /** The reply as it streams in; its text is re-rendered at most once a frame. */
  startReply(assistant) {
    const now = new Date().toISOString();
    const draft = { role: "assistant", content: "", metadata: { assistant }, created_at: now };
    let element = this.render(draft);
    element.classList.add("msg-streaming");
    const body = element.querySelector(".msg-body");
    body.setAttribute("aria-live", "polite");
    body.setAttribute("aria-busy", "true");
    const caret = h(
      "span",
      { class: "typing" },
      h("i"),
      h("i"),
      h("i"),
      h("span", { class: "visually-hidden" }, "The assistant is writing…"),
    );
    body.append(caret);
    this.list.append(element);
    this.threadEmpty.hidden = true;
    this.scrollToBottom();
    let text = "";
    let frame = 0;
    let settled = false;
    const paint = () => {
      frame = 0;
      const follow = this.isNearBottom;
      body.replaceChildren(renderMarkdown(text), caret);
      if (follow) this.scrollToBottom();
    };
    const settle = (replacement) => {
      cancelAnimationFrame(frame);
      settled = true;
      const follow = this.isNearBottom;
      element.replaceWith(replacement);
      element = replacement;
      if (follow) this.scrollToBottom();
    };
    return {
      get settled() {
        return settled;
      },
      append: (delta) => {
        text += delta;
        if (!frame) frame = requestAnimationFrame(paint);
      },
      discard: () => {
        cancelAnimationFrame(frame);
        settled = true;
        element.remove();
        this.#refreshEmpty();
      },
      finish: (message) => settle(this.render(message)),
      stop: () => settle(this.render({ ...draft, content: text, metadata: { assistant, incomplete: true } })),
      fail: (problem) => {
        const failed = this.render({ ...draft, content: text });
        failed.classList.add("msg-error");
        failed.querySelector(".msg-main").append(problemBox(problem));
        settle(failed);
      },
    };
  }
}
