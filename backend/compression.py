"""Gzip for text answers only: pages, scripts, stylesheets, JSON. Images and photos are
compressed already; gzipping them again costs the server time and saves nothing."""

from __future__ import annotations

from litestar.config.compression import CompressionConfig
from litestar.datastructures import Headers
from litestar.enums import CompressionEncoding
from litestar.middleware.compression import CompressionMiddleware
from litestar.types import Message, Scope, Send

TEXT_TYPES = ("text/", "application/json", "application/manifest+json", "image/svg+xml")
# Below about this size the gzip header and a packet's worth of savings cancel out.
MINIMUM_SIZE = 1024


def compressible(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    # An event stream must reach the browser event by event; gzip would hold events back.
    if media_type == "text/event-stream":
        return False
    return media_type.startswith(TEXT_TYPES) or media_type.endswith("+json")


class TextCompressionMiddleware(CompressionMiddleware):
    """Litestar's compression, applied only when the answer is text and not encoded already.
    Litestar adds `Vary: Accept-Encoding` to what it compresses, keeping our own Vary values."""

    def create_compression_send_wrapper(
        self,
        send: Send,
        compression_encoding: CompressionEncoding | str,
        scope: Scope,
    ) -> Send:
        compress = super().create_compression_send_wrapper(send, compression_encoding, scope)
        chosen = send

        async def wrapper(message: Message) -> None:
            nonlocal chosen
            if message["type"] == "http.response.start":
                headers = Headers(message["headers"])
                if compressible(headers.get("content-type", "")) and not headers.get(
                    "content-encoding"
                ):
                    chosen = compress
            await chosen(message)

        return wrapper


def compression_config() -> CompressionConfig:
    return CompressionConfig(
        backend="gzip",
        gzip_compress_level=6,
        minimum_size=MINIMUM_SIZE,
        middleware_class=TextCompressionMiddleware,
    )
