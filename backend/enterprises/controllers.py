"""JSON API for enterprises, under /api/v1; every answer is scoped to the caller."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.db import settings_of
from backend.enterprises import services
from backend.enterprises.fields import parse_enterprise
from backend.enterprises.schemas import EnterpriseIn, EnterpriseOut, EnterprisePage, MeOut
from backend.errors import AppError
from backend.validation import MAX_ID, area_of


def _fields_or_error(db: Session, data: EnterpriseIn) -> Any:
    fields, errors = parse_enterprise(
        {k: "" if v is None else str(v) for k, v in data.model_dump().items()},
        area_of(settings_of(db)),
    )
    if fields is None:
        raise AppError("validation_failed", fields=errors)
    return fields


class EnterpriseApi(Controller):
    path = "/api/v1/enterprises"
    tags = ["enterprises"]  # noqa: RUF012
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def list_enterprises(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        industry: Annotated[str, QueryParameter(max_length=32)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_ID)] = 0,
    ) -> EnterprisePage:
        """Enterprises the caller may see (an enterprise officer: only their own)."""
        rows, total = services.list_enterprises(
            db, principal, query=q, industry=industry, limit=limit, offset=offset
        )
        return EnterprisePage(total=total, items=[EnterpriseOut.of(e, grid) for e, grid in rows])

    @get("/{enterprise_id:int}", sync_to_thread=True)
    def get_enterprise(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> EnterpriseOut:
        return EnterpriseOut.of(*services.get_enterprise(db, principal, enterprise_id))

    @post("/", sync_to_thread=True)
    def create_enterprise(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: JSONBody[EnterpriseIn],
    ) -> EnterpriseOut:
        enterprise = services.create_enterprise(
            db, principal, _fields_or_error(db, data), data.grid_id, origin
        )
        assert enterprise.id is not None
        return EnterpriseOut.of(*services.get_enterprise(db, principal, enterprise.id))

    @put("/{enterprise_id:int}", sync_to_thread=True)
    def update_enterprise(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
        data: JSONBody[EnterpriseIn],
    ) -> EnterpriseOut:
        services.update_enterprise(
            db, principal, enterprise_id, _fields_or_error(db, data), data.grid_id, origin
        )
        return EnterpriseOut.of(*services.get_enterprise(db, principal, enterprise_id))


class MeApi(Controller):
    path = "/api/v1/me"
    tags = ["session"]  # noqa: RUF012
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=False)
    def me(self, principal: NamedDependency[Principal]) -> MeOut:
        """Who is signed in, with the unit that bounds what they see."""
        return MeOut.of(principal)
