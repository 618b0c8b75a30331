"""The second channel beside web push (SMS or work messaging, 短信 / 政务微信): a small sender
interface, a logging sender and a signed HTTP webhook sender.

In mainland China Chrome's push service is blocked, so a gateway reached over this channel is
how many phones actually buzz; the inbox page is the other half."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from backend.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-GridSafe-Signature"


@dataclass(frozen=True)
class SecondMessage:
    """What a gateway needs to reach one person; the text is already in their language."""

    notification_id: int
    kind: str
    user_id: int
    username: str
    phone: str
    title: str
    body: str
    url: str
    data: dict[str, Any] = field(default_factory=dict)


class ChannelError(Exception):
    """A send that did not go through; `transient` ones are tried again later."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class SecondChannel(Protocol):
    def send(self, message: SecondMessage) -> None: ...

    def close(self) -> None: ...


class LogSender:
    """Writes each message to the worker's log: for development and for a gateway that tails it."""

    def send(self, message: SecondMessage) -> None:
        log.info(
            "second channel: to %s (%s) %s: %s %s",
            message.username,
            message.phone or "no phone",
            message.title,
            message.body,
            message.url,
        )

    def close(self) -> None:
        pass


def sign(secret: str, body: bytes) -> str:
    """The webhook's signature header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs the message as JSON to a gateway, signed so the gateway can tell it came from us."""

    def __init__(self, url: str, secret: str, timeout: float, client: httpx.Client | None = None):
        self.url = url
        self.secret = secret
        self.client = client or httpx.Client(timeout=timeout)

    def send(self, message: SecondMessage) -> None:
        body = json.dumps(asdict(message), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:  # timeouts and refused connections
            raise ChannelError(f"webhook: {error.__class__.__name__}", transient=True) from error
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelError(f"webhook answered {response.status_code}", transient=True)
        if response.status_code >= 300:
            raise ChannelError(f"webhook answered {response.status_code}", transient=False)

    def close(self) -> None:
        self.client.close()


def second_channel(settings: Settings) -> SecondChannel | None:
    """The configured sender, or None when there is no second channel."""
    if settings.second_channel == "log":
        return LogSender()
    if settings.second_channel == "webhook":
        return WebhookSender(
            settings.second_channel_url,
            settings.second_channel_secret,
            settings.push_timeout_seconds,
        )
    return None
