"""What makes the app installable and usable offline: service worker, manifest, icons, offline page."""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template
from PIL import Image, ImageDraw

from backend.errors import AppError
from backend.web import translator_of

ICON_SIZES = (192, 512)
# What the service worker stores on install, so a reload with no network opens the shell.
PRECACHE = (
    "/offline",
    "/static/css/app.css",
    "/static/js/app.js",
    "/static/js/outbox.js",
    "/static/js/outbox-ui.js",
    "/static/js/loop.js",
    "/static/js/scan.js",
    "/static/js/push.js",
    "/static/js/due.js",
    "/static/css/riskviews.css",
    "/static/vendor/htmx.min.js",
    "/static/vendor/jsQR.js",
    "/manifest.webmanifest",
    "/icons/icon-192.png",
    "/icons/icon-512.png",
)
# Pages a signed-in person must be able to open with no network; the worker keeps a copy of
# each as soon as someone is signed in (they hold the user's data, so never at install).
OFFLINE_PAGES = ("/hazards/new", "/outbox", "/scan", "/tasks", "/warnings", "/inspections/due")
# How long the worker waits for a page from the network before showing the kept copy: on a
# connection that is up but passes nothing, a fetch can take a minute to fail.
NETWORK_TIMEOUT_MS = 4000


def asset_version(static_dir: Path) -> str:
    """A digest of the static files: a new version makes every phone refresh its cached shell."""
    digest = hashlib.sha256()
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(static_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def icon_png(size: int, maskable: bool) -> bytes:
    """A shield over a grid, drawn with Pillow; maskable icons keep the art in the safe zone."""
    scale = 4  # draw large, then downsample for smooth edges
    canvas = size * scale
    image = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red, white = (179, 38, 30, 255), (255, 255, 255, 255)
    if maskable:
        draw.rectangle((0, 0, canvas, canvas), fill=red)
    else:
        draw.rounded_rectangle((0, 0, canvas - 1, canvas - 1), radius=canvas // 5, fill=red)
    inset = canvas * (0.22 if maskable else 0.16)
    left, top, right = inset, inset, canvas - inset
    bottom = canvas - inset * 0.8
    middle = canvas / 2
    shield = [
        (left, top),
        (right, top),
        (right, top + (bottom - top) * 0.55),
        (middle, bottom),
        (left, top + (bottom - top) * 0.55),
    ]
    draw.polygon(shield, fill=white)
    step = (right - left) / 3
    line = max(2, canvas // 48)
    for i in (1, 2):
        x = left + step * i
        draw.line([(x, top + line), (x, bottom - (bottom - top) * 0.25)], fill=red, width=line)
        y = top + (bottom - top) * 0.22 * i
        draw.line([(left + line, y), (right - line, y)], fill=red, width=line)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class PwaRoutes(Controller):
    include_in_schema = False

    @get("/sw.js", sync_to_thread=False, cache_control=None)
    def service_worker(self, request: Request[Any, Any, Any]) -> Template:
        version = request.app.state.jinja_env.globals["asset_version"]
        return Template(
            template_name="sw.js",
            context={
                "version": version,
                "precache": json.dumps(list(PRECACHE)),
                "offline_pages": json.dumps(list(OFFLINE_PAGES)),
                "network_timeout_ms": NETWORK_TIMEOUT_MS,
            },
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @get("/manifest.webmanifest", sync_to_thread=False)
    def manifest(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        t = translator_of(request)
        body = {
            "name": t("app.full_name"),
            "short_name": t("app.name"),
            "lang": "zh-CN" if t.locale == "zh" else "en",
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#ffffff",
            "theme_color": "#b3261e",
            "icons": [
                *(
                    {
                        "src": f"/icons/icon-{s}.png",
                        "sizes": f"{s}x{s}",
                        "type": "image/png",
                        "purpose": "any",
                    }
                    for s in ICON_SIZES
                ),
                *(
                    {
                        "src": f"/icons/maskable-{s}.png",
                        "sizes": f"{s}x{s}",
                        "type": "image/png",
                        "purpose": "maskable",
                    }
                    for s in ICON_SIZES
                ),
            ],
        }
        return Response(
            body,
            media_type="application/manifest+json",
            headers={"Vary": "Accept-Language, Cookie"},
        )

    @get("/icons/{name:str}", sync_to_thread=False)
    def icon(self, name: FromPath[str]) -> Response[bytes]:
        kind, _, rest = name.partition("-")
        size_text = rest.removesuffix(".png")
        if (
            kind not in ("icon", "maskable")
            or not size_text.isdigit()
            or int(size_text) not in ICON_SIZES
        ):
            raise AppError("not_found")
        return Response(
            icon_png(int(size_text), kind == "maskable"),
            media_type="image/png",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @get("/offline", sync_to_thread=False)
    def offline(self) -> Template:
        # Bilingual on purpose: the service worker caches this once and shows it in any language.
        return Template(template_name="offline.html")
