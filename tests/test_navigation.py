"""Where each role can go (backend/navigation.py): the bottom bar, "more" and home's big actions,
written from what the phone must offer, not from the code."""

from __future__ import annotations

import pytest

from backend.auth.policy import Principal
from backend.i18n import Translator
from backend.models.users import Role
from backend.navigation import BAR_SLOTS, destinations, home_actions, navigation

FIELD = (Role.GRID_INSPECTOR, Role.STREET_RESPONDER, Role.ENTERPRISE_OFFICER)


def person(role: Role) -> Principal:
    enterprise_id = 7 if role is Role.ENTERPRISE_OFFICER else None
    return Principal(1, "u", "U", role, 1, "/1/", "unit", enterprise_id)


@pytest.mark.parametrize("role", list(Role))
def test_every_place_is_in_the_bar_or_under_more_once(role: Role) -> None:
    nav = navigation(person(role), "/")
    hrefs = [d.href for d in nav.bar + nav.more]
    assert len(hrefs) == len(set(hrefs))
    # The outbox is in the top bar of every page, so it is neither in the bar nor under more.
    assert set(hrefs) | {"/outbox"} == {d.href for d in destinations(person(role))}
    assert nav.bar[0].href == "/"
    assert len(nav.bar) == BAR_SLOTS


@pytest.mark.parametrize("role", FIELD)
def test_people_on_site_reach_report_scan_and_tasks_with_a_thumb(role: Role) -> None:
    bar = {d.href for d in navigation(person(role), "/").bar}
    assert {"/hazards/new", "/scan", "/tasks"} <= bar
    assert home_actions(person(role)).report
    assert home_actions(person(role)).scan


@pytest.mark.parametrize(
    "role", [Role.STREET_DISPATCHER, Role.DISTRICT_OFFICER, Role.CITY_OFFICER, Role.ADMIN]
)
def test_office_roles_get_no_big_field_actions(role: Role) -> None:
    actions = home_actions(person(role))
    assert not actions.report
    assert not actions.scan


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "home"),
        ("/hazards/new", "report"),
        ("/hazards", "hazards"),
        ("/hazards/0190abcd", "hazards"),
        ("/tasks/12", "tasks"),
        ("/scan", "scan"),
        ("/scanner", None),
        ("/outbox", "outbox"),
        ("/notifications", "notifications"),
        ("/e/some-token", None),
    ],
)
def test_the_page_belongs_to_the_most_specific_place(path: str, current: str | None) -> None:
    assert navigation(person(Role.GRID_INSPECTOR), path).current == current


def test_a_place_under_more_marks_more() -> None:
    assert navigation(person(Role.GRID_INSPECTOR), "/warnings/3").more_is_current()
    assert not navigation(person(Role.GRID_INSPECTOR), "/tasks").more_is_current()


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("role", list(Role))
def test_every_label_is_translated(role: Role, locale: str) -> None:
    t = Translator(locale)
    for place in destinations(person(role)):
        assert t.has(place.label), place
