"""QR rendering: `qrcode` lays out the modules, Pillow draws the PNG, the SVG is written directly.

Error correction is H (30 % of the code may be lost) because posters hang at factory gates in
dust and rain; the quiet zone is the 4 modules the standard asks for, so a poster's frame or a
wall's edge does not merge with the code.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_M, ERROR_CORRECT_Q

QUIET_ZONE = 4
LEVELS = {"M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}
DEFAULT_LEVEL = "H"
# A run of at least this many characters of one kind (digits, or the upper-case token) gets its
# own QR segment mode: the base32 token goes in alphanumeric mode, the rest of the URL in bytes.
_SEGMENT_MIN = 12

Matrix = tuple[tuple[bool, ...], ...]


@lru_cache(maxsize=2048)
def matrix(data: str, level: str = DEFAULT_LEVEL) -> Matrix:
    """The modules, quiet zone included: True is dark. Cached, because choosing the mask pattern
    is most of the work and a print sheet asks for the same code as PNG and as SVG."""
    code = qrcode.QRCode(error_correction=LEVELS[level], border=QUIET_ZONE, box_size=1)
    code.add_data(data, optimize=_SEGMENT_MIN)
    code.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())


def png(data: str, *, scale: int = 8, level: str = DEFAULT_LEVEL) -> bytes:
    """A 1-bit PNG, `scale` pixels per module (8 gives about 400 px for a poster URL)."""
    return png_of(matrix(data, level), scale=scale)


def png_of(modules: Sequence[Sequence[bool]], *, scale: int = 8) -> bytes:
    size = len(modules)
    pixels = bytes(0 if dark else 255 for row in modules for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    if scale > 1:
        image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(out, format="PNG")
    return out.getvalue()


def svg(data: str, *, level: str = DEFAULT_LEVEL, title: str = "") -> str:
    return svg_of(matrix(data, level), title=title)


def svg_of(modules: Sequence[Sequence[bool]], *, title: str = "") -> str:
    """One path of horizontal runs (`M x y h n v1 h -n z`) on a white square, in module units:
    it scales to any print size without blurring. No `style` attributes, so a strict CSP holds."""
    size = len(modules)
    runs: list[str] = []
    for y, row in enumerate(modules):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    label = f"<title>{_escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img">{label}'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
