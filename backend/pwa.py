"""What makes the app installable and usable offline: service worker, manifest, icons, offline page."""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from typing import Any

from jinja2 import Environment
from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template
from PIL import Image, ImageDraw

from backend.assets import DIGEST_LENGTH, Assets, conditional
from backend.errors import AppError
from backend.i18n import Translator
from backend.web import translator_of

ICON_SIZES = (192, 512)
# What the service worker stores on install, so a reload with no network opens the shell. Files
# under /static/ go out under their content-hashed names (backend/assets.py). The scanner's
# decoder and the map's Leaflet are not here: the worker keeps them once a page has needed them.
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
    "/manifest.webmanifest",
    "/icons/icon-192.png",
    "/icons/icon-512.png",
)
# Pages a signed-in person must be able to open with no network; the worker keeps a copy of
# each as soon as someone is signed in (they hold the user's data, so never at install).
OFFLINE_PAGES = ("/hazards/new", "/outbox", "/scan", "/tasks", "/warnings", "/inspections/due")
# The ways on from the offline page (address, label, look): the field's work, then home. All but
# home are OFFLINE_PAGES, kept at sign-in; home is kept as soon as it is seen, right after.
OFFLINE_WAYS = (
    ("/hazards/new", "home.actions.report", "primary"),
    ("/scan", "home.actions.scan", "primary"),
    ("/outbox", "nav.outbox", ""),
    ("/tasks", "nav.tasks", ""),
    ("/", "nav.home", ""),
)
# How long the worker waits for a page from the network before showing the kept copy: on a
# connection that is up but passes nothing, a fetch can take a minute to fail.
NETWORK_TIMEOUT_MS = 4000


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
    # Two colours and their soft edges fit a small palette: a quarter of the bytes of full colour,
    # which every phone downloads when the worker installs. Opaque stays opaque, clear stays clear.
    palette = image.quantize(colors=32, method=Image.Quantize.FASTOCTREE)
    rgba = palette.getpalette(rawmode="RGBA") or []
    for i in range(3, len(rgba), 4):
        rgba[i] = 255 if rgba[i] >= 248 else 0 if rgba[i] <= 7 else rgba[i]
    palette.putpalette(rgba, rawmode="RGBA")
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


@cache
def icon_file(size: int, maskable: bool) -> tuple[bytes, str]:
    """An icon's bytes and the digest its ETag carries, both made once per process."""
    body = icon_png(size, maskable)
    return body, hashlib.sha256(body).hexdigest()[:16]


def _render_worker(environment: Environment, assets: Assets) -> tuple[bytes, str]:
    """The service worker and its digest: the same for every request of a process (its names
    come from the static files read at start), so it is rendered once, not on each navigation."""
    body = (
        environment.get_template("sw.js")
        .render(
            version=assets.version,
            precache=json.dumps(
                [assets.url(url) if url.startswith("/static/") else url for url in PRECACHE]
            ),
            assets=json.dumps(assets.urls()),
            offline_pages=json.dumps(list(OFFLINE_PAGES)),
            network_timeout_ms=NETWORK_TIMEOUT_MS,
            digest_length=DIGEST_LENGTH,
        )
        .encode()
    )
    return body, hashlib.sha256(body).hexdigest()[:16]


class PwaRoutes(Controller):
    include_in_schema = False

    @get("/sw.js", sync_to_thread=False, cache_control=None)
    def service_worker(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        # The browser asks for the worker again after navigations: unchanged, it gets a 304.
        state = request.app.state
        if "service_worker" not in state or state.settings.template_reload:
            state.service_worker = _render_worker(state.jinja_env, state.assets)
        body, digest = state.service_worker
        return conditional(
            request,
            body,
            digest=digest,
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
    def icon(self, request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        kind, _, rest = name.partition("-")
        size_text = rest.removesuffix(".png")
        if (
            kind not in ("icon", "maskable")
            or not size_text.isdigit()
            or int(size_text) not in ICON_SIZES
        ):
            raise AppError("not_found")
        body, digest = icon_file(int(size_text), kind == "maskable")
        return conditional(
            request,
            body,
            digest=digest,
            media_type="image/png",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @get("/offline", sync_to_thread=False)
    def offline(self) -> Template:
        # Bilingual on purpose: the service worker caches this once and shows it in any language.
        context = {"zh": Translator("zh"), "en": Translator("en"), "ways": OFFLINE_WAYS}
        return Template(template_name="offline.html", context=context)
