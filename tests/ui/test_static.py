"""How the server serves the page's files: from the package, with cache and security headers."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import httpx
import pytest

from threadloom.server.routers.ui import UI_FILES

pytestmark = [pytest.mark.anyio, pytest.mark.ui]

ROOT = Path(__file__).resolve().parents[2]


class TestServeThePage:
    async def test_ui_redirects_to_the_folder(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/ui")
        assert response.status_code == 308
        assert response.headers["location"] == "ui/"

    async def test_index_is_html_with_a_strict_policy(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/ui/")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="app.js">' in response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"

    @pytest.mark.parametrize(
        ("name", "media_type"),
        [
            ("app.js", "text/javascript; charset=utf-8"),
            ("markdown.js", "text/javascript; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ],
    )
    async def test_assets_have_their_types(
        self, api: httpx.AsyncClient, name: str, media_type: str
    ) -> None:
        response = await api.get(f"/ui/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        assert response.content == UI_FILES[name].body

    async def test_files_are_revalidated_and_answer_304_while_unchanged(
        self, api: httpx.AsyncClient
    ) -> None:
        first = await api.get("/ui/app.js")
        assert first.headers["cache-control"] == "no-cache"
        etag = first.headers["etag"]
        again = await api.get("/ui/app.js", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        changed = await api.get("/ui/app.js", headers={"If-None-Match": '"other"'})
        assert changed.status_code == 200

    @pytest.mark.parametrize("path", ["/ui/missing.js", "/ui/..%2Fapp.py", "/ui/%2e%2e/cli.py"])
    async def test_anything_else_is_a_problem_404(self, api: httpx.AsyncClient, path: str) -> None:
        response = await api.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")

    async def test_the_page_needs_no_key(self, api: httpx.AsyncClient) -> None:
        # The page holds no data: it asks for the key itself, when the API answers 401.
        response = await api.get("/ui/", headers={"X-API-Key": "tl_wrong"})
        assert response.status_code == 200

    async def test_the_page_is_not_in_the_openapi_document(self, api: httpx.AsyncClient) -> None:
        paths = (await api.get("/openapi.json")).json()["paths"]
        assert not [path for path in paths if path.startswith("/ui")]


def test_the_build_ships_every_file() -> None:
    """Hatch puts every file under the package's folder into the wheel, except what
    .gitignore or an exclude drops: check that nothing drops the page's files."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    target = wheel["targets"]["wheel"]
    assert target["packages"] == ["src/threadloom"]
    assert not {"only-include", "exclude", "include"} & ({*wheel, *target})
    names = [f"src/threadloom/server/static/ui/{name}" for name in UI_FILES]
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(
            ["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True
        )
        assert ignored.stdout == ""
    assert {"index.html", "app.js", "api.js", "markdown.js", "style.css"} <= set(UI_FILES)
