"""Enterprise onboarding page (企业入网纳管) for administrators: upload an export, read the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import MultipartBody
from litestar.response import File
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import administrator
from backend.enterprises.importing import MAX_BYTES, OPTIONAL, REQUIRED, import_file
from backend.errors import AppError
from backend.web import page

SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "enterprises-sample.csv"
# The page lists this many rejected rows; the CLI prints them all.
SHOWN_REJECTED = 200


@dataclass
class ImportUpload:
    file: UploadFile | None = None
    dry_run: bool = False


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "required": REQUIRED,
        "optional": OPTIONAL,
        "megabytes": MAX_BYTES // (1024 * 1024),
        "shown_rejected": SHOWN_REJECTED,
        "report": None,
        "dry_run": False,
        **extra,
    }


class ImportPages(Controller):
    path = "/admin/import"
    include_in_schema = False
    guards = [administrator]  # noqa: RUF012

    @get("/", sync_to_thread=False)
    def form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return page(request, "admin/import.html", _context())

    @get("/sample.csv", sync_to_thread=False)
    def sample(self) -> File:
        return File(path=SAMPLE, filename=SAMPLE.name, media_type="text/csv; charset=utf-8")

    @post("/", sync_to_thread=True)
    def upload(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        origin: NamedDependency[Origin],
        data: MultipartBody[ImportUpload],
    ) -> Response[Any]:
        upload = data.file
        # One byte past the limit is enough for the importer to refuse it.
        content = upload.file.read(MAX_BYTES + 1) if upload else b""
        filename = upload.filename if upload else ""
        try:
            report = import_file(
                db,
                filename,
                content,
                origin.actor_id,
                data.dry_run,
                device=origin.device,
                ip=origin.ip,
            )
        except AppError as error:
            db.rollback()
            context = _context(error=error, dry_run=data.dry_run)
            return page(
                request, "admin/import.html", context, block="importer", status_code=error.status
            )
        context = _context(report=report, dry_run=data.dry_run)
        return page(request, "admin/import.html", context, block="importer")
