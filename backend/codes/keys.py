"""The server's QR keyring, from settings, and the URL a code carries."""

from __future__ import annotations

from functools import cache

import qr
from backend.models import CodeKind
from backend.settings import Settings

KINDS = {CodeKind.ENTERPRISE: qr.Kind.ENTERPRISE, CodeKind.POINT: qr.Kind.POINT}
# The one-letter path a plain phone camera opens: /e/<token> for an enterprise, /p/<token> for a point.
PREFIXES = {CodeKind.ENTERPRISE: "e", CodeKind.POINT: "p"}


@cache
def _keyring(secret: str, older: tuple[str, ...]) -> qr.Keyring:
    return qr.Keyring.from_secrets(secret, older)


def keyring_of(settings: Settings) -> qr.Keyring:
    """The current secret signs; earlier ones (GRIDSAFE_QR_OLD_SECRET_KEYS) still verify."""
    return _keyring(settings.resolved_secret_key, settings.qr_old_secrets)


def code_path(keyring: qr.Keyring, kind: CodeKind, subject_id: int, version: int) -> str:
    return f"/{PREFIXES[kind]}/{qr.issue(keyring, KINDS[kind], subject_id, version)}"
