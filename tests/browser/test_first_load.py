"""What a first visit costs a phone: sign-in and home on a fresh profile, the service worker's
precache included, counted in bytes on the wire; and what coming back costs."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from backend.pwa import OFFLINE_PAGES
from tests.browser.conftest import PHONE, LiveServer
from tests.browser.test_shell import INSPECTOR, sign_in, wait_until_cached

pytestmark = pytest.mark.browser

FIRST_LOAD_MAX_BYTES = 150 * 1024
REPEAT_VISIT_MAX_BYTES = 10 * 1024


@dataclass
class Exchange:
    """One request the browser sent and the bytes (headers and body, as sent) that answered it."""

    line: str
    received: int = 0


@dataclass
class Wire:
    """Every request through the proxy, in order; reset between the two visits."""

    exchanges: list[Exchange] = field(default_factory=list)
    last_traffic: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.exchanges = []

    def total(self) -> int:
        with self.lock:
            return sum(e.received for e in self.exchanges)

    def report(self, title: str) -> str:
        with self.lock:
            rows = [f"{e.received:>8}  {e.line}" for e in self.exchanges]
            total = sum(e.received for e in self.exchanges)
            count = len(self.exchanges)
        return "\n".join([f"{title}: {count} requests, {total} bytes", *rows])

    def wait_quiet(self, seconds: float = 1.5, timeout: float = 30) -> None:
        """Until nothing crossed the wire for `seconds`: the worker's precache and the pages it
        keeps for offline use are fetched in the background, after the page has loaded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if time.monotonic() - self.last_traffic >= seconds:
                return
            time.sleep(0.1)
        raise AssertionError("the phone never stopped downloading")


class CountingProxy(socketserver.ThreadingTCPServer):
    """A TCP relay in front of the live server that counts what reaches the phone. Chromium does
    not pipeline HTTP/1.1, so whatever arrives on a connection answers the last request sent on
    it. It counts the worker's own fetches too, which the page's DevTools session does not see."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int], wire: Wire) -> None:
        self.upstream = upstream
        self.wire = wire
        super().__init__(("127.0.0.1", 0), _Relay)


class _Relay(socketserver.BaseRequestHandler):
    server: CountingProxy

    def handle(self) -> None:
        wire = self.server.wire
        upstream = socket.create_connection(self.server.upstream)
        current: list[Exchange] = []

        def answers() -> None:
            try:
                while chunk := upstream.recv(65536):
                    with wire.lock:
                        if current:
                            current[-1].received += len(chunk)
                        wire.last_traffic = time.monotonic()
                    self.request.sendall(chunk)
            except OSError:
                pass
            finally:
                self.request.close()

        reader = threading.Thread(target=answers, daemon=True)
        reader.start()
        pending, body_left = b"", 0
        try:
            while chunk := self.request.recv(65536):
                upstream.sendall(chunk)
                pending += chunk
                # Find the request lines: skip each request's body by its Content-Length.
                while True:
                    if body_left:
                        taken = min(body_left, len(pending))
                        pending, body_left = pending[taken:], body_left - taken
                        if body_left:
                            break
                    head, found, rest = pending.partition(b"\r\n\r\n")
                    if not found:
                        break
                    lines = head.decode("latin-1").split("\r\n")
                    length = next(
                        (
                            int(value)
                            for name, _, value in (line.partition(":") for line in lines[1:])
                            if name.strip().lower() == "content-length"
                        ),
                        0,
                    )
                    with wire.lock:
                        exchange = Exchange(lines[0].rsplit(" ", 1)[0])
                        current.append(exchange)
                        wire.exchanges.append(exchange)
                        wire.last_traffic = time.monotonic()
                    pending, body_left = rest, length
        except OSError:
            pass
        finally:
            upstream.close()
            reader.join(timeout=5)


@pytest.fixture
def counted(browser: Any, live_server: LiveServer) -> Iterator[tuple[Any, Wire]]:
    """A fresh phone whose every byte from the server goes through the counting proxy."""
    wire = Wire()
    address = urlsplit(live_server.url)
    proxy = CountingProxy((address.hostname or "127.0.0.1", address.port or 80), wire)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(
        **PHONE, locale="zh-CN", base_url=f"http://127.0.0.1:{proxy.server_address[1]}"
    )
    context.set_default_timeout(15_000)
    try:
        yield context, wire
    finally:
        context.close()
        proxy.shutdown()
        proxy.server_close()


def test_a_first_visit_and_a_repeat_visit_stay_light(counted: tuple[Any, Wire]) -> None:
    phone, wire = counted
    page = phone.new_page()
    page.goto("/")
    sign_in(page, "inspector")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    # What the worker fetches after installing belongs to the first visit, however slow it is.
    for path in OFFLINE_PAGES:
        wait_until_cached(page, path)
    wire.wait_quiet()
    first = wire.total()
    print("\n" + wire.report("first visit (sign-in + home + worker)"))
    shells = page.evaluate("async () => (await caches.keys()).filter((n) => n.includes('shell'))")
    assert len(shells) == 1, "the worker did not finish installing"

    wire.reset()
    page.reload()
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    wire.wait_quiet()
    repeat = wire.total()
    print(wire.report("repeat visit (reload home)"))

    assert first <= FIRST_LOAD_MAX_BYTES, f"first visit: {first} bytes"
    assert repeat <= REPEAT_VISIT_MAX_BYTES, f"repeat visit: {repeat} bytes"
