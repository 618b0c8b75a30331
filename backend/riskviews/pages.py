"""Pages of the risk views: the due list (/inspections/due), the risk map (/map and its GeoJSON)
and the risk report (/reports/risk, .csv, .xlsx). Handlers parse, call one service, answer."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal, can_administer
from backend.errors import AppError
from backend.models import RISK_COLOURS, HazardState, Industry, utcnow
from backend.riskviews import boundary, due, export, mapdata, report_charts, reports
from backend.security_headers import CONTENT_SECURITY_POLICY
from backend.web import after_change, locale_of, page, translator_of

Latitude = Annotated[float | None, QueryParameter(ge=-90, le=90)]
Longitude = Annotated[float | None, QueryParameter(ge=-180, le=180)]
Text = Annotated[str, QueryParameter(max_length=32)]
# `state` is a reserved parameter name in Litestar (application state), so it is renamed here.
HazardStateQuery = Annotated[str, QueryParameter(name="state", max_length=32)]


# A host (with {s} and a port) and nothing else, so the setting cannot add directives to the CSP.
_HOST = re.compile(r"[A-Za-z0-9.{}\-]+(:[0-9]+)?")


def map_csp(tile_url: str) -> str:
    """The app's policy, with the tile server's origin allowed for images when one is set
    (`{s}` subdomains become a wildcard)."""
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(parts.netloc):
        return CONTENT_SECURITY_POLICY
    origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return CONTENT_SECURITY_POLICY.replace("img-src 'self'", f"img-src 'self' {origin}", 1)


class RiskViewPages(Controller):
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/inspections/due", sync_to_thread=True)
    def due_list(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        lat: Latitude = None,
        lng: Longitude = None,
    ) -> Response[Any]:
        if not due.can_see_due(principal):
            raise AppError("forbidden")
        position = due.Position(lat, lng) if lat is not None and lng is not None else None
        now = utcnow()
        context = {
            "items": due.due_list(db, principal, now, position),
            "position": position,
            "within_days": due.DUE_WITHIN_DAYS,
        }
        return page(request, "inspections/due.html", context)

    @get("/map", sync_to_thread=False)
    def risk_map(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        industry: Text = "",
        colour: Text = "",
        hazard_state: HazardStateQuery = "",
    ) -> Response[Any]:
        if not mapdata.can_view_map(principal):
            raise AppError("forbidden")
        wanted = mapdata.parse_filter(industry, colour, hazard_state)
        tile_url = request.app.state.settings.map_tile_url
        context = {
            "wanted": wanted,
            "industries": [i.value for i in Industry],
            "colours": [*(c.value for c in RISK_COLOURS), mapdata.UNRATED],
            "states": [s.value for s in HazardState],
            "tile_url": tile_url,
            "can_edit_boundaries": can_administer(principal),
        }
        response = page(request, "map/index.html", context)
        response.headers["Content-Security-Policy"] = map_csp(tile_url)
        return response

    @get("/map/data.geojson", sync_to_thread=True)
    def map_data(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        industry: Text = "",
        colour: Text = "",
        hazard_state: HazardStateQuery = "",
    ) -> Response[bytes]:
        wanted = mapdata.parse_filter(industry, colour, hazard_state)
        body = mapdata.feature_collection(db, principal, wanted, locale_of(request))
        return Response(
            json.dumps(body, ensure_ascii=False).encode(),
            media_type="application/geo+json",
            headers={"Cache-Control": "private, no-store"},
        )

    @get("/map/units/{unit_id:int}/boundary", sync_to_thread=True)
    def boundary_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        unit_id: FromPath[int],
    ) -> Response[Any]:
        unit = boundary.editable_unit(db, principal, unit_id)
        text = json.dumps(unit.boundary, ensure_ascii=False) if unit.boundary else ""
        return page(request, "map/boundary.html", {"unit": unit, "text": text, "errors": {}})

    @post("/map/units/{unit_id:int}/boundary", sync_to_thread=True)
    def save_boundary(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        unit_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        text = data.get("boundary", "")
        try:
            boundary.set_boundary(db, principal, unit_id, text, origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            unit = boundary.editable_unit(db, principal, unit_id)
            context = {"unit": unit, "text": text, "errors": error.fields, "error": error}
            return page(request, "map/boundary.html", context, block="form", status_code=422)
        return after_change(request, "/map")

    def _report(
        self, request: Request[Any, Any, Any], db: Session, principal: Principal, month: str
    ) -> reports.Report:
        where = request.app.state.settings.zone
        return reports.risk_report(db, principal, reports.period_of(month, utcnow(), where))

    @get("/reports/risk", sync_to_thread=True)
    def report_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        month: Annotated[str, QueryParameter(max_length=7)] = "",
    ) -> Response[Any]:
        report = self._report(request, db, principal, month)
        head, rows = reports.table(report, translator_of(request))
        context = {
            "report": report,
            "head": head,
            "rows": rows,
            "charts": report_charts.report_charts(report),
        }
        return page(request, "reports/risk.html", context, block="report")

    @get("/reports/risk.csv", sync_to_thread=True)
    def report_csv(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        month: Annotated[str, QueryParameter(max_length=7)] = "",
    ) -> Response[bytes]:
        report = self._report(request, db, principal, month)
        head, rows = reports.table(report, translator_of(request))
        return _download(export.to_csv(head, rows), export.CSV_TYPE, report.period.month, "csv")

    @get("/reports/risk.xlsx", sync_to_thread=True)
    def report_xlsx(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        month: Annotated[str, QueryParameter(max_length=7)] = "",
    ) -> Response[bytes]:
        report = self._report(request, db, principal, month)
        head, rows = reports.table(report, translator_of(request))
        body = export.to_xlsx(report.period.month, head, rows)
        return _download(body, export.XLSX_TYPE, report.period.month, "xlsx")


def _download(body: bytes, media_type: str, month: str, extension: str) -> Response[bytes]:
    name = export.filename(month, extension)
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


ROUTES = [RiskViewPages]
