"""Plans: matching, the radius, the radius search at its boundary (SQL box + exact distance), the
protection-target CSV import (row-numbered errors, all or nothing), and the plan admin pages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, insert, select
from sqlmodel import Session

from backend.incidents.queries import targets_inside
from backend.models import Plan, PlanRole, PlanTaskTemplate, ProtectionTarget
from backend.plans.policy import (
    EARTH_RADIUS_M,
    bounding_box,
    haversine_m,
    inside,
    matching,
    radius_m,
)
from tests.conftest import csrf_token, post_form, sign_in


@dataclass
class FakePlan:
    id: int
    incident_types: list[str]
    version: int = 1
    active: bool = True
    base_radius_m: int = 500
    radius_per_level_m: int = 500


def test_matching_plans_are_the_active_ones_for_the_type_newest_first() -> None:
    plans = [
        FakePlan(1, ["fire"]),
        FakePlan(2, ["chemical_leak", "gas_leak"], version=3),
        FakePlan(3, ["chemical_leak"], version=5),
        FakePlan(4, ["chemical_leak"], active=False, version=9),
    ]
    assert [p.id for p in matching(plans, "chemical_leak")] == [3, 2]
    assert [p.id for p in matching(plans, "gas_leak")] == [2]
    assert matching(plans, "dust_explosion") == []


@pytest.mark.parametrize(
    ("base", "step", "scale", "expected"),
    [(800, 700, 1, 800), (800, 700, 2, 1500), (800, 700, 4, 2900), (40_000, 20_000, 4, 50_000)],
)
def test_radius_grows_with_scale_and_is_capped(
    base: int, step: int, scale: int, expected: int
) -> None:
    assert radius_m(base, step, scale) == expected


@pytest.mark.parametrize("scale", [0, 5, -1])
def test_a_scale_outside_the_levels_is_refused(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        radius_m(500, 500, scale)


def destination(lat: float, lon: float, bearing_deg: float, distance: float) -> tuple[float, float]:
    """The point `distance` metres from (lat, lon) along a bearing, on the same sphere."""
    d = distance / EARTH_RADIUS_M
    theta, p1, l1 = math.radians(bearing_deg), math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(theta))
    l2 = l1 + math.atan2(
        math.sin(theta) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


@dataclass
class Point:
    latitude: float
    longitude: float


def test_haversine_and_the_box_hold_the_whole_circle() -> None:
    lat, lon = 30.6, 114.3
    assert haversine_m(lat, lon, lat, lon) == 0
    # One degree of latitude is ~111.2 km on the mean sphere.
    assert haversine_m(30, 114, 31, 114) == pytest.approx(111_195, abs=5)
    box = bounding_box(lat, lon, 5000)
    for bearing in range(0, 360, 15):
        p = destination(lat, lon, bearing, 5000)
        assert box.south <= p[0] <= box.north, bearing
        assert box.west <= p[1] <= box.east, bearing
    points = [Point(*destination(lat, lon, 45, d)) for d in (10, 4999, 5001)]
    assert [round(d) for _, d in inside(points, lat, lon, 5000)] == [10, 4999]


def test_the_radius_search_returns_exactly_the_targets_inside(db: Session) -> None:
    db.execute(ProtectionTarget.__table__.delete())  # type: ignore[attr-defined]
    lat, lon, radius = 30.58, 114.27, 1000
    rows = []
    for bearing in (0, 90, 180, 270, 45, 135):
        for distance in (999.0, 1001.0):
            p = destination(lat, lon, bearing, distance)
            rows.append((f"b{bearing}-{distance:.0f}", p))
    # Inside the SQL box but outside the circle: the box's corner.
    corner = bounding_box(lat, lon, radius)
    rows.append(("corner", (corner.north - 1e-6, corner.east - 1e-6)))
    db.execute(
        insert(ProtectionTarget),
        [
            {
                "kind": "school",
                "name": name,
                "latitude": p[0],
                "longitude": p[1],
                "address": "",
                "unit_path": "/420100/",
            }
            for name, p in rows
        ],
    )
    db.commit()
    found = targets_inside(db, lat, lon, radius)
    assert sorted(t.name for t, _ in found) == sorted(n for n, _ in rows if n.endswith("-999"))
    assert all(d <= radius for _, d in found)
    assert [t.name for t, _ in targets_inside(db, lat, lon, radius, ["hospital"])] == []


# ---- the CSV import ---------------------------------------------------------------------------


def upload(client: TestClient[Any], content: bytes) -> Any:
    return client.post(
        "/plans/targets/import",
        files={"file": ("targets.csv", content, "text/csv")},
        data={"_csrf_token": csrf_token(client)},
        headers={"HX-Request": "true"},
    )


def count(db: Session) -> int:
    db.expire_all()
    return int(db.execute(select(func.count()).select_from(ProtectionTarget)).scalar_one())


def test_a_good_file_imports_and_updates_by_kind_and_name(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "admin")
    before = count(db)
    text = (
        "类型,名称,纬度,经度,地址,所属单位\n"
        "学校,红卫路小学,30.6301,114.3801,青山区红卫路,420107001\n"
        "hospital,武汉市第九医院,30.6360,114.3840,青山区吉林街20号,420107\n"
    )
    response = upload(client, text.encode("gb18030"))
    assert response.status_code == 200, response.text
    assert "data-import-done" in response.text
    assert count(db) == before + 1  # the hospital was known: updated in place
    moved = db.execute(
        select(ProtectionTarget).where(ProtectionTarget.name == "武汉市第九医院")
    ).scalar_one()
    assert (moved.latitude, moved.longitude) == (30.6360, 114.3840)


def test_bad_rows_are_named_and_nothing_is_saved(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "district")  # not a plan manager
    assert client.get("/plans/targets").status_code == 403
    sign_in(client, "admin")
    before = count(db)
    text = (
        "kind,name,latitude,longitude,address,unit_code\n"
        "school,新学校,30.63,114.38,,420107001\n"
        "park,公园,30.63,114.38,,420107001\n"
        "school,,91,114.38,,420107001\n"
        "school,新学校,30.63,abc,,999999\n"
    )
    response = upload(client, text.encode())
    assert response.status_code == 422
    errors = {
        (int(line), field, code)
        for line, field, code in re.findall(
            r'data-line="(\d+)" data-field="(\w+)" data-code="(\w+)"', response.text
        )
    }
    assert errors == {
        (3, "kind", "kind"),
        (4, "name", "name"),
        (4, "latitude", "coordinate"),
        (5, "name", "duplicate"),
        (5, "longitude", "coordinate"),
        (5, "unit_code", "unit"),
    }
    assert "第 3 行" in response.text or "Row 3" in response.text
    assert count(db) == before
    missing = upload(client, b"name,latitude\nx,1\n")
    assert missing.status_code == 422
    assert 'data-import-problem="missing_columns"' in missing.text
    assert upload(client, b"").status_code == 422
    assert count(db) == before


# ---- plan admin -------------------------------------------------------------------------------


def test_an_administrator_breaks_a_plan_into_its_elements(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    assert client.get("/plans").status_code == 403
    assert post_form(client, "/plans", {"name": "x"}).status_code == 403
    sign_in(client, "admin")
    form = {
        "name": "燃气泄漏专项预案",
        "incident_types": "gas_leak",
        "base_radius_m": "300",
        "radius_per_level_m": "200",
        "target_kinds": "school",
    }
    assert post_form(client, "/plans", {**form, "incident_types": "flood"}).status_code == 422
    created = post_form(client, "/plans", form)
    assert created.status_code == 303
    plan_id = int(created.headers["location"].rsplit("/", 1)[1])
    role = {
        "key": "team",
        "title": "处置队",
        "unit_level": "street",
        "position": "street_responder",
    }
    assert post_form(client, f"/plans/{plan_id}/roles", role).status_code == 303
    assert post_form(client, f"/plans/{plan_id}/roles", role).status_code == 422  # key taken
    bad_level = {**role, "key": "x", "unit_level": "planet"}
    assert post_form(client, f"/plans/{plan_id}/roles", bad_level).status_code == 422
    role_id = db.execute(select(PlanRole.id).where(PlanRole.plan_id == plan_id)).scalar_one()
    template = {
        "role_id": str(role_id),
        "title": "关阀",
        "instructions": "关闭总阀",
        "manual": "https://example.org/manual.pdf",
        "risk_tips": "禁止明火",
        "accept_minutes": "10",
        "complete_minutes": "60",
    }
    assert post_form(client, f"/plans/{plan_id}/templates", template).status_code == 303
    backwards = {**template, "complete_minutes": "5"}  # finish before accepting
    assert post_form(client, f"/plans/{plan_id}/templates", backwards).status_code == 422
    page = client.get(f"/plans/{plan_id}")
    assert page.status_code == 200
    assert "关阀" in page.text
    assert "处置队" in page.text
    db.expire_all()
    plan = db.get(Plan, plan_id)
    assert plan is not None
    assert plan.version == 3
    assert (
        db.execute(
            select(func.count())
            .select_from(PlanTaskTemplate)
            .where(PlanTaskTemplate.plan_id == plan_id)
        ).scalar_one()
        == 1
    )
    # Removing the role takes its templates with it.
    assert post_form(client, f"/plans/{plan_id}/roles/{role_id}/delete", {}).status_code == 303
    assert (
        db.execute(
            select(func.count())
            .select_from(PlanTaskTemplate)
            .where(PlanTaskTemplate.plan_id == plan_id)
        ).scalar_one()
        == 0
    )
