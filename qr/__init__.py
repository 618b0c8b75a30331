"""Signed enterprise and key-point codes (一企一码, 一点一码) and their QR rendering.

Framework-free: no web framework, ORM, broker or `backend` import. The caller supplies the
secrets (`Keyring`) and each code's current state (`CodeStates`).
"""

from qr.render import matrix, png, svg
from qr.tokens import (
    CodeRef,
    CodeState,
    CodeStates,
    Key,
    Keyring,
    Kind,
    Status,
    Verdict,
    derive_key,
    issue,
    judge,
    read,
    verify,
)

__all__ = [
    "CodeRef",
    "CodeState",
    "CodeStates",
    "Key",
    "Keyring",
    "Kind",
    "Status",
    "Verdict",
    "derive_key",
    "issue",
    "judge",
    "matrix",
    "png",
    "read",
    "svg",
    "verify",
]
