"""The page's JavaScript modules in the browser, without a server: the Markdown renderer and
the Server-Sent Events parser. The files are served to the browser straight from the package.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from threadloom.server.routers.ui import UI_FILES

pytestmark = pytest.mark.ui

ORIGIN = "http://threadloom.test"

RENDER = """async (text) => {
    const { renderMarkdown } = await import("./markdown.js");
    const box = document.createElement("div");
    box.append(renderMarkdown(text));
    return box.innerHTML;
}"""

LINK = '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>'


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()

    def serve(route: Route) -> None:
        name = route.request.url.removeprefix(f"{ORIGIN}/ui/")
        if name == "blank.html":
            route.fulfill(body="<!doctype html><title>test</title>", content_type="text/html")
        elif name in UI_FILES:
            file = UI_FILES[name]
            route.fulfill(body=file.body, content_type=file.media_type)
        else:
            route.fulfill(status=404)

    context.route(f"{ORIGIN}/**", serve)
    blank = context.new_page()
    blank.goto(f"{ORIGIN}/ui/blank.html")
    yield blank
    context.close()


def render(page: Page, text: str) -> Any:
    return page.evaluate(RENDER, text)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain words", "<p>plain words</p>"),
        ("a\nb\n\nc", "<p>a<br>b</p><p>c</p>"),
        (
            "**bold**, *italic*, _also_, ~~gone~~ and `co<de>`",
            "<p><strong>bold</strong>, <em>italic</em>, <em>also</em>, <del>gone</del> and "
            "<code>co&lt;de&gt;</code></p>",
        ),
        ("**bold *inside***", "<p><strong>bold <em>inside</em></strong></p>"),
        ("snake_case_name and 2 * 3 * 4", "<p>snake_case_name and 2 * 3 * 4</p>"),
        (r"\*not italic\*", "<p>*not italic*</p>"),
        (
            "```js\nlet a = '<b>';\n\nb();\n```",
            "<pre><code data-lang=\"js\">let a = '&lt;b&gt;';\n\nb();</code></pre>",
        ),
        ("```\nnever closed", "<pre><code>never closed</code></pre>"),
        ("```inline```", "<p><code>inline</code></p>"),
        ("# Title\n### Small", "<h3>Title</h3><h5>Small</h5>"),
        ("> quoted **text**", "<blockquote><p>quoted <strong>text</strong></p></blockquote>"),
        ("---", "<hr>"),
        ("- one\n- two\n  - nested", "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>"),
        ("Steps:\n1. first\n2. second", "<p>Steps:</p><ol><li>first</li><li>second</li></ol>"),
        ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
        ("- a\n\n- b", "<ul><li><p>a</p></li><li><p>b</p></li></ul>"),
        (
            "[the site](https://example.com/a?b=1&c=2)",
            "<p>" + LINK.format("https://example.com/a?b=1&amp;c=2", "the site") + "</p>",
        ),
        (
            "see https://example.com/x.",
            "<p>see " + LINK.format("https://example.com/x", "https://example.com/x") + ".</p>",
        ),
        (
            "[**bold** link](http://example.com)",
            "<p>" + LINK.format("http://example.com/", "<strong>bold</strong> link") + "</p>",
        ),
    ],
)
def test_markdown_subset(page: Page, text: str, html: str) -> None:
    assert render(page, text) == html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("[x](javascript:alert)", "<p>[x](javascript:alert)</p>"),
        ("[x](JaVaScRiPt:alert)", "<p>[x](JaVaScRiPt:alert)</p>"),
        (
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "<p>[x](data:text/html;base64,PHNjcmlwdD4=)</p>",
        ),
        ("[x](//evil.example/)", "<p>[x](//evil.example/)</p>"),
        ("[x](/v1/keys)", "<p>[x](/v1/keys)</p>"),
        (
            '[x](https://a.example/" onclick="alert(1))',
            "<p>[x]("
            + LINK.format("https://a.example/", "https://a.example/")
            + '" onclick="alert(1))</p>',
        ),
        (
            "`<b>` **<i>x</i>**",
            "<p><code>&lt;b&gt;</code> <strong>&lt;i&gt;x&lt;/i&gt;</strong></p>",
        ),
        (
            "```html\n<script>alert(1)</script>\n```",
            '<pre><code data-lang="html">&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>',
        ),
    ],
)
def test_markdown_never_makes_markup_from_text(page: Page, text: str, html: str) -> None:
    assert render(page, text) == html


def test_markdown_is_fast_on_hostile_input(page: Page) -> None:
    elapsed = page.evaluate(
        """async () => {
            const { renderMarkdown } = await import("./markdown.js");
            const inputs = ["*a".repeat(20000), "_".repeat(40000), "`".repeat(30000),
                            "[".repeat(20000) + "](", "- ".repeat(5000) + "x", "> ".repeat(5000)];
            const start = performance.now();
            for (const text of inputs) renderMarkdown(text);
            return performance.now() - start;
        }"""
    )
    assert elapsed < 2000


def test_plain_text_keeps_line_breaks_and_shows_markup(page: Page) -> None:
    html = page.evaluate(
        """async () => {
            const { renderPlain } = await import("./markdown.js");
            const box = document.createElement("div");
            box.append(renderPlain("<b>x</b>\\nline\\n\\n**two**"));
            return box.innerHTML;
        }"""
    )
    assert html == "<p>&lt;b&gt;x&lt;/b&gt;<br>line</p><p>**two**</p>"


PARSE = """async (chunks) => {
    const { parseEventStream } = await import("./sse.js");
    const encoder = new TextEncoder();
    const body = new ReadableStream({
        start(controller) {
            for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
            controller.close();
        },
    });
    const events = [];
    for await (const event of parseEventStream(body)) events.push(event);
    return events;
}"""


def test_event_stream_parser_follows_the_format(page: Page) -> None:
    chunks = [
        ': ping\r\n\r\nevent: start\r\ndata: {"a"',
        ": 1}\r",  # a CR at a chunk's end, its LF in the next chunk
        "\n\r\nevent: delta\ndata:line one\ndata: line two\nid: 7\n\n",
        "data: no name\r\rdata: é",
        "\n\n",
        "event: ignored, no data\n\ndata: unfinished",
    ]
    assert page.evaluate(PARSE, chunks) == [
        {"event": "start", "data": '{"a": 1}', "id": None},
        {"event": "delta", "data": "line one\nline two", "id": "7"},
        {"event": "message", "data": "no name", "id": "7"},
        {"event": "message", "data": "é", "id": "7"},
    ]


def test_event_stream_parser_reads_multibyte_text_split_across_chunks(page: Page) -> None:
    events = page.evaluate(
        """async () => {
            const { parseEventStream } = await import("./sse.js");
            const bytes = new TextEncoder().encode("event: delta\\ndata: héllo wörld\\n\\n");
            const body = new ReadableStream({
                start(controller) {
                    for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
                    controller.close();
                },
            });
            const events = [];
            for await (const event of parseEventStream(body)) events.push(event.data);
            return events;
        }"""
    )
    assert events == ["héllo wörld"]
