"""The README's screenshots of the web chat page, taken from a real server and browser.

The test always runs the screens through; it writes the PNG files only when
``THREADLOOM_UI_SCREENSHOTS`` names a directory (``./scripts/screenshots`` sets it to docs/).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.servers import LiveServer

from .conftest import DESKTOP, OFFLINE_ENV, PHONE, PageFactory, add_messages, new_thread

pytestmark = [pytest.mark.ui, pytest.mark.server]

SCREENSHOTS_ENV = "THREADLOOM_UI_SCREENSHOTS"
TALL = {"width": 1280, "height": 900}

ANSWER = """\
Here is a small helper that retries **transient** failures with *exponential backoff*:

```python
import time
import httpx

def get_with_retry(url: str, attempts: int = 4) -> httpx.Response:
    for attempt in range(attempts):
        try:
            return httpx.get(url, timeout=5).raise_for_status()
        except httpx.TransportError:
            time.sleep(2 ** attempt)  # 1 s, 2 s, 4 s...
    raise RuntimeError(f"gave up on {url}")
```

- Retry only what can succeed later: timeouts, connection errors, `503`.
- Cap the total wait, and add jitter when many clients retry at once.

See the [httpx documentation](https://www.python-httpx.org/) for timeouts."""

SESSIONS = [
    ("Onboarding checklist for new hires", "Draft a first-week checklist for a new engineer."),
    ("Birthday gift ideas", "Ideas for a friend who loves hiking and coffee?"),
    ("SQL index question", "Why is my query on created_at not using the index?"),
    ("Packing list for Lisbon", "Four days in Lisbon in May: what should I pack?"),
    ("Refund policy reply", "Write a friendly reply to a customer asking for a refund."),
    ("Quarterly report outline", "Outline a one-page quarterly report for the team."),
]


def seed(http: httpx.Client) -> dict[str, object]:
    for title, question in SESSIONS:
        thread = new_thread(http, title)
        add_messages(
            http,
            str(thread["id"]),
            {"role": "user", "content": question},
            {"role": "assistant", "content": "Sure, here is a start."},
        )
    thread = new_thread(http, "Retrying HTTP requests in Python")
    add_messages(
        http,
        str(thread["id"]),
        {"role": "user", "content": "How do I retry an HTTP request with backoff in Python?"},
        {"role": "assistant", "content": ANSWER},
    )
    return thread


def save(page: Page, name: str) -> None:
    folder = os.environ.get(SCREENSHOTS_ENV)
    page.wait_for_timeout(250)  # transitions settle
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), animations="disabled", caret="hide")


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    expect(page.locator(".msg-assistant").last).to_contain_text("offline assistant")
    expect(page.locator("#send")).to_be_visible()


def test_screens(
    new_page: PageFactory,
    ui_server: LiveServer,
    http: httpx.Client,
    live_servers: Callable[..., LiveServer],
    tmp_path: Path,
) -> None:
    thread = seed(http)
    url = f"{ui_server.url}/ui/#/t/{thread['id']}"

    page = new_page(TALL, color_scheme="light")
    page.goto(f"{ui_server.url}/ui/")
    expect(page.locator(".session")).to_have_count(len(SESSIONS) + 1)
    save(page, "ui-sessions.png")

    page.goto(url)
    expect(page.locator("pre code")).to_contain_text("get_with_retry")
    send(page, "Thanks! Could you sum that up in one line?")
    save(page, "ui-desktop.png")

    dark = new_page(TALL, color_scheme="dark")
    dark.goto(url)
    expect(dark.locator(".msg-assistant").last).to_contain_text("offline assistant")
    save(dark, "ui-dark.png")

    phone = new_page(PHONE, color_scheme="light", device_scale_factor=2, has_touch=True)
    phone.goto(url)
    expect(phone.locator(".msg-assistant").last).to_contain_text("offline assistant")
    save(phone, "ui-phone.png")
    phone.get_by_role("button", name="Sessions").click()
    expect(phone.locator("#sidebar")).to_be_in_viewport()
    save(phone, "ui-phone-drawer.png")

    # A server that requires a key: the page asks for one.
    database = f"sqlite:///{tmp_path / 'keyed.db'}"
    subprocess.run(
        [sys.executable, "-m", "threadloom", "keys", "create", "--admin"],
        env={**os.environ, "THREADLOOM_DATABASE_URL": database},
        check=True,
        capture_output=True,
    )
    keyed = live_servers(database, env=OFFLINE_ENV)
    locked = new_page(DESKTOP, color_scheme="light")
    locked.goto(f"{keyed.url}/ui/")
    expect(locked.get_by_role("dialog", name="API key required")).to_be_visible()
    save(locked, "ui-api-key.png")
