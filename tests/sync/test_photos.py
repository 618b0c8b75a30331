"""Content-addressed photos: repeats, out-of-order arrival, bad uploads, and who may read one."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from backend.models import Enterprise, HazardPhoto, Photo, Unit
from backend.offline.photos import MAX_PIXELS, MAX_UPLOAD_BYTES
from tests.conftest import csrf_token, enterprise_in, sign_in, sign_in_http
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    count,
    extra_client,
    new_client_id,
    push,
    report,
    statuses,
    table_counts,
    walk,
    walk_until,
)
from tests.sync.test_inspection_record import recording


def jpeg(colour: tuple[int, int, int] = (200, 60, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 128, 255)).save(out, format="PNG")
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(client: httpx.Client, data: bytes, name: str | None = None) -> httpx.Response:
    return client.put(
        f"/api/v1/photos/{name or sha(data)}",
        content=data,
        headers={
            "x-csrftoken": csrf_token(client),
            "content-type": "application/octet-stream",
            "accept-language": "en",
        },
    )


def test_uploaded_twice_is_stored_once(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "inspector")
    data = png()
    assert client.head(f"/api/v1/photos/{sha(data)}").status_code == 404
    first = upload(client, data)
    assert (first.status_code, first.json()) == (201, {"sha256": sha(data), "stored": True})
    again = upload(client, data)
    assert again.status_code == 200
    assert client.head(f"/api/v1/photos/{sha(data)}").status_code == 200
    assert count(db, Photo, Photo.sha256 == sha(data)) == 1
    stored = client.get(f"/api/v1/photos/{sha(data)}")
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "image/jpeg"  # re-encoded by the server
    assert Image.open(io.BytesIO(stored.content)).size == (32, 32)


def test_report_first_photo_later(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    cursor = walk(client).cursor
    data = jpeg()
    mutation = report(1, enterprise.id, photos=[sha(data)])
    assert statuses(push(client, new_client_id(), [mutation])) == {1: ("applied", "")}
    hazard_id = mutation["args"]["id"]
    # The report names a photo the server does not have yet: the phone sees it must upload it.
    assert client.head(f"/api/v1/photos/{sha(data)}").status_code == 404
    assert upload(client, data).status_code == 201

    links = db.execute(select(HazardPhoto.sha256).where(HazardPhoto.hazard_id == hazard_id))
    assert links.scalars().all() == [sha(data)]
    delivered = walk_until(client, cursor, {("hazard", hazard_id)}).changes
    [hazard] = [c for c in delivered if c["entity"] == "hazard" and c["id"] == hazard_id]
    assert hazard["data"]["photos"] == [sha(data)]
    assert client.get(f"/api/v1/photos/{sha(data)}").status_code == 200
    # Someone else whose area includes the hazard sees the photo too.
    with extra_client(client) as dispatcher:
        sign_in_http(dispatcher, "dispatcher")
        assert dispatcher.get(f"/api/v1/photos/{sha(data)}").status_code == 200


@pytest.mark.parametrize(
    ("body", "name", "status", "code"),
    [
        (b"not the bytes that were hashed", sha(b"other bytes"), 422, "photo_hash_mismatch"),
        (os.urandom(4096), None, 415, "photo_not_image"),
        ("隐患照片 — a text file, not a photo\n".encode() * 20, None, 415, "photo_not_image"),
        (b"\xff\xd8\xff\xe0" + os.urandom(2000), None, 415, "photo_not_image"),  # a torn JPEG
    ],
    ids=["wrong-hash", "random-bytes", "text-file", "torn-jpeg"],
)
def test_bad_uploads_store_nothing(
    client: TestClient[Any], db: Session, body: bytes, name: str | None, status: int, code: str
) -> None:
    sign_in(client, "inspector")
    before = table_counts(db)
    response = upload(client, body, name)
    assert response.status_code == status
    problem = response.json()
    assert problem["code"] == code
    assert problem["title"] not in ("", code)  # a translated message
    assert table_counts(db) == before
    assert client.head(f"/api/v1/photos/{name or sha(body)}").status_code == 404


def test_oversized_upload_is_refused(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "inspector")
    big = os.urandom(MAX_UPLOAD_BYTES + 1)
    before = table_counts(db)
    response = upload(client, big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert table_counts(db) == before


def test_a_photo_is_readable_only_where_a_linked_hazard_is_in_scope(
    client: TestClient[Any], db: Session
) -> None:
    grid_enterprises = (
        db.execute(
            select(Enterprise)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Unit.code == QINGSHAN_GRID)
            .order_by(Enterprise.id)
        )
        .scalars()
        .all()
    )
    officers_own, other = grid_enterprises[0], grid_enterprises[1]
    sign_in(client, "inspector")
    linked, unlinked, own = jpeg((1, 2, 3)), jpeg((4, 5, 6)), jpeg((7, 8, 9))
    for data in (linked, unlinked, own):
        assert upload(client, data).status_code == 201
    body = push(
        client,
        new_client_id(),
        [report(1, other.id, photos=[sha(linked)]), report(2, officers_own.id, photos=[sha(own)])],
    )
    assert statuses(body) == {1: ("applied", ""), 2: ("applied", "")}

    expected = {
        # user: (linked to another enterprise's hazard, not linked at all, linked to own)
        "inspector": (200, 200, 200),  # the uploader, and the grid's inspector
        "dispatcher": (200, 404, 200),  # the street includes the grid
        "inspector2": (404, 404, 404),  # another district
        "enterprise": (404, 404, 200),  # only hazards of the officer's own enterprise
    }
    for username, codes in expected.items():
        with extra_client(client) as other_user:
            sign_in_http(other_user, username)
            got = tuple(
                other_user.get(f"/api/v1/photos/{sha(data)}").status_code
                for data in (linked, unlinked, own)
            )
            assert got == codes, username


@pytest.mark.parametrize("link", ["hazard.report", "inspection.record"])
def test_naming_a_hash_grants_nothing_without_the_bytes(
    client: TestClient[Any], db: Session, link: str
) -> None:
    """The attack of issue 16, step by step: a user of another district learns the hash of a
    青山区 hazard's photo and names it in a mutation of their own, without ever having the bytes."""
    secret = jpeg((90, 10, 10))
    sign_in(client, "inspector")
    assert upload(client, secret).status_code == 201
    mutation = report(1, enterprise_in(db, QINGSHAN_GRID).id, photos=[sha(secret)])
    assert statuses(push(client, new_client_id(), [mutation])) == {1: ("applied", "")}
    url = f"/api/v1/photos/{sha(secret)}"
    missing = f"/api/v1/photos/{sha(b'never uploaded by anyone')}"

    with extra_client(client) as attacker:
        sign_in_http(attacker, "inspector2")  # 江岸区: the 青山区 hazard is out of scope
        assert attacker.get(url).status_code == 404
        # HEAD says what it says of a photo nobody uploaded.
        assert attacker.head(url).status_code == attacker.head(missing).status_code == 404
        target = enterprise_in(db, JIANGAN_GRID)
        if link == "hazard.report":
            own = report(1, target.id, photos=[sha(secret)])
        else:
            own = recording(1, db, target, photos={1: [sha(secret)]})
        # Accepted (refusing would tell the attacker the hash exists), linked, and worth nothing.
        assert statuses(push(attacker, new_client_id(), [own])) == {1: ("applied", "")}
        assert attacker.get(url).status_code == 404
        assert attacker.head(url).status_code == 404
        if link == "hazard.report":  # its card says the photo has not arrived, no broken image
            card = attacker.get(f"/hazards/{own['args']['id']}").text
            assert f'data-photo-pending="{sha(secret)}"' in card
            assert f'data-photo="{sha(secret)}"' not in card
        db.expire_all()
        assert count(db, Photo, Photo.sha256 == sha(secret)) == 1

        # Whoever holds the very bytes proves it by uploading them: the link then shows.
        assert upload(attacker, secret).status_code == 201  # new for this user
        assert attacker.head(url).status_code == 200
        assert attacker.get(url).status_code == 200
        assert count(db, Photo, Photo.sha256 == sha(secret)) == 1  # still stored once
    # The first uploader's own view did not change.
    assert client.get(url).status_code == 200


def test_a_real_photo_with_too_many_pixels_says_so_and_the_limit(
    client: TestClient[Any], db: Session
) -> None:
    """An 8000 × 8000 PNG is an image (it was refused as `photo_not_image`): the refusal names
    the limit, so the person knows to take it again smaller."""
    out = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(out, format="PNG")  # 1 bit a pixel: 8 MB to make
    huge = out.getvalue()
    assert len(huge) < MAX_UPLOAD_BYTES  # refused for its pixels, not its size
    assert MAX_PIXELS < 8000 * 8000
    sign_in(client, "inspector")
    before = table_counts(db)
    response = upload(client, huge)
    assert response.status_code == 413  # the phone's outbox keeps 413 and 415 as refused for good
    problem = response.json()
    assert problem["code"] == "photo_too_large_pixels"
    assert "50 million" in problem["title"]
    chinese = client.put(
        f"/api/v1/photos/{sha(huge)}",
        content=huge,
        headers={"x-csrftoken": csrf_token(client), "accept-language": "zh-CN"},
    )
    assert "最多 50 百万像素" in chinese.json()["title"]
    assert table_counts(db) == before
