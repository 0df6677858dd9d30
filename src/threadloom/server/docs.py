"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc``, without a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so without internet they are blank.
These are the same pages, built with FastAPI's helpers, but their scripts, styles and icon
are the copies the ``fastapi-offline`` package ships (a dependency of the ``server`` extra),
served from ``/docs/assets``: the pages reach no other host. ReDoc's web fonts come from
Google's servers, so they are left out and ReDoc uses the browser's fonts.

The pages' Content-Security-Policy lets them load and call this server only, and never be
framed (it also refuses the logo ReDoc always asks its maker's CDN for, which it then hides).
It is looser than the web chat page's: Swagger UI starts from an inline script, and both
renderers set inline styles.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

__all__ = ["ASSETS_PATH", "DOCS_PATH", "REDOC_PATH", "install_docs"]

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Add the two pages and their assets to ``app``, which was made with ``docs_url=None``
    and ``redoc_url=None`` (no oauth2 redirect page either: keys go in a header)."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    app.mount(
        ASSETS_PATH,
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="docs-assets",
    )

    def prefix(request: Request) -> str:
        # Behind a proxy that serves the app under a path, every URL starts with it.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(_HEADERS)
        return page

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(_HEADERS)
        return page
