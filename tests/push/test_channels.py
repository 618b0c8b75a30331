"""The second channel's senders, the push payload's limits, and the beat entry for the sweep."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator

import pytest

from backend.push.channels import (
    ChannelError,
    LogSender,
    SecondMessage,
    WebhookSender,
    second_channel,
    sign,
)
from backend.push.delivery import MAX_PAYLOAD, backoff, payload
from backend.settings import ConfigurationError, Settings
from backend.worker import celery_config
from tests.push.conftest import free_port
from tests.push.receiver import Receiver

MESSAGE = SecondMessage(
    notification_id=7,
    kind="task.assigned",
    user_id=3,
    username="responder",
    phone="13800000000",
    title="新任务",
    body="请受理",
    url="/tasks/1",
)


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    service = Receiver(webhook_secret="s3cret", hang_seconds=1.0).start()
    yield service
    service.stop()


def test_the_webhook_posts_signed_json(gateway: Receiver) -> None:
    sender = WebhookSender(gateway.webhook_url, "s3cret", timeout=2)
    try:
        sender.send(MESSAGE)
    finally:
        sender.close()
    assert gateway.errors == []
    assert gateway.webhook_calls == [json.loads(json.dumps(MESSAGE.__dict__))]


def test_a_wrong_secret_is_refused_for_good_and_no_answer_is_worth_retrying(
    gateway: Receiver,
) -> None:
    wrong = WebhookSender(gateway.webhook_url, "not-the-secret", timeout=2)
    with pytest.raises(ChannelError) as refused:
        wrong.send(MESSAGE)
    wrong.close()
    assert refused.value.transient is False
    assert gateway.webhook_calls == []
    down = WebhookSender(f"http://127.0.0.1:{free_port()}/", "s3cret", timeout=0.5)
    with pytest.raises(ChannelError) as unreachable:
        down.send(MESSAGE)
    down.close()
    assert unreachable.value.transient is True


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = json.dumps({"a": 1}).encode()
    assert sign("k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign("k", body) != sign("other", body)


def test_the_log_sender_writes_the_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="backend.push.channels"):
        LogSender().send(MESSAGE)
    assert "responder" in caplog.text
    assert "新任务" in caplog.text


def test_second_channel_settings() -> None:
    assert second_channel(Settings(second_channel="none")) is None
    assert isinstance(second_channel(Settings(second_channel="log")), LogSender)
    with pytest.raises(ConfigurationError, match="GRIDSAFE_SECOND_CHANNEL_URL"):
        Settings(second_channel="webhook")
    sender = second_channel(
        Settings(
            second_channel="webhook",
            second_channel_url="https://sms.example/x",
            second_channel_secret="k",
        )
    )
    assert isinstance(sender, WebhookSender)
    sender.close()


def test_a_long_body_is_cut_to_fit_a_push() -> None:
    notification = {
        "id": 1,
        "kind": "task.assigned",
        "title": "标题",
        "body": "很长的描述" * 2000,
        "url": "/tasks/1",
        "actions": [],
        "data": {},
        "task_id": None,
        "hazard_id": None,
    }
    text = payload(notification)
    assert len(text.encode()) <= MAX_PAYLOAD
    assert json.loads(text)["body"].endswith("…")


def test_back_off_grows_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 32]
    assert backoff(20) == 300


def test_beat_sweeps_deliveries_at_the_configured_interval() -> None:
    schedule = celery_config(Settings(push_sweep_seconds=7))["beat_schedule"]
    [entry] = [e for e in schedule.values() if e["task"] == "gridsafe.push.sweep"]
    assert entry["schedule"].total_seconds() == 7
