"""Content-addressed photo upload: PUT/HEAD/GET by the SHA-256 of what the phone sends.

Only real images are kept: the bytes are decoded and re-encoded by Pillow (which also drops
EXIF, GPS included, after applying its rotation). A photo may arrive before or after the
mutation that names it; uploading it twice changes nothing."""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

from litestar import Controller, Response, get, head, put
from litestar.di import NamedDependency
from litestar.params import FromPath, RawBody
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import (
    Hazard,
    HazardPhoto,
    Inspection,
    InspectionPhoto,
    Photo,
    Rectification,
    RectificationPhoto,
    utcnow,
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000  # refuse decompression bombs well before they eat the memory
MAX_SIDE = 2048
JPEG_QUALITY = 85


def _checked_hash(sha256: str) -> str:
    sha256 = sha256.lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise AppError("not_found")
    return sha256


def reencode(raw: bytes) -> tuple[bytes, int, int]:
    """Decode and re-encode as JPEG no larger than MAX_SIDE; raises AppError for non-images."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise AppError("photo_not_image")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image).convert("RGB")
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise AppError("photo_not_image") from error
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    upright.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), upright.width, upright.height


def store_photo(
    session: Session, principal: Principal, sha256: str, raw: bytes, commit: bool = True
) -> bool:
    """Keep an uploaded photo; False when it was there already. The hash must match the bytes."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise AppError("payload_too_large")
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise AppError("photo_hash_mismatch")
    if session.get(Photo, sha256) is not None:
        return False
    data, width, height = reencode(raw)
    session.add(
        Photo(
            sha256=sha256,
            content_type="image/jpeg",
            size=len(data),
            width=width,
            height=height,
            data=data,
            uploaded_by=principal.id,
            uploaded_at=utcnow(),
        )
    )
    if commit:
        try:
            session.commit()
        except IntegrityError:
            # The same photo uploaded twice at once (a phone retrying an upload still in flight):
            # the other request stored these very bytes, so this one is a repeat, not an error.
            session.rollback()
            if session.execute(select(Photo.sha256).where(Photo.sha256 == sha256)).first() is None:
                raise
            return False
    return True


def may_see_photo(session: Session, principal: Principal, sha256: str, uploaded_by: int) -> bool:
    if uploaded_by == principal.id:
        return True
    linked = (
        select(HazardPhoto.hazard_id)
        .join(Hazard, Hazard.id == HazardPhoto.hazard_id)
        .where(HazardPhoto.sha256 == sha256)
    )
    # Photos of a checklist item are seen by whoever may see the inspection.
    inspected = (
        select(InspectionPhoto.inspection_id)
        .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
        .where(InspectionPhoto.sha256 == sha256)
    )
    # Rectification evidence is seen by whoever may see its hazard.
    evidence = (
        select(RectificationPhoto.rectification_id)
        .join(Rectification, Rectification.id == RectificationPhoto.rectification_id)
        .join(Hazard, Hazard.id == Rectification.hazard_id)
        .where(RectificationPhoto.sha256 == sha256)
    )
    if principal.is_enterprise:
        linked = linked.where(Hazard.enterprise_id == principal.enterprise_id)
        inspected = inspected.where(Inspection.enterprise_id == principal.enterprise_id)
        evidence = evidence.where(Hazard.enterprise_id == principal.enterprise_id)
    else:
        linked = linked.where(Hazard.unit_path.startswith(principal.unit_path))
        inspected = inspected.where(Inspection.unit_path.startswith(principal.unit_path))
        evidence = evidence.where(Hazard.unit_path.startswith(principal.unit_path))
    return bool(
        session.execute(select(exists(linked) | exists(inspected) | exists(evidence))).scalar()
    )


class PhotoApi(Controller):
    path = "/api/v1/photos"
    tags = ["sync"]  # noqa: RUF012
    guards = [signed_in]  # noqa: RUF012

    @put("/{sha256:str}", sync_to_thread=True, status_code=201)
    def upload(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        sha256: FromPath[str],
        body: RawBody,
    ) -> Response[dict[str, Any]]:
        """Upload a photo under the SHA-256 (hex) of its bytes: 201 when new, 200 when already here."""
        sha256 = _checked_hash(sha256)
        created = store_photo(db, principal, sha256, bytes(body))
        return Response({"sha256": sha256, "stored": True}, status_code=201 if created else 200)

    @head("/{sha256:str}", sync_to_thread=True)
    def exists(self, db: NamedDependency[Session], sha256: FromPath[str]) -> Response[None]:
        """200 when the server has the photo, 404 when the phone still has to upload it."""
        found = db.execute(
            select(Photo.sha256).where(Photo.sha256 == _checked_hash(sha256))
        ).first()
        return Response(None, status_code=200 if found else 404)

    @get("/{sha256:str}", sync_to_thread=True)
    def download(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        sha256: FromPath[str],
    ) -> Response[bytes]:
        sha256 = _checked_hash(sha256)
        row = db.execute(
            select(Photo.data, Photo.uploaded_by).where(Photo.sha256 == sha256)
        ).first()
        if row is None or not may_see_photo(db, principal, sha256, row.uploaded_by):
            raise AppError("not_found")
        return Response(
            row.data,
            media_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=31536000, immutable"},
        )
