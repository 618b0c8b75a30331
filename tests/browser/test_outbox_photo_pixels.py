"""A photo the phone could not shrink (too large for it to decode) and the server refuses for its
pixels: the outbox says so, with the limit, instead of "not an image"."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.test_outbox import on_the_outbox

pytestmark = pytest.mark.browser

# Queued as preparePhoto keeps a file it cannot decode: the bytes as they are, hashed here.
QUEUE_WITH_RAW_PHOTO = """async ([b64, enterpriseId, text]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const sha = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const item = await GridSafeOutbox.enqueue(
        "hazard.report",
        { id: GridSafeOutbox.uuid7(), enterprise_id: enterpriseId, severity: "general",
          category: "fire", description: text, photos: [sha] },
        { photos: [{ sha256: sha, blob: new Blob([bytes], { type: "image/png" }) }] },
    );
    const sync = await GridSafeOutbox.sync();
    return [item.id, item.args.id, sync.state];
}"""


def test_a_photo_with_too_many_pixels_is_refused_naming_the_limit(
    phone: Any, live_server: LiveServer
) -> None:
    page, errors, inside, _ = on_the_outbox(phone, live_server)
    out = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(out, format="PNG")  # a valid PNG of 64 million pixels
    photo = base64.b64encode(out.getvalue()).decode()
    text = f"{uuid.uuid4().hex[:8]} 配电箱门损坏"

    item_id, hazard_id, state = page.evaluate(QUEUE_WITH_RAW_PHOTO, [photo, inside, text])
    assert state == "done"
    refused = page.locator(f"[data-outbox-id='{item_id}']")
    expect(refused).to_have_attribute("data-state", "rejected")
    expect(refused.locator("[data-error-code]")).to_have_attribute(
        "data-error-code", "photo_too_large_pixels"
    )
    expect(refused.locator("[role=alert]")).to_contain_text("最多 50 百万像素")
    # The report waits on the phone with its photo, to be sent again with a smaller one.
    assert live_server.query("SELECT id FROM hazard WHERE id = ?", hazard_id) == []
    assert errors == []
