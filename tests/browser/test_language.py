"""Each person's own language, on a real phone: the switch stores it on the account, so a fresh
browser, the pushes and the second channel speak it too; English says "1 hazard", not
"1 hazards", and names the units by their English names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.db import make_engine, make_session_factory
from backend.push import delivery
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_push import (
    assign_to_responder,
    enable_push,
    quiet_enterprise,
    server_settings,
)
from tests.browser.test_shell import sign_in, watch_console
from tests.push.conftest import with_changes
from tests.push.receiver import Receiver

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u4e00-\u9fff]")
WEBHOOK_SECRET = "language-test-webhook-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    service = Receiver(webhook_secret=WEBHOOK_SECRET).start()
    yield service
    service.stop()


def choose(page: Any, lang: str) -> None:
    """Tap the language switch at the foot of the page."""
    page.locator(f"form.language button[value='{lang}']").click()
    expect(page.locator("html")).to_have_attribute("lang", "en" if lang == "en" else "zh-CN")


def locale_of(live_server: LiveServer, username: str) -> str | None:
    [(locale,)] = live_server.query("SELECT locale FROM app_user WHERE username = ?", username)
    return locale  # type: ignore[no-any-return]


def test_the_language_chosen_while_signed_in_follows_the_account(
    browser: Any, phone: Any, live_server: LiveServer
) -> None:
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin?next=/hazards")
    sign_in(page, "inspector2")
    try:
        choose(page, "en")
        assert locale_of(live_server, "inspector2") == "en"

        # Another phone, set to Chinese, with no cookie of the first: English once signed in.
        other_context = new_context(browser, live_server)
        try:
            other = other_context.new_page()
            other.goto("/signin?next=/hazards")
            expect(other.locator("html")).to_have_attribute("lang", "zh-CN")
            sign_in(other, "inspector2")
            expect(other.locator("html")).to_have_attribute("lang", "en")
            expect(other.locator("nav.tabs")).not_to_contain_text(HAN)
        finally:
            other_context.close()
    finally:
        choose(page, "zh")
    assert locale_of(live_server, "inspector2") == "zh"
    live_server.forget_language("inspector2")
    assert errors == []


def test_a_task_pushed_to_a_responder_who_chose_english_is_english_on_every_channel(
    browser: Any, phone: Any, live_server: LiveServer, receiver: Receiver
) -> None:
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    device = receiver.device()
    enable_push(page, device)  # signs the responder in, on a phone set to Chinese
    desk_context = new_context(browser, live_server)
    try:
        choose(page, "en")
        desk = desk_context.new_page()
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        task_id = assign_to_responder(
            desk_context, desk, live_server, quiet_enterprise(live_server)
        )

        [(notification_id,)] = live_server.query(
            "SELECT notification.id FROM notification JOIN app_user"
            " ON app_user.id = notification.user_id"
            " WHERE notification.task_id = ? AND app_user.username = 'responder'",
            task_id,
        )
        settings = with_changes(
            server_settings(live_server),
            second_channel="webhook",
            second_channel_url=receiver.webhook_url,
            second_channel_secret=WEBHOOK_SECRET,
        )
        engine = make_engine(settings.resolved_database_url)
        try:
            report = delivery.deliver(settings, make_session_factory(engine), [notification_id])
        finally:
            engine.dispose()
        assert report.counts["sent"] == 2, report.counts

        # The push, as the phone decrypts it, and the SMS stand-in: both in English.
        [push] = receiver.wait_for(1)
        assert push.payload["task_id"] == task_id
        assert push.payload["title"].startswith("New task")
        assert "Fire" in push.payload["title"]
        assert not HAN.search(push.payload["title"])
        assert [a["title"] for a in push.payload["actions"]] == ["Accept", "Decline"]
        assert "accept by" in push.payload["body"]
        [message] = receiver.webhook_calls
        assert (message["title"], message["body"]) == (
            push.payload["title"],
            push.payload["body"],
        )
        assert receiver.errors == []

        # And the inbox on the phone.
        page.goto("/notifications")
        expect(page.locator("[data-inbox] li").first).to_contain_text("New task")
    finally:
        desk_context.close()
        choose(page, "zh")
        page.locator("[data-push-toggle]").click()
        expect(page.locator("[data-push-control]")).to_have_attribute("data-push-state", "off")
    assert locale_of(live_server, "responder") == "zh"
    live_server.forget_language("responder")


def test_english_counts_people_and_hazards_and_names_units_in_english(
    browser: Any, english_phone: Any, live_server: LiveServer
) -> None:
    enterprise_id = quiet_enterprise(live_server)
    [(grid_name, grid_name_en)] = live_server.query(
        "SELECT unit.name, unit.name_en FROM enterprise JOIN unit ON unit.id = enterprise.grid_id"
        " WHERE enterprise.id = ?",
        enterprise_id,
    )
    assert grid_name_en
    assert grid_name_en != grid_name
    desk = english_phone.new_page()
    errors = watch_console(desk)
    desk.goto("/signin?next=/dispatch")
    sign_in(desk, "dispatcher")
    expect(desk.locator("html")).to_have_attribute("lang", "en")
    assign_to_responder(english_phone, desk, live_server, enterprise_id)

    desk.goto(f"/dispatch?enterprise={enterprise_id}")
    results = desk.locator("#results")
    expect(results.locator("[data-total]")).to_have_text("1 hazard")
    [row] = results.locator("li[data-hazard-id]").all()
    expect(row).to_contain_text("Offered to 1 person")
    expect(row).not_to_contain_text("1 people")
    # The grid, in the row and in the filter, by its English name.
    expect(row).to_contain_text(grid_name_en)
    expect(row).not_to_contain_text(grid_name)
    grid_choices = desk.locator("select[name=grid] option").all_text_contents()
    assert grid_name_en in grid_choices
    assert not [text for text in grid_choices if HAN.search(text)]
    # The dashboard names its supervised count (挂牌督办) in English.
    desk.goto("/dashboard")
    expect(desk.locator("[data-number=supervised]")).not_to_contain_text(HAN)
    screenshot(desk, "english-dashboard")
    assert errors == []
