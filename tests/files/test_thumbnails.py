"""Thumbnails are made at upload: small, upright, without metadata; an image that
declares too many pixels is refused before it is decoded, and one the library cannot
read simply has no thumbnail."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from formloom.files.thumbnails import MAX_PIXELS, THUMB_SIDE, ImageTooLarge, make_thumbnail


def encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def bomb_png(width: int, height: int) -> bytes:
    """A PNG header declaring width x height pixels, with almost no data behind it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1024)))
            + chunk(b"IEND", b""))


def test_a_photo_is_scaled_to_fit_and_keeps_its_shape():
    thumb = make_thumbnail(encoded(Image.new("RGB", (1600, 900), "teal"), "JPEG"))
    assert thumb.content_type == "image/jpeg" and (thumb.width, thumb.height) == (THUMB_SIDE, 180)
    assert opened(thumb.data).size == (THUMB_SIDE, 180)


def test_a_small_picture_is_not_enlarged():
    thumb = make_thumbnail(encoded(Image.new("RGB", (160, 100), "navy"), "PNG"))
    assert (thumb.width, thumb.height) == (160, 100)


def test_a_sideways_phone_photo_is_turned_upright_and_loses_its_metadata():
    exif = Image.Exif()
    exif[0x0112] = 6                     # orientation: rotate 90° clockwise to view
    exif[0x010F] = "PhoneMaker"          # camera make: must not travel with the thumbnail
    thumb = make_thumbnail(encoded(Image.new("RGB", (800, 400), "red"), "JPEG", exif=exif))
    assert (thumb.width, thumb.height) == (160, THUMB_SIDE)
    assert not opened(thumb.data).getexif()


def test_transparency_is_kept_as_png():
    thumb = make_thumbnail(encoded(Image.new("RGBA", (640, 640), (255, 0, 0, 0)), "PNG"))
    assert thumb.content_type == "image/png" and opened(thumb.data).mode == "RGBA"


def test_an_animation_gives_its_first_frame():
    frames = [Image.new("P", (400, 200), i) for i in (1, 2)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert make_thumbnail(data).width == THUMB_SIDE


@pytest.mark.parametrize("width, height", [(50_000, 50_000), (10_000, 4_001), (200_000, 200_000)])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(width, height):
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageTooLarge):
        make_thumbnail(bomb_png(width, height))


def test_an_image_the_library_cannot_read_has_no_thumbnail():
    assert make_thumbnail(b"\x89PNG\r\n\x1a\n" + bytes(40)) is None
    assert make_thumbnail(encoded(Image.new("RGB", (900, 900)), "JPEG")[:400]) is None   # truncated
