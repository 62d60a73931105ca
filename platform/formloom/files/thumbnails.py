"""Small pictures of uploaded images, made once at upload so a record page or a board
card never downloads a full-size photo.

A thumbnail fits in THUMB_SIDE x THUMB_SIDE, keeps the aspect ratio, is turned upright
by the photo's EXIF orientation (a phone's portrait photo is stored sideways), and has
no metadata left (no GPS position travels with it). An image declaring more than
MAX_PIXELS is refused before its pixels are decoded: a few kilobytes of compressed
zeros can claim gigabytes once decoded (a decompression bomb). An image the library
cannot decode gets no thumbnail; the page then shows the original, which is served
under the same strict headers.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_SIDE = 320
MAX_PIXELS = 40_000_000            # 40 megapixels: every phone camera, not a crafted 50 000 x 50 000 header
JPEG_QUALITY = 82


class ImageTooLarge(Exception):
    """The image declares more pixels than MAX_PIXELS (a decompression bomb, or simply too big)."""

    def __init__(self, pixels: int):
        super().__init__(f"{pixels} pixels")
        self.pixels = pixels


def _declared_pixels(error: Exception) -> int:
    """The size the library read from the header before it refused to go on (0 if unsaid)."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return int(found.group(1)) if found else 0


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    content_type: str
    width: int
    height: int


def make_thumbnail(data: bytes, side: int = THUMB_SIDE, max_pixels: int = MAX_PIXELS) -> Thumbnail | None:
    """The thumbnail of `data`, None when it is not an image the library decodes, or
    ImageTooLarge. PNG for pictures with transparency, JPEG for the rest."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # our own limit decides, below
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as error:         # far beyond even the library's own limit
            raise ImageTooLarge(_declared_pixels(error)) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(width * height)
            try:
                image.seek(0)                      # the first frame of an animation
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((side, side), Image.Resampling.LANCZOS)
            except Image.DecompressionBombError:
                raise ImageTooLarge(width * height) from None
            except (OSError, ValueError, SyntaxError, EOFError):
                return None                        # truncated or corrupt: no thumbnail
    return _encoded(upright)


def _encoded(image: Image.Image) -> Thumbnail:
    out = io.BytesIO()
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if alpha:
        image.convert("RGBA").save(out, "PNG", optimize=True)
        content_type = "image/png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        content_type = "image/jpeg"
    return Thumbnail(out.getvalue(), content_type, image.width, image.height)
