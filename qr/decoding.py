"""Reading codes back, for tests and benchmarks: zxing-cpp (a development dependency) decodes a
Pillow image; our own SVG is rasterised from its run-length path, so it is checked module by
module rather than trusted."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image, ImageDraw

_VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')
_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")


def read_image(image: Image.Image) -> list[str]:
    """The text of every QR code zxing-cpp finds in the image."""
    import zxingcpp  # a test dependency: imported only when decoding is asked for

    results: Any = zxingcpp.read_barcodes(image)
    return [result.text for result in results]


def read_png(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        return read_image(image.convert("L"))


def rasterise_svg(svg: str, scale: int = 6) -> Image.Image:
    """Draw an SVG written by `qr.render.svg_of` (white square, black runs) as a greyscale image."""
    found = _VIEWBOX.search(svg)
    if found is None:
        raise ValueError("not an SVG written by qr.render")
    width, height = int(found.group(1)), int(found.group(2))
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, length, back in _RUN.findall(svg):
        if length != back:
            raise ValueError("a run does not close where it started")
        left, top = int(x) * scale, int(y) * scale
        draw.rectangle((left, top, left + int(length) * scale - 1, top + scale - 1), fill=0)
    return image


def read_svg(svg: str) -> list[str]:
    return read_image(rasterise_svg(svg))
