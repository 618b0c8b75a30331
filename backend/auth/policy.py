"""Who may see and do what: pure functions over the signed-in principal, used by guards and services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.models.users import Role


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the rules see them: role, home unit (with its path) and enterprise."""

    id: int
    username: str
    display_name: str
    role: Role
    unit_id: int
    unit_path: str
    unit_name: str
    enterprise_id: int | None = None
    locale: str | None = None
    scope_version: int = 1

    @property
    def is_enterprise(self) -> bool:
        return self.role is Role.ENTERPRISE_OFFICER


OFFICER_ROLES = frozenset(
    {Role.STREET_DISPATCHER, Role.DISTRICT_OFFICER, Role.CITY_OFFICER, Role.ADMIN}
)


def sees_unit(principal: Principal, unit_path: str) -> bool:
    """A user sees their own unit and everything under it; an enterprise officer sees no unit."""
    return not principal.is_enterprise and unit_path.startswith(principal.unit_path)


def sees_enterprise(principal: Principal, enterprise_id: int, grid_path: str) -> bool:
    if principal.is_enterprise:
        return principal.enterprise_id == enterprise_id
    return grid_path.startswith(principal.unit_path)


def can_edit_enterprise(principal: Principal, enterprise_id: int, grid_path: str) -> bool:
    return principal.role in OFFICER_ROLES and sees_enterprise(principal, enterprise_id, grid_path)


def can_create_enterprise_in(principal: Principal, grid_path: str) -> bool:
    return principal.role in OFFICER_ROLES and sees_unit(principal, grid_path)


def can_administer(principal: Principal) -> bool:
    """Units, users and enterprise onboarding are managed by administrators."""
    return principal.role is Role.ADMIN


def can_manage_user_at(principal: Principal, unit_path: str) -> bool:
    return can_administer(principal) and sees_unit(principal, unit_path)


def sign_in_allowed(failures_for_account: int, failures_from_address: int, limit: int) -> bool:
    """Too many recent failures for the account or from the address locks sign-in for the window.
    The address limit is wider: a whole street office may sit behind one NAT."""
    return failures_for_account < limit and failures_from_address < limit * 4


def can_report_hazard(principal: Principal) -> bool:
    """Everyone signed in may report: inspectors, officers, and enterprises in self-inspection."""
    return True


def can_check_in(principal: Principal) -> bool:
    return principal.role in {
        Role.GRID_INSPECTOR,
        Role.STREET_RESPONDER,
        Role.STREET_DISPATCHER,
        Role.DISTRICT_OFFICER,
    }


# Who prints, rotates and revokes the codes of the enterprises in their area.
CODE_MANAGER_ROLES = frozenset({Role.ADMIN, Role.DISTRICT_OFFICER, Role.STREET_DISPATCHER})


def can_manage_codes(principal: Principal, grid_path: str) -> bool:
    return principal.role in CODE_MANAGER_ROLES and sees_unit(principal, grid_path)


class ScanView(StrEnum):
    """What a scanned code opens (一企一码): the same poster means different things to different people."""

    PUBLIC = "public"  # the public card: anyone with a phone camera
    CHECK_IN = "check_in"  # an inspector or street officer whose area includes the enterprise
    SELF_INSPECTION = "self_inspection"  # the enterprise's own safety officer (企业自查)


def scan_view(principal: Principal | None, enterprise_id: int, grid_path: str) -> ScanView:
    if principal is None:
        return ScanView.PUBLIC
    if principal.is_enterprise:
        own = principal.enterprise_id == enterprise_id
        return ScanView.SELF_INSPECTION if own else ScanView.PUBLIC
    if can_check_in(principal) and sees_enterprise(principal, enterprise_id, grid_path):
        return ScanView.CHECK_IN
    return ScanView.PUBLIC


def can_inspect(principal: Principal, enterprise_id: int, grid_path: str) -> bool:
    """Inspectors and street officers inspect enterprises within their area (检查)."""
    return (
        not principal.is_enterprise
        and can_check_in(principal)
        and sees_enterprise(principal, enterprise_id, grid_path)
    )


def can_self_check(principal: Principal, enterprise_id: int) -> bool:
    """An enterprise's safety officer runs the self-check (企业自查) of their own enterprise only."""
    return principal.is_enterprise and principal.enterprise_id == enterprise_id


def inspection_kind(principal: Principal, enterprise_id: int, grid_path: str) -> str | None:
    """Which inspection this person runs at this enterprise, if any: 'inspection' or 'self_check'."""
    if can_self_check(principal, enterprise_id):
        return "self_check"
    if can_inspect(principal, enterprise_id, grid_path):
        return "inspection"
    return None
