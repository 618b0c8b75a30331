"""Loads the demo data once: units, grids, a few hundred enterprises with valid credit codes, a user per role."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.passwords import hash_password
from backend.demo.boundaries import seed_boundaries
from backend.demo.checklists import seed_checklists
from backend.demo.escalation import seed_escalation
from backend.demo.plans import seed_plans
from backend.demo.wuhan import (
    CITY,
    DEFAULT_WEIGHTS,
    DISTRICTS,
    INDUSTRY_WEIGHTS,
    KEY_POINT_KINDS,
    NAME_SUFFIXES,
    NAME_WORDS,
    STREET_ROADS,
)
from backend.enterprises.credit_code import ALPHABET, check_character
from backend.models import Enterprise, KeyPoint, Role, Unit, UnitLevel, User, utcnow
from backend.risk.demo import seed_risk

DEMO_PASSWORD = "gridsafe-demo"  # noqa: S105 (printed by `make run`; demo data only)
GRIDS_PER_STREET = 2
ENTERPRISES = 320


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    unit_code: str
    # Shown on the public card of a scanned code. 027 is Wuhan's area code; no Wuhan number
    # starts with 0, so these reach nobody.
    phone: str = ""


def organisation_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714) with its own check character."""
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    values = [ALPHABET.index(c) if c.isdigit() else ord(c) - 55 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, division: str) -> str:
    first17 = "91" + division + organisation_code(rng)
    return first17 + check_character(first17)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def is_seeded(session: Session) -> bool:
    return session.execute(select(Unit.id).where(Unit.code == CITY[0])).first() is not None


def seed(session: Session, seed_value: int = 2026) -> dict[str, int]:
    """Insert the demo data unless it is there already; returns what was created."""
    # Checklists first: a database seeded before they existed gets them on the next run.
    templates = seed_checklists(session)
    if is_seeded(session):
        # A database seeded before escalation existed gets its policy and roster now.
        escalation = seed_escalation(session, utcnow())
        escalation.update(seed_boundaries(session))  # grids seeded before the risk map
        escalation.update(seed_risk(session))  # enterprises seeded before risk grading
        escalation.update(seed_plans(session))  # units seeded before contingency plans
        session.commit()
        return {**({"checklist_templates": templates} if templates else {}), **escalation}
    rng = random.Random(seed_value)
    city = Unit(
        code=CITY[0], name=CITY[1], name_en=CITY[2], level=UnitLevel.CITY, path=f"/{CITY[0]}/"
    )
    session.add(city)
    session.flush()
    grids: list[tuple[Unit, str, float, float]] = []
    for code, name, name_en, lat, lng, streets in DISTRICTS:
        district = Unit(
            code=code,
            name=name,
            name_en=name_en,
            level=UnitLevel.DISTRICT,
            parent_id=city.id,
            path=f"{city.path}{code}/",
        )
        session.add(district)
        session.flush()
        for index, (street_name, street_en) in enumerate(streets, start=1):
            street_code = f"{code}{index:03d}"
            street = Unit(
                code=street_code,
                name=street_name,
                name_en=f"{street_en} Street",
                level=UnitLevel.STREET,
                parent_id=district.id,
                path=f"{district.path}{street_code}/",
            )
            session.add(street)
            session.flush()
            for number in range(1, GRIDS_PER_STREET + 1):
                grid_code = f"{street_code}{number:03d}"
                grid = Unit(
                    code=grid_code,
                    name=f"{street_name}第{number}网格",
                    name_en=f"{street_en} grid {number}",
                    level=UnitLevel.GRID,
                    parent_id=street.id,
                    path=f"{street.path}{grid_code}/",
                )
                session.add(grid)
                grids.append(
                    (grid, code, lat + rng.uniform(-0.03, 0.03), lng + rng.uniform(-0.03, 0.03))
                )
    session.flush()
    enterprises = _enterprises(session, rng, grids)
    users = _users(session, enterprises)
    session.flush()
    escalation = seed_escalation(session, utcnow())
    escalation.update(seed_boundaries(session))
    escalation.update(seed_risk(session))
    escalation.update(seed_plans(session))
    record(
        session,
        Origin(None, "gridsafe seed-demo"),
        "demo.seeded",
        "unit",
        city.id,
        city.path,
        enterprises=len(enterprises),
    )
    session.commit()
    return {
        "units": 1 + sum(1 + len(s) * (1 + GRIDS_PER_STREET) for *_, s in DISTRICTS),
        "enterprises": len(enterprises),
        "users": users,
        "checklist_templates": templates,
        **escalation,
    }


def _enterprises(
    session: Session, rng: random.Random, grids: list[tuple[Unit, str, float, float]]
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    names: set[str] = set()
    codes: set[str] = set()
    now = utcnow()
    # Every grid gets at least one enterprise; the rest go where the industry weights put them.
    order = [grids[i % len(grids)] for i in range(len(grids))] + [
        rng.choice(grids) for _ in range(ENTERPRISES - len(grids))
    ]
    for grid, district_code, lat, lng in order:
        industry = _weighted(rng, INDUSTRY_WEIGHTS.get(district_code, DEFAULT_WEIGHTS))
        name = ""
        while not name or name in names:
            name = (
                "武汉"
                + rng.choice(NAME_WORDS)
                + rng.choice(NAME_WORDS)
                + rng.choice(NAME_SUFFIXES[industry])
            )
        code = ""
        while not code or code in codes:
            code = credit_code(rng, district_code)
        names.add(name)
        codes.add(code)
        rows.append(
            {
                "name": name,
                "credit_code": code,
                "industry": industry,
                "address": f"{grid.name.split('第')[0]}{rng.choice(STREET_ROADS)}{rng.randint(1, 999)}号",
                "latitude": round(lat + rng.uniform(-0.01, 0.01), 6),
                "longitude": round(lng + rng.uniform(-0.01, 0.01), 6),
                "grid_id": grid.id,
                "contact_name": rng.choice("王李张刘陈杨黄赵吴周")
                + rng.choice(("工", "经理", "主任")),
                "contact_phone": f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(insert(Enterprise), rows)
    ids = dict(session.execute(select(Enterprise.credit_code, Enterprise.id)).all())
    points = [
        {
            "enterprise_id": ids[row["credit_code"]],
            "name": name,
            "kind": kind,
            "description": "",
            "active": True,
        }
        for row in rows
        for name, kind in KEY_POINT_KINDS[str(row["industry"])]
    ]
    session.execute(insert(KeyPoint), points)
    return rows


DEMO_USERS = (
    DemoUser("admin", "系统管理员", Role.ADMIN, "420100"),
    DemoUser("city", "市应急指挥中心值班员", Role.CITY_OFFICER, "420100"),
    DemoUser("district", "青山区应急管理局", Role.DISTRICT_OFFICER, "420107"),
    DemoUser("dispatcher", "红卫路街道调度员", Role.STREET_DISPATCHER, "420107001"),
    DemoUser("responder", "红卫路街道处置员", Role.STREET_RESPONDER, "420107001"),
    DemoUser(
        "inspector", "红卫路第1网格网格员", Role.GRID_INSPECTOR, "420107001001", "027-0000 1001"
    ),
    DemoUser(
        "inspector2", "大智街道第1网格网格员", Role.GRID_INSPECTOR, "420102001001", "027-0000 1002"
    ),
)


def _users(session: Session, enterprises: Iterable[dict[str, object]]) -> int:
    units = dict(session.execute(select(Unit.code, Unit.id)).all())
    password = hash_password(DEMO_PASSWORD)
    for user in DEMO_USERS:
        session.add(
            User(
                username=user.username,
                display_name=user.display_name,
                password_hash=password,
                role=user.role,
                unit_id=units[user.unit_code],
                phone=user.phone,
            )
        )
    grid_id = units["420107001001"]
    first = next(row for row in enterprises if row["grid_id"] == grid_id)
    enterprise_id = session.execute(
        select(Enterprise.id).where(Enterprise.credit_code == first["credit_code"])
    ).scalar_one()
    session.add(
        User(
            username="enterprise",
            display_name=f"{first['name']}安全员",
            password_hash=password,
            role=Role.ENTERPRISE_OFFICER,
            unit_id=grid_id,
            enterprise_id=enterprise_id,
        )
    )
    return len(DEMO_USERS) + 1
