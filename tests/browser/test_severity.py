"""Severity, supervision and lateness at a glance: a major hazard stands out from a general one
(in words and in colour), supervised ones are marked, late ones say so, and the inspector's list
shows where each hazard stands in the loop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from sqlmodel import Session

from backend.db import make_engine, make_session_factory
from backend.models import Hazard, utcnow
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import csrf, new_context
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser

TRANSPARENT = "rgba(0, 0, 0, 0)"


def report(context: Any, page: Any, enterprise_id: int, severity: str, **fields: str) -> str:
    """A hazard reported through the plain form, as the signed-in person; its id."""
    hazard_id = str(uuid.uuid4())
    response = page.request.post(
        "/hazards/new",
        multipart={
            "_csrf_token": csrf(context),
            "id": hazard_id,
            "enterprise_id": str(enterprise_id),
            "severity": severity,
            "category": "electrical",
            "description": f"配电箱门锁损坏（{severity}）",
            **fields,
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()
    return hazard_id


@contextmanager
def server_database(live_server: LiveServer) -> Iterator[Session]:
    """A session on the live server's database: what time passing would do, done at once."""
    engine = make_engine(f"sqlite:///{live_server.data_dir / 'gridsafe.sqlite3'}")
    try:
        with make_session_factory(engine)() as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def make_late(live_server: LiveServer, hazard_id: str) -> None:
    """Its escalation clock ran out an hour ago (and the sweep has not run yet)."""
    with server_database(live_server) as session:
        session.execute(
            update(Hazard)
            .where(Hazard.id == hazard_id)  # type: ignore[arg-type]
            .values(due_at=utcnow() - timedelta(hours=1))
        )


def make_on_time(live_server: LiveServer, hazard_id: str) -> None:
    with server_database(live_server) as session:
        session.execute(
            update(Hazard)
            .where(Hazard.id == hazard_id)  # type: ignore[arg-type]
            .values(due_at=utcnow() + timedelta(hours=5))
        )


def background(locator: Any) -> str:
    return str(locator.evaluate("element => getComputedStyle(element).backgroundColor"))


def assert_stands_out(row: Any, general_row: Any) -> None:
    """The major badge says so and looks different from the general one (not colour alone:
    the words differ too)."""
    major = row.locator("[data-severity=major]")
    general = general_row.locator("[data-severity=general]")
    expect(major).to_have_text("重大隐患")
    expect(general).to_have_text("一般隐患")
    assert background(major) not in (TRANSPARENT, background(general))
    supervised = row.locator("[data-supervised]")
    expect(supervised).to_have_text("挂牌督办")
    assert background(supervised) != TRANSPARENT


def test_major_supervised_and_late_stand_out(browser: Any, live_server: LiveServer) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    inspector_context = new_context(browser, live_server)
    desk_context = new_context(browser, live_server)
    try:
        page = inspector_context.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/hazards")
        sign_in(page, "inspector")
        major = report(inspector_context, page, enterprise_id, "major")
        general = report(inspector_context, page, enterprise_id, "general")
        # The general one is late; the major one (due at once, for the sweep) is given time.
        make_late(live_server, general)
        make_on_time(live_server, major)

        # The inspector's own list: severity, supervision, lateness and where each one stands.
        page.goto("/hazards")
        major_row = page.locator(f"li[data-hazard-id='{major}']")
        general_row = page.locator(f"li[data-hazard-id='{general}']")
        assert_stands_out(major_row, general_row)
        expect(general_row.locator("[data-overdue]")).to_have_text("已超时")
        expect(major_row.locator("[data-overdue]")).to_have_count(0)
        expect(general_row.locator("[data-state-badge]")).to_have_text("已上报")
        expect(major_row.locator("[data-state-badge]")).to_have_text("已上报")
        screenshot(page, "severity-inspector-list")

        # The card says it at the top.
        page.goto(f"/hazards/{major}")
        card = page.locator("[data-hazard-id]").first
        expect(card.locator("[data-severity=major]")).to_have_text("重大隐患")
        expect(card.locator("[data-supervised]")).to_have_text("挂牌督办")

        # The dispatcher's queue: the same marks.
        desk = desk_context.new_page()
        desk_errors = watch_console(desk)
        desk.goto(f"/signin?next=/dispatch%3Fenterprise%3D{enterprise_id}")
        sign_in(desk, "dispatcher")
        major_row = desk.locator(f"li[data-hazard-id='{major}']")
        general_row = desk.locator(f"li[data-hazard-id='{general}']")
        assert_stands_out(major_row, general_row)
        expect(general_row.locator("[data-overdue]")).to_have_text("已超时")
        expect(major_row.locator("[data-overdue]")).to_have_count(0)
        screenshot(desk, "severity-dispatch-queue")
        assert errors == []
        assert desk_errors == []
    finally:
        inspector_context.close()
        desk_context.close()
