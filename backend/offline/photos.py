"""Content-addressed photo upload: PUT/HEAD/GET by the SHA-256 of what the phone sends.

Only real images are kept: the bytes are decoded and re-encoded by Pillow (which also drops
EXIF, GPS included, after applying its rotation). A photo may arrive before or after the
mutation that names it; uploading it twice changes nothing.

Who may read one: whoever uploaded those bytes, and whoever may see a hazard, inspection or
rectification that links the photo *and whose author uploaded them too*. A hash is not a secret
(it travels in every pull), so naming one in a mutation proves nothing; sending the bytes does.
The bytes are stored once, each uploader recorded in `photo_upload`."""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

from litestar import Controller, Response, get, head, put
from litestar.di import NamedDependency
from litestar.params import FromPath, RawBody
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, and_, exists, literal, select
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
    PhotoUpload,
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


def _too_many_pixels() -> AppError:
    return AppError("photo_too_large_pixels", {"megapixels": MAX_PIXELS // 1_000_000})


def reencode(raw: bytes) -> tuple[bytes, int, int]:
    """Decode and re-encode as JPEG no larger than MAX_SIDE; raises AppError for non-images
    and for images of more than MAX_PIXELS (a real photo, but one the phone should shrink)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise _too_many_pixels()
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own limit, met while opening a picture larger still than MAX_PIXELS.
        raise _too_many_pixels() from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise AppError("photo_not_image") from error
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    upright.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), upright.width, upright.height


def store_photo(
    session: Session, principal: Principal, sha256: str, raw: bytes, commit: bool = True
) -> bool:
    """Keep an uploaded photo and record its uploader; False when this user had sent it already
    (whether anyone else had is not said). The hash must match the bytes."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise AppError("payload_too_large")
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise AppError("photo_hash_mismatch")
    # A conflict means another request stored these bytes meanwhile (two people sending one
    # picture) or this very upload (a phone retrying one still in flight): look again. Each
    # conflict is progress, the photo first, then this user's row, so a third look settles it.
    for attempt in range(3):
        created = _add_upload(session, principal.id, sha256, raw)
        if not (commit and created):
            return created
        try:
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _add_upload(session: Session, user_id: int, sha256: str, raw: bytes) -> bool:
    if session.get(PhotoUpload, (sha256, user_id)) is not None:
        return False
    if session.get(Photo, sha256) is None:
        data, width, height = reencode(raw)
        session.add(
            Photo(
                sha256=sha256,
                content_type="image/jpeg",
                size=len(data),
                width=width,
                height=height,
                data=data,
                uploaded_by=user_id,
                uploaded_at=utcnow(),
            )
        )
    session.add(PhotoUpload(sha256=sha256, user_id=user_id, uploaded_at=utcnow()))
    return True


def sent_by(sha256: ColumnElement[str], author: ColumnElement[int]) -> ColumnElement[bool]:
    """Join condition to `photo_upload`: the author of a link has uploaded these bytes. A link
    shows its photo only through it; pages say "not uploaded yet" otherwise."""
    return and_(PhotoUpload.sha256 == sha256, PhotoUpload.user_id == author)


def may_see_photo(session: Session, principal: Principal, sha256: str) -> bool:
    """Whether the principal may read the photo (see the module's docstring for the rule)."""
    own = select(PhotoUpload.sha256).where(sent_by(literal(sha256), literal(principal.id)))
    linked = (
        select(HazardPhoto.hazard_id)
        .join(Hazard, Hazard.id == HazardPhoto.hazard_id)
        .join(PhotoUpload, sent_by(HazardPhoto.sha256, Hazard.reported_by))
        .where(HazardPhoto.sha256 == sha256)
    )
    # Photos of a checklist item are seen by whoever may see the inspection.
    inspected = (
        select(InspectionPhoto.inspection_id)
        .join(Inspection, Inspection.id == InspectionPhoto.inspection_id)
        .join(PhotoUpload, sent_by(InspectionPhoto.sha256, Inspection.inspector_id))
        .where(InspectionPhoto.sha256 == sha256)
    )
    # Rectification evidence is seen by whoever may see its hazard.
    evidence = (
        select(RectificationPhoto.rectification_id)
        .join(Rectification, Rectification.id == RectificationPhoto.rectification_id)
        .join(PhotoUpload, sent_by(RectificationPhoto.sha256, Rectification.user_id))
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
        session.execute(
            select(exists(own) | exists(linked) | exists(inspected) | exists(evidence))
        ).scalar()
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
    def exists(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        sha256: FromPath[str],
    ) -> Response[None]:
        """200 when this user has uploaded the photo, 404 when the phone still has to (the bytes
        someone else sent count for nothing here, and their existence is not told)."""
        found = db.get(PhotoUpload, (_checked_hash(sha256), principal.id))
        return Response(None, status_code=200 if found else 404)

    @get("/{sha256:str}", sync_to_thread=True)
    def download(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        sha256: FromPath[str],
    ) -> Response[bytes]:
        sha256 = _checked_hash(sha256)
        # Asked first, so a refusal never reads the bytes (every way in joins photo_upload,
        # which refers to photo: allowed means stored).
        if not may_see_photo(db, principal, sha256):
            raise AppError("not_found")
        data = db.execute(select(Photo.data).where(Photo.sha256 == sha256)).scalar_one()
        return Response(
            data,
            media_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=31536000, immutable"},
        )
