"""Shapes of the push API, as documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class KeysIn(BaseModel):
    p256dh: str = Field(max_length=200, description="The browser's P-256 public key (base64url).")
    auth: str = Field(max_length=100, description="The 16-byte auth secret (base64url).")


class SubscriptionIn(BaseModel):
    """What `PushSubscription.toJSON()` gives, plus an optional device label."""

    endpoint: str = Field(max_length=1000)
    keys: KeysIn
    device: str = Field(default="", max_length=200)


class SubscriptionOut(BaseModel):
    id: int
    created: bool


class PushKeyOut(BaseModel):
    public_key: str = Field(description="VAPID application server key (base64url).")


class ReceiptIn(BaseModel):
    event: Literal["delivered", "seen"] = Field(
        description="delivered: the service worker got the push; seen: the person opened it."
    )
