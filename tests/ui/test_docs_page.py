"""``/docs`` and ``/redoc`` in a headless Chromium that can reach nothing but this machine:
every request to another host is blocked and recorded, and the pages must still render the
whole API under their Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Route

from tests.fixtures.servers import LiveServer
from tests.ui.conftest import PageFactory

pytestmark = [pytest.mark.ui, pytest.mark.server]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# ReDoc always shows its maker's logo from their CDN (and hides it when it fails to load):
# the page's policy refuses it before any request is made.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class Offline:
    """A page whose requests to other hosts fail, and what it tried and complained about."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        page.route("**/*", self._route)
        page.on("console", self._console)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def check(self, refused: tuple[str, ...] = ()) -> None:
        """Nothing tried to reach another host, and the page logged no error but the
        policy's refusal of each URL of ``refused``."""
        assert self.blocked == []
        expected = [
            f"Loading the image '{url}' violates the following Content Security Policy "
            """directive: "img-src 'self' data:". The action has been blocked."""
            for url in refused
        ]
        assert self.console_errors == expected


@pytest.fixture
def offline_page(new_page: PageFactory) -> Callable[[], Offline]:
    return lambda: Offline(new_page())


def operations(http: httpx.Client) -> list[dict[str, Any]]:
    spec = http.get("/openapi.json").json()
    return [op for path in spec["paths"].values() for op in path.values()]


def test_swagger_ui_renders_every_operation_offline(
    ui_server: LiveServer, http: httpx.Client, offline_page: Callable[[], Offline]
) -> None:
    offline = offline_page()
    offline.page.goto(ui_server.url + "/docs")
    blocks = offline.page.locator(".opblock")
    blocks.first.wait_for()
    assert blocks.count() == len(operations(http))
    assert offline.page.get_by_text("/v1/spaces/{space_id}/threads", exact=True).count() >= 1
    offline.check()


def test_redoc_renders_every_operation_offline(
    ui_server: LiveServer, http: httpx.Client, offline_page: Callable[[], Offline]
) -> None:
    offline = offline_page()
    offline.page.goto(ui_server.url + "/redoc")
    sections = offline.page.locator("[data-section-id^='operation/']")
    sections.first.wait_for()
    shown = sections.evaluate_all("all => all.map(e => e.dataset.sectionId)")
    assert sorted(shown) == sorted(f"operation/{op['operationId']}" for op in operations(http))
    offline.check(refused=(REDOC_LOGO,))
