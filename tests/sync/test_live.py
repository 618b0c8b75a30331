"""Against a real server: one batch pushed many times at once, and a connection cut mid-request."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from backend.models import Change, Event, Hazard, Photo, PhotoUpload, SyncMutation
from tests.conftest import LiveServer, enterprise_in
from tests.sync.conftest import (
    PUSH,
    QINGSHAN_GRID,
    count,
    last_mutation_id,
    new_client_id,
    report,
    table_counts,
)

PARALLEL = 6


def _push_until_answered(
    http: httpx.Client, client_id: str, batch: list[dict[str, Any]]
) -> tuple[dict[str, Any], int]:
    """Push as a phone does: a 503 `sync_retry` or a `retry` outcome means send again."""
    for attempt in range(1, 20):
        response = http.post(
            PUSH,
            json={"client_id": client_id, "mutations": batch},
            headers={"x-csrftoken": http.cookies["gs_csrf"]},
        )
        if response.status_code == 503 and response.json()["code"] == "sync_retry":
            time.sleep(0.05 * attempt)
            continue
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if any(item["status"] == "retry" for item in body["results"]):
            time.sleep(0.05 * attempt)
            continue
        return body, attempt
    raise AssertionError("the push never got an answer")


def test_same_batch_pushed_in_parallel_is_applied_once(
    live_server: LiveServer, db: Session
) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    cookies = live_server.signed_in("inspector")
    client_id = new_client_id()
    batch = [report(i, enterprise.id) for i in range(1, 9)]
    before = table_counts(db)
    start = threading.Barrier(PARALLEL)

    def phone(_: int) -> tuple[dict[str, Any], int]:
        with live_server.http(cookies) as http:  # its own connection
            start.wait()
            return _push_until_answered(http, client_id, batch)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(phone, range(PARALLEL)))

    applied: dict[int, int] = {}
    for body, _ in answers:
        assert [item["id"] for item in body["results"]] == list(range(1, 9))
        for item in body["results"]:
            assert item["status"] in {"applied", "duplicate"}, item
            applied[item["id"]] = applied.get(item["id"], 0) + (item["status"] == "applied")
        assert body["last_mutation_id"] == 8
    assert applied == dict.fromkeys(range(1, 9), 1)  # each mutation applied by exactly one push

    for mutation in batch:
        rows = db.execute(
            select(Hazard.client_id, Hazard.mutation_id).where(Hazard.id == mutation["args"]["id"])
        ).all()
        assert [tuple(row) for row in rows] == [(client_id, mutation["id"])]
    after = table_counts(db)
    assert after["hazard"] - before["hazard"] == 8
    assert after["event"] - before["event"] == 8
    assert after["change"] - before["change"] == 8
    assert count(db, SyncMutation, SyncMutation.client_id == client_id) == 8
    assert last_mutation_id(db, client_id) == 8


def test_overlapping_batches_of_one_client_in_parallel(
    live_server: LiveServer, db: Session
) -> None:
    """A phone resends its outbox from the oldest unacknowledged entry while earlier pushes are
    still in flight: prefixes of different lengths overlap, each mutation is applied once."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    cookies = live_server.signed_in("inspector")
    client_id = new_client_id()
    outbox = [report(i, enterprise.id) for i in range(1, 13)]
    start = threading.Barrier(PARALLEL)

    def phone(n: int) -> tuple[dict[str, Any], int]:
        with live_server.http(cookies) as http:
            start.wait()
            return _push_until_answered(http, client_id, outbox[: 7 + n])

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(phone, range(PARALLEL)))
    applied: dict[int, int] = dict.fromkeys(range(1, 13), 0)
    for body, _ in answers:
        for item in body["results"]:
            assert item["status"] in {"applied", "duplicate"}, item
            applied[item["id"]] += item["status"] == "applied"
    assert applied == dict.fromkeys(range(1, 13), 1)
    stored = db.execute(select(Hazard.mutation_id).where(Hazard.client_id == client_id)).scalars()
    assert sorted(stored) == list(range(1, 13))
    assert last_mutation_id(db, client_id) == 12


def _raw_push(server: LiveServer, cookies: httpx.Cookies, body: bytes, send: int) -> socket.socket:
    """Send the first `send` bytes of a push on a fresh connection, and leave it open."""
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    head = (
        f"POST {PUSH} HTTP/1.1\r\n"
        f"Host: {server.host}:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Cookie: {cookie}\r\n"
        f"x-csrftoken: {cookies['gs_csrf']}\r\n"
        "\r\n"
    ).encode()
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall((head + body)[: len(head) + send])
    return sock


def _cut(sock: socket.socket) -> None:
    """Drop the connection with a reset, as a phone losing its network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_connection_cut_mid_request_and_after_commit(live_server: LiveServer, db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    cookies = live_server.signed_in("inspector")
    client_id = new_client_id()
    batch = [report(i, enterprise.id) for i in range(1, 4)]
    body = json.dumps({"client_id": client_id, "mutations": batch}).encode()
    before = table_counts(db)

    # Cut half-way through the request body: the server never sees a whole batch.
    _cut(_raw_push(live_server, cookies, body, send=len(body) // 2))
    time.sleep(0.5)
    assert table_counts(db) == before
    assert last_mutation_id(db, client_id) is None

    # The whole request arrives and is committed, but the answer is lost with the connection.
    sock = _raw_push(live_server, cookies, body, send=len(body))
    deadline = time.monotonic() + 30
    while last_mutation_id(db, client_id) != 3:
        assert time.monotonic() < deadline, "the push was never committed"
        time.sleep(0.02)
    _cut(sock)

    # The phone never saw the answer, so it sends the batch again.
    with live_server.http(cookies) as http:
        answer, _ = _push_until_answered(http, client_id, batch)
    assert [(item["id"], item["status"]) for item in answer["results"]] == [
        (1, "duplicate"),
        (2, "duplicate"),
        (3, "duplicate"),
    ]
    after = table_counts(db)
    assert after["hazard"] - before["hazard"] == 3
    assert after["event"] - before["event"] == 3
    assert after["change"] - before["change"] == 3
    assert after["sync_mutation"] - before["sync_mutation"] == 3
    for mutation in batch:
        hazard_id = mutation["args"]["id"]
        assert count(db, Hazard, Hazard.id == hazard_id) == 1
        assert count(db, Change, Change.entity_id == hazard_id) == 1
        assert count(db, Event, Event.entity_id == hazard_id) == 1


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 60, 30)).save(out, format="JPEG")
    return out.getvalue()


def test_same_photo_uploaded_in_parallel(live_server: LiveServer, db: Session) -> None:
    """A phone retrying an upload that is still in flight, and another person sending the same
    picture at the same moment: one photo, each uploader recorded once, no server error."""
    people = [live_server.signed_in("inspector"), live_server.signed_in("inspector2")]
    data = _jpeg()
    sha = hashlib.sha256(data).hexdigest()
    start = threading.Barrier(PARALLEL)

    def upload(n: int) -> tuple[int, int]:
        cookies = people[n % 2]
        with live_server.http(cookies) as http:
            start.wait()
            response = http.put(
                f"/api/v1/photos/{sha}",
                content=data,
                headers={"x-csrftoken": cookies["gs_csrf"], "content-type": "image/jpeg"},
            )
            return n % 2, response.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(upload, range(PARALLEL)))
    for person in (0, 1):
        codes = [code for who, code in answers if who == person]
        assert sorted(codes) == [200] * (len(codes) - 1) + [201], answers  # new once per person
    assert count(db, Photo, Photo.sha256 == sha) == 1
    assert count(db, PhotoUpload, PhotoUpload.sha256 == sha) == 2
