// A small, safe Markdown renderer for chat messages.
//
// It never parses HTML: it builds DOM nodes and puts all text in as text nodes, so "<script>"
// or "<img onerror>" in a message is shown as the characters it is. The subset: paragraphs
// and line breaks, headings, **bold**, *italic*, ~~strike~~, `code`, fenced code blocks,
// block quotes, bullet and numbered lists (nested), rules, and links, which are made only
// for http(s) URLs and open in a new tab with rel="noopener noreferrer".

import { safeLinkUrl } from "./dom.js";

const MAX_DEPTH = 8; // nesting of quotes and lists; deeper input is shown as text
const MAX_MARKDOWN_CHARS = 60000; // longer messages are shown as plain text, fast
const SPAN = "{1,1000}?"; // emphasis spans are bounded, so no input can take quadratic time

// A backtick fence's info string has no backtick: "```x```" on one line is inline code.
const FENCE = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;

const INLINE = new RegExp(
  [
    "(`+)([^`\\n]|[^`][\\s\\S]{0,2000}?[^`])\\1(?!`)", // 1, 2: code
    `\\*\\*(?=\\S)([\\s\\S]${SPAN})(?<=\\S)\\*\\*(?!\\*)`, // 3: bold
    `(?<!\\w)__(?=\\S)([\\s\\S]${SPAN})(?<=\\S)__(?!\\w)`, // 4: bold
    `\\*(?=[^\\s*])([\\s\\S]${SPAN})(?<=[^\\s*])\\*(?!\\*)`, // 5: italic
    `(?<!\\w)_(?=[^\\s_])([\\s\\S]${SPAN})(?<=[^\\s_])_(?!\\w)`, // 6: italic
    `~~(?=\\S)([\\s\\S]${SPAN})(?<=\\S)~~`, // 7: strike
    '\\[([^\\]\\n]{1,500})\\]\\(\\s*<?([^\\s()<>]{1,2000})>?(?:\\s+"[^"\\n]*")?\\s*\\)', // 8, 9: link
    "(https?:\\/\\/[^\\s<>\"]*[^\\s<>\"'.,:;!?)\\]*_~])", // 10: bare URL
    "\\\\([\\\\`*_{}\\[\\]()#+\\-.!~>|])", // 11: escaped punctuation
    "(\\n)", // 12: line break
  ].join("|"),
  "g",
);

function el(tag, ...children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

function link(href, depth, label) {
  const a = el("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  if (label === undefined) a.textContent = href;
  else appendInline(a, label, depth + 1, false);
  return a;
}

/** Appends the inline Markdown of `text` to `parent`. */
export function appendInline(parent, text, depth = 0, links = true) {
  if (depth > MAX_DEPTH) {
    parent.append(text);
    return;
  }
  const pattern = new RegExp(INLINE.source, "g"); // recursion must not share lastIndex
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== undefined) {
      const code = m[2].length > 2 && /^ .* $/s.test(m[2]) ? m[2].slice(1, -1) : m[2];
      parent.append(el("code", code));
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const strong = el("strong");
      appendInline(strong, m[3] ?? m[4], depth + 1, links);
      parent.append(strong);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      const em = el("em");
      appendInline(em, m[5] ?? m[6], depth + 1, links);
      parent.append(em);
    } else if (m[7] !== undefined) {
      const del = el("del");
      appendInline(del, m[7], depth + 1, links);
      parent.append(del);
    } else if (m[8] !== undefined) {
      const href = links && safeLinkUrl(m[9]);
      // Anything but an http(s) link (javascript:, data:...) stays visible as plain text.
      parent.append(href ? link(href, depth, m[8]) : m[0]);
    } else if (m[10] !== undefined) {
      const href = links && safeLinkUrl(m[10]);
      parent.append(href ? link(href, depth) : m[10]);
    } else if (m[11] !== undefined) {
      parent.append(m[11]);
    } else {
      parent.append(el("br"));
    }
  }
  if (last < text.length) parent.append(text.slice(last));
}

function indentOf(line) {
  return line.length - line.trimStart().length;
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function closesFence(line, fence) {
  const trimmed = line.trim();
  return trimmed.length >= fence.length && trimmed[0] === fence[0] && /^(`+|~+)$/.test(trimmed);
}

function renderList(lines, start, parent, depth) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) list.start = parseInt(first[2], 10);
  const items = [];
  let loose = false;
  let i = start;
  while (i < lines.length) {
    const m = ITEM.exec(lines[i]);
    if (!m || m[1].length < indent || m[1].length > indent + 1 || /\d/.test(m[2]) !== ordered) break;
    const strip = m[1].length + m[2].length + 1;
    const body = [m[3]];
    for (i += 1; i < lines.length; i += 1) {
      const line = lines[i];
      if (!line.trim()) {
        const next = lines[i + 1];
        if (next === undefined || !next.trim()) break;
        const sibling = ITEM.exec(next);
        if (indentOf(next) > indent + 1) {
          body.push("");
          loose = true;
          continue;
        }
        if (sibling && sibling[1].length <= indent + 1) loose = true;
        i += 1; // the blank line between two items
        break;
      }
      const item = ITEM.exec(line);
      if (item && item[1].length <= indent + 1) break;
      if (!item && indentOf(line) <= indent && startsBlock(line)) break;
      body.push(line.slice(Math.min(indentOf(line), strip)));
    }
    items.push(body);
  }
  for (const body of items) {
    const li = el("li");
    renderBlocks(body, li, depth + 1);
    if (!loose) {
      for (const p of [...li.children].filter((child) => child.tagName === "P")) {
        p.replaceWith(...p.childNodes);
      }
    }
    list.append(li);
  }
  parent.append(list);
  return i;
}

function renderBlocks(lines, parent, depth) {
  if (depth > MAX_DEPTH) {
    parent.append(el("p", lines.join("\n")));
    return;
  }
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i += 1;
    } else if ((m = FENCE.exec(line))) {
      const body = [];
      for (i += 1; i < lines.length && !closesFence(lines[i], m[1]); i += 1) body.push(lines[i]);
      i += 1;
      const code = el("code", body.join("\n"));
      if (m[2]) code.dataset.lang = m[2];
      parent.append(el("pre", code));
    } else if ((m = HEADING.exec(line))) {
      const heading = el(`h${Math.min(6, m[1].length + 2)}`);
      appendInline(heading, m[2], depth);
      parent.append(heading);
      i += 1;
    } else if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const inner = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i += 1) inner.push(lines[i].replace(QUOTE, ""));
      const quote = el("blockquote");
      renderBlocks(inner, quote, depth + 1);
      parent.append(quote);
    } else if (ITEM.test(line)) {
      i = renderList(lines, i, parent, depth);
    } else {
      const para = [line.trim()];
      for (i += 1; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i += 1) {
        para.push(lines[i].trim());
      }
      const p = el("p");
      appendInline(p, para.join("\n"), depth);
      parent.append(p);
    }
  }
}

/** The Markdown `text` as a DocumentFragment of safe nodes. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const source = String(text ?? "").replace(/\r\n?/g, "\n");
  if (source.length > MAX_MARKDOWN_CHARS) {
    fragment.append(el("p", source));
    return fragment;
  }
  renderBlocks(source.split("\n"), fragment, 0);
  return fragment;
}

/** The plain text of a message with its line breaks, for what people typed. */
export function renderPlain(text) {
  const fragment = document.createDocumentFragment();
  for (const para of String(text ?? "").replace(/\r\n?/g, "\n").split(/\n{2,}/)) {
    if (!para.trim()) continue;
    const p = el("p");
    para.split("\n").forEach((line, index) => {
      if (index) p.append(el("br"));
      p.append(line);
    });
    fragment.append(p);
  }
  return fragment;
}
