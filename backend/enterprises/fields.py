"""Validation of enterprise fields, shared by the admin form, the JSON API and the importer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backend.enterprises import credit_code
from backend.models import Industry

# What business-registration exports call the industries, mapped to ours.
INDUSTRY_ALIASES: dict[str, Industry] = {
    **{industry.value: industry for industry in Industry},
    "危化": Industry.HAZARDOUS_CHEMICALS,
    "危险化学品": Industry.HAZARDOUS_CHEMICALS,
    "冶金": Industry.METALLURGY,
    "粉尘涉爆": Industry.DUST_EXPLOSION,
    "铝加工": Industry.ALUMINIUM_PROCESSING,
    "铝加工（深井铸造）": Industry.ALUMINIUM_PROCESSING,
    "其他": Industry.OTHER,
}

LIMITS = {"name": 200, "address": 300, "contact_name": 100, "contact_phone": 32}


@dataclass(frozen=True)
class EnterpriseFields:
    name: str
    credit_code: str
    industry: Industry
    address: str
    contact_name: str
    contact_phone: str
    latitude: float | None
    longitude: float | None


def _coordinate(raw: str, low: float, high: float) -> tuple[float | None, bool]:
    raw = raw.strip()
    if not raw:
        return None, True
    try:
        value = float(raw)
    except ValueError:
        return None, False
    return value, low <= value <= high


def parse_enterprise(raw: Mapping[str, str]) -> tuple[EnterpriseFields | None, dict[str, str]]:
    """Clean fields, or None and {field: message key} for every problem found."""
    errors: dict[str, str] = {}
    text = {key: str(raw.get(key) or "").strip() for key in (*LIMITS, "credit_code", "industry")}
    if not text["name"]:
        errors["name"] = "required"
    for key, limit in LIMITS.items():
        if len(text[key]) > limit:
            errors[key] = "too_long"
    code = credit_code.normalise(text["credit_code"])
    code_problem = credit_code.problem(code)
    if code_problem:
        errors["credit_code"] = code_problem
    industry = INDUSTRY_ALIASES.get(text["industry"]) or INDUSTRY_ALIASES.get(
        text["industry"].lower()
    )
    if industry is None:
        errors["industry"] = "industry"
    latitude, lat_ok = _coordinate(str(raw.get("latitude") or ""), -90, 90)
    longitude, lng_ok = _coordinate(str(raw.get("longitude") or ""), -180, 180)
    if not lat_ok:
        errors["latitude"] = "coordinate"
    if not lng_ok:
        errors["longitude"] = "coordinate"
    if lat_ok and lng_ok and (latitude is None) != (longitude is None):
        errors["latitude" if latitude is None else "longitude"] = "coordinate_pair"
    if errors or industry is None:
        return None, errors
    return (
        EnterpriseFields(
            name=text["name"],
            credit_code=code,
            industry=industry,
            address=text["address"],
            contact_name=text["contact_name"],
            contact_phone=text["contact_phone"],
            latitude=latitude,
            longitude=longitude,
        ),
        {},
    )
