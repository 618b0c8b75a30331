"""Signed codes (qr/): the token format, verification verdicts, key rotation, and rendering that
a decoder reads back. No database here: `qr` knows none."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

import qr
from qr.decoding import rasterise_svg, read_image, read_png, read_svg
from qr.tokens import MAC_BYTES, CodeState, Key, Keyring, Kind, Status

ROOT = Path(__file__).resolve().parent.parent
SECRET = "qr-test-secret-0123456789-abcdefghijklmnop"
OLD_SECRET = "an-older-server-secret-0123456789-abcdefgh"


class States:
    """Code states as a caller would keep them: a dict standing in for the database."""

    def __init__(self, **by_subject: CodeState) -> None:
        self.by_subject = {
            (Kind.ENTERPRISE if key[0] == "e" else Kind.POINT, int(key[1:])): state
            for key, state in by_subject.items()
        }

    def code_state(self, kind: Kind, subject_id: int) -> CodeState | None:
        return self.by_subject.get((kind, subject_id))


KEYRING = Keyring.from_secrets(SECRET)


def test_qr_imports_no_framework_orm_broker_or_backend() -> None:
    script = (
        "import json, sys, qr, qr.tokens, qr.render, qr.decoding;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    forbidden = ("litestar", "sqlalchemy", "sqlmodel", "celery", "kombu", "backend", "sync")
    assert [m for m in loaded if m.split(".")[0] in forbidden] == []


@given(
    kind=st.sampled_from(Kind),
    subject_id=st.integers(1, 2**40),
    version=st.integers(1, 2**20),
)
def test_every_issued_token_reads_back(kind: Kind, subject_id: int, version: int) -> None:
    token = qr.issue(KEYRING, kind, subject_id, version)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    ref = qr.read(token, KEYRING)
    assert isinstance(ref, qr.CodeRef)
    assert (ref.kind, ref.subject_id, ref.version, ref.key_id) == (
        kind,
        subject_id,
        version,
        KEYRING.current.id,
    )


def test_a_token_is_short() -> None:
    # Header, key id, version and a 5-digit id in varints, then the truncated MAC.
    assert len(qr.issue(KEYRING, Kind.ENTERPRISE, 12_345, 3)) <= 24
    assert len(qr.issue(KEYRING, Kind.POINT, 2_000_000, 200)) <= 28


def test_case_and_surrounding_space_do_not_matter() -> None:
    token = qr.issue(KEYRING, Kind.POINT, 7)
    assert isinstance(qr.read(f" {token.lower()}\n", KEYRING), qr.CodeRef)


def test_every_single_character_change_is_forged() -> None:
    token = qr.issue(KEYRING, Kind.ENTERPRISE, 42, 2)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1 :]
            verdict = qr.verify(altered, KEYRING, States(e42=CodeState(2)))
            # A change in the last character's unused low bits decodes to the same bytes.
            if verdict.status is Status.VALID:
                assert qr.read(altered, KEYRING) == qr.read(token, KEYRING)
                assert position == len(token) - 1
            else:
                assert verdict.status is Status.FORGED


def test_truncated_extended_and_malformed_tokens_are_forged() -> None:
    token = qr.issue(KEYRING, Kind.ENTERPRISE, 42)
    states = States(e42=CodeState())
    for cut in range(len(token)):
        assert qr.verify(token[:cut], KEYRING, states).status is Status.FORGED
    for bad in (token + "A", token + "AAAAAAAA", "0" * 24, "é" * 24, "", "A" * 10_000, "=" * 8):
        assert qr.verify(bad, KEYRING, states).status is Status.FORGED


def test_a_token_for_another_kind_or_id_cannot_be_made_by_editing_the_payload() -> None:
    import base64

    token = qr.issue(KEYRING, Kind.ENTERPRISE, 42)
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    raw[0] = 1 << 4 | Kind.POINT  # same MAC, other kind
    edited = base64.b32encode(bytes(raw)).decode().rstrip("=")
    verdict = qr.verify(edited, KEYRING, States(p42=CodeState()))
    assert (verdict.status, verdict.reason) == (Status.FORGED, "signature")
    raw[0] = 9 << 4 | Kind.ENTERPRISE  # a format this server does not speak
    unknown = base64.b32encode(bytes(raw)).decode().rstrip("=")
    assert qr.verify(unknown, KEYRING, States(e42=CodeState())).reason == "format"


@pytest.mark.parametrize(
    ("token_version", "state", "expected"),
    [
        (1, CodeState(1), Status.VALID),
        (3, CodeState(3), Status.VALID),
        (1, CodeState(2), Status.ROTATED),
        (2, CodeState(2, revoked=True), Status.REVOKED),
        (1, CodeState(2, revoked=True), Status.REVOKED),
        (3, CodeState(2), Status.FORGED),  # never issued
        (1, None, Status.FORGED),  # no such subject
    ],
)
def test_verdicts(token_version: int, state: CodeState | None, expected: Status) -> None:
    token = qr.issue(KEYRING, Kind.ENTERPRISE, 5, token_version)
    states = States() if state is None else States(e5=state)
    verdict = qr.verify(token, KEYRING, states)
    assert verdict.status is expected
    if expected is not Status.FORGED:
        assert verdict.ref == qr.CodeRef(Kind.ENTERPRISE, 5, token_version, KEYRING.current.id)


def test_server_key_rotation_old_codes_verify_until_the_key_is_retired() -> None:
    before = Keyring.from_secrets(OLD_SECRET)
    old_token = qr.issue(before, Kind.ENTERPRISE, 9)
    states = States(e9=CodeState())

    rotated = Keyring.from_secrets(SECRET, [OLD_SECRET])
    assert qr.verify(old_token, rotated, states).status is Status.VALID
    new_token = qr.issue(rotated, Kind.ENTERPRISE, 9)
    new_ref = qr.read(new_token, rotated)
    assert isinstance(new_ref, qr.CodeRef)
    assert new_ref.key_id == rotated.current.id != before.current.id
    assert qr.verify(new_token, before, states).status is Status.FORGED  # the old server can't

    retired = Keyring.from_secrets(SECRET)
    assert qr.verify(old_token, retired, states).status is Status.FORGED
    assert qr.verify(new_token, retired, states).status is Status.VALID


def test_keys_sharing_an_id_both_verify() -> None:
    first, second = Key(7, b"a" * 32), Key(7, b"b" * 32)
    ring = Keyring(first, [second])
    old = qr.issue(Keyring(second), Kind.POINT, 3)
    assert qr.verify(old, ring, States(p3=CodeState())).status is Status.VALID


def test_key_derivation_is_stable_and_separate_per_secret() -> None:
    assert qr.derive_key(SECRET) == qr.derive_key(SECRET)
    assert qr.derive_key(SECRET).secret != qr.derive_key(OLD_SECRET).secret
    assert qr.derive_key(SECRET).secret != SECRET.encode()
    assert len(qr.derive_key(SECRET).secret) == 32


def test_the_mac_is_truncated_but_not_too_far() -> None:
    assert 10 <= MAC_BYTES <= 12


URL = "https://gridsafe.example.org/e/" + qr.issue(KEYRING, Kind.ENTERPRISE, 12_345, 2)


def test_png_decodes_to_the_url() -> None:
    data = qr.png(URL)
    assert data.startswith(b"\x89PNG")
    assert read_png(data) == [URL]


def test_svg_decodes_to_the_url_and_has_no_style_attribute() -> None:
    svg = qr.svg(URL, title="武汉<测试>企业")
    assert "style=" not in svg
    assert "&lt;测试&gt;" in svg
    assert read_svg(svg) == [URL]


def test_png_and_svg_draw_the_same_modules() -> None:
    scale = 4
    from_png = Image.open(io.BytesIO(qr.png(URL, scale=scale))).convert("L")
    from_svg = rasterise_svg(qr.svg(URL), scale=scale)
    assert from_png.size == from_svg.size
    assert from_png.tobytes() == from_svg.tobytes()


def test_quiet_zone_and_error_correction_level() -> None:
    modules = qr.matrix(URL)
    size = len(modules)
    border = [
        modules[i][j]
        for i in range(size)
        for j in range(size)
        if min(i, j, size - 1 - i, size - 1 - j) < 4
    ]
    assert not any(border)
    # Format information (ISO 18004 §7.9) next to the top-left finder: the first two bits are
    # the error correction level, masked with 10101; H is 10, so 00 after masking.
    bits = [modules[4 + 8][4 + col] for col in (0, 1)]
    assert bits == [False, False]


def test_a_dirty_poster_still_reads() -> None:
    """H error correction: a blot over about a tenth of the code (not its finder patterns) and
    some scattered dirt still decode."""
    scale = 8
    image = Image.open(io.BytesIO(qr.png(URL, scale=scale))).convert("L")
    size = image.size[0] // scale
    draw = ImageDraw.Draw(image)
    # A mud splash in the lower right quadrant, away from the three finder patterns.
    left = top = int(size * 0.55) * scale
    side = int(size * 0.3) * scale
    draw.ellipse((left, top, left + side, top + side), fill=0)
    for i in range(0, size, 7):
        draw.rectangle(
            (i * scale, (i * 3 % size) * scale, i * scale + scale, (i * 3 % size) * scale + scale),
            fill=128,
        )
    assert read_image(image) == [URL]
