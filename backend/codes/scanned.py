"""A check-in that names the code it was scanned from (扫码签到), typically made offline: the phone
read the token but could not check its signature, so the server judges the code when the
mutation arrives. A forged, revoked or replaced code refuses the check-in with its own reason;
a key point's code checks in at the point's enterprise."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

import qr
from backend.codes import services
from backend.codes.keys import keyring_of
from backend.db import settings_of
from backend.models import CodeKind
from backend.settings import Settings
from sync import Rejected, Write

# What the phone sends: the path of the code's URL, /e/<token> or /p/<token>.
CODE_PATH = re.compile(r"^/([ep])/([A-Za-z2-7]{1,64})$")
_KIND_OF_PREFIX = {"e": CodeKind.ENTERPRISE, "p": CodeKind.POINT}
_REFUSALS = {
    qr.Status.FORGED: "check_in.code_invalid",
    qr.Status.REVOKED: "check_in.code_revoked",
    qr.Status.ROTATED: "check_in.code_rotated",
}


@dataclass(frozen=True)
class ScannedCode:
    kind: CodeKind
    enterprise_id: int
    key_point_id: int | None


def _settings_of(session: Session) -> Settings:
    settings = settings_of(session)
    if settings is None:
        raise RuntimeError("this session was not made by the application's session factory")
    return settings


def judge_scanned(session: Session, code: object) -> ScannedCode:
    """The enterprise (and key point) a scanned code names, if the code is genuine and current;
    `sync.Rejected` with the reason otherwise."""
    match = CODE_PATH.match(code) if isinstance(code, str) else None
    if match is None:
        raise Rejected("check_in.code_invalid")
    kind = _KIND_OF_PREFIX[match.group(1)]
    scan = services.resolve(session, keyring_of(_settings_of(session)), kind, match.group(2))
    status = scan.verdict.status
    if status is not qr.Status.VALID or scan.subject is None:
        raise Rejected(_REFUSALS.get(status, "check_in.code_invalid"))
    subject = scan.subject
    return ScannedCode(
        kind,
        subject.enterprise.id or 0,
        subject.point.id if subject.point is not None else None,
    )


def note_scanned(writes: list[Write], scanned: ScannedCode) -> None:
    """The check-in's history says it came from a scanned code, and from which key point."""
    for write in writes:
        if write.table == "event":
            write.row["data"].update(code=scanned.kind.value, key_point_id=scanned.key_point_id)
