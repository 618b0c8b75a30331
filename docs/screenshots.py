"""`make screenshots`: the main screens of each role, photographed from the running app on a
360×740 phone, into docs/screenshots/ (PNG) and docs/screens.md (the page that shows them).

A docs tool, not a test. It starts GridSafe as `gridsafe run` would, on a temporary data folder
(SQLite, migrated and loaded with the demo data through the `gridsafe` CLI, one uvicorn process,
no worker), then makes the state the screens need through the app itself: the inspector reports
five hazards (sync push, as the phone does), the dispatcher assigns three of them (the card's
form), the responder accepts and rectifies (sync push), the inspector verifies one and checks in
at an enterprise, the district officer sends a warning and a passer-by reports a problem from an
enterprise's public card (both in the browser). Weeks of history cannot be made live, so the
dashboard's charts get past hazards of the district written straight into the database (as
tests/browser/test_dashboard_charts.py does). Then each role signs in through the sign-in page in
Debian's Chromium (Playwright, zh-CN; a few screens again in English) and each screen in
`SCREENS` is opened, waited for (load, network idle, fonts, its own selector) and photographed
as the phone shows it (the viewport, not the whole page). The PNGs are reduced to a palette
with Pillow to stay small. Loopback only; everything started is stopped.

Re-run it after changing templates: the names are stable, so the docs keep pointing at them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.demo.seed import DEMO_PASSWORD  # noqa: E402
from bench.common import (  # noqa: E402
    APP_FACTORY,
    HOST,
    free_port,
    gridsafe_cli,
    server_env,
    sign_in,
    started,
    stop_all,
    uvicorn_command,
)

DOCS = ROOT / "docs"
OUT = DOCS / "screenshots"
PAGE = DOCS / "screens.md"
CHROMIUM = os.environ.get("GRIDSAFE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
COLOURS = 96  # palette size: text and flat UI survive it, and a screen stays well under 150 KB
ZONE_OFFSET = timedelta(hours=8)  # Asia/Shanghai, the demo's GRIDSAFE_TIMEZONE (no summer time)
HERE = {"latitude": 30.6330, "longitude": 114.3790, "accuracy": 15}  # 青山区, where the phones are
DISTRICT = "420107"  # 青山区: the demo's inspector, dispatcher, responder and district officer


@dataclass(frozen=True)
class Screen:
    name: str  # docs/screenshots/<name>.png
    who: str  # a demo user name, or "" for someone not signed in
    path: str  # {placeholders}: filled from the state the script made
    caption: str
    wait_for: str = ""  # a selector that must be visible before the shot
    scroll_to: str = ""  # a selector whose card is brought to the top before the shot
    english: bool = False
    before: str = ""  # an action (`ACTIONS`) run on the page before the shot
    after: str = ""  # and one run after it


# In docs order: each role's screens under its heading. The anonymous passer-by and the district
# officer come first in the run (`run_order`): their report and warning show on later screens.
ROLES = {
    "": "Anyone with a phone (no account)",
    "inspector": "Grid inspector (网格员)",
    "responder": "Street responder (街道处置人员)",
    "enterprise": "Enterprise safety officer (企业安全员)",
    "dispatcher": "Street dispatcher (街道调度员)",
    "district": "District officer (区级)",
    "city": "City officer (市级)",
    "admin": "Administrator (管理员)",
}

SCREENS: tuple[Screen, ...] = (
    Screen("public-card", "", "/e/{code}",
           "The public card behind an enterprise's QR code: who answers for safety there, and a "
           "way to report a problem without an account.", wait_for="[data-scan-view]"),
    Screen("public-report", "", "/e/{code}/report",
           "Reporting a problem from the card: category, what is wrong, a photo, a phone number "
           "kept private.", wait_for="#public-report-form", before="fill_public_report",
           after="send_public_report"),
    Screen("signin", "", "/signin", "Sign-in, with the language switch at the foot.",
           wait_for="#signin-form"),
    Screen("inspector-home", "inspector", "/",
           "The inspector's home: report a hazard or scan a code in one tap, and what is due; "
           "the outbox sits in the top bar."),
    Screen("inspector-report", "inspector", "/hazards/new",
           "Reporting a hazard: enterprise, severity, category, photos, the phone's position. "
           "Works offline; it goes when the network is back.", wait_for="form"),
    Screen("inspector-hazards", "inspector", "/hazards",
           "The inspector's own reports with where each one is in the loop; major and "
           "supervised hazards stand out."),
    Screen("inspector-scanned", "inspector", "/e/{code}",
           "An enterprise's code scanned by the inspector: check in here, open the checklist, "
           "report a hazard.", wait_for="[data-scan-view]"),
    Screen("inspector-enterprise", "inspector", "/enterprises/{enterprise}",
           "An enterprise: credit code, industry, risk grade, contact, the inspection checklist "
           "and its key points."),
    Screen("inspector-verify", "inspector", "/hazards/{rectified}",
           "A rectified hazard waiting for the inspector's on-site verification: the evidence "
           "and the pass / send back buttons."),
    Screen("inspector-due", "inspector", "/inspections/due",
           "Inspections due in the grid under the supervision plan, by risk, with check-in and "
           "checklist links."),
    Screen("inspector-warnings", "inspector", "/warnings",
           "A targeted warning from the district, acknowledged with one tap (offline too)."),
    Screen("inspector-outbox", "inspector", "/outbox",
           "No network: a hazard reported in a basement waits in the outbox and goes by itself "
           "when the network is back.", before="report_offline", after="back_online"),
    Screen("responder-tasks", "responder", "/tasks",
           "The responder's inbox: tasks offered and accepted, deadlines, major ones marked."),
    Screen("responder-task", "responder", "/tasks/{major_task}",
           "A task: the hazard, the dispatcher's instructions, the deadlines, navigation to the "
           "place in the phone's map app, and the rectification form."),
    Screen("responder-notifications", "responder", "/notifications",
           "Notifications: each push also kept here, with a switch for push on this phone."),
    Screen("enterprise-home", "enterprise", "/",
           "The enterprise safety officer's home: report a hazard, or scan the enterprise's own "
           "code for a self-check."),
    Screen("enterprise-task", "enterprise", "/tasks/{enterprise_task}",
           "A hazard the street handed to the enterprise itself to put right."),
    Screen("dispatcher-queue", "dispatcher", "/dispatch",
           "The dispatch queue: new reports first, who holds each task, what is late."),
    Screen("dispatcher-assign", "dispatcher", "/hazards/{reported}",
           "A new report on the dispatcher's phone: the hazard card and the form to offer it "
           "to responders, the grid's inspector or the enterprise.", wait_for="[data-assign-form]"),
    Screen("dispatcher-assigned", "dispatcher", "/hazards/{offered}?assigned=1#open-task",
           "Just assigned: the phone lands on the new task, confirmed, with who it went to and "
           "by when they must accept.", scroll_to="#open-task"),
    Screen("dispatcher-major", "dispatcher", "/hazards/{major}",
           "A major hazard under district supervision (挂牌督办), being put right: its marks, "
           "the task and who holds it."),
    Screen("dispatcher-public-reports", "dispatcher", "/public-reports",
           "Problems reported by the public from enterprise cards, to turn into hazards or "
           "dismiss."),
    Screen("dispatcher-dashboard", "dispatcher", "/dashboard",
           "The street's dashboard: open, overdue, escalated, times to accept and rectify."),
    Screen("district-dashboard", "district", "/dashboard?days=90",
           "The district's dashboard: open, overdue, escalated and supervised hazards, open "
           "hazards by tier."),
    Screen("district-charts", "district", "/dashboard?days=90",
           "Further down: the on-time rate by week and hazards by category, drawn as charts.",
           scroll_to="figure[data-chart=on-time-trend]"),
    Screen("district-warning-new", "district", "/warnings/new",
           "Composing a targeted warning: level, text, who receives it, and how many people it "
           "will reach before sending.", wait_for="#warning-form", before="fill_warning",
           after="send_warning"),
    Screen("district-warning", "district", "/warnings/{warning}",
           "A warning sent: who has acknowledged it, per unit, with a reminder button."),
    Screen("district-map", "district", "/map",
           "The risk map: enterprises by risk colour and the grid boundaries (tiles come from "
           "the deployment's tile server, none here).", wait_for=".leaflet-container"),
    Screen("city-dashboard", "city", "/dashboard",
           "The city's dashboard: open, overdue, at the city tier, supervised, across Wuhan."),
    Screen("city-plans", "city", "/plans",
           "Contingency plans (数字化预案): what an incident of each kind sets in motion."),
    Screen("admin-home", "admin", "/admin", "Administration: units, users, duty roster, "
           "escalation policies, imports."),
    Screen("admin-users", "admin", "/admin/users",
           "Users: search by name, filter by role and unit, add a user."),
    Screen("admin-policies", "admin", "/admin/policies",
           "Escalation policies: how long each tier has before a hazard moves up, versioned."),
    Screen("admin-code-card", "admin", "/codes/enterprises/{enterprise}",
           "An enterprise's QR code (一企一码): download to print, replace or revoke it."),
    Screen("en-inspector-home", "inspector", "/", "The inspector's home in English.",
           english=True),
    Screen("en-dispatcher-major", "dispatcher", "/hazards/{major}",
           "The major hazard's card in English.", english=True),
    Screen("en-responder-task", "responder", "/tasks/{major_task}",
           "The responder's task in English.", english=True),
    Screen("en-district-dashboard", "district", "/dashboard?days=90",
           "The district's charts in English.", scroll_to="figure[data-chart=on-time-trend]",
           english=True),
)  # fmt: skip

# What the placeholders look like (a test checks every screen's path against the app's routes).
SAMPLE_STATE = {
    "code": "AbCdEf0123456789",
    "enterprise": "1",
    "major": str(uuid.UUID(int=1)),
    "reported": str(uuid.UUID(int=2)),
    "offered": str(uuid.UUID(int=7)),
    "rectified": str(uuid.UUID(int=3)),
    "major_task": str(uuid.UUID(int=4)),
    "enterprise_task": str(uuid.UUID(int=5)),
    "warning": str(uuid.UUID(int=6)),
}


def run_order(screens: tuple[Screen, ...]) -> list[Screen]:
    """Who goes first: the passer-by (their report reaches the dispatcher's list), the district
    officer (the warning reaches the inspector), then the docs order; English last."""
    first = {"": 0, "district": 1}
    return sorted(screens, key=lambda s: (s.english, first.get(s.who, 2)))


# ---------------------------------------------------------------------------------- state


@dataclass
class App:
    base: str
    database: Path
    secret: str

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.database, timeout=10)) as db:
            return db.execute(sql, params).fetchall()


class Phone:
    """One signed-in person over HTTP, sending what the phone's outbox sends (sync push)."""

    def __init__(self, app: App, username: str) -> None:
        self.http = httpx.Client(base_url=app.base, timeout=60)
        self.csrf = sign_in(self.http, username)
        self.client_id = str(uuid.uuid4())
        self.counter = 0

    def push(self, name: str, args: dict[str, Any]) -> None:
        self.counter += 1
        body = {
            "client_id": self.client_id,
            "mutations": [
                {"id": self.counter, "name": name, "args": args,
                 "at": datetime.now(UTC).isoformat()}
            ],
        }  # fmt: skip
        response = self.http.post(
            "/api/v1/sync/push", json=body, headers={"x-csrftoken": self.csrf}
        )
        result = response.json()["results"][0] if response.status_code == 200 else {}
        if result.get("status") != "applied":
            raise RuntimeError(f"{name} failed: {response.status_code} {response.text}")

    def post_form(self, path: str, data: dict[str, Any]) -> httpx.Response:
        response = self.http.post(path, data={**data, "_csrf_token": self.csrf})
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path} failed: {response.status_code} {response.text[:500]}")
        return response

    def close(self) -> None:
        self.http.close()


# The inspector's reports: (key, severity, category, description, enterprise index in the grid).
REPORTS = (
    ("major", "major", "fire", "消防通道被成品钢卷堵塞，两处疏散指示灯不亮", 1),
    ("enterprise", "general", "electrical", "配电箱未上锁，车间内电线私拉乱接", 0),
    ("rectified", "general", "gas", "食堂燃气报警器未通电，软管老化开裂", 2),
    ("closed", "general", "chemicals", "危化品仓库未张贴安全周知卡", 1),
    ("reported", "general", "special_equipment", "行车吊钩防脱装置缺失，未见定期检验标志", 3),
    ("offered", "general", "dust", "除尘器积尘较厚，未按规定清灰并记录", 2),
)


def local_input(moment: datetime) -> str:
    """A datetime-local value in the deployment's zone."""
    return (moment.astimezone(UTC) + ZONE_OFFSET).strftime("%Y-%m-%dT%H:%M")


def make_state(app: App) -> dict[str, str]:
    """The loop, live: reports, assignments, acceptance, evidence, a verification, a check-in."""
    user = dict(app.query("SELECT username, id FROM app_user"))
    [(grid_id, officer_enterprise)] = app.query(
        "SELECT unit_id, enterprise_id FROM app_user WHERE username = 'enterprise'"
    )
    others = app.query(
        "SELECT id, latitude, longitude FROM enterprise WHERE grid_id = ? AND id != ? ORDER BY id",
        grid_id,
        officer_enterprise,
    )
    [own] = app.query(
        "SELECT id, latitude, longitude FROM enterprise WHERE id = ?", officer_enterprise
    )
    enterprises = [own, *others]
    if len(enterprises) < 4:
        raise RuntimeError("the inspector's grid has fewer than four enterprises")
    inspector, dispatcher, responder = (Phone(app, n) for n in ("inspector", "dispatcher", "responder"))  # fmt: skip
    officer = Phone(app, "enterprise")
    try:
        hazards: dict[str, str] = {}
        for key, severity, category, description, index in REPORTS:
            enterprise_id, lat, lng = enterprises[index]
            hazards[key] = str(uuid.uuid4())
            inspector.push("hazard.report", {
                "id": hazards[key], "severity": severity, "category": category,
                "description": description, "enterprise_id": enterprise_id,
                "latitude": round(lat + 0.0003, 6), "longitude": round(lng - 0.0002, 6),
                "accuracy_m": 8.0, "photos": [],
            })  # fmt: skip
        now = datetime.now(UTC)
        deadlines = {
            "accept_by": local_input(now + timedelta(hours=4)),
            "rectify_by": local_input(now + timedelta(days=3)),
        }
        for key, people, to_enterprise, note in (
            ("major", [user["responder"]], "", "先清理通道，今天下班前恢复疏散指示灯"),
            ("enterprise", [], "1", "请企业安全员组织电工整改，拍照上传"),
            ("rectified", [user["responder"]], "", "联系燃气公司更换软管"),
            ("closed", [user["responder"]], "", ""),
            (
                "offered",
                [user["responder"], user["inspector"]],
                "",
                "今天内完成清灰，附清灰记录照片",
            ),
        ):
            dispatcher.post_form(f"/hazards/{hazards[key]}/assign", {
                "people": people, "to_enterprise": to_enterprise, "instructions": note,
                **deadlines,
            })  # fmt: skip
        task = dict(app.query("SELECT hazard_id, id FROM task WHERE state = 'offered'"))
        for key in ("major", "rectified", "closed"):
            responder.push("task.accept", {"task_id": task[hazards[key]]})
        for key, note in (
            ("rectified", "已更换燃气软管，报警器恢复供电并测试正常"),
            ("closed", "已补贴安全周知卡"),
        ):
            responder.push("hazard.rectify", {
                "hazard_id": hazards[key], "id": str(uuid.uuid4()), "note": note, "photos": [],
            })  # fmt: skip
        inspector.push("hazard.verify", {"hazard_id": hazards["closed"], "note": "现场复查合格"})
        enterprise_id, lat, lng = enterprises[1]
        inspector.push("inspection.check_in", {
            "id": str(uuid.uuid4()), "enterprise_id": enterprise_id,
            "latitude": round(lat + 0.0002, 6), "longitude": round(lng + 0.0001, 6),
            "accuracy_m": 12.0,
        })  # fmt: skip
    finally:
        for phone in (inspector, dispatcher, responder, officer):
            phone.close()
    add_history(app, user["inspector"])
    return {
        "code": public_code(app, enterprises[1][0]),
        "enterprise": str(enterprises[1][0]),
        "major": hazards["major"],
        "reported": hazards["reported"],
        "offered": hazards["offered"],
        "rectified": hazards["rectified"],
        "major_task": task[hazards["major"]],
        "enterprise_task": task[hazards["enterprise"]],
    }


# Past weeks of the district, for the charts: three hazards closed each week, fewer of them late
# as the weeks go on, and a few still open. (category, severity, weeks ago, closed, on time)
CATEGORIES = ("fire", "electrical", "dust", "fire", "chemicals", "gas", "molten_metal",
              "electrical", "fire", "special_equipment", "confined_space", "electrical", "dust")  # fmt: skip
HISTORY = [
    (CATEGORIES[(week * 3 + i) % len(CATEGORIES)], "major" if (week + i) % 5 == 0 else "general",
     week, True, i < (3 if week <= 4 else 2 if week <= 9 else 1))
    for week in range(1, 13)
    for i in range(3)
] + [
    ("fire", "major", 2, False, False),
    ("dust", "general", 3, False, False),
    ("electrical", "general", 1, False, False),
    ("gas", "general", 5, False, False),
]  # fmt: skip


PAST = {
    "fire": "灭火器压力不足，过期未检",
    "electrical": "临时用电线路老化，无漏电保护",
    "dust": "除尘器泄爆口朝向人员通道",
    "chemicals": "危化品混存，未按禁忌分类存放",
    "gas": "燃气管道穿越卧室，未设切断阀",
    "molten_metal": "熔炼炉周边有积水",
    "special_equipment": "叉车未年检，司机无证操作",
    "confined_space": "有限空间无警示标识",
}
INSPECTOR_GRID = "420107001001"


def add_history(app: App, reporter: int) -> None:
    """Hazards of past weeks in the district's grids, written as the dashboard test does: the
    loop cannot be run weeks back in time."""
    grids = app.query(
        "SELECT id, path FROM unit WHERE level = 'grid' AND path LIKE ? AND code != ? ORDER BY id",
        f"%/{DISTRICT}/%",
        INSPECTOR_GRID,  # the inspector's own list shows what they reported today
    )
    now = datetime.now(UTC)
    stamp = "%Y-%m-%d %H:%M:%S.%f"  # how SQLite keeps UTC here
    rows = []
    for n, (category, severity, weeks, closed, on_time) in enumerate(HISTORY):
        grid_id, path = grids[n % len(grids)]
        reported = now - timedelta(weeks=weeks, hours=n % 24)
        closed_at = reported + timedelta(days=1 + n % 3) if closed else None
        rectify_by = None
        if closed_at is not None:
            rectify_by = closed_at + timedelta(hours=6 if on_time else -20)
        state = "closed" if closed else ("rectifying" if n % 2 else "assigned")
        open_tier = ("district", "city", "street")[n % 3]
        tier = ("district" if severity == "major" else "street") if closed else open_tier
        rows.append((
            str(uuid.uuid4()), grid_id, path, severity, category, PAST[category], state,
            reporter, reported.strftime(stamp), reported.strftime(stamp), now.strftime(stamp),
            tier, closed_at and closed_at.strftime(stamp), rectify_by and rectify_by.strftime(stamp),
        ))  # fmt: skip
    with contextlib.closing(sqlite3.connect(app.database, timeout=10)) as db:
        db.executemany(
            "INSERT INTO hazard (id, grid_id, unit_path, severity, category, description, state,"
            " reported_by, reported_at, received_at, synced_later, updated_at, tier, closed_at,"
            " rectify_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            rows,
        )
        db.commit()


def public_code(app: App, enterprise_id: int) -> str:
    """The token printed in an enterprise's QR code (its current version)."""
    from backend.codes.keys import code_path, keyring_of
    from backend.models import CodeKind
    from backend.settings import Settings

    found = app.query(
        "SELECT version FROM qr_code WHERE kind = ? AND subject_id = ?",
        CodeKind.ENTERPRISE.value,
        enterprise_id,
    )
    version = found[0][0] if found else 1
    keyring = keyring_of(Settings(secret_key=app.secret))
    path = code_path(keyring, CodeKind.ENTERPRISE, enterprise_id, version)
    return path.removeprefix("/e/")


# ---------------------------------------------------------------------------------- actions


def fill_public_report(page: Any, state: dict[str, str]) -> None:
    page.select_option("#public-report-form select[name=category]", index=1)
    page.fill(
        "#public-report-form textarea[name=description]", "厂区后门堆放大量纸箱，晚上有人在附近吸烟"
    )
    page.fill("#public-report-form input[name=contact_phone]", "13800000000")


def send_public_report(page: Any, state: dict[str, str]) -> None:
    page.click("#public-report-form button[type=submit]")
    page.locator("[data-report-sent]").wait_for()


def fill_warning(page: Any, state: dict[str, str]) -> None:
    page.fill("#warning-form input[name=title]", "高温天气粉尘涉爆企业安全预警")
    page.check("#warning-form input[name=level][value=orange]")
    page.fill("#warning-form textarea[name=body]",
              "未来三天最高气温38℃以上，请督促辖区粉尘涉爆企业检查除尘系统、清理积尘。")  # fmt: skip
    page.fill("#warning-form input[name=valid_until]",
              local_input(datetime.now(UTC) + timedelta(days=3)))  # fmt: skip
    page.check("#warning-form input[name=roles][value=grid_inspector]")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-reach-people]')?.dataset.reachPeople) > 0"
    )


def send_warning(page: Any, state: dict[str, str]) -> None:
    page.click("#warning-form button.primary")
    page.wait_for_url(lambda url: "/warnings/" in url and "/new" not in url)
    state["warning"] = page.url.rsplit("/", 1)[1]


def report_offline(page: Any, state: dict[str, str]) -> None:
    """The worker in control, then no network: the report form still opens, and sending it
    keeps the report in the outbox."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.goto("/hazards/new")
    form = page.locator("#hazard-form")
    form.locator("select[name=enterprise_id]").select_option(state["enterprise"])
    form.locator("input[name=severity][value=general]").check()
    form.locator("select[name=category]").select_option("confined_space")
    form.locator("textarea[name=description]").fill("污水井作业未设警示标志，无通风检测记录")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/outbox")
    page.locator("[data-outbox-saved]").wait_for(state="visible")
    page.wait_for_load_state("load")


def back_online(page: Any, state: dict[str, str]) -> None:
    page.context.set_offline(False)


ACTIONS: dict[str, Callable[[Any, dict[str, str]], None]] = {
    f.__name__: f
    for f in (
        fill_public_report,
        send_public_report,
        fill_warning,
        send_warning,
        report_offline,
        back_online,
    )
}


# ---------------------------------------------------------------------------------- photographs


def optimise(png: bytes) -> bytes:
    """A palette PNG: the screens are flat colours and text, so this keeps them sharp and small."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    reduced = image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    reduced.save(out, format="PNG", optimize=True)
    return out.getvalue()


def settle(page: Any) -> None:
    """Loaded, network quiet (bounded: the service worker may keep fetching), fonts drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_load_state("load")
    # A page that keeps a request open is photographed anyway.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=5_000)
    page.evaluate("() => document.fonts.ready.then(() => true)")


@contextlib.contextmanager
def person(browser: Any, base: str, who: str, english: bool) -> Iterator[Any]:
    """A fresh phone, signed in through the sign-in page as `who` ("" stays signed out)."""
    context = browser.new_context(
        **PHONE,
        locale="en-US" if english else "zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=base,
    )
    context.set_default_timeout(15_000)
    context.grant_permissions(["geolocation"])
    context.set_geolocation(HERE)
    try:
        page = context.new_page()
        if who:
            page.goto("/signin")
            page.fill("input[name=username]", who)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("#signin-form button[type=submit]")
            page.wait_for_url(lambda url: "/signin" not in url)
            if english:  # the account keeps the choice, as the switch does
                csrf = next(c["value"] for c in context.cookies() if c["name"] == "gs_csrf")
                answer = page.request.post(
                    "/language", form={"lang": "en", "next": "/", "_csrf_token": csrf}
                )
                if not answer.ok:
                    raise RuntimeError(f"switching {who} to English: {answer.status}")
        yield page
    finally:
        context.close()


def shoot(page: Any, screen: Screen, state: dict[str, str], out: Path) -> int:
    path = screen.path.format(**state)
    answer = page.goto(path)
    if answer is not None and answer.status >= 400:
        raise RuntimeError(f"{screen.name}: {path} answered {answer.status}")
    settle(page)
    if screen.wait_for:
        page.locator(screen.wait_for).first.wait_for(state="visible")
    if screen.before:
        ACTIONS[screen.before](page, state)
    if screen.scroll_to:
        page.locator(screen.scroll_to).first.evaluate(
            """(e) => {
                (e.closest('.card') || e).scrollIntoView({block: 'start'});
                const bar = document.querySelector('header');
                window.scrollBy(0, -((bar ? bar.offsetHeight : 0) + 12));
            }"""
        )
    else:
        page.evaluate("() => window.scrollTo(0, 0)")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    png = optimise(page.screenshot(animations="disabled", caret="hide"))
    (out / f"{screen.name}.png").write_bytes(png)
    if screen.after:
        ACTIONS[screen.after](page, state)
    return len(png)


def photograph(app: App, state: dict[str, str], screens: list[Screen], out: Path) -> int:
    from playwright.sync_api import sync_playwright

    total = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for (who, english), group in _by_person(screens):
                with person(browser, app.base, who, english) as page:
                    for screen in group:
                        t0 = time.perf_counter()
                        size = shoot(page, screen, state, out)
                        total += size
                        print(f"  {screen.name}.png  {size / 1024:5.0f} KB  "
                              f"{time.perf_counter() - t0:4.1f} s", flush=True)  # fmt: skip
        finally:
            browser.close()
    return total


def _by_person(screens: list[Screen]) -> list[tuple[tuple[str, bool], list[Screen]]]:
    groups: dict[tuple[str, bool], list[Screen]] = {}
    for screen in screens:
        groups.setdefault((screen.who, screen.english), []).append(screen)
    return list(groups.items())


# ---------------------------------------------------------------------------------- the page


def markdown(screens: tuple[Screen, ...]) -> str:
    lines = [
        "# GridSafe on a phone",
        "",
        "The main screens of each role on a 360×740 phone (Chromium, Simplified Chinese; a few "
        "in English at the end), photographed from the running app with the demo data by "
        "`make screenshots` (docs/screenshots.py). Re-run it after changing a page: the file "
        "names stay the same. The hazards, tasks, warning and public report on them were made "
        "through the app by the script; the charts' past weeks were written into the database.",
        "",
    ]
    sections = [(title, [s for s in screens if s.who == who and not s.english])
                for who, title in ROLES.items()]  # fmt: skip
    sections.append(("In English", [s for s in screens if s.english]))
    for title, group in sections:
        if not group:
            continue
        lines += [f"## {title}", "", "<table>"]
        for start in range(0, len(group), 3):
            lines.append("<tr>")
            for screen in group[start : start + 3]:
                alt = re.sub(r'["<>]', "", screen.caption)
                lines.append(
                    f'<td valign="top" width="33%"><img src="screenshots/{screen.name}.png" '
                    f'width="240" alt="{alt}"><br>{screen.caption}</td>'
                )
            lines.append("</tr>")
        lines += ["</table>", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    parser.add_argument("--only", default="", help="photograph only screens whose name matches")
    options = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")
        return 1
    started_at = time.perf_counter()
    screens = [s for s in run_order(SCREENS) if re.search(options.only, s.name)]
    options.out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="gridsafe-screens-") as tmp:
            data_dir = Path(tmp) / "data"
            database = data_dir / "gridsafe.sqlite3"
            env = server_env(data_dir, f"sqlite:///{database}")
            gridsafe_cli(env, "migrate")
            gridsafe_cli(env, "seed-demo")
            port = free_port()
            base = f"http://{HOST}:{port}"
            with started(uvicorn_command(APP_FACTORY, port), env, ROOT, Path(tmp) / "server.log",
                         f"{base}/healthz"):  # fmt: skip
                app = App(base, database, env["GRIDSAFE_SECRET_KEY"])
                state = make_state(app)
                print(f"demo data and the loop's state ready in "
                      f"{time.perf_counter() - started_at:.0f} s", flush=True)  # fmt: skip
                total = photograph(app, state, screens, options.out)
    finally:
        stop_all()
    if not options.only and options.out.resolve() == OUT:
        PAGE.write_text(markdown(SCREENS))
        for stale in set(OUT.glob("*.png")) - {OUT / f"{s.name}.png" for s in SCREENS}:
            stale.unlink()  # a screen renamed or dropped
    print(f"{len(screens)} screens, {total / 1024:.0f} KB in {options.out}; "
          f"took {time.perf_counter() - started_at:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
