"""A warning as a CAP 1.2 message (Common Alerting Protocol, OASIS), the format other emergency
systems read. One `info` block per language (zh-CN, en). Pure: no database, no web framework.

Level → CAP (our reading of the Chinese four-colour signals):
  red    → severity Extreme,  urgency Immediate  (特别严重: act now)
  orange → severity Severe,   urgency Expected   (严重: act within the hour)
  yellow → severity Moderate, urgency Expected   (较重)
  blue   → severity Minor,    urgency Future     (一般)
Certainty is always Likely: a warning is issued about something expected, not yet observed.
`scope` is Restricted (it went to chosen people, not the public), which CAP requires to come
with a `restriction` text.

A cancelled warning is exported as its own CAP message: msgType Cancel, a new identifier and
the cancellation time as `sent`, `references` naming the original alert (sender,identifier,sent)
and the reason as `note`. The original Alert stays available (`original=True`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

from backend.i18n import Translator
from backend.models import SafetyWarning
from backend.validation import without_control_chars

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
BEIJING = timezone(timedelta(hours=8))
SEVERITY = {"red": "Extreme", "orange": "Severe", "yellow": "Moderate", "blue": "Minor"}
URGENCY = {"red": "Immediate", "orange": "Expected", "yellow": "Expected", "blue": "Future"}
LANGUAGES = (("zh", "zh-CN"), ("en", "en"))


@dataclass(frozen=True)
class Area:
    """What the area block says: a description per language and, when the warning was aimed
    at a point, the circle (latitude, longitude, radius in km)."""

    description: dict[str, str]
    circle: tuple[float, float, float] | None = None


def cap_time(moment: datetime) -> str:
    """CAP's dateTime: seconds, a numeric offset and no fraction (`Z` is not allowed)."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    # A warning stored on SQLite before text was checked may hold a NUL or a vertical tab, which
    # XML 1.0 cannot carry: the export drops them rather than becoming unparseable.
    element.text = without_control_chars(text)
    return element


def identifier(warning: SafetyWarning, *, cancel: bool = False) -> str:
    return f"gridsafe-warning-{warning.id}" + ("-cancel" if cancel else "")


def to_cap(warning: SafetyWarning, sender: str, area: Area, *, original: bool = False) -> bytes:
    """`sender` identifies this system (CAP: no spaces, commas or `<&`), e.g. gridsafe@host.
    A cancelled warning gives its Cancel message unless `original` asks for the first Alert."""
    cancelled = warning.cancelled_at is not None and not original
    ET.register_namespace("", NAMESPACE)
    alert = ET.Element(f"{{{NAMESPACE}}}alert")
    _add(alert, "identifier", identifier(warning, cancel=cancelled))
    _add(alert, "sender", sender)
    sent = warning.cancelled_at if cancelled and warning.cancelled_at else warning.sent_at
    _add(alert, "sent", cap_time(sent))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", "Cancel" if cancelled else "Alert")
    _add(alert, "scope", "Restricted")
    _add(alert, "restriction", "GridSafe targeted warning: chosen units, roles and enterprises")
    if cancelled:
        if warning.cancel_reason:
            _add(alert, "note", warning.cancel_reason)
        original_alert = f"{sender},{identifier(warning)},{cap_time(warning.sent_at)}"
        _add(alert, "references", original_alert)
    for locale, language in LANGUAGES:
        t = Translator(locale)
        info = ET.SubElement(alert, f"{{{NAMESPACE}}}info")
        _add(info, "language", language)
        _add(info, "category", "Safety")
        _add(info, "event", t("warnings.cap_event", level=t(f"warnings.levels.{warning.level}")))
        _add(info, "urgency", URGENCY[warning.level])
        _add(info, "severity", SEVERITY[warning.level])
        _add(info, "certainty", "Likely")
        _add(info, "expires", cap_time(warning.valid_until))
        _add(info, "senderName", t("app.full_name"))
        _add(info, "headline", warning.title)
        _add(info, "description", warning.body)
        if warning.instructions:
            _add(info, "instruction", warning.instructions)
        block = ET.SubElement(info, f"{{{NAMESPACE}}}area")
        _add(block, "areaDesc", area.description.get(locale, ""))
        if area.circle is not None:
            lat, lon, radius = area.circle
            _add(block, "circle", f"{lat:.6f},{lon:.6f} {radius:g}")
    return bytes(ET.tostring(alert, encoding="utf-8", xml_declaration=True))
