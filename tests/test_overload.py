"""A city at once, through the real server: many clients never stall it, an overloaded process
answers 503 with Retry-After at once, and the probes say what a load balancer needs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from litestar.testing import TestClient

from backend.app import create_app
from backend.codes.keys import code_path, keyring_of
from backend.settings import Settings
from tests.conftest import LiveServer

CLIENTS = 48
ROUNDS = 4


@pytest.fixture
def live_server_env() -> dict[str, str]:
    # Two connections and a short wait for one: with more clients than connections and threads,
    # a connection that only a queued clean-up gives back shows as 503s within seconds.
    return {
        "GRIDSAFE_DATABASE_POOL_SIZE": "2",
        "GRIDSAFE_DATABASE_POOL_TIMEOUT_SECONDS": "3",
    }


def public_card(settings: Settings) -> str:
    return code_path(keyring_of(settings), "enterprise", 1, 1)


def test_more_clients_than_connections_never_stall_the_server(
    live_server: LiveServer, settings: Settings
) -> None:
    """32 anonymous clients looping on one public card stopped the server for 30 s at a time: the
    session of a finished request was closed by a clean-up queued behind the handlers in the same
    thread pool, and those handlers were all waiting for the connections it held."""
    card = public_card(settings)
    inspector = live_server.signed_in("inspector")
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def loop(index: int) -> None:
        cookies = inspector if index % 2 else None
        with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=20) as http:
            for _ in range(ROUNDS):
                status = http.get(card if index % 2 == 0 else "/").status_code
                with lock:
                    statuses[status] += 1

    with ThreadPoolExecutor(max_workers=CLIENTS) as clients:
        list(clients.map(loop, range(CLIENTS)))

    assert statuses == Counter({200: CLIENTS * ROUNDS})


class TestOverload:
    @pytest.fixture
    def live_server_env(self) -> dict[str, str]:
        # One request at a time, and a line that holds a request for at most 0.3 s.
        return {
            "GRIDSAFE_MAX_CONCURRENT_REQUESTS": "1",
            "GRIDSAFE_QUEUE_WAIT_SECONDS": "0.3",
        }

    @pytest.fixture
    def busy(self, live_server: LiveServer) -> Iterator[None]:
        """A photo upload whose body trickles in keeps the one slot taken until released."""
        cookies = live_server.signed_in("inspector")
        token = cookies["gs_csrf"]
        release = threading.Event()
        started = threading.Event()

        def trickle() -> Iterator[bytes]:
            started.set()
            yield b"x"
            release.wait(30)
            yield b"y"

        def upload() -> None:
            with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=40) as http:
                http.put(
                    "/api/v1/photos/" + "0" * 64,
                    content=trickle(),
                    headers={"content-type": "image/jpeg", "x-csrftoken": token},
                )

        uploader = threading.Thread(target=upload)
        uploader.start()
        started.wait(10)
        time.sleep(0.3)  # the request line and the first byte reach the server
        try:
            yield
        finally:
            release.set()
            uploader.join(40)

    def test_a_request_that_waited_its_bound_is_answered_503_with_retry_after(
        self, live_server: LiveServer, settings: Settings, busy: None
    ) -> None:
        with httpx.Client(base_url=live_server.url, timeout=10) as http:
            started = time.monotonic()
            page = http.get(public_card(settings), headers={"accept-language": "en"})
            waited = time.monotonic() - started
            api = http.get("/api/v1/me", headers={"accept-language": "zh-CN"})
            health = http.get("/healthz")

        assert page.status_code == 503
        assert page.headers["retry-after"] == "5"
        assert "very busy" in page.text
        assert waited < 5, waited  # answered after its bound in line, not a pool's 30 s
        assert api.status_code == 503
        assert api.headers["retry-after"] == "5"
        assert api.json()["code"] == "overloaded"
        assert "繁忙" in api.json()["title"]
        # The probes skip the line: a busy process is alive.
        assert health.status_code == 200

    def test_the_line_moves_once_the_slot_is_free(
        self, live_server: LiveServer, settings: Settings
    ) -> None:
        with httpx.Client(base_url=live_server.url, timeout=10) as http:
            assert http.get(public_card(settings)).status_code == 200


def test_ready_when_database_and_broker_answer(client: TestClient[object]) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("change", "down"),
    [
        ({"broker_url": "redis://127.0.0.1:1/0"}, "broker"),
        ({"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, "database"),
    ],
)
def test_not_ready_when_a_dependency_is_down(
    settings: Settings, change: dict[str, str], down: str
) -> None:
    broken = Settings(
        **{
            "env": "dev",
            "data_dir": settings.data_dir,
            "database_url": settings.database_url,
            "broker_url": settings.broker_url,
            "secret_key": settings.secret_key,
            **change,
        }
    )
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()[down] == "unavailable"
        assert response.json()["status"] == "unavailable"
        # Alive all the same: restarting the process would not bring the dependency back.
        assert client.get("/healthz").status_code == 200
