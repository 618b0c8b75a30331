"""Bad input at every door (issue 16): a NUL or a control character, a number too big for the
database, "²" in a number field, broken or deeply nested JSON, a point outside the deployment's
area. Every case is answered 400/404/422 naming the field, on SQLite and PostgreSQL, and
stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from backend.models import (
    CheckIn,
    Enterprise,
    Hazard,
    Incident,
    IncidentTask,
    Plan,
    ProtectionTarget,
    PublicReport,
    SafetyWarning,
)
from backend.settings import Settings
from tests.conftest import csrf_token, enterprise_in, form_of, sign_in
from tests.sync.conftest import check_in, new_client_id, report
from tests.test_import import csv_file, new_code, row
from tests.test_incidents import SPOT, drafts, reported, street_id
from tests.test_public_reports import poster
from tests.test_warnings import draft, send

BIG = "9223372036854775808"  # 2**63: one more than a BIGINT holds
LONDON = {"latitude": "51.5074", "longitude": "-0.1278"}
GRID = "420107001001"
COUNTED = (
    CheckIn,
    Enterprise,
    Hazard,
    Incident,
    IncidentTask,
    Plan,
    ProtectionTarget,
    PublicReport,
    SafetyWarning,
)


@dataclass
class World:
    """What a case may need besides the client: the database, settings and ids it made."""

    client: TestClient[Any]
    db: Session
    settings: Settings
    ids: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[World], None]


@dataclass(frozen=True)
class Case:
    name: str
    who: str | None
    method: str
    url: str  # formatted with World.ids
    form: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    field: str | None = None  # the field the answer must name
    status: tuple[int, ...] = (400, 422)
    prepare: Prepare | None = None
    sync: bool = False  # a sync push: 200 with the mutation rejected
    unchanged: Callable[[World], Any] | None = None  # read before and after: must not change

    def __str__(self) -> str:
        return self.name


# ---- what some cases need first -------------------------------------------------------------


def an_enterprise(world: World) -> None:
    world.ids["enterprise"] = enterprise_in(world.db, GRID).id


def a_poster(world: World) -> None:
    world.ids["poster"] = poster(world.settings, enterprise_in(world.db, GRID))


def a_draft_incident(world: World) -> None:
    incident = reported(world.client, world.db)
    world.ids["incident"] = incident.id
    world.ids["task"] = drafts(world.db, incident.id)[0].id


def a_warning(world: World) -> None:
    sign_in(world.client, "district")
    world.ids["warning"] = send(world.client, warning_form())


def a_notification(world: World) -> None:
    world.ids["notification"] = 1


def warning_form(**changes: Any) -> dict[str, Any]:
    """A warning to the grid inspectors: good but for what a case changes."""
    return {**draft(roles=["grid_inspector"]), **changes}


def enterprise_row(world: World) -> Any:
    world.db.expire_all()
    enterprise = world.db.get(Enterprise, world.ids["enterprise"])
    assert enterprise is not None
    return (enterprise.name, enterprise.latitude, enterprise.longitude)


def an_enterprise_form(world: World) -> None:
    an_enterprise(world)
    enterprise = world.db.get(Enterprise, world.ids["enterprise"])
    assert enterprise is not None
    world.ids["enterprise_form"] = form_of(enterprise, **LONDON)


def a_unit(world: World) -> None:
    world.ids["unit_id"] = street_id(world.db)


def task_row(world: World) -> Any:
    world.db.expire_all()
    task = world.db.get(IncidentTask, world.ids["task"])
    assert task is not None
    return (task.instructions, list(task.people))


def warning_row(world: World) -> Any:
    world.db.expire_all()
    warning = world.db.get(SafetyWarning, world.ids["warning"])
    assert warning is not None
    return (warning.state, warning.cancel_reason)


def incident_form(**changes: str) -> dict[str, str]:
    # The unit id is filled in by the test (it differs per database only in theory).
    return {
        "incident_type": "chemical_leak",
        "scale": "1",
        "description": "储罐泄漏",
        **SPOT,
        **changes,
    }


def plan_form(**changes: str) -> dict[str, Any]:
    return {
        "name": "危化品泄漏专项预案（测试）",
        "incident_types": ["chemical_leak"],
        "base_radius_m": "500",
        "radius_per_level_m": "300",
        "target_kinds": ["school"],
        **changes,
    }


def api_enterprise(**changes: Any) -> dict[str, Any]:
    return {
        "name": "测试化工有限公司",
        "credit_code": new_code(1607),
        "industry": "hazardous_chemicals",
        "grid_id": 1,
        **changes,
    }


def targets_csv(name: str, latitude: str = "30.6301", longitude: str = "114.3801") -> bytes:
    text = (
        f"类型,名称,纬度,经度,地址,所属单位\n学校,{name},{latitude},{longitude},青山区,420107001\n"
    )
    return text.encode("utf-8")


INVALID_UTF8 = b'{"x":"\xff"}'
DEEP = b"[" * 1000 + b"]" * 1000
JSON_DOORS = [
    ("api create", "admin", "POST", "/api/v1/enterprises", None),
    ("api update", "admin", "PUT", "/api/v1/enterprises/{enterprise}", an_enterprise),
    ("sync push", "inspector", "POST", "/api/v1/sync/push", None),
    ("push subscribe", "inspector", "POST", "/api/v1/push/subscriptions", None),
    ("receipt", "inspector", "POST", "/api/v1/notifications/1/receipts", None),
]

CASES = [
    # -- NUL bytes ---------------------------------------------------------------------------
    Case(
        "signin NUL",
        None,
        "POST",
        "/signin",
        form={"username": "a\x00b", "password": "x"},
        field="username",
    ),
    Case(
        "public report NUL",
        None,
        "POST",
        "{poster}/report",
        form={"category": "fire", "description": "消防通道堵死\x00了", "contact_phone": ""},
        files={"photo": ("", b"", "application/octet-stream")},  # the form is multipart
        field="description",
        prepare=a_poster,
    ),
    Case("enterprise search NUL", "dispatcher", "GET", "/enterprises?q=a%00b"),
    Case("api search NUL", "admin", "GET", "/api/v1/enterprises?q=a%00b", field="q"),
    # -- integers of 2**63 and more ------------------------------------------------------------
    Case("page id 2**63", "admin", "GET", f"/enterprises/{BIG}", status=(400, 404)),
    Case("api id 2**63", "admin", "GET", f"/api/v1/enterprises/{BIG}", status=(400, 404)),
    Case("api id 2**31", "admin", "GET", "/api/v1/enterprises/2147483648", status=(400, 404)),
    Case("plan id 2**63", "admin", "GET", f"/plans/{BIG}", status=(400, 404)),
    Case("codes id 2**63", "admin", "GET", f"/codes/grids/{BIG}", status=(400, 404)),
    Case("post id 2**63", "admin", "POST", f"/admin/duty/{BIG}/delete", form={}, status=(400, 404)),
    *[
        Case(f"path NUL {kind}", "admin", "GET", f"/{kind}/a%00b", status=(404,))
        for kind in ("hazards", "incidents", "warnings", "inspections", "tasks")
    ],
    Case("limit 2**63", "admin", "GET", f"/api/v1/enterprises?limit={BIG}", field="limit"),
    Case("offset 2**63", "admin", "GET", f"/api/v1/enterprises?offset={BIG}", field="offset"),
    Case(
        "api grid_id 9.4e24",
        "admin",
        "POST",
        "/api/v1/enterprises",
        content=b'{"name":"x","credit_code":"91420107MA4KXXXX0Y","industry":"other","grid_id":9.4e24}',
        field="grid_id",
    ),
    Case(
        "api grid_id 2**63",
        "admin",
        "POST",
        "/api/v1/enterprises",
        json=api_enterprise(grid_id=2**63),
        field="grid_id",
    ),
    Case(
        "sync enterprise 2**63",
        "inspector",
        "POST",
        "/api/v1/sync/push",
        json={"client_id": "{client}", "mutations": [report(1, 2**63)]},
        sync=True,
    ),
    # -- broken JSON on every JSON door -----------------------------------------------------------
    *[
        Case(f"{name} invalid UTF-8", who, method, url, content=INVALID_UTF8, prepare=prep)
        for name, who, method, url, prep in JSON_DOORS
    ],
    *[
        Case(f"{name} 1000 deep", who, method, url, content=DEEP, prepare=prep)
        for name, who, method, url, prep in JSON_DOORS
    ],
    # -- "²" in number fields ---------------------------------------------------------------------
    Case(
        "warning units ²",
        "district",
        "POST",
        "/warnings",
        form=warning_form(units="²"),
        field="units",
    ),
    Case(
        "warning preview units ²",
        "district",
        "POST",
        "/warnings/preview",
        form=warning_form(units="²"),
        field="units",
    ),
    Case(
        "warning radius ²",
        "district",
        "POST",
        "/warnings",
        form=warning_form(latitude="30.63", longitude="114.38", radius_km="²"),
        field="radius_km",
    ),
    Case(
        "incident scale ²",
        "district",
        "POST",
        "/incidents",
        form=incident_form(scale="²"),
        field="scale",
    ),
    Case(
        "incident unit ²",
        "district",
        "POST",
        "/incidents",
        form=incident_form(unit_id="²"),
        field="unit_id",
    ),
    Case(
        "task people ²",
        "district",
        "POST",
        "/incidents/{incident}/tasks/{task}",
        form={"people": "²", "instructions": "x"},
        field="people",
        prepare=a_draft_incident,
        unchanged=task_row,
    ),
    Case(
        "plan radius ²",
        "admin",
        "POST",
        "/plans",
        form=plan_form(base_radius_m="²"),
        field="base_radius_m",
    ),
    Case(
        "plan radius step ²",
        "admin",
        "POST",
        "/plans",
        form=plan_form(radius_per_level_m="³"),
        field="radius_per_level_m",
    ),
    # -- control characters stored on SQLite ---------------------------------------------------
    Case(
        "warning title NUL",
        "district",
        "POST",
        "/warnings",
        form=warning_form(title="大风\x00"),
        field="title",
    ),
    Case(
        "warning title VT",
        "district",
        "POST",
        "/warnings",
        form=warning_form(title="大\x0b风"),
        field="title",
    ),
    Case(
        "warning body NUL",
        "district",
        "POST",
        "/warnings",
        form=warning_form(body="大风\x00"),
        field="body",
    ),
    Case(
        "warning instructions U+FFFF",
        "district",
        "POST",
        "/warnings",
        form=warning_form(instructions="停\uffff"),
        field="instructions",
    ),
    Case(
        "cancel reason NUL",
        "district",
        "POST",
        "/warnings/{warning}/cancel",
        form={"reason": "误报\x00"},
        field="reason",
        prepare=a_warning,
        unchanged=warning_row,
    ),
    Case(
        "incident description NUL",
        "district",
        "POST",
        "/incidents",
        form=incident_form(description="泄漏\x00"),
        field="description",
    ),
    Case(
        "task instructions NUL",
        "district",
        "POST",
        "/incidents/{incident}/tasks/{task}",
        form={"instructions": "封路\x00"},
        field="instructions",
        prepare=a_draft_incident,
        unchanged=task_row,
    ),
    Case("plan name NUL", "admin", "POST", "/plans", form=plan_form(name="预案\x00"), field="name"),
    Case(
        "target name NUL",
        "admin",
        "POST",
        "/plans/targets/import",
        files={"file": ("t.csv", targets_csv("小学\x01"), "text/csv")},
        field="name",
    ),
    Case(
        "api enterprise name NUL",
        "admin",
        "POST",
        "/api/v1/enterprises",
        json=api_enterprise(name="化工\x00"),
        field="name",
    ),
    Case(
        "sync report NUL",
        "inspector",
        "POST",
        "/api/v1/sync/push",
        json={
            "client_id": "{client}",
            "mutations": [report(1, None, description="a\x00b", grid_id=1)],
        },
        sync=True,
    ),
    Case(
        "unit name NUL",
        "admin",
        "POST",
        "/admin/units/{unit_id}/edit",
        form={"name": "红卫路\x00街道", "name_en": ""},
        field="name",
        prepare=a_unit,
    ),
    # -- coordinates outside the deployment's area ------------------------------------------------
    Case(
        "incident London",
        "district",
        "POST",
        "/incidents",
        form=incident_form(**LONDON),
        field="latitude",
    ),
    Case(
        "incident (0,0)",
        "district",
        "POST",
        "/incidents",
        form=incident_form(latitude="0", longitude="0"),
        field="latitude",
    ),
    Case(
        "warning near London",
        "district",
        "POST",
        "/warnings",
        form=warning_form(**LONDON, radius_km="5"),
        field="latitude",
    ),
    Case(
        "api enterprise London",
        "admin",
        "POST",
        "/api/v1/enterprises",
        json=api_enterprise(latitude=51.5074, longitude=-0.1278),
        field="latitude",
    ),
    Case(
        "target London",
        "admin",
        "POST",
        "/plans/targets/import",
        files={"file": ("t.csv", targets_csv("伦敦学校", "51.5074", "-0.1278"), "text/csv")},
        field="latitude",
    ),
    Case(
        "enterprise form London",
        "admin",
        "POST",
        "/enterprises/{enterprise}/edit",
        form={"from": "enterprise_form"},
        field="latitude",
        prepare=an_enterprise_form,
        unchanged=enterprise_row,
    ),
    Case(
        "check-in form London",
        "inspector",
        "POST",
        "/check-ins",
        form={"id": str(uuid.uuid4()), "enterprise_id": "{enterprise}", **LONDON},
        field="latitude",
        prepare=an_enterprise,
    ),
    # The enterprise importer keeps its contract: good rows import, a bad one is named (200).
    Case(
        "enterprise import London",
        "admin",
        "POST",
        "/admin/import",
        files={
            "file": ("e.csv", csv_file([row(new_code(1608), "伦敦化工", **LONDON)]), "text/csv")
        },
        field="latitude",
        status=(200, 422),
    ),
    Case(
        "enterprise import NUL",
        "admin",
        "POST",
        "/admin/import",
        files={"file": ("e.csv", csv_file([row(new_code(1609), "化工\x00有限公司")]), "text/csv")},
        status=(415,),  # a NUL byte makes the whole file read as binary: import_unsupported
    ),
    Case(
        "sync report London",
        "inspector",
        "POST",
        "/api/v1/sync/push",
        json={
            "client_id": "{client}",
            "mutations": [report(1, "{enterprise}", latitude=51.5, longitude=-0.12)],
        },
        sync=True,
        prepare=an_enterprise,
    ),
    Case(
        "sync check-in London",
        "inspector",
        "POST",
        "/api/v1/sync/push",
        json={
            "client_id": "{client}",
            "mutations": [
                {
                    **check_in(1, 0),
                    "args": {"id": str(uuid.uuid4()), "enterprise_id": "{enterprise}", **LONDON},
                }
            ],
        },
        sync=True,
        prepare=an_enterprise,
    ),
]


def counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {
        model.__name__: int(db.execute(select(func.count()).select_from(model)).scalar_one())
        for model in COUNTED
    }


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    """Put the ids a case prepared into its URL and body ("{enterprise}" becomes the number)."""
    if (
        isinstance(value, str)
        and value.startswith("{")
        and value.endswith("}")
        and value[1:-1] in ids
    ):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids) if "{" in value and "}" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def named(response: Any, field_name: str) -> bool:
    """The answer names the field: an HTML form marks it, a JSON problem lists it."""
    if response.headers.get("content-type", "").startswith("application/"):
        return field_name in {item.get("field") for item in response.json().get("errors", [])}
    # A form marks the field (data-field-error); an import report marks the row's column.
    return any(
        f'{mark}="{field_name}"' in response.text for mark in ("data-field-error", "data-field")
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    case: Case, client: TestClient[Any], db: Session, settings: Settings
) -> None:
    world = World(client, db, settings)
    if case.prepare:
        case.prepare(world)
    if case.who:
        sign_in(client, case.who)
    world.ids.setdefault("client", new_client_id())
    world.ids.setdefault("unit", street_id(db))
    before = counts(db)
    kept = case.unchanged(world) if case.unchanged else None
    form = _fill(case.form, world.ids)
    if form is not None and "from" in form:  # a form the case prepared as a whole
        form = dict(world.ids[form["from"]])
    if form is not None and "incident_type" in form:
        form.setdefault("unit_id", str(world.ids["unit"]))
    headers = {"x-csrftoken": csrf_token(client)}
    if case.files is not None or form is not None:
        form = {**(form or {}), "_csrf_token": csrf_token(client)}
    if case.content is not None:
        headers["content-type"] = "application/json"
    response = client.request(
        case.method,
        _fill(case.url, world.ids),
        data=form,
        json=_fill(case.json, world.ids),
        content=case.content,
        files=case.files,
        headers=headers,
        follow_redirects=False,
    )
    if case.sync:
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        assert result["status"] == "rejected", result
        assert result["code"], result
    else:
        assert response.status_code in case.status, (response.status_code, response.text[:2000])
        if case.field:
            assert named(response, case.field), response.text[:3000]
    assert counts(db) == before
    if case.unchanged:
        assert case.unchanged(world) == kept


def test_a_form_with_a_mistake_comes_back_with_what_was_typed(
    client: TestClient[Any], db: Session
) -> None:
    """The incident and plan forms keep everything typed beside the note on the bad field."""
    sign_in(client, "district")
    form = {
        **incident_form(description="东侧储罐阀门泄漏", **LONDON),
        "unit_id": str(street_id(db)),
    }
    response = client.post(
        "/incidents", data={**form, "_csrf_token": csrf_token(client)}, follow_redirects=False
    )
    assert response.status_code == 422
    assert named(response, "latitude")
    assert "东侧储罐阀门泄漏" in response.text
    assert 'value="51.5074"' in response.text
    sign_in(client, "admin")
    response = client.post(
        "/plans",
        data={
            **plan_form(name="暴雨内涝预案", base_radius_m="九百"),
            "_csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert named(response, "base_radius_m")
    assert 'value="暴雨内涝预案"' in response.text
    assert 'value="九百"' in response.text
