"""A loopback push service, as strict as a real one: it checks the VAPID JWT (ES256 over
`Authorization: vapid t=…,k=…`: signature, aud, exp, sub) and decrypts the aes128gcm body with
the device's private key and auth secret, as the browser does. It can be told to answer 410 or
5xx, or to hang, per device. It also serves a second-channel webhook that checks its signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HANG = "hang"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """A browser's side of a subscription: its key pair and auth secret, made here."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription_json(self) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives a page."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class Push:
    token: str
    payload: dict[str, Any]
    headers: dict[str, str]
    claims: dict[str, Any]
    at: float


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    verify: bool = True
    hang_seconds: float = 3.0
    expected_vapid_key: str | None = None
    webhook_secret: str = ""
    devices: dict[str, Device] = field(default_factory=dict)
    pushes: list[Push] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    webhook_calls: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    _script: dict[str, deque[int | str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as push services allow

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.handle(self.path, headers, body)
                if status == HANG:
                    time.sleep(receiver.hang_seconds)
                    status = 201
                self.send_response(int(status))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def webhook_url(self) -> str:
        return f"{self.origin}/webhook"

    # ---- devices and scripts --------------------------------------------------------------

    def device(self) -> Device:
        token = b64url(os.urandom(12))
        device = Device(
            token=token,
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        with self._lock:
            self.devices[token] = device
        return device

    def script(self, device: Device, *answers: int | str) -> None:
        """The next answers for this device (then 201): e.g. 410, 503 or HANG."""
        with self._lock:
            self._script[device.token] = deque(answers)

    def pushes_for(self, device: Device) -> list[Push]:
        with self._lock:
            return [push for push in self.pushes if push.token == device.token]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Push]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.pushes) >= count:
                    return list(self.pushes)
            time.sleep(0.02)
        with self._lock:
            raise AssertionError(
                f"{len(self.pushes)} pushes arrived, expected {count}; errors: {self.errors}"
            )

    # ---- the push service ---------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int | str:
        if path == "/webhook":
            return self._webhook(headers, body)
        token = path.removeprefix("/push/")
        with self._lock:
            device = self.devices.get(token)
            self.attempts[token] = self.attempts.get(token, 0) + 1
            script = self._script.get(token)
            scripted = script.popleft() if script else None
        if device is None:
            return 404
        try:
            claims = self._check_vapid(headers) if self.verify else {}
            if headers.get("content-encoding") != "aes128gcm":
                raise ValueError("Content-Encoding must be aes128gcm")
            if "ttl" not in headers:
                raise ValueError("no TTL header")
            plain = http_ece.decrypt(
                body,
                private_key=device.private_key,
                auth_secret=device.auth_secret,
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except (ValueError, KeyError, InvalidSignature) as error:
            with self._lock:
                self.errors.append(f"{error.__class__.__name__}: {error}")
            return 400 if not isinstance(error, InvalidSignature) else 403
        if scripted is not None:
            return scripted  # 410, 5xx or HANG: this push did not get through
        with self._lock:
            self.pushes.append(Push(token, payload, headers, claims, time.monotonic()))
        return 201

    def _check_vapid(self, headers: dict[str, str]) -> dict[str, Any]:
        authorization = headers.get("authorization", "")
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"Authorization is not vapid: {authorization[:20]!r}")
        params = dict(part.strip().split("=", 1) for part in rest.split(","))
        token, key = params["t"], params["k"]
        if self.expected_vapid_key and key != self.expected_vapid_key:
            raise ValueError("the VAPID key is not the application server key")
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        if header.get("alg") != "ES256":
            raise ValueError(f"alg {header.get('alg')!r}")
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        raw = unb64url(signature_b64)
        if len(raw) != 64:
            raise ValueError("ES256 signature must be 64 bytes")
        signature = encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        public_key.verify(
            signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
        )
        claims: dict[str, Any] = json.loads(unb64url(claims_b64))
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.origin}")
        now = time.time()
        if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
            raise ValueError("exp is not within the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError(f"sub {claims.get('sub')!r}")
        return claims

    def _webhook(self, headers: dict[str, str], body: bytes) -> int:
        signature = headers.get("x-gridsafe-signature")
        expected = (
            "sha256=" + hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        )
        if not signature or not hmac.compare_digest(signature, expected):
            with self._lock:
                self.errors.append("webhook signature does not match")
            return 401
        with self._lock:
            self.webhook_calls.append(json.loads(body))
        return 200
