"""API shapes for enterprises (pydantic models, documented in the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.auth.policy import Principal
from backend.models import Enterprise, Unit
from backend.validation import MAX_ID


class EnterpriseIn(BaseModel):
    name: str = Field(max_length=200)
    credit_code: str = Field(
        max_length=32, description="统一社会信用代码, 18 characters with a valid check character"
    )
    industry: str = Field(
        max_length=32,
        description="hazardous_chemicals, metallurgy, dust_explosion, aluminium_processing or other",
    )
    grid_id: int = Field(gt=0, le=MAX_ID)
    address: str = Field("", max_length=300)
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=32)
    latitude: float | None = None
    longitude: float | None = None


class EnterpriseOut(BaseModel):
    id: int
    name: str
    credit_code: str
    industry: str
    address: str
    latitude: float | None
    longitude: float | None
    grid_id: int
    grid_code: str
    grid_name: str
    contact_name: str
    contact_phone: str

    @classmethod
    def of(cls, enterprise: Enterprise, grid: Unit) -> EnterpriseOut:
        assert enterprise.id is not None
        return cls(
            id=enterprise.id,
            name=enterprise.name,
            credit_code=enterprise.credit_code,
            industry=enterprise.industry,
            address=enterprise.address,
            latitude=enterprise.latitude,
            longitude=enterprise.longitude,
            grid_id=enterprise.grid_id,
            grid_code=grid.code,
            grid_name=grid.name,
            contact_name=enterprise.contact_name,
            contact_phone=enterprise.contact_phone,
        )


class EnterprisePage(BaseModel):
    total: int
    items: list[EnterpriseOut]


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int
    unit_name: str
    unit_path: str
    enterprise_id: int | None

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        return cls(
            id=principal.id,
            username=principal.username,
            display_name=principal.display_name,
            role=principal.role.value,
            unit_id=principal.unit_id,
            unit_name=principal.unit_name,
            unit_path=principal.unit_path,
            enterprise_id=principal.enterprise_id,
        )
