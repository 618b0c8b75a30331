"""VAPID key pairs: generated once into the data folder in dev, taken from settings in production."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.settings import Settings


@dataclass(frozen=True)
class VapidKeys:
    private_pem: str
    public_key: str  # base64url uncompressed P-256 point: the browser's applicationServerKey


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate() -> VapidKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(private_pem=pem, public_key=_b64url(point))


def resolve(settings: Settings) -> VapidKeys:
    """Configured keys, or in dev a pair kept in the data folder (created on first use)."""
    if settings.vapid_private_key and settings.vapid_public_key:
        return VapidKeys(settings.vapid_private_key, settings.vapid_public_key)
    private_path: Path = settings.data_dir / "vapid_private.pem"
    public_path: Path = settings.data_dir / "vapid_public.txt"
    if not private_path.exists():
        keys = generate()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        private_path.write_text(keys.private_pem)
        private_path.chmod(0o600)
        public_path.write_text(keys.public_key)
    return VapidKeys(private_path.read_text(), public_path.read_text().strip())
