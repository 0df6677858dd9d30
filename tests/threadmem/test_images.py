"""Images as ``post`` takes them: URLs, file paths, bare base64 and PIL images (Pillow is
optional: without it, everything but PIL images works)."""

from __future__ import annotations

import base64
import io
import sys
import types
from pathlib import Path

import pytest

from tests.threadmem.conftest import GIF, PNG
from threadloom._threadmem.images import sniff_mime, to_image_url, to_image_urls
from threadloom.threadmem import RoleMessage, RoleThread

PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


class TestToImageUrl:
    @pytest.mark.parametrize(
        "url", ["https://x.test/a.png", "http://x.test/a.png", "data:image/gif;base64,R0lG"]
    )
    def test_urls_are_kept(self, url: str) -> None:
        assert to_image_url(url) == url

    def test_files_are_inlined_by_their_bytes(self, png_file: Path, tmp_path: Path) -> None:
        assert to_image_url(str(png_file)) == PNG_URL
        assert to_image_url(png_file) == PNG_URL
        misnamed = tmp_path / "really-a-gif.png"
        misnamed.write_bytes(GIF)
        assert to_image_url(misnamed).startswith("data:image/gif;base64,")

    def test_bare_base64(self) -> None:
        encoded = base64.b64encode(PNG).decode()
        assert to_image_url(encoded) == PNG_URL
        wrapped = "\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
        assert to_image_url(wrapped) == PNG_URL
        unknown = base64.b64encode(b"not an image").decode()
        assert to_image_url(unknown) == f"data:application/octet-stream;base64,{unknown}"

    @pytest.mark.parametrize("bad", ["", "no such file.png", "not base64!", "ftp://x.test/a"])
    def test_anything_else_is_refused(self, bad: str) -> None:
        with pytest.raises(ValueError, match="is not an http"):
            to_image_url(bad)

    def test_unknown_types_are_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown image type bytes"):
            to_image_url(PNG)
        with pytest.raises(ValueError, match="unknown image type"):
            RoleMessage("user", "x", images=[object()])

    @pytest.mark.parametrize(
        ("data", "name", "mime"),
        [
            (PNG, None, "image/png"),
            (b"\xff\xd8\xff\xe0rest", None, "image/jpeg"),
            (GIF, None, "image/gif"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
            (b"BM\x00\x00", None, "image/bmp"),
            (b'  <svg xmlns="http://www.w3.org/2000/svg"/>', None, "image/svg+xml"),
            (b"????", "photo.jpg", "image/jpeg"),
            (b"????", None, "application/octet-stream"),
        ],
    )
    def test_sniff_mime(self, data: bytes, name: str | None, mime: str) -> None:
        assert sniff_mime(data, name) == mime


class _FakeImage:
    """Stands in for ``PIL.Image.Image``: what matters is the class, and ``save``."""

    def save(self, buffer: io.BytesIO, format: str) -> None:
        assert format == "PNG"
        buffer.write(PNG)


def test_pil_images_are_recognized_without_importing_pillow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("PIL.Image")
    monkeypatch.setattr(module, "Image", _FakeImage, raising=False)
    monkeypatch.setitem(sys.modules, "PIL.Image", module)
    assert to_image_urls([_FakeImage(), "https://x.test/a.png"]) == [
        PNG_URL,
        "https://x.test/a.png",
    ]


@pytest.mark.usefixtures("local_db")
def test_a_pil_image_round_trips() -> None:
    image_module = pytest.importorskip(
        "PIL.Image", reason="Pillow is not installed (threadloom does not need it)"
    )
    image = image_module.new("RGB", (3, 2), (255, 0, 0))
    thread = RoleThread()
    thread.post("user", "red", images=[image])
    (message,) = thread.messages()
    (url,) = message.images
    assert url.startswith("data:image/png;base64,")
    back = image_module.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert back.size == (3, 2)
    assert back.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
