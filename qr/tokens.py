"""Signed code tokens: what a poster's QR code carries, and how a scan is judged.

A token is base32 (RFC 4648, no padding, so upper-case letters and digits only: QR's dense
alphanumeric mode holds it, and a scanner that changes case does no harm) of

    header   1 byte   format version (high 4 bits) and kind (low 4 bits)
    key id   1 byte   which server key signed it (see `Keyring`)
    version  varint   the code's version: rotating a code bumps it, so old posters read "replaced"
    subject  varint   the enterprise's or key point's id
    mac      10 bytes HMAC-SHA256 over everything before it, truncated

An enterprise code is 24 characters. Ten bytes of MAC (80 bits) cannot be guessed online, and
keep the QR code small enough to scan from a dirty poster at high error correction.

Revocation and rotation are not in the token: the caller knows the current state of each code
(`CodeStates`), and `verify` compares.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol

FORMAT = 1
MAC_BYTES = 10
# Longest token worth decoding: a header, a key id, two 10-byte varints and the MAC.
MAX_TOKEN_CHARS = 64
_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_KEY_LABEL = b"gridsafe qr code key v1"


class Kind(IntEnum):
    """What a code names: an enterprise (一企一码) or a key point inside one (一点一码)."""

    ENTERPRISE = 1
    POINT = 2


class Status(StrEnum):
    VALID = "valid"
    FORGED = "forged"  # malformed, bad signature, or signed by a key that is no longer kept
    REVOKED = "revoked"  # the code was withdrawn
    ROTATED = "rotated"  # a newer poster replaced this one


@dataclass(frozen=True)
class Key:
    """A server key: `id` travels in the token (one byte), `secret` never leaves the server."""

    id: int
    secret: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.id <= 255:
            raise ValueError("a key id is one byte (0-255)")
        if len(self.secret) < 16:
            raise ValueError("a key secret needs at least 16 bytes")


def derive_key(master_secret: str) -> Key:
    """The QR key for a server secret: a separate key (so a CSRF token can never be a code's
    MAC) whose id is a fingerprint of it, so the same secret always signs with the same id."""
    secret = hmac.new(master_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
    return Key(id=hashlib.sha256(b"key id\x00" + secret).digest()[0], secret=secret)


class Keyring:
    """The current key signs new codes; older keys still verify until they are dropped (retired).
    Two keys may share an id (one byte of fingerprint): verification tries each of them."""

    def __init__(self, current: Key, older: Iterable[Key] = ()) -> None:
        self.current = current
        keys = [current, *(key for key in older if key.secret != current.secret)]
        self._by_id: dict[int, list[Key]] = {}
        for key in keys:
            if key not in self._by_id.setdefault(key.id, []):
                self._by_id[key.id].append(key)

    @classmethod
    def from_secrets(cls, current: str, older: Sequence[str] = ()) -> Keyring:
        return cls(derive_key(current), [derive_key(secret) for secret in older if secret])

    def candidates(self, key_id: int) -> Sequence[Key]:
        return self._by_id.get(key_id, ())

    @property
    def key_ids(self) -> frozenset[int]:
        return frozenset(self._by_id)


@dataclass(frozen=True)
class CodeRef:
    """What a token with a good signature says."""

    kind: Kind
    subject_id: int
    version: int
    key_id: int


@dataclass(frozen=True)
class CodeState:
    """The current state of one code, as the caller stores it."""

    version: int = 1
    revoked: bool = False


class CodeStates(Protocol):
    """Where `verify` learns a code's current state; None means no such subject."""

    def code_state(self, kind: Kind, subject_id: int) -> CodeState | None: ...


@dataclass(frozen=True)
class Verdict:
    status: Status
    ref: CodeRef | None = None
    # Why a token is forged ("malformed", "format", "signature"), for logs only: users are told
    # no more than "not a valid code".
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.VALID


def _uvarint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    for position in range(offset, min(len(data), offset + 10)):
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position + 1
        shift += 7
    raise ValueError("truncated or overlong varint")


def _mac(key: Key, payload: bytes) -> bytes:
    return hmac.new(key.secret, payload, hashlib.sha256).digest()[:MAC_BYTES]


def issue(keyring: Keyring, kind: Kind, subject_id: int, version: int = 1) -> str:
    """A token for the code of `subject_id` at `version`, signed with the current key."""
    if subject_id < 1 or version < 1:
        raise ValueError("subject ids and versions start at 1")
    key = keyring.current
    payload = bytes([FORMAT << 4 | int(kind), key.id]) + _uvarint(version) + _uvarint(subject_id)
    return base64.b32encode(payload + _mac(key, payload)).decode("ascii").rstrip("=")


def read(token: str, keyring: Keyring) -> CodeRef | Verdict:
    """Check the form and the signature only: a `CodeRef`, or a FORGED verdict saying why."""
    text = token.strip().upper()
    if not 0 < len(text) <= MAX_TOKEN_CHARS or not set(text) <= _B32_ALPHABET:
        return Verdict(Status.FORGED, reason="malformed")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return Verdict(Status.FORGED, reason="malformed")
    if len(raw) < 4 + MAC_BYTES:
        return Verdict(Status.FORGED, reason="malformed")
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    header, key_id = payload[0], payload[1]
    if header >> 4 != FORMAT or header & 0x0F not in Kind._value2member_map_:
        return Verdict(Status.FORGED, reason="format")
    try:
        version, offset = _read_uvarint(payload, 2)
        subject_id, offset = _read_uvarint(payload, offset)
    except ValueError:
        return Verdict(Status.FORGED, reason="malformed")
    if offset != len(payload) or version < 1 or subject_id < 1:
        return Verdict(Status.FORGED, reason="malformed")
    # Every candidate is tried, in constant time each: which keys exist is not revealed by timing.
    signed = [hmac.compare_digest(_mac(key, payload), mac) for key in keyring.candidates(key_id)]
    if not any(signed):
        return Verdict(Status.FORGED, reason="signature")
    return CodeRef(Kind(header & 0x0F), subject_id, version, key_id)


def judge(ref: CodeRef, state: CodeState | None) -> Verdict:
    """A well-signed code against its current state. A subject that does not exist, or a version
    newer than the current one (which was never issued), is not a code we stand behind."""
    if state is None or ref.version > state.version:
        return Verdict(Status.FORGED, ref, reason="unknown")
    if state.revoked:
        return Verdict(Status.REVOKED, ref)
    if ref.version < state.version:
        return Verdict(Status.ROTATED, ref)
    return Verdict(Status.VALID, ref)


def verify(token: str, keyring: Keyring, states: CodeStates) -> Verdict:
    """valid, forged, revoked or rotated."""
    ref = read(token, keyring)
    if isinstance(ref, Verdict):
        return ref
    return judge(ref, states.code_state(ref.kind, ref.subject_id))
