"""The risk map (一张图): the GeoJSON is scoped by the viewer's area and narrowed by the filters;
the page carries the tile setting and lets a configured tile server through the CSP."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.app import create_app
from backend.demo.boundaries import convex_hull, outline, seed_boundaries
from backend.errors import AppError
from backend.models import Event, Unit, UnitLevel
from backend.riskviews.boundary import parse_boundary
from backend.riskviews.pages import map_csp
from backend.settings import Settings
from backend.validation import WUHAN
from tests.conftest import post_form, sign_in
from tests.riskviews_data import add_enterprise, add_hazard, set_profile

GRID = "420107001001"  # 青山区 · 红卫路街道
OTHER_DISTRICT = "420102001001"  # 江岸区


def features(client: TestClient[Any], **params: str) -> list[dict[str, Any]]:
    response = client.get("/map/data.geojson", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    return list(body["features"])


def ids(found: list[dict[str, Any]], kind: str) -> set[Any]:
    return {f["properties"]["id"] for f in found if f["properties"]["kind"] == kind}


@pytest.fixture
def known(db: Session) -> dict[str, Any]:
    red = add_enterprise(db, GRID, "地图测试红", industry="hazardous_chemicals")
    blue = add_enterprise(db, GRID, "地图测试蓝", industry="metallurgy")
    away = add_enterprise(db, OTHER_DISTRICT, "地图测试外区", industry="hazardous_chemicals")
    set_profile(db, red, "red", None, score=90)
    set_profile(db, blue, "blue", None, score=10)
    set_profile(db, away, "red", None, score=90)
    return {
        "red": red.id,
        "blue": blue.id,
        "away": away.id,
        "open_hazard": add_hazard(db, red, state="assigned", severity="major"),
        "closed_hazard": add_hazard(db, red, state="closed"),
        "away_hazard": add_hazard(db, away),
    }


def test_district_sees_its_area_only(
    client: TestClient[Any], db: Session, known: dict[str, Any]
) -> None:
    sign_in(client, "district")
    found = features(client)
    enterprises = ids(found, "enterprise")
    assert {known["red"], known["blue"]} <= enterprises
    assert known["away"] not in enterprises
    hazards = ids(found, "hazard")
    assert known["open_hazard"] in hazards
    assert known["closed_hazard"] not in hazards
    assert known["away_hazard"] not in hazards
    red = next(f for f in found if f["properties"].get("id") == known["red"])
    assert red["properties"]["colour"] == "red"
    assert red["properties"]["open_hazards"] == 1
    assert red["geometry"] == {"type": "Point", "coordinates": [114.4, 30.6]}
    # Grid boundaries from the demo data, all inside 青山区.
    units = [f for f in found if f["properties"]["kind"] == "unit"]
    assert units
    assert all(f["geometry"]["type"] == "Polygon" for f in units)
    district = {
        unit.id
        for unit in db.execute(
            select(Unit).where(Unit.path.startswith("/420100/420107/"))
        ).scalars()
    }
    assert {f["properties"]["id"] for f in units} <= district


def test_boundaries_are_scoped(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "dispatcher")
    street = db.execute(select(Unit).where(Unit.code == "420107001")).scalar_one()
    grids = set(
        db.execute(
            select(Unit.id).where(Unit.parent_id == street.id, Unit.level == UnitLevel.GRID)
        ).scalars()
    )
    assert ids(features(client), "unit") == grids


@pytest.mark.parametrize(
    ("params", "expect_enterprises", "expect_hazards"),
    [
        ({"colour": "red"}, {"red"}, {"open_hazard"}),
        ({"colour": "blue"}, {"blue"}, set()),
        ({"industry": "metallurgy"}, {"blue"}, set()),
        ({"state": "closed"}, {"red", "blue"}, {"closed_hazard"}),
        ({"state": "none"}, {"red", "blue"}, set()),
        ({"colour": "red", "state": "closed"}, {"red"}, {"closed_hazard"}),
    ],
)
def test_filters(
    client: TestClient[Any],
    known: dict[str, Any],
    params: dict[str, str],
    expect_enterprises: set[str],
    expect_hazards: set[str],
) -> None:
    sign_in(client, "district")
    found = features(client, **params)
    mine = {known[name] for name in ("red", "blue")}
    assert ids(found, "enterprise") & mine == {known[n] for n in expect_enterprises}
    test_hazards = {known[n] for n in ("open_hazard", "closed_hazard", "away_hazard")}
    assert ids(found, "hazard") & test_hazards == {known[n] for n in expect_hazards}


@pytest.mark.parametrize("params", [{"colour": "purple"}, {"industry": "x"}, {"state": "lost"}])
def test_unknown_filter_is_refused(client: TestClient[Any], params: dict[str, str]) -> None:
    sign_in(client, "district")
    response = client.get("/map/data.geojson", params=params)
    assert response.status_code == 422
    assert client.get("/map", params=params).status_code == 422


@pytest.mark.parametrize("username", ["inspector", "enterprise", "responder"])
def test_map_is_for_officers(client: TestClient[Any], username: str) -> None:
    sign_in(client, username)
    assert client.get("/map").status_code == 403
    assert client.get("/map/data.geojson").status_code == 403


def test_page_without_tiles(client: TestClient[Any]) -> None:
    sign_in(client, "district")
    response = client.get("/map")
    assert response.status_code == 200
    assert 'data-tile-url=""' in response.text
    assert client.app.state.assets.url("vendor/leaflet/leaflet.js") in response.text
    assert "img-src 'self' data: blob:;" in response.headers["content-security-policy"]


def test_page_with_tiles_allows_the_tile_origin(settings: Settings) -> None:
    tiled = settings.model_copy(
        update={"map_tile_url": "https://{s}.tiles.example.org/{z}/{x}/{y}.png"}
    )
    with TestClient(create_app(tiled), base_url="http://testserver.local") as client:
        sign_in(client, "city")
        response = client.get("/map")
        assert 'data-tile-url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in response.text
        csp = response.headers["content-security-policy"]
        assert "img-src 'self' https://*.tiles.example.org data:" in csp
        # Other pages keep the strict policy.
        assert "example.org" not in client.get("/").headers["content-security-policy"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("", None),
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("http://10.0.0.5:8080/{z}/{x}/{y}.png", "http://10.0.0.5:8080"),
        ("javascript:alert(1)", None),
        ("https://evil.example; script-src *", None),
    ],
)
def test_map_csp(url: str, allowed: str | None) -> None:
    csp = map_csp(url)
    if allowed is None:
        assert "img-src 'self' data: blob:;" in csp
    else:
        assert f"img-src 'self' {allowed} data: blob:;" in csp


def test_outline_encloses_its_points() -> None:
    points = [(114.40, 30.60), (114.41, 30.60), (114.405, 30.61), (114.405, 30.605)]
    assert len(convex_hull(points)) == 3  # the inner point is not on the hull
    ring = outline(points)["coordinates"][0]
    assert ring[0] == ring[-1]
    assert len(ring) == 4
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    assert min(xs) < 114.40
    assert max(xs) > 114.41
    assert min(ys) < 30.60
    assert max(ys) > 30.61
    lone = outline([(114.4, 30.6)])["coordinates"][0]
    assert len(lone) == 5


def test_every_demo_grid_has_a_boundary(db: Session) -> None:
    missing = db.execute(
        select(Unit.code).where(Unit.level == UnitLevel.GRID, Unit.boundary.is_(None))  # type: ignore[union-attr]
    ).all()
    assert missing == []


def test_boundaries_are_drawn_once_and_never_replaced(db: Session) -> None:
    grid = db.execute(select(Unit).where(Unit.code == GRID)).scalar_one()
    drawn = {
        "type": "Polygon",
        "coordinates": [[[114.0, 30.0], [114.1, 30.0], [114.0, 30.1], [114.0, 30.0]]],
    }
    grid.boundary = drawn
    db.add(grid)
    db.commit()
    assert seed_boundaries(db) == {}
    db.commit()
    db.refresh(grid)
    assert grid.boundary == drawn


SQUARE = [[114.30, 30.50], [114.31, 30.50], [114.31, 30.51], [114.30, 30.51], [114.30, 30.50]]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "boundary.not_json"),
        ('{"type": "Point", "coordinates": [114.3, 30.5]}', "boundary.not_polygon"),
        ('{"type": "FeatureCollection", "features": []}', "boundary.not_polygon"),
        (
            '{"type": "Polygon", "coordinates": [[[114.3, 30.5], [114.31, 30.5], [114.3, 30.5]]]}',
            "boundary.ring",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[114.3, 30.5], [114.31, 30.5], [114.31, 30.51], [114.3, 30.6]]]}',
            "boundary.ring",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[214.3, 30.5], [114.31, 30.5], [114.31, 30.51], [214.3, 30.5]]]}',
            "boundary.position",
        ),
        (
            '{"type": "Polygon", "coordinates": [[["114.3", 30.5], [114.31, 30.5], [114.31, 30.51], ["114.3", 30.5]]]}',
            "boundary.position",
        ),
        (  # a square in London: a valid polygon, outside the deployment's area
            '{"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.12, 51.51], [-0.13, 51.5]]]}',
            "out_of_area",
        ),
    ],
)
def test_bad_boundaries_are_refused(text: str, code: str) -> None:
    with pytest.raises(AppError) as refused:
        parse_boundary(text, WUHAN)
    assert refused.value.fields == {"boundary": code}


def test_a_feature_becomes_a_bare_polygon() -> None:
    feature = {
        "type": "Feature",
        "properties": {"name": "x"},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    collection = json.dumps({"type": "FeatureCollection", "features": [feature]})
    assert parse_boundary(collection, WUHAN) == {
        "type": "Polygon",
        "coordinates": [SQUARE],
    }
    assert parse_boundary("  ", WUHAN) is None


def test_an_administrator_draws_a_boundary(client: TestClient[Any], db: Session) -> None:
    grid = db.execute(select(Unit).where(Unit.code == GRID)).scalar_one()
    sign_in(client, "admin")
    form = client.get(f"/map/units/{grid.id}/boundary")
    assert form.status_code == 200
    assert '"Polygon"' in html.unescape(form.text)  # the demo boundary, to edit
    bad = post_form(client, f"/map/units/{grid.id}/boundary", {"boundary": "{oops"})
    assert bad.status_code == 422
    assert 'data-field-error="boundary"' in bad.text
    db.refresh(grid)
    assert grid.boundary is not None
    assert grid.boundary["coordinates"][0] != SQUARE  # unchanged
    polygon = json.dumps({"type": "Polygon", "coordinates": [SQUARE]})
    saved = post_form(client, f"/map/units/{grid.id}/boundary", {"boundary": polygon})
    assert saved.status_code == 303
    db.refresh(grid)
    assert grid.boundary == {"type": "Polygon", "coordinates": [SQUARE]}
    events = (
        db.execute(
            select(Event.data).where(
                Event.action == "unit.boundary_changed", Event.entity_id == str(grid.id)
            )
        )
        .scalars()
        .all()
    )
    assert events == [{"cleared": False, "positions": 5}]
    found = features(client)
    drawn = next(
        f for f in found if f["properties"]["kind"] == "unit" and f["properties"]["id"] == grid.id
    )
    assert drawn["geometry"]["coordinates"] == [SQUARE]


@pytest.mark.parametrize("username", ["district", "inspector"])
def test_only_administrators_draw_boundaries(
    client: TestClient[Any], db: Session, username: str
) -> None:
    grid = db.execute(select(Unit).where(Unit.code == GRID)).scalar_one()
    sign_in(client, username)
    assert client.get(f"/map/units/{grid.id}/boundary").status_code == 403
    assert post_form(client, f"/map/units/{grid.id}/boundary", {"boundary": ""}).status_code == 403
    db.refresh(grid)
    assert grid.boundary is not None
