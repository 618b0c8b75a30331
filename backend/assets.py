"""Static files under content-hashed names: the pages, the service worker and the server agree
on one table of them, built when the app is created."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from backend.errors import AppError

# A hashed name never changes meaning, so a browser may keep it for a year without asking again;
# anything else (an unhashed name, a hash from an older release) is checked on every use.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
DIGEST_LENGTH = 10
HASHED_NAME = re.compile(rf"^(?P<stem>.+)\.[0-9a-f]{{{DIGEST_LENGTH}}}(?P<suffix>\.[^./]+)$")
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    path: str  # as written in the source tree: "js/app.js"
    url: str  # as served: "/static/js/app.3f2a1b9c0d.js"
    digest: str
    body: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(Path(self.path).suffix, "text/plain")


class Assets:
    """Every file under the static folder, by its path and by its hashed URL."""

    def __init__(self, assets: list[Asset]) -> None:
        self._by_path = {asset.path: asset for asset in assets}
        self._by_url = {asset.url: asset for asset in assets}
        self.version = hashlib.sha256("\n".join(sorted(self._by_url)).encode()).hexdigest()[:12]

    def url(self, path: str) -> str:
        """The hashed URL of a static file (`js/app.js`); also accepts `/static/js/app.js`. An
        unknown name raises, so a typo in a template fails its test instead of a phone."""
        return self._by_path[path.removeprefix("/static/")].url

    def urls(self) -> dict[str, str]:
        return {path: asset.url for path, asset in sorted(self._by_path.items())}

    def find(self, name: str) -> tuple[Asset, bool] | None:
        """The file a /static/ URL asks for and whether it named the current hash. An older
        hash (a page kept from the previous release) gets today's file, to be revalidated."""
        url = f"/static/{name}"
        if url in self._by_url:
            return self._by_url[url], True
        match = HASHED_NAME.match(name)
        path = match["stem"] + match["suffix"] if match else name
        asset = self._by_path.get(path)
        return (asset, False) if asset else None


def load_assets(source_dir: Path, build_dir: Path) -> Assets:
    """Reads the static files, taking the minified copy `make setup` built (esbuild) when it is
    at least as new as its source: a source edited since is served as it is, never stale."""
    assets = []
    for source in sorted(p for p in source_dir.rglob("*") if p.is_file()):
        path = source.relative_to(source_dir).as_posix()
        built = build_dir / path
        chosen = (
            built if built.is_file() and built.stat().st_mtime >= source.stat().st_mtime else source
        )
        body = chosen.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH]
        stem, dot, suffix = path.rpartition(".")
        hashed = f"{stem}.{digest}.{suffix}" if dot and "/" not in suffix else f"{path}.{digest}"
        assets.append(Asset(path=path, url=f"/static/{hashed}", digest=digest, body=body))
    return Assets(assets)


def conditional(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    digest: str,
    media_type: str,
    headers: dict[str, str],
) -> Response[bytes]:
    """The body, or 304 with no body when the browser already holds this digest: a check that
    costs a phone a few hundred bytes instead of the file. Weak, since gzip changes the bytes."""
    etag = f'W/"{digest}"'
    headers = {**headers, "ETag": etag}
    held = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if f'"{digest}"' in held:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@get("/static/{name:path}", sync_to_thread=False, include_in_schema=False, cache_control=None)
def static_file(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    found = request.app.state.assets.find(name.lstrip("/"))
    if found is None:
        raise AppError("not_found")
    asset, current = found
    return conditional(
        request,
        asset.body,
        digest=asset.digest,
        media_type=asset.media_type,
        headers={"Cache-Control": IMMUTABLE if current else REVALIDATE},
    )
