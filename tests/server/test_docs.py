"""``/docs`` and ``/redoc`` load everything from this server: no CDN, no other host.

(In a browser, with every other host unreachable: ``tests/ui/test_docs_page.py``.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

# Every URL a page names: attributes, and the quoted OpenAPI URL in Swagger UI's set-up.
URL = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|url: '([^']*)'""")
TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The pages do not depend on the backend."""
    return sqlite_url


def urls_of(html: str) -> list[str]:
    return [a or b for a, b in URL.findall(html)]


@pytest.fixture
async def behind_proxy(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app served under ``/tl`` by a proxy (its ``root_path``)."""
    transport = httpx.ASGITransport(app=app, root_path="/tl")
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        (
            "/docs",
            {
                "/docs/assets/swagger-ui-bundle.js",
                "/docs/assets/swagger-ui.css",
                "/docs/assets/favicon.png",
                "/openapi.json",
            },
        ),
        (
            "/redoc",
            {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon.png", "/openapi.json"},
        ),
    ],
)
async def test_a_page_and_all_it_loads_come_from_this_server(
    api: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    response = await api.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert set(urls_of(response.text)) == assets
    for url in assets:
        asset = await api.get(url)
        assert asset.status_code == 200, url
        assert TYPES[url[url.rindex(".") :]] in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url


async def test_the_pages_may_reach_this_server_only_and_never_be_framed(
    api: httpx.AsyncClient,
) -> None:
    for page in ("/docs", "/redoc"):
        policy = (await api.get(page)).headers["content-security-policy"]
        directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["connect-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "http" not in policy  # no other host is allowed anything


async def test_the_page_urls_follow_a_proxy_prefix(behind_proxy: httpx.AsyncClient) -> None:
    response = await behind_proxy.get("/tl/docs")
    assert response.status_code == 200
    urls = urls_of(response.text)
    assert "/tl/openapi.json" in urls
    assert all(url.startswith("/tl/") for url in urls), urls
    for url in urls:
        assert (await behind_proxy.get(url)).status_code == 200, url


async def test_an_unknown_asset_is_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/docs/assets/nothing.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
