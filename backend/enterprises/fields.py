"""Validation of enterprise fields, shared by the admin form, the JSON API and the importer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backend.enterprises import credit_code
from backend.models import Industry
from backend.validation import Area, clean_text, position

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


def parse_enterprise(
    raw: Mapping[str, str], area: Area
) -> tuple[EnterpriseFields | None, dict[str, str]]:
    """Clean fields, or None and {field: message key} for every problem found. The position is
    optional, but when given it must lie inside the deployment's `area`."""
    errors: dict[str, str] = {}
    text: dict[str, str] = {}
    for key in (*LIMITS, "credit_code", "industry"):
        text[key], problem = clean_text(raw.get(key), LIMITS.get(key, 64), required=key == "name")
        if problem:
            errors[key] = problem
    code = credit_code.normalise(text["credit_code"])
    code_problem = credit_code.problem(code)
    if code_problem and "credit_code" not in errors:
        errors["credit_code"] = code_problem
    industry = INDUSTRY_ALIASES.get(text["industry"]) or INDUSTRY_ALIASES.get(
        text["industry"].lower()
    )
    if industry is None:
        errors["industry"] = "industry"
    point, problems = position(raw.get("latitude"), raw.get("longitude"), area, required=False)
    errors.update(problems)
    latitude, longitude = point if point else (None, None)
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
