// The list of sessions (threads of the space), newest activity first: search by title, a
// page at a time with "Load more", archive (not with a read-only key).

import { h, icon, relativeTime } from "./dom.js";

const PAGE_SIZE = 30;
const SEARCH_DELAY_MS = 250;

export function sessionTitle(thread) {
  return thread?.title?.trim() || "New chat";
}

export class SessionList {
  #readOnly = false;

  constructor({ api, onArchive, onError }) {
    this.api = api;
    this.onArchive = onArchive;
    this.onError = onError;
    this.list = document.getElementById("session-list");
    this.empty = document.getElementById("session-empty");
    this.more = document.getElementById("load-more");
    this.search = document.getElementById("search");
    this.threads = new Map();
    this.cursor = null;
    this.activeId = null;
    this.generation = 0;
    this.loading = false;
    this.more.addEventListener("click", () => this.loadMore());
    let timer = null;
    this.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.reload(), SEARCH_DELAY_MS);
    });
  }

  /** A read-only key archives nothing: the sessions have no archive button. */
  get readOnly() {
    return this.#readOnly;
  }

  set readOnly(value) {
    this.#readOnly = Boolean(value);
    for (const button of this.list.querySelectorAll(".session-archive")) button.hidden = this.#readOnly;
  }

  get query() {
    return this.search.value.trim();
  }

  /** The first page again, for the current search. */
  async reload() {
    const generation = ++this.generation;
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await this.api.listThreads({ q: this.query, limit: PAGE_SIZE });
      if (generation !== this.generation) return;
      this.threads.clear();
      this.list.replaceChildren();
      this.#add(page);
    } catch (error) {
      if (generation === this.generation) this.onError(error);
    } finally {
      if (generation === this.generation) this.list.removeAttribute("aria-busy");
    }
  }

  async loadMore() {
    if (this.loading || !this.cursor) return;
    const generation = this.generation;
    this.loading = true;
    this.more.disabled = true;
    try {
      const page = await this.api.listThreads({ q: this.query, after: this.cursor, limit: PAGE_SIZE });
      if (generation === this.generation) this.#add(page);
    } catch (error) {
      this.onError(error);
    } finally {
      this.loading = false;
      this.more.disabled = false;
    }
  }

  #add(page) {
    for (const thread of page.data) {
      // Threads ordered by activity move between pages: never show one twice.
      if (this.threads.has(thread.id)) continue;
      this.threads.set(thread.id, thread);
      this.list.append(this.#item(thread));
    }
    this.cursor = page.has_more ? page.last_id : null;
    this.#refreshChrome();
  }

  #refreshChrome() {
    this.more.hidden = !this.cursor;
    this.empty.hidden = this.threads.size > 0;
    this.empty.textContent = this.query ? "No session matches this search." : "No sessions yet.";
  }

  #item(thread) {
    const title = sessionTitle(thread);
    const count = thread.message_count;
    const meta = `${count} message${count === 1 ? "" : "s"} · ${relativeTime(thread.updated_at)}`;
    const link = h(
      "a",
      { class: "session-link", href: `#/t/${encodeURIComponent(thread.id)}` },
      h("span", { class: "session-title" }, title),
      h("span", { class: "session-meta" }, meta),
    );
    if (thread.id === this.activeId) link.setAttribute("aria-current", "page");
    const archive = h(
      "button",
      {
        type: "button",
        class: "icon-btn session-archive",
        title: "Archive",
        "aria-label": `Archive “${title}”`,
        onclick: () => this.onArchive(thread),
      },
      icon("archive"),
    );
    archive.hidden = this.#readOnly;
    return h("li", { class: "session", dataset: { id: thread.id } }, link, archive);
  }

  #element(id) {
    return [...this.list.children].find((li) => li.dataset.id === id) || null;
  }

  setActive(id) {
    this.activeId = id;
    for (const li of this.list.children) {
      const link = li.querySelector(".session-link");
      if (li.dataset.id === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** A thread that changed (a new session, a new title, a new message) moves to the top. */
  upsert(thread) {
    if (this.query && !sessionTitle(thread).toLowerCase().includes(this.query.toLowerCase())) {
      return;
    }
    this.threads.set(thread.id, thread);
    this.#element(thread.id)?.remove();
    this.list.prepend(this.#item(thread));
    this.#refreshChrome();
  }

  remove(id) {
    this.threads.delete(id);
    this.#element(id)?.remove();
    this.#refreshChrome();
  }

  /** The element to focus after `id` leaves the list. */
  neighbour(id) {
    const li = this.#element(id);
    return (li?.nextElementSibling || li?.previousElementSibling)?.querySelector("a") || null;
  }
}
