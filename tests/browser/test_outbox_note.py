"""The outbox says when the server recorded an inspection without the check-in it named: the
check-in queued with it was refused, so the inspection is on record but not linked to one."""

from __future__ import annotations

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

pytestmark = pytest.mark.browser

# What the scanner keeps for a poster it read offline; the page cannot check the code or the
# scope without a network, so the server is the one to refuse it.
QUEUE_SCANNED_CHECK_IN = """async ([enterpriseId, code]) => {
    const args = { id: GridSafeOutbox.uuid7(), enterprise_id: enterpriseId, code: code };
    await GridSafeOutbox.enqueue("inspection.check_in", args, { user: document.body.dataset.user });
    return args.id;
}"""
NOTES = {
    "phone": "已记录，但到场签到未被接受，本次检查未关联签到。",
    "english_phone": "Recorded, but its check-in was not accepted: the inspection is not linked"
    " to one.",
}


@pytest.mark.parametrize("device", list(NOTES))
def test_an_inspection_recorded_without_its_refused_check_in_says_so(
    request: pytest.FixtureRequest, live_server: LiveServer, device: str
) -> None:
    phone = request.getfixturevalue(device)
    page, _ = inspector_in_wuhan(phone)
    inside, outside = inspector_scope(live_server)
    checklist = keep_checklist(page, inside)
    settle(page)

    # Offline, a check-in at an enterprise outside the inspector's area, then the inspection
    # filled in on the kept checklist, naming that check-in.
    phone.set_offline(True)
    poster = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, outside, 1)
    check_in_id = page.evaluate(QUEUE_SCANNED_CHECK_IN, [outside, poster])
    page.goto(f"{checklist}?check_in={check_in_id}")
    inspection_id = pass_every_item_offline(page, check_in_id)
    page.goto("/outbox")
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(2)
    settle(page)

    phone.set_offline(False)
    received = page.locator("[data-outbox-id][data-state=received]")
    refused = page.locator("[data-outbox-id][data-state=rejected]")
    expect(received).to_have_count(1, timeout=15_000)
    expect(refused).to_have_count(1)
    expect(refused.locator("[data-error-code]")).to_have_attribute(
        "data-error-code", "check_in.out_of_scope"
    )
    note = received.locator("[data-outbox-note=check_in_missing]")
    expect(note).to_have_text(NOTES[device])
    # Only the inspection says it; the refused check-in shows its own reason and nothing more.
    expect(page.locator("[data-outbox-note]")).to_have_count(1)
    assert live_server.query("SELECT id FROM check_in WHERE id = ?", check_in_id) == []
    assert live_server.query(
        "SELECT enterprise_id, check_in_id FROM inspection WHERE id = ?", inspection_id
    ) == [(inside, None)]
