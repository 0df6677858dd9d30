// The web chat page: wires the sessions list, the conversation, the composer and the
// dialogs together. The open session is in the URL (#/t/ID), so a reload keeps it. Nothing is
// loaded before the server has said who the key is: its space, and whether it may write.

import { Api, ApiError } from "./api.js";
import { Conversation } from "./conversation.js";
import { askForKey, openSettings, setUpImageViewer } from "./dialogs.js";
import { toast } from "./dom.js";
import { SessionList, sessionTitle } from "./sessions.js";

const $ = (id) => document.getElementById(id);
const PHONE = window.matchMedia("(max-width: 720px)");
const TITLE_CHARS = 60;
const BUSY_RETRIES = 3;

const api = new Api({ askForKey, onKeyChange: () => identifying || reloadAll({ newKey: true }) });
const state = { thread: null, streaming: null, version: null, routing: 0, space: null };
const PLACEHOLDER = $("input").placeholder;
let identifying = null;

function showError(error) {
  if (error?.name === "AbortError") return;
  const problem =
    error instanceof ApiError
      ? error.problem
      : { title: "The server cannot be reached", detail: String(error?.message || error) };
  const detail = problem.detail && problem.detail !== problem.title ? `: ${problem.detail}` : "";
  toast(`${problem.title}${detail}`, { kind: "error", timeout: 8000 });
}

const sessions = new SessionList({ api, onArchive: archive, onError: showError });
const conversation = new Conversation({ api, onError: showError });

function preference(name, value) {
  const key = `threadloom.${name}.${api.space}`;
  try {
    if (value === undefined) return localStorage.getItem(key);
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    return null;
  }
  return value;
}

// The drawer: on a phone-sized screen the sessions list slides over the conversation.

function setDrawer(open) {
  $("app").classList.toggle("drawer-open", open);
  $("drawer-toggle").setAttribute("aria-expanded", String(open));
  syncDrawer();
  if (open) $("new-session").focus();
}

function syncDrawer() {
  const open = $("app").classList.contains("drawer-open");
  $("scrim").hidden = !(PHONE.matches && open);
  // What is covered or hidden is out of the tab order and of the accessibility tree.
  $("sidebar").inert = PHONE.matches && !open;
  $("main").inert = PHONE.matches && open;
}

// The open session.

function setHeader(thread) {
  const title = thread ? sessionTitle(thread) : "threadloom";
  $("thread-title").textContent = title;
  document.title = thread ? `${title} · threadloom` : "threadloom";
  $("welcome").hidden = Boolean(thread);
}

async function show(thread) {
  state.streaming?.abort(); // the server keeps the partial reply, marked incomplete
  state.thread = thread;
  sessions.setActive(thread?.id ?? null);
  setHeader(thread);
  if (PHONE.matches) setDrawer(false);
  await conversation.open(thread);
  if (thread && !PHONE.matches) $("input").focus();
}

async function route() {
  const match = /^#\/t\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  if (id === (state.thread?.id ?? null)) return;
  const routing = ++state.routing;
  let thread = id ? sessions.threads.get(id) : null;
  if (id && !thread) {
    try {
      thread = await api.getThread(id);
    } catch (error) {
      showError(error);
      if (routing === state.routing) history.replaceState(null, "", location.pathname);
      thread = null;
    }
  }
  if (routing === state.routing) await show(thread);
}

function open(thread) {
  if (location.hash !== `#/t/${encodeURIComponent(thread.id)}`) {
    history.pushState(null, "", `#/t/${encodeURIComponent(thread.id)}`);
  }
  return show(thread);
}

async function newSession(title = null) {
  const thread = await api.createThread(title ? { title } : {});
  sessions.upsert(thread);
  await open(thread);
  return thread;
}

async function archive(thread) {
  try {
    await api.archiveThread(thread.id);
  } catch (error) {
    showError(error);
    return;
  }
  const next = sessions.neighbour(thread.id);
  sessions.remove(thread.id);
  if (state.thread?.id === thread.id) {
    history.pushState(null, "", location.pathname);
    await show(null);
  }
  (next || $("new-session")).focus();
  toast(`Archived “${sessionTitle(thread)}”`, {
    action: {
      label: "Undo",
      run: () => api.restoreThread(thread.id).then((restored) => sessions.upsert(restored), showError),
    },
  });
}

// Sending, and the streamed reply.

function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1).trimEnd()}…` : line;
}

function setStreaming(controller) {
  state.streaming = controller;
  const hadFocus = document.activeElement === $("stop");
  $("send").hidden = Boolean(controller);
  $("stop").hidden = !controller;
  if (hadFocus && !controller) $("input").focus();
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** Starts the chat; a thread still answering someone else (409 + Retry-After) is waited for. */
async function startChat(threadId, body, signal) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api.chat(threadId, body, signal);
    } catch (error) {
      const busy = error instanceof ApiError && error.status === 409 && error.retryAfter;
      if (!busy || attempt >= BUSY_RETRIES) throw error;
      await sleep(Math.min(error.retryAfter, 5) * 1000, signal);
    }
  }
}

async function send(event) {
  event?.preventDefault();
  const input = $("input");
  const content = input.value.trim();
  if (!content || state.streaming || api.readOnly) return;
  let thread = state.thread;
  try {
    thread ??= await newSession(titleFrom(content));
  } catch (error) {
    showError(error);
    return;
  }
  input.value = "";
  autosize();
  const assistant = $("assistant").value || null;
  const controller = new AbortController();
  setStreaming(controller);
  const pending = conversation.addPending(content);
  const reply = conversation.startReply(assistant);
  let started = false;
  try {
    const events = await startChat(thread.id, { content, assistant }, controller.signal);
    for await (const { event: name, data } of events) {
      if (name === "start") {
        started = true;
        pending.confirm(data.user_message);
      } else if (name === "delta") reply.append(data.text);
      else if (name === "done") reply.finish(data);
      else if (name === "error") reply.fail(data);
    }
    if (!reply.settled) {
      reply.fail({ title: "The reply was cut off", detail: "The connection closed before it was finished." });
    }
  } catch (error) {
    const problem = error instanceof ApiError ? error.problem : { title: "The connection was lost" };
    if (error?.name === "AbortError" || controller.signal.aborted) reply.stop();
    else if (started || problem.status >= 500) {
      // When the model fails (502, 504) the server has kept the person's message.
      if (!started) pending.sent();
      reply.fail(problem);
    } else {
      pending.fail();
      reply.discard();
      showError(error);
      if (!input.value) input.value = content; // nothing was sent: give the text back
    }
  } finally {
    if (state.streaming === controller) setStreaming(null);
  }
  await refreshThread(thread, content);
}

/** After a turn: the session moves to the top, and gets a title from its first message. */
async function refreshThread(thread, content) {
  try {
    const fresh = thread.title
      ? await api.getThread(thread.id)
      : await api.updateThread(thread.id, { title: titleFrom(content) });
    sessions.upsert(fresh);
    sessions.setActive(state.thread?.id ?? null);
    if (state.thread?.id === fresh.id) {
      state.thread = fresh;
      setHeader(fresh);
    }
  } catch (error) {
    showError(error);
  }
}

// The composer.

function autosize() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 220)}px`;
}

// Assistants of the space, for the picker.

async function loadAssistants() {
  const select = $("assistant");
  let assistants = [];
  try {
    assistants = (await api.listAssistants()).data;
  } catch (error) {
    if (!(error instanceof ApiError && [401, 404].includes(error.status))) showError(error);
  }
  conversation.assistantNames = new Map(assistants.map((a) => [a.id, a.name]));
  const own = assistants.find((a) => a.id === "default");
  const options = [new Option(own ? own.name : "Default assistant", "")];
  for (const assistant of assistants) {
    if (assistant.id !== "default") options.push(new Option(assistant.name, assistant.id));
  }
  select.replaceChildren(...options);
  const saved = preference("assistant");
  select.value = assistants.some((a) => a.id === saved) ? saved : "";
}

// What the key may do.

/** Asks who the key is (one question at a time); false when that failed, and said why. */
function identify() {
  identifying ??= api
    .identify()
    .then(
      () => true,
      (error) => {
        showError(error);
        return false;
      },
    )
    .finally(() => {
      identifying = null;
    });
  return identifying;
}

/** A reader key sends nothing, starts no chat and archives none, and the page says so. */
function applyAccess() {
  const readOnly = api.readOnly;
  $("app").classList.toggle("read-only", readOnly);
  for (const id of ["input", "send", "new-session", "assistant"]) $(id).disabled = readOnly;
  for (const chip of document.querySelectorAll("[data-prompt]")) chip.disabled = readOnly;
  $("input").placeholder = readOnly ? "This key can only read" : PLACEHOLDER;
  if (readOnly) $("input").setAttribute("aria-describedby", "read-only-note");
  else $("input").removeAttribute("aria-describedby");
  $("read-only-note").hidden = !readOnly;
  sessions.readOnly = readOnly;
}

/** Shows the space the key works in, from scratch: after a new key, its identity first. */
async function reloadAll({ newKey = false } = {}) {
  const known = !newKey || (await identify());
  applyAccess(); // what the key may do, or when that is not known, what it might
  if (!known) return;
  if (state.space !== null && state.space !== api.space) {
    history.pushState(null, "", location.pathname);
    state.thread = null;
    show(null);
  }
  state.space = api.space;
  $("space-label").textContent = api.space;
  sessions.reload();
  loadAssistants();
  const thread = state.thread;
  state.thread = null;
  if (thread) show(thread);
  else route(); // the session the URL names, if the key had not been known before
}

function settings() {
  openSettings({
    api,
    version: state.version,
    onSaved: ({ keyChanged }) => reloadAll({ newKey: keyChanged }),
  });
}

function start() {
  setUpImageViewer();
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("input", autosize);
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => state.streaming?.abort());
  // The URL's fragment names the open session: the skip link must not change it.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    $("input").focus();
  });
  $("new-session").addEventListener("click", () => newSession().catch(showError));
  $("settings-btn").addEventListener("click", settings);
  $("assistant").addEventListener("change", (event) => preference("assistant", event.target.value));
  $("drawer-toggle").addEventListener("click", () => setDrawer(!$("app").classList.contains("drawer-open")));
  $("scrim").addEventListener("click", () => setDrawer(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && $("app").classList.contains("drawer-open")) setDrawer(false);
  });
  for (const chip of document.querySelectorAll("[data-prompt]")) {
    chip.addEventListener("click", () => {
      $("input").value = chip.dataset.prompt;
      autosize();
      $("input").focus();
    });
  }
  PHONE.addEventListener("change", syncDrawer);
  window.addEventListener("hashchange", route);
  window.addEventListener("popstate", route);
  syncDrawer();
  api.version().then((about) => (state.version = about.version), () => {});
  reloadAll({ newKey: true });
}

start();
