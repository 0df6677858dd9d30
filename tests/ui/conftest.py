"""Web chat page tests: real ``threadloom serve`` processes and a headless Chromium.

The browser is the system's Chromium (Debian's ``chromium`` package at /usr/bin/chromium, or
the one ``THREADLOOM_TEST_CHROMIUM`` names), driven by Playwright's Python client; Playwright's
own browser downloads are never used. Without it the tests are skipped with the reason,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.fixtures.servers import LiveServer
from tests.fixtures.services import service_missing

CHROMIUM_ENV = "THREADLOOM_TEST_CHROMIUM"
CHROMIUM_DEFAULT = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The offline provider answers without a network, whatever this machine's environment says.
OFFLINE_ENV = {"THREADLOOM_LLM_PROVIDER": "offline"}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The in-process ``api`` of these tests runs on SQLite only: the page is the subject."""
    return sqlite_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = os.environ.get(CHROMIUM_ENV) or CHROMIUM_DEFAULT
    if not os.access(path, os.X_OK):
        service_missing(
            f"the web page tests need Chromium at {path} (install Debian's `chromium` "
            f"package, or set {CHROMIUM_ENV})"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def ui_server(live_servers: Callable[..., LiveServer], sqlite_url: str) -> LiveServer:
    """A real server on a fresh SQLite database, answered by the offline provider."""
    return live_servers(sqlite_url, env=OFFLINE_ENV)


@pytest.fixture
def http(ui_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of ``ui_server``'s API, to set up and check what the page shows."""
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        yield client


PageFactory = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[PageFactory]:
    """Pages in contexts of their own (fresh storage); JavaScript errors fail the test."""
    contexts = []
    errors: list[str] = []

    def make(viewport: ViewportSize | None = None, **options: Any) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def new_thread(http: httpx.Client, title: str | None = None, **fields: Any) -> dict[str, Any]:
    response = http.post("/v1/spaces/default/threads", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add_messages(http: httpx.Client, thread_id: str, *messages: dict[str, Any]) -> None:
    url = f"/v1/spaces/default/threads/{thread_id}/messages/batch"
    for start in range(0, len(messages), 100):
        response = http.post(url, json={"messages": list(messages[start : start + 100])})
        assert response.status_code == 201, response.text
