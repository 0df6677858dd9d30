"""The web chat page at ``/ui``: static HTML, CSS and JavaScript shipped inside the package.

The files are few and small, so they are read once, when the router is first imported, and
served from memory with a content hash as ``ETag``: browsers revalidate every time
(``Cache-Control: no-cache``) and get an empty 304 while nothing changed, so a new release is
picked up at once without a build step that renames files. A strict Content-Security-Policy
allows only the page's own scripts and styles, so even a rendering bug cannot run script
from a message.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ...errors import NotFound

__all__ = ["UI_FILES", "router"]

router = APIRouter(prefix="/ui", tags=["web chat page"], include_in_schema=False)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Images of messages may live anywhere (http, https or inline data); everything else is ours.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: http: https:; manifest-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def _load() -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    folder = resources.files("threadloom.server") / "static" / "ui"
    for entry in folder.iterdir():
        name = entry.name
        suffix = name[name.rfind(".") :] if "." in name else ""
        if not entry.is_file() or name.startswith("."):
            continue
        media_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0]
        if media_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[name] = StaticFile(body, media_type, etag)
    return files


UI_FILES = _load()
"""Every file of the page by name (``index.html``, ``app.js``...)."""


def _serve(name: str, request: Request) -> Response:
    file = UI_FILES.get(name)
    if file is None:
        raise NotFound(f"the web page has no file {name!r}")
    headers = {**_SECURITY_HEADERS, "ETag": file.etag}
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)


@router.get("", summary="The web chat page")
async def ui_root() -> Response:
    # Relative, so that the page also works behind a proxy that serves it under a prefix.
    return RedirectResponse("ui/", status_code=308)


@router.get("/", summary="The web chat page")
async def ui_index(request: Request) -> Response:
    return _serve("index.html", request)


@router.get("/{name}", summary="A file of the web chat page")
async def ui_file(name: str, request: Request) -> Response:
    return _serve(name, request)
