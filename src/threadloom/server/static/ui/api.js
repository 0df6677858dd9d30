// The threadloom HTTP API, as the page uses it. Errors are problem documents (RFC 9457);
// a 401 asks the person for an API key (once, however many requests failed) and retries.
// The key's identity (GET /v1/keys/me) says where it works: a writer or reader key in its own
// space only, a reader key without writing; an admin key in the space picked in the settings.

import { randomId } from "./dom.js";
import { parseEventStream } from "./sse.js";

const KEY_STORAGE = "threadloom.apiKey";
const SPACE_STORAGE = "threadloom.space";
export const DEFAULT_SPACE = "default";

/** A failed request: `problem` is the server's problem document (or one made up here). */
export class ApiError extends Error {
  constructor(problem, response = null) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.name = "ApiError";
    this.problem = problem;
    this.status = problem.status;
    this.retryAfter = Number(response?.headers.get("Retry-After")) || null;
  }
}

async function problemOf(response) {
  const fallback = { title: response.statusText || "Request failed", status: response.status };
  try {
    const body = await response.json();
    return body && typeof body === "object" ? { ...fallback, ...body } : fallback;
  } catch {
    return fallback;
  }
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the key lives as long as the page
  }
}

export class Api {
  /**
   * askForKey({rejected}) resolves to a key, or null when the person cancels; onKeyChange()
   * is called when that prompt has given a new key (its identity is not known yet).
   */
  constructor({ askForKey, onKeyChange = () => {} }) {
    // The API lives one level above the page (/ui/ -> /), even behind a path prefix.
    this.root = new URL("../", document.baseURI);
    this.askForKey = askForKey;
    this.onKeyChange = onKeyChange;
    this.memory = { [KEY_STORAGE]: null, [SPACE_STORAGE]: null };
    this.keyPrompt = null;
    this.identity = null;
  }

  #get(name) {
    return storage()?.getItem(name) ?? this.memory[name];
  }

  #set(name, value) {
    this.memory[name] = value;
    const store = storage();
    if (!store) return;
    if (value === null) store.removeItem(name);
    else store.setItem(name, value);
  }

  get key() {
    return this.#get(KEY_STORAGE);
  }

  set key(value) {
    this.#set(KEY_STORAGE, value ? String(value).trim() : null);
    this.identity = null; // another key: what it may do is asked again
  }

  /** The key's own space when it has one, else the one picked in the settings. */
  get space() {
    return this.identity?.space_id || this.#get(SPACE_STORAGE) || DEFAULT_SPACE;
  }

  /** The key works in one space only: no other can be picked. */
  get spaceIsBound() {
    return Boolean(this.identity?.space_id);
  }

  get readOnly() {
    return this.identity?.role === "reader";
  }

  /** The picked space, kept for admin keys; a bound key's own space is never stored. */
  set space(value) {
    this.#set(SPACE_STORAGE, value && value !== DEFAULT_SPACE ? value : null);
  }

  /** The key to retry with: one dialog at a time, shared by every request that got 401. */
  #promptForKey(rejected) {
    if (!this.keyPrompt) {
      this.keyPrompt = Promise.resolve(this.askForKey({ rejected })).finally(() => {
        this.keyPrompt = null;
      });
    }
    return this.keyPrompt;
  }

  async fetch(method, path, { query, body, headers = {}, signal } = {}) {
    const url = new URL(path.replace(/^\//, ""), this.root);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
    }
    for (;;) {
      const sentKey = this.key;
      const response = await fetch(url, {
        method,
        signal,
        headers: {
          Accept: "application/json",
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...(sentKey ? { "X-API-Key": sentKey } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      if (response.status === 401) {
        const problem = await problemOf(response);
        // Another request may have been given a key meanwhile: retry with it first.
        if (this.key && this.key !== sentKey) continue;
        const key = await this.#promptForKey(Boolean(sentKey));
        if (!key) throw new ApiError({ ...problem, detail: "An API key is needed." }, response);
        this.key = key;
        this.onKeyChange();
        continue;
      }
      if (!response.ok) throw new ApiError(await problemOf(response), response);
      return response;
    }
  }

  async json(method, path, options) {
    const response = await this.fetch(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  #space(path = "") {
    return `/v1/spaces/${encodeURIComponent(this.space)}${path}`;
  }

  #thread(id, path = "") {
    return this.#space(`/threads/${encodeURIComponent(id)}${path}`);
  }

  version() {
    return this.json("GET", "/");
  }

  /** Asks the server who the key is: {key_id, role, space_id}, kept as `identity`. */
  async identify() {
    this.identity = await this.json("GET", "/v1/keys/me");
    return this.identity;
  }

  listThreads({ q, after, limit = 30 } = {}) {
    const query = { q, after, limit, order_by: "updated_at", order: "desc" };
    return this.json("GET", this.#space("/threads"), { query });
  }

  getThread(id) {
    return this.json("GET", this.#thread(id));
  }

  createThread(fields = {}) {
    const headers = { "Idempotency-Key": randomId() };
    return this.json("POST", this.#space("/threads"), { body: fields, headers });
  }

  updateThread(id, fields) {
    return this.json("PATCH", this.#thread(id), { body: fields });
  }

  /** DELETE archives (reversible with restoreThread); it does not purge. */
  archiveThread(id) {
    return this.json("DELETE", this.#thread(id));
  }

  restoreThread(id) {
    return this.json("POST", this.#thread(id, "/restore"));
  }

  /** A page of messages, newest first; `after` (a page's last_id) reads older ones. */
  listMessages(id, { after, limit = 50 } = {}) {
    return this.json("GET", this.#thread(id, "/messages"), {
      query: { order: "desc", limit, after },
    });
  }

  listAssistants() {
    return this.json("GET", this.#space("/assistants"), { query: { limit: 100 } });
  }

  /**
   * Sends a chat message. Resolves, once the server has accepted it, to the reply's events:
   * {event: "start" | "delta" | "done" | "error", data}. Aborting `signal` stops the model;
   * the server keeps what it had written, marked incomplete.
   */
  async chat(id, { content, assistant }, signal) {
    const body = { content, stream: true, ...(assistant ? { assistant } : {}) };
    const response = await this.fetch("POST", this.#thread(id, "/chat"), {
      body,
      signal,
      headers: { Accept: "text/event-stream" },
    });
    return events(response.body);
  }
}

async function* events(body) {
  for await (const item of parseEventStream(body)) {
    let data;
    try {
      data = JSON.parse(item.data);
    } catch {
      continue; // not ours (a proxy's comment or the like)
    }
    yield { event: item.event, data };
  }
}
