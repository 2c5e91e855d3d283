"""Every validation rule of the schemas, each with a valid and an invalid example."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.api import DutyChange, IncidentCreate, VolunteerUpsert
from schemas.events import ChannelAddress, IncidentReported, Need, VolunteerProfile, WeatherAlertIssued
from schemas.fields import GeoPoint, configure_service_area, normalise_phone, service_area
from schemas.reference import KOTA_KEDIRI_AREA, BoundingBox
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Skill, Unit

MANISRENGGO = "35.71.02.1015"


def incident_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "flood",
        "severity": "severe",
        "title": "Banjir di Manisrenggo",
        "location": {"lat": -7.85, "lon": 112.0},
    }
    body.update(over)
    return body


def volunteer_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Siti Aminah",
        "phone": "0812-3456-7890",
        "unit": "tagana",
        "skills": ["evacuation"],
        "home_kelurahan_code": MANISRENGGO,
        "channels": [{"type": "whatsapp", "address": "0812 3456 7890"}],
    }
    body.update(over)
    return body


def failing_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.errors()}


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("62812 3456 7890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("+62 0812 3456 7890", "+6281234567890"),
        ("(0354) 682955", "+62354682955"),
    ],
)
def test_phone_forms_people_type_become_e164(typed: str, e164: str) -> None:
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize(
    "garbage", ["", "halo", "0812-ABCD-7890", "+1 415 555 0100", "12345", "08123", "0812345678901234", "+62"]
)
def test_garbage_phone_numbers_are_rejected(garbage: str) -> None:
    with pytest.raises(ValueError, match=r"phone|Indonesian|digits|must"):
        normalise_phone(garbage)


def test_volunteer_phone_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        VolunteerUpsert.model_validate(volunteer_body(phone="not a number"))
    assert "phone" in failing_fields(info.value)


# --- coordinates and the service area ---------------------------------------------------------


def test_coordinates_in_range() -> None:
    assert GeoPoint(lat=-7.8, lon=112.0).lat == -7.8
    with pytest.raises(ValidationError) as info:
        GeoPoint.model_validate({"lat": -97.0, "lon": 112.0})
    assert failing_fields(info.value) == {"lat"}
    with pytest.raises(ValidationError) as info:
        GeoPoint.model_validate({"lat": -7.8, "lon": 181.0})
    assert failing_fields(info.value) == {"lon"}


def test_location_outside_kota_kediri_is_rejected_unless_allowed() -> None:
    surabaya = {"lat": -7.2575, "lon": 112.7521}
    with pytest.raises(ValidationError, match="outside the service area"):
        IncidentCreate.model_validate(incident_body(location=surabaya))
    allowed = IncidentCreate.model_validate(incident_body(location=surabaya, allow_outside_area=True))
    assert allowed.location.lat == surabaya["lat"]
    with pytest.raises(ValidationError, match="outside"):
        VolunteerUpsert.model_validate(volunteer_body(location=surabaya))
    with pytest.raises(ValidationError, match="outside"):
        DutyChange.model_validate({"on_duty": True, "location": surabaya})


def test_service_area_is_configurable() -> None:
    wider = BoundingBox.parse("-8.5,111.0,-7.0,113.0")
    configure_service_area(wider)
    try:
        assert service_area() == wider
        IncidentCreate.model_validate(incident_body(location={"lat": -7.2575, "lon": 112.7521}))
    finally:
        configure_service_area(KOTA_KEDIRI_AREA)
    with pytest.raises(ValueError, match="south < north"):
        BoundingBox.parse("-7.0,111.0,-8.0,113.0")
    with pytest.raises(ValueError, match="south,west,north,east"):
        BoundingBox.parse("1,2,3")


# --- kelurahan codes --------------------------------------------------------------------------


def test_kelurahan_codes_must_exist() -> None:
    ok = IncidentCreate.model_validate(incident_body(kelurahan_code=MANISRENGGO))
    assert ok.kelurahan_code == MANISRENGGO
    with pytest.raises(ValidationError, match="unknown kelurahan code") as info:
        IncidentCreate.model_validate(incident_body(kelurahan_code="35.71.01.9999"))
    assert "kelurahan_code" in failing_fields(info.value)
    with pytest.raises(ValidationError, match="pattern"):
        IncidentCreate.model_validate(incident_body(kelurahan_code="Manisrenggo"))


# --- text, counts, needs ----------------------------------------------------------------------


def test_text_lengths_are_bounded() -> None:
    IncidentCreate.model_validate(incident_body(title="Banjir", description="x" * 2000))
    with pytest.raises(ValidationError) as info:
        IncidentCreate.model_validate(incident_body(title="x" * 121))
    assert "title" in failing_fields(info.value)
    with pytest.raises(ValidationError) as info:
        IncidentCreate.model_validate(incident_body(description="x" * 2001))
    assert "description" in failing_fields(info.value)
    with pytest.raises(ValidationError):
        IncidentCreate.model_validate(incident_body(title="  "))


def test_need_counts_are_at_least_one_and_bounded() -> None:
    assert Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1).count == 1
    assert Need(unit=Unit.TAGANA, count=50).count == 50
    for bad in (0, -1, 51):
        with pytest.raises(ValidationError) as info:
            Need.model_validate({"unit": "tagana", "count": bad})
        assert failing_fields(info.value) == {"count"}
    with pytest.raises(ValidationError) as info:
        IncidentCreate.model_validate(incident_body(affected_people=-3))
    assert "affected_people" in failing_fields(info.value)


# --- timestamps -------------------------------------------------------------------------------


def test_timestamps_must_be_aware_and_are_stored_in_utc() -> None:
    wib = timezone(timedelta(hours=7))
    alert = WeatherAlertIssued(alert_id="a", sent=datetime(2026, 11, 28, 2, 0, tzinfo=wib))
    assert alert.sent == datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    assert alert.sent.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="timezone"):
        WeatherAlertIssued.model_validate({"alert_id": "a", "sent": "2026-11-28T02:00:00"})


# --- unknown fields ---------------------------------------------------------------------------


def test_unknown_fields_are_rejected_on_input() -> None:
    with pytest.raises(ValidationError) as info:
        IncidentCreate.model_validate(incident_body(priority="high"))
    assert failing_fields(info.value) == {"priority"}
    with pytest.raises(ValidationError):
        VolunteerUpsert.model_validate(volunteer_body(nickname="Siti"))


# --- channels ---------------------------------------------------------------------------------


def test_channel_addresses_fit_their_channel() -> None:
    assert ChannelAddress(type="sms", address="0812 3456 7890").address == "+6281234567890"
    assert ChannelAddress(type="telegram", address="123456789").address == "123456789"
    assert ChannelAddress(type="email", address="siti@example.id").address == "siti@example.id"
    with pytest.raises(ValidationError, match="e-mail"):
        ChannelAddress(type="email", address="siti at example")
    with pytest.raises(ValidationError, match="Telegram"):
        ChannelAddress(type="telegram", address="siti")
    with pytest.raises(ValidationError, match="phone"):
        ChannelAddress(type="whatsapp", address="siti")


def test_volunteer_profile_dedupes_skills_and_checks_certifications() -> None:
    profile = VolunteerProfile.model_validate(
        {
            "volunteer_id": "V-001",
            "name": "Budi",
            "phone": "+6281234567890",
            "unit": "tagana",
            "skills": ["water_rescue", "water_rescue", "evacuation"],
            "certifications": [{"skill": "water_rescue", "expires_on": "2027-06-30"}],
            "home_kelurahan_code": MANISRENGGO,
        }
    )
    assert profile.skills == [Skill.WATER_RESCUE, Skill.EVACUATION]
    assert profile.certifications[0].expires_on == date(2027, 6, 30)
    with pytest.raises(ValidationError) as info:
        VolunteerProfile.model_validate(
            {**profile.model_dump(), "certifications": [{"skill": "swimming", "expires_on": "2027-06-30"}]}
        )
    assert "certifications.0.skill" in failing_fields(info.value)


def test_incident_event_checks_area_and_kelurahan() -> None:
    good = IncidentReported(
        incident_id="INC-1",
        type=IncidentType.FLOOD,
        severity=Severity.SEVERE,
        title="Banjir",
        location=GeoPoint(lat=-7.81, lon=111.99),
        kelurahan_code=MANISRENGGO,
    )
    assert good.needs == []
    with pytest.raises(ValidationError, match="outside"):
        IncidentReported.model_validate({**good.model_dump(), "location": {"lat": 0.0, "lon": 0.0}})


# --- vocabulary -------------------------------------------------------------------------------


def test_vocabulary_has_bahasa_indonesia_labels() -> None:
    for enum in (Unit, Skill, IncidentType, Severity, IncidentStatus, AssignmentStatus):
        for member in enum:
            assert member.label and member.label != member.value
    assert Skill.PUBLIC_KITCHEN.label == "Dapur umum"
    assert Skill.RAPID_ASSESSMENT.label == "Kaji cepat"
    assert IncidentType.WHIRLWIND.label == "Puting beliung"
    assert AssignmentStatus.ON_SCENE.is_active
    assert not AssignmentStatus.RELEASED.is_active
    assert not IncidentStatus.CANCELLED.is_open
