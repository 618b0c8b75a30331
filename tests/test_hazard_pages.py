"""The report form without JavaScript: same rules as the sync mutation, scoped list and card."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from backend.models import Event, Hazard, HazardPhoto, Photo
from tests.conftest import csrf_token, enterprise_in, sign_in


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    return out.getvalue()


def report(client: TestClient[Any], enterprise_id: int, **fields: Any) -> Any:
    data = {
        "_csrf_token": csrf_token(client),
        "id": str(uuid.uuid4()),
        "enterprise_id": str(enterprise_id),
        "severity": "major",
        "category": "fire",
        "description": "消防通道被货物堵塞",
        **fields,
    }
    files = [("photos", (f"p{i}.jpg", jpeg((40 * i, 10, 10)), "image/jpeg")) for i in range(2)]
    return client.post("/hazards/new", data=data, files=files, follow_redirects=False)


def count(db: Session, model: Any) -> int:
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def test_form_report_is_stored_with_photos_and_history(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    response = report(client, enterprise.id)  # type: ignore[arg-type]
    assert response.status_code == 303
    hazard_id = response.headers["location"].rsplit("/", 1)[1]
    hazard = db.get(Hazard, hazard_id)
    assert hazard is not None
    assert (hazard.enterprise_id, hazard.severity, hazard.synced_later) == (
        enterprise.id,
        "major",
        False,
    )
    assert count(db, HazardPhoto) == 2
    assert count(db, Photo) == 2
    assert db.execute(select(Event.action).where(Event.entity_id == hazard_id)).scalars().all() == [
        "hazard.reported"
    ]
    card = client.get(f"/hazards/{hazard_id}")
    assert card.status_code == 200
    assert card.text.count("data-photo=") == 2


def test_bad_report_is_refused_with_field_errors(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    response = report(client, enterprise.id, severity="", description="")  # type: ignore[arg-type]
    assert response.status_code == 422
    assert 'data-field-error="severity"' in response.text
    assert 'data-field-error="description"' in response.text
    assert count(db, Hazard) == 0


def test_report_outside_the_area_is_refused(client: TestClient[Any], db: Session) -> None:
    foreign = enterprise_in(db, "420102001001")
    sign_in(client, "inspector")
    response = report(client, foreign.id)  # type: ignore[arg-type]
    assert response.status_code == 422
    assert 'data-error-code="hazard.enterprise_out_of_scope"' in response.text
    assert count(db, Hazard) == 0


def _png_of_64_megapixels() -> bytes:
    out = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("photo", "status", "code", "message"),
    [
        (lambda: b"this is not a picture", 415, "photo_not_image", "不是可识别的图片"),
        (_png_of_64_megapixels, 413, "photo_too_large_pixels", "最多 50 百万像素"),
    ],
    ids=["not-an-image", "too-many-pixels"],
)
def test_a_refused_photo_says_why_and_nothing_is_stored(
    client: TestClient[Any],
    db: Session,
    photo: Callable[[], bytes],
    status: int,
    code: str,
    message: str,
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    data = {
        "_csrf_token": csrf_token(client),
        "id": str(uuid.uuid4()),
        "enterprise_id": str(enterprise.id),
        "severity": "general",
        "category": "other",
        "description": "x",
    }
    files = [("photos", ("photo.jpg", photo(), "image/jpeg"))]
    response = client.post("/hazards/new", data=data, files=files, follow_redirects=False)
    assert response.status_code == status
    assert f'data-error-code="{code}"' in response.text
    assert message in response.text
    assert count(db, Hazard) == 0
    assert count(db, Photo) == 0


def test_list_and_card_are_scoped(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    hazard_id = report(client, enterprise.id).headers["location"].rsplit("/", 1)[1]  # type: ignore[arg-type]
    client.post("/signout", data={"_csrf_token": csrf_token(client)})

    sign_in(client, "dispatcher")
    assert f'data-hazard-id="{hazard_id}"' in client.get("/hazards").text
    client.post("/signout", data={"_csrf_token": csrf_token(client)})

    sign_in(client, "inspector2")
    assert f'data-hazard-id="{hazard_id}"' not in client.get("/hazards").text
    assert client.get(f"/hazards/{hazard_id}").status_code == 404
    sha = (
        db.execute(select(HazardPhoto.sha256).where(HazardPhoto.hazard_id == hazard_id))
        .scalars()
        .first()
    )
    assert client.get(f"/api/v1/photos/{sha}").status_code == 404


def test_refused_report_leaves_no_photos_behind(client: TestClient[Any], db: Session) -> None:
    foreign = enterprise_in(db, "420102001001")
    sign_in(client, "inspector")
    assert report(client, foreign.id).status_code == 422  # type: ignore[arg-type]
    assert count(db, Photo) == 0
