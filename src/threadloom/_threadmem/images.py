"""Images as the original accepted them, turned into the URLs threadloom stores.

A message's images are http(s) or ``data:`` URLs. ``post`` also takes local file paths (read
and inlined as ``data:<mime>;base64,...``, the type told by the file's first bytes), bare
base64 strings (wrapped the same way) and PIL images (saved as PNG). Pillow is optional and
never imported here: a PIL image can only exist once its module has been imported, so it is
recognized through ``sys.modules``.
"""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["ImageLike", "sniff_mime", "to_image_url", "to_image_urls"]

ImageLike = Any
"""A URL, a path (``str`` or ``os.PathLike``), bare base64 text, or a PIL image."""

_URL_PREFIXES = ("http://", "https://", "data:")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)
UNKNOWN_MIME = "application/octet-stream"


def sniff_mime(data: bytes, name: str | None = None) -> str:
    """The image type of ``data`` by its signature, else by the file name's extension."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    head = data[:256].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    if name is not None:
        guessed, _ = mimetypes.guess_type(name)
        if guessed is not None:
            return guessed
    return UNKNOWN_MIME


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _pil_png(image: Any) -> str | None:
    module = sys.modules.get("PIL.Image")
    if module is None or not isinstance(image, module.Image):
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return _data_url(buffer.getvalue(), "image/png")


def to_image_url(image: ImageLike) -> str:
    """One image as a URL threadloom stores (see the module's docstring)."""
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if isinstance(image, str):
        if image.startswith(_URL_PREFIXES):
            return image
        if os.path.isfile(image):
            with open(image, "rb") as file:
                data = file.read()
            return _data_url(data, sniff_mime(data, image))
        compact = "".join(image.split())
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if data:
            return f"data:{sniff_mime(data)};base64,{compact}"
        raise ValueError(
            f"image {_preview(image)!r} is not an http(s) or data: URL, an existing file or "
            "base64 data"
        )
    url = _pil_png(image)
    if url is not None:
        return url
    raise ValueError(
        f"unknown image type {type(image).__name__}: give a URL, a file path, base64 data "
        "or a PIL image"
    )


def to_image_urls(images: Iterable[ImageLike]) -> list[str]:
    return [to_image_url(image) for image in images]


def _preview(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
