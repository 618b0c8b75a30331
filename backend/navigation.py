"""Where a signed-in person can go from any page: the bar at the bottom of the phone screen (the
few places their role uses all day), the "more" menu (everything else), and the big actions on
their home page. Pure functions over the principal, so the layout and the tests agree on it."""

from __future__ import annotations

from dataclasses import dataclass

from backend.auth.policy import Principal, can_check_in
from backend.models.users import Role

# A 360 px phone holds four destinations and "more" at a thumb-sized width each (72 px), with
# labels unclipped in both languages.
BAR_SLOTS = 4

_OFFICE = frozenset({Role.STREET_DISPATCHER, Role.DISTRICT_OFFICER, Role.CITY_OFFICER})
# People whose day is at the enterprises: reporting hazards and scanning codes on site.
FIELD_ROLES = frozenset({Role.GRID_INSPECTOR, Role.STREET_RESPONDER, Role.ENTERPRISE_OFFICER})


@dataclass(frozen=True)
class Destination:
    """A place in the app: its address, the catalogue key of its label, and whether pages under
    it (`/hazards/12`) count as being there."""

    name: str
    href: str
    label: str
    prefix: bool = True

    def holds(self, path: str) -> bool:
        if path == self.href:
            return True
        return self.prefix and self.href != "/" and path.startswith(self.href.rstrip("/") + "/")


@dataclass(frozen=True)
class Navigation:
    bar: tuple[Destination, ...]
    more: tuple[Destination, ...]
    current: str | None  # the name of the destination the page belongs to

    def more_is_current(self) -> bool:
        return any(d.name == self.current for d in self.more)


def destinations(principal: Principal) -> list[Destination]:
    """Every place this person may open, in the order the "more" menu lists them."""
    role = principal.role
    found = [Destination("home", "/", "nav.home", prefix=False)]
    if principal.is_enterprise:
        found.append(
            Destination(
                "enterprises", f"/enterprises/{principal.enterprise_id}", "nav.my_enterprise"
            )
        )
    else:
        found.append(Destination("enterprises", "/enterprises", "nav.enterprises"))
    found.append(Destination("report", "/hazards/new", "nav.report", prefix=False))
    found.append(Destination("scan", "/scan", "nav.scan", prefix=False))
    found.append(Destination("hazards", "/hazards", "nav.hazards"))
    if role in _OFFICE:
        found.append(Destination("dispatch", "/dispatch", "nav.dispatch"))
        found.append(Destination("dashboard", "/dashboard", "nav.dashboard"))
    if role in _OFFICE or role is Role.ADMIN:
        found.append(Destination("map", "/map", "riskviews.map.nav"))
        found.append(Destination("reports", "/reports/risk", "riskviews.report.nav"))
    if role in _OFFICE:
        found.append(Destination("incidents", "/incidents", "nav.incidents"))
    if role in (Role.ADMIN, Role.CITY_OFFICER):
        found.append(Destination("plans", "/plans", "nav.plans"))
    if role in FIELD_ROLES:
        found.append(Destination("tasks", "/tasks", "nav.tasks"))
    if role in FIELD_ROLES | {Role.STREET_DISPATCHER, Role.DISTRICT_OFFICER}:
        found.append(Destination("inspections", "/inspections", "nav.inspections"))
    found.append(Destination("outbox", "/outbox", "nav.outbox", prefix=False))
    found.append(Destination("notifications", "/notifications", "nav.notifications"))
    found.append(Destination("warnings", "/warnings", "nav.warnings"))
    if not principal.is_enterprise:
        found.append(Destination("public_reports", "/public-reports", "nav.public_reports"))
    if role in (Role.ADMIN, Role.DISTRICT_OFFICER, Role.STREET_DISPATCHER):
        found.append(Destination("codes", "/codes", "nav.codes"))
    if role is Role.ADMIN:
        found.append(Destination("admin", "/admin", "nav.admin"))
    return found


# What each role opens most, left to right after Home; the rest goes under "more".
_BAR: dict[Role, tuple[str, ...]] = {
    Role.GRID_INSPECTOR: ("report", "scan", "tasks"),
    Role.STREET_RESPONDER: ("tasks", "scan", "report"),
    Role.ENTERPRISE_OFFICER: ("report", "scan", "tasks"),
    Role.STREET_DISPATCHER: ("dispatch", "hazards", "dashboard"),
    Role.DISTRICT_OFFICER: ("dispatch", "dashboard", "hazards"),
    Role.CITY_OFFICER: ("dashboard", "hazards", "warnings"),
    Role.ADMIN: ("admin", "enterprises", "codes"),
}


def current_of(places: list[Destination], path: str) -> str | None:
    """The destination a page belongs to: the most specific one holding its path, so the report
    form (/hazards/new) is "report", not "hazards"."""
    holding = [d for d in places if d.holds(path)]
    return max(holding, key=lambda d: len(d.href)).name if holding else None


def navigation(principal: Principal, path: str) -> Navigation:
    places = destinations(principal)
    by_name = {d.name: d for d in places}
    wanted = ("home", *_BAR.get(principal.role, ()))
    bar = tuple(by_name[name] for name in wanted if name in by_name)[:BAR_SLOTS]
    # The outbox has its own place in the top bar, on every page with its count.
    more = tuple(d for d in places if d not in bar and d.name != "outbox")
    return Navigation(bar, more, current_of(places, path))


@dataclass(frozen=True)
class HomeActions:
    report: bool
    scan: bool


def home_actions(principal: Principal) -> HomeActions:
    """The big buttons on the home page, for the people who report and scan on site."""
    field = principal.role in FIELD_ROLES
    return HomeActions(
        report=field, scan=field and (can_check_in(principal) or principal.is_enterprise)
    )
