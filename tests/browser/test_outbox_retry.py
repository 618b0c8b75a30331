"""Items the server answers `retry` while others in the same push go through are sent again at
once, a bounded number of times, instead of waiting for the outbox's next timer (30 s, doubling)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

import qr
from backend.codes.keys import code_path
from backend.models import CodeKind
from tests.browser.conftest import SECRET, LiveServer
from tests.browser.test_outbox import (
    inspector_in_wuhan,
    inspector_scope,
    keep_checklist,
    pass_every_item_offline,
    settle,
)
from tests.browser.test_shell import sign_in

pytestmark = pytest.mark.browser

PUSH = "**/api/v1/sync/push"
# Far below the outbox's first timer (30 s): only an immediate resend gets there in time.
AT_ONCE_MS = 8_000
# outbox.js RETRY_ROUNDS: pushes a drain may make straight after a `retry` answer.
RETRY_ROUNDS = 5
NO_BACKGROUND_SYNC = """
Object.defineProperty(ServiceWorkerRegistration.prototype, "sync", { get: () => undefined });
"""
OFFLINE_NOISE = ("htmx:sendError", "htmx:afterRequest", "net::ERR_INTERNET_DISCONNECTED")


def test_an_inspection_sent_with_its_check_in_is_on_the_server_within_seconds(
    phone: Any, live_server: LiveServer
) -> None:
    """The server stores the check-in and answers the inspection naming it `retry` (the row is
    written with the batch); the outbox sends the inspection again straight away."""
    # As on a phone whose browser has no Background Sync (Safari, Firefox): the page's drain on
    # the network's return is the only one, so a second drain by the worker cannot hide a wait.
    phone.add_init_script(NO_BACKGROUND_SYNC)
    page, errors = inspector_in_wuhan(phone)
    enterprise_id, _ = inspector_scope(live_server)
    checklist = keep_checklist(page, enterprise_id)
    page.goto(code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1))
    check_in = page.locator("#check-in-form")
    check_in_id = check_in.locator("input[name=id]").input_value()
    settle(page)

    phone.set_offline(True)
    check_in.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(1)
    page.goto(f"{checklist}?check_in={check_in_id}")
    inspection_id = pass_every_item_offline(page, check_in_id)
    page.goto("/outbox")
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(2)
    # The page's own drain on opening (offline, so it sends nothing) is over before the network
    # returns; otherwise it and the one the network's return starts would make two drains.
    settle(page)

    # No click and no second trigger: the network coming back is all the outbox gets.
    phone.set_offline(False)
    received = page.locator("[data-outbox-id][data-state=received]")
    expect(received).to_have_count(2, timeout=AT_ONCE_MS)
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(0)
    assert live_server.query("SELECT enterprise_id FROM check_in WHERE id = ?", check_in_id) == [
        (enterprise_id,)
    ]
    assert live_server.query(
        "SELECT enterprise_id, check_in_id FROM inspection WHERE id = ?", inspection_id
    ) == [(enterprise_id, check_in_id)]
    assert [e for e in errors if not any(mark in e for mark in OFFLINE_NOISE)] == []


def queue(page: Any, how_many: int) -> list[int]:
    """Outbox items the stubbed server will answer; what they say does not matter to it."""
    settle(page)
    return list(
        page.evaluate(
            """async (n) => {
                const ids = [];
                for (let i = 0; i < n; i++) {
                    ids.push((await GridSafeOutbox.enqueue("warning.ack", { warning_id: i })).id);
                }
                return ids;
            }""",
            how_many,
        )
    )


def drain(page: Any) -> str:
    """One drain, as the outbox's timer runs it; one that is still pushing after 5 s is looping."""
    return str(
        page.evaluate(
            """() => Promise.race([
                GridSafeOutbox.sync({ pull: false }).then((result) => result.state),
                new Promise((resolve) => setTimeout(() => resolve("still pushing"), 5000)),
            ])"""
        )
    )


def states(page: Any) -> list[str]:
    return list(page.evaluate("async () => (await GridSafeOutbox.list()).map((i) => i.state)"))


def test_progress_with_retry_resends_at_once_but_only_a_bounded_number_of_times(
    phone: Any, live_server: LiveServer
) -> None:
    """A server that takes one item per push and asks for the rest again: each push makes
    progress, yet one drain stops after the bound and leaves the rest to the back-off."""
    page = phone.new_page()
    page.goto("/signin?next=/outbox")
    sign_in(page, "inspector")
    ids = queue(page, 10)
    pushes: list[list[int]] = []

    def one_at_a_time(route: Any) -> None:
        sent = [m["id"] for m in route.request.post_data_json["mutations"]]
        pushes.append(sent)
        results = [{"id": sent[0], "status": "applied", "result": {}}]
        results += [{"id": i, "status": "retry", "code": "sync.retry"} for i in sent[1:]]
        route.fulfill(json={"results": results, "last_mutation_id": sent[0]})

    page.route(PUSH, one_at_a_time)
    assert drain(page) == "retry"
    # Each push resent exactly what the one before was asked to send again.
    assert pushes == [ids[first:] for first in range(1 + RETRY_ROUNDS)]
    assert states(page) == ["received"] * (1 + RETRY_ROUNDS) + ["pending"] * (9 - RETRY_ROUNDS)

    # The next drain (the timer's) goes on from there; the last push asks for nothing again.
    pushes.clear()
    assert drain(page) == "done"
    assert len(pushes) == 10 - (1 + RETRY_ROUNDS)
    assert states(page) == ["received"] * 10


Answer = Callable[[list[int]], dict[str, Any]]
RETRY_FOR_EVER: dict[str, tuple[int, Answer]] = {
    "every item retry": (200, lambda ids: {"results": [{"id": i, "status": "retry"} for i in ids]}),
    "no answer for the items": (200, lambda ids: {"results": []}),
    "the batch as a whole (busy database)": (
        503,
        lambda ids: {"status": 503, "code": "sync_retry", "title": "busy"},
    ),
}


@pytest.mark.parametrize("answer", RETRY_FOR_EVER, ids=list(RETRY_FOR_EVER))
def test_a_server_answering_retry_without_progress_gets_one_push_per_drain(
    phone: Any, live_server: LiveServer, answer: str
) -> None:
    status, body = RETRY_FOR_EVER[answer]
    page = phone.new_page()
    page.goto("/signin?next=/outbox")
    sign_in(page, "inspector")
    queue(page, 3)
    pushes: list[list[int]] = []

    def stub(route: Any) -> None:
        ids = [m["id"] for m in route.request.post_data_json["mutations"]]
        pushes.append(ids)
        route.fulfill(status=status, body=json.dumps(body(ids)), content_type="application/json")

    page.route(PUSH, stub)
    for _ in range(2):
        assert drain(page) == "retry"
    assert len(pushes) == 2
    assert states(page) == ["pending"] * 3
