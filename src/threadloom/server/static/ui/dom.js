// Small DOM helpers. Text always goes in as text nodes: nothing here parses HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

// 24x24 stroke icons, drawn by hand.
const ICONS = {
  archive: ["M3 5h18v4H3z", "M5 9v10h14V9", "M10 13h4"],
  bot: ["M12 3v3", "M5 8h14v11H5z", "M9 13h.01", "M15 13h.01", "M9.5 16.5h5"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
  user: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4 21a8 8 0 0 1 16 0"],
  warning: ["M12 3l10 18H2z", "M12 10v5", "M12 18h.01"],
};

/** An SVG icon, hidden from assistive technology (its button carries the label). */
export function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/**
 * h("a", {class: "x", href: url, onclick: fn, dataset: {id}}, "text", child) builds an
 * element. Strings become text nodes; null, undefined and false children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function parseUrl(value) {
  try {
    return new URL(String(value), document.baseURI);
  } catch {
    return null;
  }
}

/** The URL when it is absolute http(s), else null: links never run script. */
export function safeLinkUrl(value) {
  if (!/^https?:\/\//i.test(String(value).trim())) return null;
  const url = parseUrl(String(value).trim());
  return url && (url.protocol === "http:" || url.protocol === "https:") ? url.href : null;
}

/** The image URL when it is http(s) or an inline data:image/, else null. */
export function safeImageUrl(value) {
  const text = String(value).trim();
  if (/^data:image\/[a-z0-9.+-]+[;,]/i.test(text)) return text;
  return safeLinkUrl(text);
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [7, "day"],
  [4.35, "week"],
  [12, "month"],
  [Infinity, "year"],
];

/** "2 minutes ago", "yesterday"... */
export function relativeTime(iso) {
  let value = (Date.parse(iso) - Date.now()) / 1000;
  if (!Number.isFinite(value)) return "";
  if (Math.abs(value) < 45) return "just now";
  for (const [size, unit] of STEPS) {
    if (Math.abs(value) < size) return RELATIVE.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}

/** "14:05" today, "Mar 3, 14:05" on other days. */
export function shortTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  const options = today
    ? { hour: "2-digit", minute: "2-digit" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  return date.toLocaleString(undefined, options);
}

/** A short notice at the bottom of the screen, with an optional action button. */
export function toast(message, { kind = "info", action = null, timeout = 5000 } = {}) {
  const region = document.getElementById("toasts");
  // The same notice twice at once (several requests failing alike) is shown once.
  const shown = [...region.children].find((item) => item.dataset.message === message);
  if (shown) return () => shown.remove();
  const item = h("div", { class: `toast toast-${kind}`, dataset: { message } }, h("span", {}, message));
  const dismiss = () => item.remove();
  if (action) {
    item.append(
      h(
        "button",
        { type: "button", class: "toast-action", onclick: () => (dismiss(), action.run()) },
        action.label,
      ),
    );
  }
  item.append(
    h(
      "button",
      { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: dismiss },
      icon("close"),
    ),
  );
  region.append(item);
  if (timeout) setTimeout(dismiss, timeout);
  return dismiss;
}

/** A random id for Idempotency-Key (crypto.randomUUID needs a secure context). */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
