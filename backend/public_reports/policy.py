"""Who may read and handle public reports, and how many one address may send: pure functions."""

from __future__ import annotations

from backend.auth.policy import Principal, sees_unit
from backend.models import HazardCategory, PublicReportCategory

# The hazard category each public category pre-fills when someone files a hazard from it.
HAZARD_CATEGORY = {
    PublicReportCategory.FIRE: HazardCategory.FIRE,
    PublicReportCategory.GAS: HazardCategory.GAS,
    PublicReportCategory.CHEMICALS: HazardCategory.CHEMICALS,
    PublicReportCategory.ELECTRICAL: HazardCategory.ELECTRICAL,
    PublicReportCategory.DUST: HazardCategory.DUST,
    PublicReportCategory.OTHER: HazardCategory.OTHER,
}


def can_read_public_reports(principal: Principal) -> bool:
    """Everyone working an area (inspectors, street, district and city officers, administrators)
    reads the reports about its enterprises; an enterprise never sees who reported it."""
    return not principal.is_enterprise


def sees_public_report(principal: Principal, unit_path: str) -> bool:
    return can_read_public_reports(principal) and sees_unit(principal, unit_path)


def public_report_allowed(recent_from_address: int, limit: int) -> bool:
    """One address may send `limit` reports per window; a whole street may share one address
    (carrier NAT), so the limit is per window, not for ever."""
    return recent_from_address < limit
